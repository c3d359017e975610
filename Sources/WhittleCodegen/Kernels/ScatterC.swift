import WhittleIR
import WhittleOps

/// C for GatherND, ScatterND, ScatterElements, DepthToSpace/SpaceToDepth and the two losses.
/// Indices read at run time are wrapped and clamped, so a model's data cannot make the code
/// read or write outside a tensor (the interpreter refuses such indices).
enum ScatterC {
    static var kernels: [String: CKernel] {
        ["GatherND": gatherNDKernel, "ScatterND": scatterNDKernel, "ScatterElements": scatterElementsKernel,
         "DepthToSpace": rearrangementKernel, "SpaceToDepth": rearrangementKernel,
         "NegativeLogLikelihoodLoss": lossKernel(softmax: false), "SoftmaxCrossEntropyLoss": lossKernel(softmax: true)]
    }

    /// A C expression for index `v` along an axis of `size`, wrapped when negative and clamped into range.
    static func clamped(_ v: String, size: Int) -> String {
        "(\(v) < 0 ? (\(v) + \(size) < 0 ? 0 : (int)(\(v) + \(size))) : (\(v) >= \(size) ? \(size - 1) : (int)\(v)))"
    }

    /// Refuses constant indices outside their axes at compile time.
    static func checkConstant(_ e: NodeEmission, input: Int, sizes: (Int) -> Int, period: Int) throws {
        guard let values = e.constant(input)?.int64s() else { return }
        for (f, v) in values.enumerated() {
            let size = sizes(f % period)
            guard v >= -Int64(size), v < Int64(size) else {
                throw WhittleError(.shapeMismatch, "index \(v) is out of range for an axis of size \(size)")
            }
        }
    }

    static let gatherNDKernel: CKernel = { e, w in
        let data = try e.inputShape(0), indices = try e.inputShape(1), y = try e.outputShape(0)
        _ = try e.cType(output: 0)
        let b = try e.context.int("batch_dims", default: 0), m = indices[indices.count - 1]
        try checkConstant(e, input: 1, sizes: { data[b + $0] }, period: m)
        let strides = Shape.strides(data)
        let tuples = indices[b..<(indices.count - 1)].reduce(1, *), batches = indices[..<b].reduce(1, *)
        let slice = data[(b + m)...].reduce(1, *), batchStride = data[b...].reduce(1, *)
        guard y.reduce(1, *) > 0 else { return }
        w.block("for (int t = 0; t < \(batches * tuples); ++t)") { w in
            w.line("long long offset = (long long)(t / \(tuples)) * \(batchStride);")
            for k in 0..<m {
                w.line("{ const long long v = (long long)\(e.x(1))[t * \(m) + \(k)]; offset += (long long)\(clamped("v", size: data[b + k])) * \(strides[b + k]); }")
            }
            w.line("for (int j = 0; j < \(slice); ++j) \(e.y(0))[t * \(slice) + j] = \(e.x(0))[offset + j];")
        }
    }

    /// How an update combines with the value already there.
    static func combine(_ e: NodeEmission, _ target: String, _ update: String) throws -> String {
        let t = try e.cType(output: 0)
        switch try e.context.string("reduction", default: "none") {
        case "add": return "\(target) = \(SelectionC.unsigned(e.elementType).map { "(\(t))((\($0))\(target) + (\($0))\(update))" } ?? "\(target) + \(update)");"
        case "mul": return "\(target) = \(SelectionC.unsigned(e.elementType).map { "(\(t))((\($0))\(target) * (\($0))\(update))" } ?? "\(target) * \(update)");"
        case "max": return "if (\(update) > \(target)) \(target) = \(update);"
        case "min": return "if (\(update) < \(target)) \(target) = \(update);"
        default: return "\(target) = \(update);"
        }
    }

    static let scatterNDKernel: CKernel = { e, w in
        let data = try e.inputShape(0), indices = try e.inputShape(1)
        let count = data.reduce(1, *), bytes = count * (e.elementType.byteWidth ?? 1)
        let m = indices[indices.count - 1]
        try checkConstant(e, input: 1, sizes: { data[$0] }, period: m)
        let strides = Shape.strides(data), slice = data[m...].reduce(1, *), tuples = indices.reduce(1, *) / max(m, 1)
        let update = try combine(e, "\(e.y(0))[offset + j]", "\(e.x(2))[t * \(slice) + j]")
        if bytes > 0 { w.line("memmove(\(e.y(0)), \(e.x(0)), \(bytes));") }
        guard tuples > 0, slice > 0 else { return }
        w.block("for (int t = 0; t < \(tuples); ++t)") { w in
            w.line("long long offset = 0;")
            for k in 0..<m {
                w.line("{ const long long v = (long long)\(e.x(1))[t * \(m) + \(k)]; offset += (long long)\(clamped("v", size: data[k])) * \(strides[k]); }")
            }
            w.line("for (int j = 0; j < \(slice); ++j) \(update)")
        }
    }

