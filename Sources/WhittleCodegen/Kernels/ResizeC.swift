import WhittleIR
import WhittleOps

/// C for Resize and Upsample: the per-axis taps (input index, weight) are computed at compile
/// time with the interpreter's own rules and emitted as tables; the loop sums over them.
enum ResizeC {
    static var kernels: [String: CKernel] { ["Resize": kernel, "Upsample": kernel] }

    static let kernel: CKernel = { e, w in
        guard e.elementType == .float else { throw WhittleError(.unsupported, "Resize on \(e.elementType.name) is not supported by the C back end") }
        let x = try e.inputShape(0), y = try e.outputShape()
        let legacy = e.node.opType == "Upsample" || e.context.opset < 11
        let mode = try e.context.string("mode", default: "nearest")
        let transform = legacy ? "asymmetric" : try e.context.string("coordinate_transformation_mode", default: "half_pixel")
        guard transform != "tf_crop_and_resize" else { throw WhittleError(.unsupported, "tf_crop_and_resize is not supported by the C back end") }
        guard try e.context.int("antialias", default: 0) == 0 else { throw WhittleError(.unsupported, "Resize antialias is not supported") }
        let nearestMode = legacy ? "floor" : try e.context.string("nearest_mode", default: "round_prefer_floor")
        var scales = zip(y, x).map { Double($0) / Double(max($1, 1)) }
        let axes = try (e.context.ints("axes") ?? Array(0..<x.count)).map { try Shape.normalizeAxis($0, rank: x.count) }
        let scaleInput = e.node.opType == "Upsample" ? (e.context.opset < 9 ? nil : 1) : (legacy ? 1 : 2)
        if let scaleInput, let given = e.constant(scaleInput), given.count == axes.count {
            for (i, axis) in axes.enumerated() { scales[axis] = given.double(at: i) }
        } else if e.node.opType == "Upsample", let given = try e.context.floats("scales") {
            scales = given.map(Double.init)
        }
        let cubicA = Double(try e.context.float("cubic_coeff_a", default: -0.75))
        let exclude = try e.context.int("exclude_outside", default: 0) != 0
        // Taps per axis and output coordinate, padded to the same count per axis.
        var tables: [[[(index: Int, weight: Double)]]] = []
        for d in x.indices {
            var axis: [[(index: Int, weight: Double)]] = []
            for o in 0..<y[d] {
                if x[d] == y[d] && scales[d] == 1 { axis.append([(o, 1)]); continue }
                let xo = Double(o), inSize = Double(x[d]), scale = scales[d]
                let xi: Double
                switch transform {
                case "asymmetric": xi = xo / scale
                case "align_corners": xi = y[d] == 1 ? 0 : xo * (inSize - 1) / (inSize * scale - 1)
                case "pytorch_half_pixel": xi = y[d] > 1 ? (xo + 0.5) / scale - 0.5 : 0
                case "tf_half_pixel_for_nearest": xi = (xo + 0.5) / scale
                case "half_pixel_symmetric":
                    let adjustment = Double(y[d]) / (scale * inSize)
                    xi = inSize / 2 * (1 - adjustment) + (xo + 0.5) / scale - 0.5
                default: xi = (xo + 0.5) / scale - 0.5
                }
                axis.append(try OperatorHelpers.resizeTaps(xi, size: x[d], mode: mode, nearestMode: nearestMode, cubicA: cubicA,
                                                            excludeOutside: exclude))
            }
            tables.append(axis)
        }
        let inStrides = Shape.strides(x)
        for d in x.indices {
            let taps = tables[d].map(\.count).max() ?? 1
            let indices = tables[d].flatMap { t in (0..<taps).map { $0 < t.count ? t[$0].index * inStrides[d] : 0 } }
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
                    emitTaps(0, "0", "1.0f", &w)
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
