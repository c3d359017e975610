import WhittleIR
import WhittleOps

/// C for LinearAttention: the recurrent state [B, kv heads, d_k, d_v] lives in planned scratch memory in
/// double precision and is updated step by step (decay, delta-rule correction, outer product) and read
/// by the queries, in the interpreter's order.
enum LinearAttentionC {
    static var kernels: [String: CKernel] { ["LinearAttention": kernel] }

    static func stateCount(_ e: NodeEmission) throws -> Int {
        let p = try OperatorHelpers.linearAttentionPlan(e.context)
        return p.batch * p.kvHeads * p.dk * p.dv
    }

    /// The state and one corrected value row, both double.
    static var scratchNeeds: [String: @Sendable (NodeEmission) throws -> Int] {
        ["LinearAttention": { e in 8 * (try stateCount(e) + OperatorHelpers.linearAttentionPlan(e.context).dv) }]
    }

    static let kernel: CKernel = { e, w in
        guard e.elementType == .float || e.elementType == .double else {
            throw WhittleError(.unsupported, "LinearAttention on \(e.elementType.name) is not supported by the C back end")
        }
        let p = try OperatorHelpers.linearAttentionPlan(e.context)
        guard let scratch = e.scratch else { throw WhittleError(.invalidGraph, "LinearAttention has no planned scratch memory") }
        let t = try e.cType(output: 0), count = p.batch * p.kvHeads * p.dk * p.dv
        let given = Double(try e.context.float("scale", default: 0))
        let scale = CSyntax.constant(given == 0 ? 1 / Double(p.dk).squareRoot() : given, .double)
        let decayPerKey = p.gated ? try e.inputShape(4).last == p.kvHeads * p.dk : false
        let betaWidth = p.delta ? try e.inputShape(5).last ?? 1 : 1
        let group = p.qHeads / p.kvHeads
        guard count > 0 else { return }
        w.line("double *state = (double *)(void *)\(scratch), *vt = state + \(count);")
        w.line("for (int i = 0; i < \(count); ++i) state[i] = \(e.has(3) ? "(double)\(e.x(3))[i]" : "0.0");")
        let at = "((b * \(p.kvHeads) + h) * \(p.dk) + d) * \(p.dv) + m"
        w.block("for (int b = 0; b < \(p.batch); ++b) for (int t = 0; t < \(p.steps); ++t)") { w in
            w.block("for (int h = 0; h < \(p.kvHeads); ++h)") { w in
                w.line("const int row = b * \(p.steps) + t;")
                w.line("for (int m = 0; m < \(p.dv); ++m) vt[m] = (double)\(e.x(2))[row * \(p.kvHeads * p.dv) + h * \(p.dv) + m];")
                if p.gated {
                    let decay = decayPerKey ? "(row * \(p.kvHeads) + h) * \(p.dk) + d" : "row * \(p.kvHeads) + h"
                    w.block("for (int d = 0; d < \(p.dk); ++d)") { w in
                        w.line("const double factor = exp((double)\(e.x(4))[\(decay)]);")
                        w.line("for (int m = 0; m < \(p.dv); ++m) state[\(at)] *= factor;")
                    }
                }
                if p.delta {
                    w.line("const double bt = (double)\(e.x(5))[row * \(betaWidth) + \(betaWidth == 1 ? "0" : "h")];")
                    w.block("for (int m = 0; m < \(p.dv); ++m)") { w in
                        w.line("double retrieved = 0.0;")
                        w.line("for (int d = 0; d < \(p.dk); ++d) retrieved += state[\(at)] * (double)\(e.x(1))[row * \(p.kvHeads * p.dk) + h * \(p.dk) + d];")
                        w.line("vt[m] = bt * (vt[m] - retrieved);")
                    }
                }
                w.line("for (int d = 0; d < \(p.dk); ++d) for (int m = 0; m < \(p.dv); ++m) state[\(at)] += (double)\(e.x(1))[row * \(p.kvHeads * p.dk) + h * \(p.dk) + d] * vt[m];")
            }
            w.block("for (int qh = 0; qh < \(p.qHeads); ++qh) for (int m = 0; m < \(p.dv); ++m)") { w in
                w.line("const int h = qh / \(group);")
                w.line("double sum = 0.0;")
                w.line("for (int d = 0; d < \(p.dk); ++d) sum += (double)\(e.x(0))[(b * \(p.steps) + t) * \(p.qHeads * p.dk) + qh * \(p.dk) + d] * state[\(at)];")
                w.line("\(e.y(0))[((b * \(p.steps) + t) * \(p.qHeads) + qh) * \(p.dv) + m] = (\(t))(\(scale) * sum);")
            }
        }
        if e.node.outputs.count > 1 && !e.node.outputs[1].isEmpty {
            w.line("for (int i = 0; i < \(count); ++i) \(e.y(1))[i] = (\(try e.cType(output: 1)))state[i];")
        }
    }
}
