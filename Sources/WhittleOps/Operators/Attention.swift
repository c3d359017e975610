import Foundation
import WhittleIR

/// Attention (opsets 23–25): scaled dot-product attention with optional mask, key/value cache,
/// causal and sliding-window masking, grouped-query heads, softcap and the QK output modes.
enum AttentionOperators {
    static var all: [OperatorDefinition] { [attention] }
    static var kernels: [String: Kernel] { ["Attention": attentionKernel] }

    static let attention = OperatorDefinition("Attention", infer: { ctx in
        try ctx.expectInputs(3, 7)
        let g = try AttentionGeometry(ctx)
        let type = try ctx.type(0).elementType
        guard type.isFloatingPoint else { throw WhittleError(.shapeMismatch, "Attention takes floating-point tensors") }
        let mode = try ctx.int("qk_matmul_output_mode", default: 0)
        guard (0...3).contains(mode) else { throw WhittleError(.invalidAttribute, "qk_matmul_output_mode must be 0 to 3, found \(mode)") }
        for name in ["left_window_size", "right_window_size"] where try ctx.int(name, default: -1) < -1 {
            throw WhittleError(.invalidAttribute, "\(name) must be -1 or more")
        }
        let y = g.threeD ? [g.batch, g.qLength, g.qHeads * g.valueSize] : [g.batch, g.qHeads, g.qLength, g.valueSize]
        let shapes = [y, [g.batch, g.kvHeads, g.totalLength, g.headSize], [g.batch, g.kvHeads, g.totalLength, g.valueSize],
                      [g.batch, g.qHeads, g.qLength, g.totalLength]]
        return shapes.prefix(Swift.max(1, ctx.node.outputs.count)).map { TensorType(type, $0) }
    }, macs: { ctx, _ in
        guard let g = try? AttentionGeometry(ctx) else { return 0 }
        return g.batch * g.qHeads * g.qLength * g.totalLength * (g.headSize + g.valueSize)
    })

    /// Element (b, h, s, d) of a 4-D (or the matching 3-D) tensor with `heads` heads of `size` values.
    static func index(_ threeD: Bool, b: Int, h: Int, s: Int, d: Int, heads: Int, length: Int, size: Int) -> Int {
        threeD ? ((b * length + s) * heads + h) * size + d : ((b * heads + h) * length + s) * size + d
    }