    static let scatterElementsKernel: CKernel = { e, w in
        let data = try e.inputShape(0), indices = try e.inputShape(1)
        let axis = try Shape.normalizeAxis(e.context.int("axis", default: 0), rank: data.count)
        let bytes = data.reduce(1, *) * (e.elementType.byteWidth ?? 1), count = indices.reduce(1, *)
        try checkConstant(e, input: 1, sizes: { _ in data[axis] }, period: 1)
        let dataStrides = Shape.strides(data), indexStrides = Shape.strides(indices)
        let target = data.indices.map { d in
            d == axis ? "j * \(dataStrides[d])" : "(f / \(indexStrides[d]) % \(indices[d])) * \(dataStrides[d])"
        }.joined(separator: " + ")
        let update = try combine(e, "\(e.y(0))[\(target)]", "\(e.x(2))[f]")
        if bytes > 0 { w.line("memmove(\(e.y(0)), \(e.x(0)), \(bytes));") }
        guard count > 0 else { return }
        w.block("for (int f = 0; f < \(count); ++f)") { w in
            w.line("const long long v = (long long)\(e.x(1))[f];")
            w.line("const int j = \(clamped("v", size: data[axis]));")
            w.line(update)
        }
    }

    static let rearrangementKernel: CKernel = { e, w in
        let x = try e.inputShape(0)
        _ = try e.cType(output: 0)
        let b = try e.context.int("blocksize") ?? 1
        let (view, strides) = Indexing.blockRearrangement(e.node.opType, input: x, blocksize: b,
                                                          mode: try e.context.string("mode", default: "DCR"))
        w.loopNest(view, [StridedOperand(name: "y", strides: Shape.strides(view)), StridedOperand(name: "x", strides: strides)]) { idx in
            ["\(e.y(0))[\(idx[0])] = \(e.x(0))[\(idx[1])];"]
        }
    }

    /// The loss of each labelled position (log-softmax over the classes first for SoftmaxCrossEntropyLoss),
    /// then the reduction. A label outside the classes counts as ignored.
    static func lossKernel(softmax: Bool) -> CKernel {
        { e, w in
            guard e.elementType.isFloatingPoint else { throw WhittleError(.unsupported, "integer losses are not supported") }
            let x = try e.inputShape(0), t = try e.cType(output: 0)
            let classes = x[1], batch = x[0], spatial = x[2...].reduce(1, *)
            let ignore = try e.context.int("ignore_index")
            let reduction = try e.context.string("reduction", default: "mean")
            let logProb = softmax && e.node.outputs.count > 1 && !e.node.outputs[1].isEmpty
            // Log-probabilities go to the second output when it is wanted, else are computed per position.
            let scores = logProb ? e.y(1) : e.x(0)
            if logProb, batch * spatial > 0, classes > 0 {
                w.block("for (int p = 0; p < \(batch * spatial); ++p)") { w in
                    w.line("const int base = (p / \(spatial)) * \(classes * spatial) + p % \(spatial);")
                    w.line("\(t) top = \(e.x(0))[base], sum = \(e.literal(0));")
                    w.line("for (int c = 1; c < \(classes); ++c) if (\(e.x(0))[base + c * \(spatial)] > top) top = \(e.x(0))[base + c * \(spatial)];")
                    w.line("for (int c = 0; c < \(classes); ++c) sum += \(e.math("exp"))(\(e.x(0))[base + c * \(spatial)] - top);")
                    w.line("sum = \(e.math("log"))(sum);")
                    w.line("for (int c = 0; c < \(classes); ++c) \(e.y(1))[base + c * \(spatial)] = \(e.x(0))[base + c * \(spatial)] - top - sum;")
                }
            }
            if reduction != "none" { w.line("\(t) total = \(e.literal(0)), weights = \(e.literal(0));") }
            if batch * spatial > 0 {
                w.block("for (int p = 0; p < \(batch * spatial); ++p)") { w in
                    w.line("const int base = (p / \(spatial)) * \(classes * spatial) + p % \(spatial);")
                    w.line("const long long label = (long long)\(e.x(1))[p];")
                    w.line("\(t) loss = \(e.literal(0)), weight = \(e.literal(0));")
                    let skip = ignore.map { "label != \($0) && " } ?? ""
                    w.block("if (\(skip)label >= 0 && label < \(classes))") { w in
                        w.line("const int c = (int)label;")
                        w.line("weight = \(e.has(2) ? "\(e.x(2))[c]" : e.literal(1));")
                        if softmax && !logProb {
                            w.line("\(t) top = \(e.x(0))[base], sum = \(e.literal(0));")
                            w.line("for (int k = 1; k < \(classes); ++k) if (\(e.x(0))[base + k * \(spatial)] > top) top = \(e.x(0))[base + k * \(spatial)];")
                            w.line("for (int k = 0; k < \(classes); ++k) sum += \(e.math("exp"))(\(e.x(0))[base + k * \(spatial)] - top);")
                            w.line("loss = -(\(e.x(0))[base + c * \(spatial)] - top - \(e.math("log"))(sum)) * weight;")
                        } else {
                            w.line("loss = -\(scores)[base + c * \(spatial)] * weight;")
                        }
                    }
                    if reduction == "none" {
                        w.line("\(e.y(0))[p] = loss;")
                        w.line("(void)weight;")
                    } else {
                        w.line("total += loss;")
                        w.line("weights += weight;")
                    }
                }
            }
            switch reduction {
            case "none": break
            case "sum": w.line("\(e.y(0))[0] = total;"); w.line("(void)weights;")
            default:
                // Without weights or ignored labels the mean is over every position.
                let divisor = e.has(2) || ignore != nil ? "weights" : e.literal(Double(batch * spatial))
                w.line("\(e.y(0))[0] = total / \(divisor);")
                if !(e.has(2) || ignore != nil) { w.line("(void)weights;") }
            }
        }
    }
}
