import Foundation
import WhittleIR

/// Transformer and state-space building blocks: RotaryEmbedding (rotary position embedding), SwiGLU
/// and CausalConvWithState (a depthwise causal 1-D convolution carrying its last inputs as state).
public enum TransformerOperators {
    static var all: [OperatorDefinition] { [rotaryEmbedding, swiGLU, causalConv] }
    static var kernels: [String: Kernel] { ["RotaryEmbedding": rotaryKernel, "SwiGLU": swiGLUKernel, "CausalConvWithState": causalConvKernel] }

    /// input [B, C, L], weight [C, 1, k], bias [C], past_state [B, C, k − 1]: output [B, C, L] and present_state.
    static let causalConv = OperatorDefinition("CausalConvWithState", infer: { ctx in
        try ctx.expectInputs(2, 4)
        let x = try ctx.type(0), xs = try ctx.shape(0), w = try ctx.shape(1)
        guard x.elementType.isFloatingPoint, xs.count == 3, w.count == 3, w[0] == xs[1], w[1] == 1, w[2] >= 1 else {
            throw WhittleError(.shapeMismatch, "input \(Shape.describe(xs)) and weight \(Shape.describe(w)) must be [B, C, L] and [C, 1, k]")
        }
        if ctx.has(2), try ctx.shape(2) != [xs[1]] { throw WhittleError(.shapeMismatch, "bias must have \(xs[1]) values") }
        let state = [xs[0], xs[1], w[2] - 1]
        if ctx.has(3), try ctx.shape(3) != state { throw WhittleError(.shapeMismatch, "past_state must be \(Shape.describe(state))") }
        guard ["none", "silu", "swish"].contains(try ctx.string("activation", default: "none")) else {
            throw WhittleError(.invalidAttribute, "activation must be none, silu or swish")
        }
        return [x, TensorType(x.elementType, state)].prefix(Swift.max(1, ctx.node.outputs.count)).map { $0 }
    })

    static let causalConvKernel: Kernel = { ctx in
        let x = try ctx.input(0), v = x.doubles, w = try ctx.input(1).doubles
        let bias = ctx.optionalInput(2)?.doubles, past = ctx.optionalInput(3)?.doubles
        let (batch, channels, length) = (x.shape[0], x.shape[1], x.shape[2]), k = w.count / Swift.max(channels, 1)
        let silu = try ctx.node.string("activation", default: "none") != "none"
        // The input after the state: position p < k − 1 is the state's, the others the input's.
        func padded(_ b: Int, _ c: Int, _ p: Int) -> Double {
            p < k - 1 ? (past?[(b * channels + c) * (k - 1) + p] ?? 0) : v[(b * channels + c) * length + p - (k - 1)]
        }
        // The convolution is rounded to the input type before the activation, as the reference does.
        var conv = [Double](repeating: 0, count: v.count)
        for b in 0..<batch {
            for c in 0..<channels {
                for t in 0..<length {
                    var sum = bias?[c] ?? 0
                    for j in 0..<k { sum += w[c * k + j] * padded(b, c, t + j) }
                    conv[(b * channels + c) * length + t] = sum
                }
            }
        }
        conv = NDArray(x.elementType, shape: x.shape, values: conv).doubles
        let out = silu ? conv.map { $0 / (1 + Foundation.exp(-$0)) } : conv
        var state = [Double](repeating: 0, count: batch * channels * (k - 1))
        for b in 0..<batch {
            for c in 0..<channels {
                for p in 0..<(k - 1) { state[(b * channels + c) * (k - 1) + p] = padded(b, c, length + p) }
            }
        }
        return [NDArray(x.elementType, shape: x.shape, values: out),
                NDArray(x.elementType, shape: [batch, channels, k - 1], values: state)].prefix(Swift.max(1, ctx.node.node.outputs.count)).map { $0 }
    }

    /// The sizes of a RotaryEmbedding node: input [batch, heads, sequence, head] (or [batch, sequence,
    /// heads × head] with num_heads), the rotated prefix of each head and how the caches are indexed.
    public struct RotaryGeometry: Sendable {
        public var threeD: Bool
        public var batch, heads, sequence, headSize, rotated: Int
        public var interleaved: Bool
        /// Whether position_ids index the caches (else they are [batch, sequence, rotated / 2]).
        public var positions: Bool