    static let attentionKernel: Kernel = { ctx in
        let g = try AttentionGeometry(ctx.node)
        let type = ctx.outputType(0)
        let q = try ctx.input(0).doubles, k = try ctx.input(1).doubles, v = try ctx.input(2).doubles
        let pastKey = ctx.optionalInput(4)?.doubles, pastValue = ctx.optionalInput(5)?.doubles
        let nonpad = ctx.optionalInput(6)?.ints
        let attributes = ctx.node
        // The scale's square root multiplies both Q and K, rounded to Q's type (as ONNX's function body does).
        let headScale = Double(try attributes.float("scale") ?? Float(1 / Double(g.headSize).squareRoot()))
        let root = SixteenBitSteps.rounding(type)(headScale.squareRoot())
        let causal = try attributes.int("is_causal", default: 0) != 0
        let softcap = Double(try attributes.float("softcap", default: 0))
        let mode = try attributes.int("qk_matmul_output_mode", default: 0)
        let left = try attributes.int("left_window_size", default: -1), right = try attributes.int("right_window_size", default: -1)
        let total = g.totalLength
        // 16-bit inputs: products, logits and probabilities are rounded to the type at each step, as the
        // reference computes in the input type (softmax too, unless softmax_precision asks for more).
        let round = SixteenBitSteps.rounding(type)
        let precision = try attributes.elementType("softmax_precision")
        let stepSoftmax = SixteenBitSteps.isSixteenBit(type) && (precision == nil || precision == type)

        // present_key / present_value: the cache followed by this step's keys and values, 4-D.
        var presentKey = [Double](repeating: 0, count: g.batch * g.kvHeads * total * g.headSize)
        var presentValue = [Double](repeating: 0, count: g.batch * g.kvHeads * total * g.valueSize)
        for b in 0..<g.batch {
            for h in 0..<g.kvHeads {
                for s in 0..<total {
                    for d in 0..<g.headSize {
                        presentKey[((b * g.kvHeads + h) * total + s) * g.headSize + d] = s < g.pastLength
                            ? pastKey![((b * g.kvHeads + h) * g.pastLength + s) * g.headSize + d]
                            : k[index(g.threeD, b: b, h: h, s: s - g.pastLength, d: d, heads: g.kvHeads, length: g.kvLength, size: g.headSize)]
                    }
                    for d in 0..<g.valueSize {
                        presentValue[((b * g.kvHeads + h) * total + s) * g.valueSize + d] = s < g.pastLength
                            ? pastValue![((b * g.kvHeads + h) * g.pastLength + s) * g.valueSize + d]
                            : v[index(g.threeD, b: b, h: h, s: s - g.pastLength, d: d, heads: g.kvHeads, length: g.kvLength, size: g.valueSize)]
                    }
                }
            }
        }

        // The additive bias of (b, h, i, j): mask, causal frontier, window and key padding.
        let mask = ctx.optionalInput(3)
        let maskShape = mask.map { Array(repeating: 1, count: 4 - $0.rank) + $0.shape } ?? []
        let maskValues = mask?.doubles, maskIsBool = mask?.elementType == .bool
        func bias(_ b: Int, _ h: Int, _ i: Int, _ j: Int) -> Double {
            var value = 0.0
            if let maskValues {
                if j >= maskShape[3] {
                    value = -.infinity
                } else {
                    let coordinates = [b, h, i, j]
                    let flat = (0..<4).reduce(0) { $0 * maskShape[$1] + (maskShape[$1] == 1 ? 0 : coordinates[$1]) }
                    value = maskIsBool ? (maskValues[flat] != 0 ? 0 : -.infinity) : maskValues[flat]
                }
            }
            // The number of valid keys before this query block.
            let offset = g.pastLength > 0 ? g.pastLength : (nonpad.map { Int($0[b]) - g.qLength } ?? 0)
            if causal && j > i + offset { value += -.infinity }
            let diff = i + offset - j
            if (left >= 0 && diff > left) || (right >= 0 && -diff > right) { value += -.infinity }
            if let nonpad, Int64(j) >= nonpad[b] { value += -.infinity }
            return value
        }

        let yShape = try ctx.outputShape(0)
        var y = [Double](repeating: 0, count: yShape.reduce(1, *))
        var qk = [Double](repeating: 0, count: g.batch * g.qHeads * g.qLength * total)
        let group = g.qHeads / g.kvHeads
        var logits = [Double](repeating: 0, count: total), biases = logits
        for b in 0..<g.batch {
            for h in 0..<g.qHeads {
                let kvh = h / group
                for i in 0..<g.qLength {
                    for j in 0..<total {
                        var dot = 0.0
                        for d in 0..<g.headSize {
                            let qv = round(q[index(g.threeD, b: b, h: h, s: i, d: d, heads: g.qHeads, length: g.qLength, size: g.headSize)] * root)
                            let kv = round(presentKey[((b * g.kvHeads + kvh) * total + j) * g.headSize + d] * root)
                            dot += qv * kv
                        }
                        dot = round(dot)
                        if softcap > 0 { dot = round(Foundation.tanh(dot / softcap) * softcap) }
                        biases[j] = bias(b, h, i, j)
                        logits[j] = round(dot + biases[j])
                        let at = ((b * g.qHeads + h) * g.qLength + i) * total + j
                        qk[at] = mode == 2 ? logits[j] : dot
                    }
                    // Softmax; a row whose bias is -inf everywhere has no key to attend and gives zeros.
                    let masked = biases.allSatisfy { $0 == -.infinity } && total > 0
                    let top = logits.max() ?? 0
                    let shift = top == -.infinity ? 0 : top
                    var weights: [Double]
                    if stepSoftmax {
                        weights = SixteenBitSteps.softmax(logits, type).map { masked ? 0 : $0 }
                    } else {
                        weights = logits.map { Foundation.exp($0 - shift) }
                        let sum = weights.reduce(0, +)
                        weights = weights.map { masked ? 0 : $0 / (sum == 0 ? 1 : sum) }
                    }
                    if mode == 3 {
                        for j in 0..<total { qk[((b * g.qHeads + h) * g.qLength + i) * total + j] = weights[j] }
                    }
                    // The probabilities are rounded to the input type before the product with V.
                    let rounded = type == .double ? weights : NDArray(type, shape: [total], values: weights).doubles
                    for d in 0..<g.valueSize {
                        var sum = 0.0
                        for j in 0..<total { sum += rounded[j] * presentValue[((b * g.kvHeads + kvh) * total + j) * g.valueSize + d] }
                        y[index(g.threeD, b: b, h: h, s: i, d: d, heads: g.qHeads, length: g.qLength, size: g.valueSize)] = sum
                    }
                }
            }
        }
        let outputs = [NDArray(type, shape: yShape, values: y),
                       NDArray(type, shape: [g.batch, g.kvHeads, total, g.headSize], values: presentKey),
                       NDArray(type, shape: [g.batch, g.kvHeads, total, g.valueSize], values: presentValue),
                       NDArray(type, shape: [g.batch, g.qHeads, g.qLength, total], values: qk)]
        return Array(outputs.prefix(Swift.max(1, ctx.node.node.outputs.count)))
    }
}

