import Foundation
import WhittleIR

/// LinearAttention: a recurrent state [kv heads, d_k, d_v] updated step by step (linear, gated by
/// exp(decay), with the delta rule's correction, or both) and read by the queries; grouped heads.
enum LinearAttentionOperators {
    static var all: [OperatorDefinition] { [linearAttention] }
    static var kernels: [String: Kernel] { ["LinearAttention": kernel] }

    struct Plan {
        var batch, steps, qHeads, kvHeads, dk, dv: Int
        var gated, delta: Bool

        init(_ ctx: InferenceContext) throws {
            let q = try ctx.shape(0), k = try ctx.shape(1), v = try ctx.shape(2)
            guard let qh = try ctx.int("q_num_heads"), let kvh = try ctx.int("kv_num_heads"), qh > 0, kvh > 0, qh % kvh == 0 else {
                throw WhittleError(.invalidAttribute, "q_num_heads must be a positive multiple of kv_num_heads")
            }
            guard q.count == 3, k.count == 3, v.count == 3, q[2] % qh == 0, k[2] % kvh == 0, v[2] % kvh == 0,
                  k[0] == q[0], v[0] == q[0], k[1] == q[1], v[1] == q[1], k[2] / kvh == q[2] / qh else {
                throw WhittleError(.shapeMismatch, "query, key and value must be [B, T, heads × size] with matching sizes")
            }
            (batch, steps, qHeads, kvHeads, dk, dv) = (q[0], q[1], qh, kvh, q[2] / qh, v[2] / kvh)
            let rule = try ctx.string("update_rule", default: "gated_delta")
            guard ["linear", "gated", "delta", "gated_delta"].contains(rule) else {
                throw WhittleError(.invalidAttribute, "update_rule must be linear, gated, delta or gated_delta")
            }
            gated = rule.hasPrefix("gated")
            delta = rule.hasSuffix("delta")
            guard ctx.has(4) == gated, ctx.has(5) == delta else {
                throw WhittleError(.invalidGraph, "update_rule \(rule) \(gated ? "needs" : "forbids") decay and \(delta ? "needs" : "forbids") beta")
            }
            if ctx.has(3), try ctx.shape(3) != [batch, kvHeads, dk, dv] {
                throw WhittleError(.shapeMismatch, "past_state must be [\(batch), \(kvHeads), \(dk), \(dv)]")
            }
            if gated {
                let d = try ctx.shape(4)
                guard d.count == 3, d[0] == batch, d[1] == steps, d[2] == kvHeads || d[2] == kvHeads * dk else {
                    throw WhittleError(.shapeMismatch, "decay must be [B, T, kv heads] or [B, T, kv heads × d_k]")
                }
            }
            if delta {
                let b = try ctx.shape(5)
                guard b.count == 3, b[0] == batch, b[1] == steps, b[2] == kvHeads || b[2] == 1 else {
                    throw WhittleError(.shapeMismatch, "beta must be [B, T, kv heads] or [B, T, 1]")
                }
            }
        }
    }

    static let linearAttention = OperatorDefinition("LinearAttention", infer: { ctx in
        try ctx.expectInputs(3, 6)
        let p = try Plan(ctx), type = try ctx.type(0).elementType
        guard type.isFloatingPoint else { throw WhittleError(.shapeMismatch, "LinearAttention takes floating-point tensors") }
        let stateType = ctx.has(3) ? try ctx.type(3).elementType : type
        return [TensorType(type, [p.batch, p.steps, p.qHeads * p.dv]), TensorType(stateType, [p.batch, p.kvHeads, p.dk, p.dv])]
            .prefix(Swift.max(1, ctx.node.outputs.count)).map { $0 }
    })

    static let kernel: Kernel = { ctx in
        let p = try Plan(ctx.node)
        let q = try ctx.input(0).doubles, k = try ctx.input(1).doubles, v = try ctx.input(2).doubles
        let decay = ctx.optionalInput(4), beta = ctx.optionalInput(5)
        let decayValues = decay?.doubles, betaValues = beta?.doubles
        let decayPerKey = (decay?.shape.last ?? 0) == p.kvHeads * p.dk, betaWidth = beta?.shape.last ?? 1
        // A scale of 0 (or none) means 1 / sqrt(d_k).
        let given = Double(try ctx.node.float("scale", default: 0))
        let scale = given == 0 ? 1 / Double(p.dk).squareRoot() : given
        var state = ctx.optionalInput(3)?.doubles ?? [Double](repeating: 0, count: p.batch * p.kvHeads * p.dk * p.dv)
        var out = [Double](repeating: 0, count: p.batch * p.steps * p.qHeads * p.dv)
        let group = p.qHeads / p.kvHeads
        func s(_ b: Int, _ h: Int, _ d: Int, _ m: Int) -> Int { ((b * p.kvHeads + h) * p.dk + d) * p.dv + m }
        for b in 0..<p.batch {
            for t in 0..<p.steps {
                for h in 0..<p.kvHeads {
                    let kAt = { (d: Int) in k[(b * p.steps + t) * p.kvHeads * p.dk + h * p.dk + d] }
                    var vt = (0..<p.dv).map { v[(b * p.steps + t) * p.kvHeads * p.dv + h * p.dv + $0] }
                    if let decayValues {
                        for d in 0..<p.dk {
                            let g = decayPerKey ? decayValues[((b * p.steps + t) * p.kvHeads + h) * p.dk + d]
                                                : decayValues[(b * p.steps + t) * p.kvHeads + h]
                            let factor = Foundation.exp(g)
                            for m in 0..<p.dv { state[s(b, h, d, m)] *= factor }
                        }
                    }
                    if let betaValues {
                        let bt = betaValues[(b * p.steps + t) * betaWidth + (betaWidth == 1 ? 0 : h)]
                        for m in 0..<p.dv {
                            var retrieved = 0.0
                            for d in 0..<p.dk { retrieved += state[s(b, h, d, m)] * kAt(d) }
                            vt[m] = bt * (vt[m] - retrieved)
                        }
                    }
                    for d in 0..<p.dk { for m in 0..<p.dv { state[s(b, h, d, m)] += kAt(d) * vt[m] } }
                }
                for qh in 0..<p.qHeads {
                    let h = qh / group
                    for m in 0..<p.dv {
                        var sum = 0.0
                        for d in 0..<p.dk { sum += q[(b * p.steps + t) * p.qHeads * p.dk + qh * p.dk + d] * state[s(b, h, d, m)] }
                        out[((b * p.steps + t) * p.qHeads + qh) * p.dv + m] = scale * sum
                    }
                }
            }
        }
        let type = ctx.outputType(0), stateType = ctx.outputTypes.count > 1 ? ctx.outputType(1) : type
        return [NDArray(type, shape: [p.batch, p.steps, p.qHeads * p.dv], values: out),
                NDArray(stateType, shape: [p.batch, p.kvHeads, p.dk, p.dv], values: state)].prefix(Swift.max(1, ctx.node.node.outputs.count)).map { $0 }
    }
}