        public init(_ ctx: InferenceContext) throws {
            let x = try ctx.shape(0)
            threeD = x.count == 3
            guard x.count == 3 || x.count == 4 else { throw WhittleError(.shapeMismatch, "input must have rank 3 or 4, found \(x.count)") }
            batch = x[0]
            if threeD {
                guard let h = try ctx.int("num_heads"), h > 0, x[2] % h == 0 else {
                    throw WhittleError(.shapeMismatch, "a rank-3 input needs num_heads dividing its hidden size \(x[2])")
                }
                (heads, sequence, headSize) = (h, x[1], x[2] / h)
            } else {
                (heads, sequence, headSize) = (x[1], x[2], x[3])
            }
            let dim = try ctx.int("rotary_embedding_dim", default: 0)
            rotated = dim == 0 ? headSize : dim
            guard rotated > 0, rotated <= headSize, rotated % 2 == 0 else {
                throw WhittleError(.invalidAttribute, "rotary_embedding_dim \(rotated) must be even and at most the head size \(headSize)")
            }
            interleaved = try ctx.int("interleaved", default: 0) != 0
            positions = ctx.has(3)
            let cos = try ctx.shape(1), sin = try ctx.shape(2)
            guard cos == sin, cos.last == rotated / 2 else {
                throw WhittleError(.shapeMismatch, "cos_cache \(Shape.describe(cos)) and sin_cache \(Shape.describe(sin)) must end in \(rotated / 2)")
            }
            if positions {
                guard cos.count == 2, try ctx.shape(3) == [batch, sequence] else {
                    throw WhittleError(.shapeMismatch, "with position_ids [batch, sequence] the caches are [positions, \(rotated / 2)]")
                }
            } else if cos != [batch, sequence, rotated / 2] {
                throw WhittleError(.shapeMismatch, "without position_ids the caches must be [\(batch), \(sequence), \(rotated / 2)]")
            }
        }

        /// The flat index of element (b, h, s, d) in the input's layout.
        public func index(_ b: Int, _ h: Int, _ s: Int, _ d: Int) -> Int {
            threeD ? ((b * sequence + s) * heads + h) * headSize + d : ((b * heads + h) * sequence + s) * headSize + d
        }

        /// The positions in a head of the two halves of rotation pair `i`.
        public func pair(_ i: Int) -> (Int, Int) { interleaved ? (2 * i, 2 * i + 1) : (i, i + rotated / 2) }
    }

    static let rotaryEmbedding = OperatorDefinition("RotaryEmbedding", infer: { ctx in
        try ctx.expectInputs(3, 4)
        let x = try ctx.type(0)
        guard x.elementType.isFloatingPoint else { throw WhittleError(.shapeMismatch, "RotaryEmbedding takes floating-point tensors") }
        _ = try RotaryGeometry(ctx)
        return [x]
    })

    static let rotaryKernel: Kernel = { ctx in
        let g = try RotaryGeometry(ctx.node)
        let x = try ctx.input(0), v = x.doubles
        let cos = try ctx.input(1).doubles, sin = try ctx.input(2).doubles
        let ids = ctx.optionalInput(3)?.ints
        let half = g.rotated / 2
        var out = v
        for b in 0..<g.batch {
            for s in 0..<g.sequence {
                var row = b * g.sequence + s
                if let ids {
                    let p = ids[b * g.sequence + s]
                    guard p >= 0, p < Int64(cos.count / half) else {
                        throw WhittleError(.shapeMismatch, "position \(p) is outside the caches' \(cos.count / half) positions")
                    }
                    row = Int(p)
                }
                for h in 0..<g.heads {
                    for i in 0..<half {
                        let (p1, p2) = g.pair(i)
                        let x1 = v[g.index(b, h, s, p1)], x2 = v[g.index(b, h, s, p2)]
                        let c = cos[row * half + i], sn = sin[row * half + i]
                        out[g.index(b, h, s, p1)] = c * x1 - sn * x2
                        out[g.index(b, h, s, p2)] = sn * x1 + c * x2
                    }
                }
            }
        }
        return [NDArray(x.elementType, shape: x.shape, values: out)]
    }

    /// SwiGLU(A, B) = A · sigmoid(alpha · A) · B, A and B of one shape.
    static let swiGLU = OperatorDefinition("SwiGLU", infer: { ctx in
        try ctx.expectInputs(2, 2)
        let a = try ctx.type(0)
        guard a.elementType.isFloatingPoint, try ctx.type(1) == a else {
            throw WhittleError(.shapeMismatch, "SwiGLU takes two floating-point tensors of one type and shape")
        }
        return [a]
    })

    static let swiGLUKernel: Kernel = { ctx in
        let a = try ctx.input(0), b = try ctx.input(1).doubles
        let alpha = Double(try ctx.node.float("alpha", default: 1))
        // The sigmoid is rounded to the input type before the products, as the reference does.
        let sigmoid = NDArray(a.elementType, shape: a.shape, values: a.doubles.map { 1 / (1 + Foundation.exp(-alpha * $0)) }).doubles
        let av = a.doubles
        let out = av.indices.map { av[$0] * sigmoid[$0] * b[$0] }
        return [NDArray(a.elementType, shape: a.shape, values: out)]
    }
}