/// The sizes of one Attention node, from its input shapes and attributes.
public struct AttentionGeometry: Sendable {
    /// Q, K, V given as (batch, sequence, heads × head size) rather than (batch, heads, sequence, head size).
    public var threeD: Bool
    public var batch, qHeads, kvHeads, qLength, kvLength, pastLength, headSize, valueSize: Int
    public var totalLength: Int { pastLength + kvLength }

    public init(_ ctx: InferenceContext) throws {
        let q = try ctx.shape(0), k = try ctx.shape(1), v = try ctx.shape(2)
        guard q.count == k.count, k.count == v.count, q.count == 3 || q.count == 4 else {
            throw WhittleError(.shapeMismatch, "Q, K and V must all have rank 3 or all rank 4, found \(q.count), \(k.count), \(v.count)")
        }
        threeD = q.count == 3
        batch = q[0]
        if threeD {
            guard let qh = try ctx.int("q_num_heads"), let kvh = try ctx.int("kv_num_heads"), qh > 0, kvh > 0,
                  q[2] % qh == 0, k[2] % kvh == 0, v[2] % kvh == 0 else {
                throw WhittleError(.shapeMismatch, "rank-3 inputs need q_num_heads and kv_num_heads dividing the hidden sizes")
            }
            (qHeads, kvHeads, qLength, kvLength) = (qh, kvh, q[1], k[1])
            (headSize, valueSize) = (q[2] / qh, v[2] / kvh)
            guard k[2] / kvh == headSize, v[1] == k[1] else {
                throw WhittleError(.shapeMismatch, "K \(Shape.describe(k)) and V \(Shape.describe(v)) do not fit Q \(Shape.describe(q))")
            }
        } else {
            (qHeads, kvHeads, qLength, kvLength, headSize, valueSize) = (q[1], k[1], q[2], k[2], q[3], v[3])
            guard k[3] == headSize, v[1] == kvHeads, v[2] == kvLength else {
                throw WhittleError(.shapeMismatch, "K \(Shape.describe(k)) and V \(Shape.describe(v)) do not fit Q \(Shape.describe(q))")
            }
        }
        guard k[0] == batch, v[0] == batch, kvHeads > 0, qHeads % kvHeads == 0 else {
            throw WhittleError(.shapeMismatch, "\(qHeads) query heads cannot share \(kvHeads) key/value heads")
        }
        pastLength = 0
        if ctx.has(4) != ctx.has(5) { throw WhittleError(.invalidGraph, "past_key and past_value must be given together") }
        if ctx.has(4) {
            let pk = try ctx.shape(4), pv = try ctx.shape(5)
            guard pk.count == 4, pk[0] == batch, pk[1] == kvHeads, pk[3] == headSize,
                  pv == [batch, kvHeads, pk[2], valueSize] else {
                throw WhittleError(.shapeMismatch, "past_key \(Shape.describe(pk)) or past_value \(Shape.describe(pv)) does not fit K and V")
            }
            pastLength = pk[2]
        }
        if ctx.has(6) {
            guard try ctx.shape(6) == [batch], try ctx.type(6).elementType == .int64 else {
                throw WhittleError(.shapeMismatch, "nonpad_kv_seqlen must be int64 with one value per batch")
            }
            if ctx.has(4) { throw WhittleError(.invalidGraph, "nonpad_kv_seqlen cannot be combined with past_key") }
        }
        if ctx.has(3) {
            let m = try ctx.shape(3)
            let full = [batch, qHeads, qLength, totalLength]
            guard m.count >= 1, m.count <= 4, m.last! <= totalLength,
                  zip(m.dropLast().reversed(), full.dropLast().reversed()).allSatisfy({ $0 == 1 || $0 == $1 }) else {
                throw WhittleError(.shapeMismatch, "attn_mask \(Shape.describe(m)) does not broadcast to \(Shape.describe(full))")
            }
            let type = try ctx.type(3).elementType
            let qType = try ctx.type(0).elementType
            guard type == .bool || type == qType else {
                throw WhittleError(.shapeMismatch, "attn_mask must be bool or Q's type, found \(type.name)")
            }
        }
    }
}
