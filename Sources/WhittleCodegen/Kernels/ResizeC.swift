import WhittleIR
import WhittleOps

/// C for Resize and Upsample: the per-axis taps (input index, weight) are computed at compile
/// time with the interpreter's own rules and emitted as tables; the loop sums over them.
enum ResizeC {
    static var kernels: [String: CKernel] { ["Resize": kernel, "Upsample": kernel] }

    static let kernel: CKernel = { e, w in
        guard e.elementType == .float else { throw WhittleError(.unsupported, "Resize on \(e.elementType.name) is not supported by the C back end") }
        let x = try e.inputShape(0), y = try e.outputShape()
        let transform = try e.context.string("coordinate_transformation_mode", default: "half_pixel")
        let crop = transform == "tf_crop_and_resize" && e.node.opType == "Resize" && e.context.opset >= 11
        if crop && e.constant(1) == nil {
            throw WhittleError(.unsupported, "tf_crop_and_resize needs its roi (input 1) constant for the C back end")
        }
        // Taps per axis and output coordinate, as the interpreter computes them; padded to the same count per axis.
        let tables = try OperatorHelpers.resizeTables(e.context, input: x, output: y) { e.constant($0)?.doubles() }
        let inStrides = Shape.strides(x)
        let extrapolation = try e.context.float("extrapolation_value", default: 0)
        // Axes where tf_crop_and_resize samples outside the input: a table of the coordinates that do.
        let outside = x.indices.map { d in tables[d].map { $0.contains { $0.index < 0 } } }
        for d in x.indices where outside[d].contains(true) {
            w.line("static const unsigned char outside\(d)[\(y[d])] = {\(outside[d].map { $0 ? "1" : "0" }.joined(separator: ", "))};")
        }
        for d in x.indices {
            let taps = tables[d].map(\.count).max() ?? 1
            let indices = tables[d].flatMap { t in (0..<taps).map { $0 < t.count ? max(t[$0].index, 0) * inStrides[d] : 0 } }
            let weights = tables[d].flatMap { t in (0..<taps).map { $0 < t.count ? t[$0].weight : 0 } }
            w.line("static const int idx\(d)[\(max(indices.count, 1))] = {\(indices.map(String.init).joined(separator: ", "))};")
            if taps > 1 || weights.contains(where: { $0 != 1 }) {
                w.line("static const float wt\(d)[\(max(weights.count, 1))] = {\(weights.map { CSyntax.float(Float($0)) }.joined(separator: ", "))};")
            }
        }
        // One loop per output axis, then one per tap of each axis.
        func emit(_ d: Int, _ w: inout CWriter) {
            if d == x.count {
                w.line("\(e.y(0))[out++] = acc;")
                return
            }
            w.block("for (int o\(d) = 0; o\(d) < \(y[d]); ++o\(d))") { w in
                if d == x.count - 1 {
                    w.line("float acc = 0.0f;")
                    let flags = x.indices.filter { outside[$0].contains(true) }.map { "outside\($0)[o\($0)]" }
                    if flags.isEmpty {
                        emitTaps(0, "0", "1.0f", &w)
                    } else {
                        w.block("if (\(flags.joined(separator: " || ")))") { w in w.line("acc = \(CSyntax.float(extrapolation));") }
                        w.block("else") { w in emitTaps(0, "0", "1.0f", &w) }
                    }
                }
                emit(d + 1, &w)
            }
        }
        func emitTaps(_ d: Int, _ offset: String, _ weight: String, _ w: inout CWriter) {
            if d == x.count {
                w.line("acc += \(weight) * \(e.x(0))[\(offset)];")
                return
            }
            let taps = tables[d].map(\.count).max() ?? 1
            let hasWeights = taps > 1 || tables[d].flatMap { $0.map(\.weight) }.contains { $0 != 1 }
            w.block("for (int t\(d) = 0; t\(d) < \(taps); ++t\(d))") { w in
                let slot = "o\(d) * \(taps) + t\(d)"
                emitTaps(d + 1, "\(offset) + idx\(d)[\(slot)]", hasWeights ? "\(weight) * wt\(d)[\(slot)]" : weight, &w)
            }
        }
        w.line("int out = 0;")
        emit(0, &w)
    }
}
