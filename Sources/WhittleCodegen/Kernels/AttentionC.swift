import WhittleIR
import WhittleOps
import WhittlePasses

/// C for Attention: one query row at a time, its logits in planned scratch memory (one row of the
/// total key length), in the interpreter's order of operations.
enum AttentionC {
    static var kernels: [String: CKernel] { ["Attention": kernel] }

    static var scratchNeeds: [String: @Sendable (NodeEmission) throws -> Int] {
        ["Attention": { e in (try AttentionGeometry(e.context).totalLength) * (e.elementType.byteWidth ?? 4) }]
    }

    /// The C index of element (b, h, s, d) of a 4-D tensor or the matching 3-D one.
    static func index(_ threeD: Bool, heads: Int, length: Int, size: Int, _ s: String, _ d: String) -> String {
        threeD ? "((b * \(length) + \(s)) * \(heads) + h_) * \(size) + \(d)" : "((b * \(heads) + h_) * \(length) + \(s)) * \(size) + \(d)"
    }

    static let kernel: CKernel = { e, w in
        guard e.elementType == .float || e.elementType == .double else {
            throw WhittleError(.unsupported, "Attention on \(e.elementType.name) is not supported by the C back end")
        }
        let g = try AttentionGeometry(e.context)
        let t = try e.cType(output: 0), total = g.totalLength
        guard let scratch = e.scratch else { throw WhittleError(.invalidGraph, "Attention has no planned scratch memory") }
        let headScale = Double(try e.context.float("scale") ?? Float(1 / Double(g.headSize).squareRoot()))
        // A lowered 16-bit Attention rounds each step to its type (StepRoundingC); float rounds once per step.
        let step = StepRoundingC.stepType(e), r = step.map(StepRoundingC.round)
        let root = step == nil ? e.literal(Double(Float(headScale.squareRoot()))) : "root"
        let causal = try e.context.int("is_causal", default: 0) != 0
        let softcap = Double(try e.context.float("softcap", default: 0))
        let mode = try e.context.int("qk_matmul_output_mode", default: 0)
        let left = try e.context.int("left_window_size", default: -1), right = try e.context.int("right_window_size", default: -1)
        let outputs = (0..<4).map { $0 < e.node.outputs.count && !e.node.outputs[$0].isEmpty }
        let group = g.qHeads / g.kvHeads
        let past = g.pastLength, length = g.kvLength
        guard g.batch * g.qHeads * g.qLength > 0 else { return }

        // Keys and values of this step after the cache, as present_key/present_value give them (4-D).
        func present(_ name: String, input: Int, pastInput: Int, size: Int) -> [String] {
            var lines = ["for (int b = 0; b < \(g.batch); ++b) for (int h_ = 0; h_ < \(g.kvHeads); ++h_) for (int s = 0; s < \(total); ++s) for (int d = 0; d < \(size); ++d)"]
            let source = past > 0
                ? "s < \(past) ? \(e.x(pastInput))[((b * \(g.kvHeads) + h_) * \(past) + s) * \(size) + d] : \(e.x(input))[\(index(g.threeD, heads: g.kvHeads, length: length, size: size, "(s - \(past))", "d"))]"
                : "\(e.x(input))[\(index(g.threeD, heads: g.kvHeads, length: length, size: size, "s", "d"))]"
            lines.append("    \(name)[((b * \(g.kvHeads) + h_) * \(total) + s) * \(size) + d] = \(source);")
            return lines
        }
        if outputs[1] { w.lines(present(e.y(1), input: 1, pastInput: 4, size: g.headSize)) }
        if outputs[2] { w.lines(present(e.y(2), input: 2, pastInput: 5, size: g.valueSize)) }
        // Reads of K and V go to the present outputs when written, else to the cache or this step's input.
        func key(_ tensor: Int, _ presentOutput: Int, size: Int, _ j: String, _ d: String) -> String {
            if outputs[presentOutput] { return "\(e.y(presentOutput))[((b * \(g.kvHeads) + kvh) * \(total) + \(j)) * \(size) + \(d)]" }
            let current = "\(e.x(tensor))[\(index(g.threeD, heads: g.kvHeads, length: length, size: size, past > 0 ? "(\(j) - \(past))" : j, d).replacingOccurrences(of: "h_", with: "kvh"))]"
            guard past > 0 else { return current }
            return "(\(j) < \(past) ? \(e.x(tensor + 3))[((b * \(g.kvHeads) + kvh) * \(past) + \(j)) * \(size) + \(d)] : \(current))"
        }

        let inf = e.elementType == .float ? "HUGE_VALF" : "HUGE_VAL"
        w.line("\(t) *logit = (\(t) *)\(scratch);")
        if let r { w.line("const double root = \(r(CSyntax.constant(headScale.squareRoot(), .double)));") }
        w.block("for (int b = 0; b < \(g.batch); ++b)") { w in
            // The number of valid keys before this query block (causal and window frontiers).
            if causal || left >= 0 || right >= 0 {
                w.line("const long long offset = \(e.has(6) ? "(long long)\(e.x(6))[b] - \(g.qLength)" : String(past));")
            }
            w.block("for (int h_ = 0; h_ < \(g.qHeads); ++h_)") { w in
                w.line("const int kvh = h_ / \(group);")
                w.block("for (int i = 0; i < \(g.qLength); ++i)") { w in
                    w.line("\(t) top = -\(inf);")
                    w.line("int open = 0;")
                    w.block("for (int j = 0; j < \(total); ++j)") { w in
                        let q = "\(e.x(0))[\(index(g.threeD, heads: g.qHeads, length: g.qLength, size: g.headSize, "i", "d"))]"
                        if let r {
                            w.line("double dot = 0.0;")
                            w.line("for (int d = 0; d < \(g.headSize); ++d) dot += (double)\(r("(double)\(q) * root")) * (double)\(r("(double)\(key(1, 1, size: g.headSize, "j", "d")) * root"));")
                            w.line("dot = \(r("dot"));")
                            if softcap > 0 { w.line("dot = \(r("tanh(dot / \(CSyntax.constant(softcap, .double))) * \(CSyntax.constant(softcap, .double))"));") }
                        } else {
                            w.line("\(t) dot = \(e.literal(0));")
                            w.line("for (int d = 0; d < \(g.headSize); ++d) dot += (\(q) * \(root)) * (\(key(1, 1, size: g.headSize, "j", "d")) * \(root));")
                            if softcap > 0 {
                                w.line("dot = \(e.math("tanh"))(dot / \(e.literal(softcap))) * \(e.literal(softcap));")
                            }
                        }
                        w.line("\(t) bias_j = \(e.literal(0));")
                        if e.has(3) { w.lines(maskLines(e, g)) }
                        if causal { w.line("if (j > i + offset) bias_j += -\(inf);") }
                        if left >= 0 { w.line("if (i + offset - j > \(left)) bias_j += -\(inf);") }
                        if right >= 0 { w.line("if (j - i - offset > \(right)) bias_j += -\(inf);") }
                        if e.has(6) { w.line("if (j >= \(e.x(6))[b]) bias_j += -\(inf);") }
                        w.line(r.map { "logit[j] = \($0("dot + (double)bias_j"));" } ?? "logit[j] = dot + bias_j;")
                        w.line("if (bias_j != -\(inf)) open = 1;")
                        w.line("if (logit[j] > top) top = logit[j];")
                        if outputs[3] && mode != 3 {
                            w.line("\(e.y(3))[((b * \(g.qHeads) + h_) * \(g.qLength) + i) * \(total) + j] = \(mode == 2 ? "logit[j]" : step == nil ? "dot" : "(\(t))dot");")
                        }
                    }
                    // Softmax; a row whose bias is -inf everywhere attends to nothing and gives zeros.
                    if let step {
                        w.block("") { w in
                            StepRoundingC.softmax(step, row: { "logit[\($0)]" }, out: { "logit[\($0)]" }, count: String(total), masked: "!open", &w)
                        }
                    } else {
                        w.line("if (top == -\(inf)) top = \(e.literal(0));")
                        w.line("\(t) sum = \(e.literal(0));")
                        w.line("for (int j = 0; j < \(total); ++j) { logit[j] = \(e.math("exp"))(logit[j] - top); sum += logit[j]; }")
                        w.line("if (sum == \(e.literal(0))) sum = \(e.literal(1));")
                        w.line("for (int j = 0; j < \(total); ++j) logit[j] = open ? logit[j] / sum : \(e.literal(0));")
                    }
                    if outputs[3] && mode == 3 {
                        w.line("for (int j = 0; j < \(total); ++j) \(e.y(3))[((b * \(g.qHeads) + h_) * \(g.qLength) + i) * \(total) + j] = logit[j];")
                    }
                    w.block("for (int d = 0; d < \(g.valueSize); ++d)") { w in
                        let accumulator = step == nil ? t : "double", cast = step == nil ? "" : "(double)"
                        w.line("\(accumulator) acc = \(step == nil ? e.literal(0) : "0.0");")
                        w.line("for (int j = 0; j < \(total); ++j) acc += \(cast)logit[j] * \(cast)\(key(2, 2, size: g.valueSize, "j", "d"));")
                        w.line("\(e.y(0))[\(index(g.threeD, heads: g.qHeads, length: g.qLength, size: g.valueSize, "i", "d"))] = \(step == nil ? "" : "(\(t))")acc;")
                    }
                }
            }
        }
    }

    /// `bias_j` from the mask: broadcast from the right to (batch, heads, queries, keys); keys past the
    /// mask's last axis are masked; a bool mask gives 0 or -inf, a float mask its value.
    static func maskLines(_ e: NodeEmission, _ g: AttentionGeometry) -> [String] {
        guard let shape = try? e.inputShape(3), let type = try? e.inputType(3).elementType else { return [] }
        let full = Array(repeating: 1, count: 4 - shape.count) + shape
        let strides = Shape.strides(full)
        let coordinates = ["b", "h_", "i", "j"]
        let flat = (0..<4).filter { full[$0] != 1 }.map { "\(coordinates[$0]) * \(strides[$0])" }.joined(separator: " + ")
        let at = "\(e.x(3))[\(flat.isEmpty ? "0" : flat)]"
        let inf = e.elementType == .float ? "HUGE_VALF" : "HUGE_VAL"
        let value = type == .bool ? "(\(at) ? \(e.literal(0)) : -\(inf))" : at
        return full[3] < g.totalLength ? ["bias_j = j < \(full[3]) ? \(value) : -\(inf);"] : ["bias_j = \(value);"]
    }
}
