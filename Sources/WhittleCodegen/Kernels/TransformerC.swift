import WhittleIR
import WhittleOps

/// C for RotaryEmbedding, SwiGLU, GroupNormalization, LRN, ReverseSequence, Compress, CenterCropPad and
/// BitCast: generated loops in the interpreter's order of operations.
enum TransformerC {
    static var kernels: [String: CKernel] {
        ["RotaryEmbedding": rotaryKernel, "SwiGLU": swiGLUKernel, "GroupNormalization": groupNormalizationKernel, "LRN": lrnKernel,
         "ReverseSequence": reverseSequenceKernel, "Compress": gatherTableKernel, "CenterCropPad": gatherTableKernel,
         "BitCast": bitCastKernel, "Scatter": ScatterC.scatterElementsKernel, "CausalConvWithState": causalConvKernel]
    }

    /// Each output is the bias plus the k taps over the state followed by the input, then SiLU if asked;
    /// the last k − 1 of those positions become the present state.
    static let causalConvKernel: CKernel = { e, w in
        try requireFloat(e)
        let x = try e.inputShape(0), t = try e.cType(output: 0)
        let (batch, channels, length) = (x[0], x[1], x[2]), k = try e.inputShape(1)[2]
        let silu = try e.context.string("activation", default: "none") != "none"
        guard batch * channels > 0 else { return }
        let state = e.has(3) ? "\(e.x(3))[(b * \(channels) + c) * \(k - 1) + p]" : e.literal(0)
        func padded(_ p: String) -> String {
            k > 1 ? "(\(p) < \(k - 1) ? \(state.replacingOccurrences(of: "+ p]", with: "+ (\(p))]")) : \(e.x(0))[(b * \(channels) + c) * \(length) + (\(p)) - \(k - 1)])"
                : "\(e.x(0))[(b * \(channels) + c) * \(length) + (\(p))]"
        }
        w.block("for (int b = 0; b < \(batch); ++b) for (int c = 0; c < \(channels); ++c)") { w in
            if length > 0 {
                w.block("for (int t = 0; t < \(length); ++t)") { w in
                    w.line("\(t) sum = \(e.has(2) ? "\(e.x(2))[c]" : e.literal(0));")
                    w.line("for (int j = 0; j < \(k); ++j) sum += \(e.x(1))[c * \(k) + j] * \(padded("t + j"));")
                    if silu { w.line("sum = sum / (\(e.literal(1)) + \(e.math("exp"))(-sum));") }
                    w.line("\(e.y(0))[(b * \(channels) + c) * \(length) + t] = sum;")
                }
            }
            if e.node.outputs.count > 1, !e.node.outputs[1].isEmpty, k > 1 {
                w.line("for (int q = 0; q < \(k - 1); ++q) \(e.y(1))[(b * \(channels) + c) * \(k - 1) + q] = \(padded("\(length) + q"));")
            }
        }
    }

    static func requireFloat(_ e: NodeEmission) throws {
        guard e.elementType == .float || e.elementType == .double else {
            throw WhittleError(.unsupported, "\(e.node.opType) on \(e.elementType.name) is not supported by the C back end")
        }
    }

    static let rotaryKernel: CKernel = { e, w in
        try requireFloat(e)
        let g = try TransformerOperators.RotaryGeometry(e.context)
        let t = try e.cType(output: 0), half = g.rotated / 2
        let count = try e.outputShape(0).reduce(1, *)
        guard count > 0 else { return }
        // Elements past the rotated part of each head are copied.
        w.line("memmove(\(e.y(0)), \(e.x(0)), \(count * (e.elementType.byteWidth ?? 4)));")
        let positions = e.constant(3).flatMap { $0.int64s() }
        let cacheRows = (try e.inputShape(1)).dropLast().reduce(1, *)
        if let positions, let bad = positions.first(where: { $0 < 0 || $0 >= Int64(cacheRows) }) {
            throw WhittleError(.shapeMismatch, "position \(bad) is outside the caches' \(cacheRows) positions")
        }
        func index(_ d: String) -> String {
            g.threeD ? "((b * \(g.sequence) + s) * \(g.heads) + h) * \(g.headSize) + \(d)" : "((b * \(g.heads) + h) * \(g.sequence) + s) * \(g.headSize) + \(d)"
        }
        w.block("for (int b = 0; b < \(g.batch); ++b) for (int s = 0; s < \(g.sequence); ++s)") { w in
            if g.positions {
                // Run-time positions are clamped into the caches (the interpreter refuses others).
                w.line("const long long p = (long long)\(e.x(3))[b * \(g.sequence) + s];")
                w.line("const int row = p < 0 ? 0 : (p >= \(cacheRows) ? \(cacheRows - 1) : (int)p);")
            } else {
                w.line("const int row = b * \(g.sequence) + s;")
            }
            w.block("for (int h = 0; h < \(g.heads); ++h) for (int i = 0; i < \(half); ++i)") { w in
                let (p1, p2) = g.interleaved ? ("2 * i", "2 * i + 1") : ("i", "i + \(half)")
                w.line("const \(t) first = \(e.x(0))[\(index(p1))], second = \(e.x(0))[\(index(p2))];")
                w.line("const \(t) c = \(e.x(1))[row * \(half) + i], sn = \(e.x(2))[row * \(half) + i];")
                w.line("\(e.y(0))[\(index(p1))] = c * first - sn * second;")
                w.line("\(e.y(0))[\(index(p2))] = sn * first + c * second;")
            }
        }
    }

    static let swiGLUKernel: CKernel = { e, w in
        try requireFloat(e)
        let count = try e.outputShape(0).reduce(1, *), t = try e.cType(output: 0)
        let alpha = e.literal(Double(try e.context.float("alpha", default: 1)))
        guard count > 0 else { return }
        w.block("for (int i = 0; i < \(count); ++i)") { w in
            w.line("const \(t) a = \(e.x(0))[i];")
            w.line("\(e.y(0))[i] = a * (\(e.literal(1)) / (\(e.literal(1)) + \(e.math("exp"))(-\(alpha) * a))) * \(e.x(1))[i];")
        }
    }

    static let groupNormalizationKernel: CKernel = { e, w in
        try requireFloat(e)
        let x = try e.inputShape(0), t = try e.cType(output: 0)
        let groups = try e.context.int("num_groups") ?? 1
        let channels = x[1], spatial = x[2...].reduce(1, *), perGroup = channels / groups, size = perGroup * spatial
        let perChannel = try e.inputShape(1).reduce(1, *) == channels
        let epsilon = e.literal(Double(try e.context.float("epsilon", default: 1e-5)))
        guard size > 0, x[0] * groups > 0 else { return }
        w.block("for (int g = 0; g < \(x[0] * groups); ++g)") { w in
            w.line("const \(t) *in = \(e.x(0)) + g * \(size);")
            w.line("\(t) *out = \(e.y(0)) + g * \(size);")
            w.lines(NormalizationC.statistics(t, size: size, epsilon: epsilon, e))
            let p = perChannel ? "(g % \(groups)) * \(perGroup) + i / \(spatial)" : "g % \(groups)"
            w.line("for (int i = 0; i < \(size); ++i) out[i] = (in[i] - shift - mean) * inv * \(e.x(1))[\(p)] + \(e.x(2))[\(p)];")
        }
    }

    static let lrnKernel: CKernel = { e, w in
        try requireFloat(e)
        let x = try e.inputShape(0), t = try e.cType(output: 0)
        let size = try e.context.int("size") ?? 1
        let alpha = Double(try e.context.float("alpha", default: 1e-4)), beta = Double(try e.context.float("beta", default: 0.75))
        let bias = Double(try e.context.float("bias", default: 1))
        let channels = x[1], spatial = x[2...].reduce(1, *), below = (size - 1) / 2, above = size - 1 - below
        guard x.reduce(1, *) > 0 else { return }
        w.block("for (int n = 0; n < \(x[0]); ++n) for (int c = 0; c < \(channels); ++c) for (int p = 0; p < \(spatial); ++p)") { w in
            w.line("\(t) sum = \(e.literal(0));")
            w.line("const int lo = c - \(below) < 0 ? 0 : c - \(below), hi = c + \(above) > \(channels - 1) ? \(channels - 1) : c + \(above);")
            w.line("for (int k = lo; k <= hi; ++k) { const \(t) v = \(e.x(0))[(n * \(channels) + k) * \(spatial) + p]; sum += v * v; }")
            w.line("const int at = (n * \(channels) + c) * \(spatial) + p;")
            w.line("\(e.y(0))[at] = \(e.x(0))[at] / \(e.math("pow"))(\(e.literal(bias)) + \(e.literal(alpha / Double(size))) * sum, \(e.literal(beta)));")
        }
    }

    static let reverseSequenceKernel: CKernel = { e, w in
        let x = try e.inputShape(0)
        _ = try e.cType(output: 0)
        let batchAxis = try e.context.int("batch_axis", default: 1), timeAxis = try e.context.int("time_axis", default: 0)
        let strides = Shape.strides(x), steps = x[timeAxis], count = x.reduce(1, *)
        guard count > 0 else { return }
        w.block("for (int f = 0; f < \(count); ++f)") { w in
            w.line("const int b = f / \(strides[batchAxis]) % \(x[batchAxis]), t = f / \(strides[timeAxis]) % \(steps);")
            w.line("const long long given = (long long)\(e.x(1))[b];")
            w.line("const int length = given < 0 ? 0 : (given > \(steps) ? \(steps) : (int)given);")
            w.line("\(e.y(0))[f] = \(e.x(0))[t < length ? f + (length - 1 - 2 * t) * \(strides[timeAxis]) : f];")
        }
    }

    /// Compress and CenterCropPad with their parameters known: each output element's source as a table
    /// (-1 for CenterCropPad's padding zeros), computed by the interpreter's kernel on the positions.
    static let gatherTableKernel: CKernel = { e, w in
        let x = try e.inputShape(0), y = try e.outputShape(0)
        _ = try e.cType(output: 0)
        let count = y.reduce(1, *)
        guard count > 0 else { return }
        guard let kernel = Registry.definition(domain: "", name: e.node.opType)?.evaluate else {
            throw WhittleError(.unsupported, "\(e.node.opType) has no reference kernel")
        }
        // Positions + 1 (so that padding, which the kernel fills with 0, reads as -1).
        let positions = NDArray(.int64, shape: x, ints: (0..<x.reduce(1, *)).map { Int64($0 + 1) })
        var inputs: [NDArray?] = [positions]
        for i in 1..<e.node.inputs.count {
            guard let value = e.constant(i) else { throw WhittleError(.unsupported, "input \(i) of \(e.node.opType) must be a constant for the C back end") }
            inputs.append(NDArray(value))
        }
        let table = try kernel(EvaluationContext(node: e.context, inputs: inputs, outputTypes: [TensorType(.int64, y)]))[0].ints.map { $0 - 1 }
        let symbol = e.weightArray("source", .int32, integers: table)
        let zero = e.elementType.isFloatingPoint ? e.literal(0) : "0"
        w.line("for (int i = 0; i < \(count); ++i) \(e.y(0))[i] = \(symbol)[i] < 0 ? \(zero) : \(e.x(0))[\(symbol)[i]];")
    }

    static let bitCastKernel: CKernel = { e, w in
        let bytes = try e.outputShape(0).reduce(1, *) * (e.elementType.byteWidth ?? 1)
        _ = try e.cType(output: 0)
        if bytes > 0 { w.line("memcpy(\(e.y(0)), \(e.x(0)), \(bytes));") }
    }
}
