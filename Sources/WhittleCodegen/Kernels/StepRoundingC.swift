import WhittleIR
import WhittleOps
import WhittlePasses

/// Softmax and Attention of a float16 or bfloat16 model, lowered to float, with every step rounded to
/// the 16-bit type as the interpreter (and ONNX's reference) computes them: dot products accumulate in
/// double and round once; a float16 sum accumulates in float, a bfloat16 sum rounds after each addition.
enum StepRoundingC {
    /// The 16-bit type the node's steps round to, when the lowering marked it.
    static func stepType(_ e: NodeEmission) -> ElementType? {
        guard case .int(let code)? = e.node.attributes[HalfPrecisionLowering.stepTypeAttribute] else { return nil }
        let type = ElementType(onnx: Int32(clamping: code))
        return type == .float16 || type == .bfloat16 ? type : nil
    }

    /// A C expression rounding the double or float expression `x` to `type` and back to float.
    static func round(_ type: ElementType) -> (String) -> String {
        type == .bfloat16 ? { "whittle_bf16_to_f32(whittle_f32_to_bf16((float)(\($0))))" }
            : { "whittle_f16_to_f32(whittle_f32_to_f16((float)(\($0))))" }
    }

    /// The softmax of `count` floats at `row[j * stride]`, written to `out[j * stride]` (which may be the same memory).
    static func softmax(_ type: ElementType, row: (String) -> String, out: (String) -> String, count: String, masked: String?,
                        _ w: inout CWriter) {
        let r = round(type)
        w.line("double peak = -HUGE_VAL;")
        w.line("for (int j = 0; j < \(count); ++j) if ((double)\(row("j")) > peak) peak = (double)\(row("j"));")
        w.line("if (peak == -HUGE_VAL) peak = 0.0;")
        w.line(type == .bfloat16 ? "double total = 0.0;" : "float total = 0.0f;")
        w.block("for (int j = 0; j < \(count); ++j)") { w in
            w.line("const float v = \(r("exp((double)\(r("(double)\(row("j")) - peak")))"));")
            w.line("\(out("j")) = v;")
            w.line(type == .bfloat16 ? "total = (double)\(r("total + (double)v"));" : "total += v;")
        }
        w.line("double denominator = \(type == .bfloat16 ? "total" : "(double)\(r("total"))");")
        w.line("if (denominator == 0.0) denominator = 1.0;")
        w.line("for (int j = 0; j < \(count); ++j) \(out("j")) = \(masked.map { "\($0) ? 0.0f : " } ?? "")\(r("(double)\(out("j")) / denominator"));")
    }

    static func softmaxKernel(_ e: NodeEmission, _ type: ElementType, _ w: inout CWriter) throws {
        let x = try e.inputShape(0)
        let axis = try Shape.normalizeAxis(e.context.int("axis", default: e.context.opset < 13 ? 1 : -1), rank: max(x.count, 1))
        let (outer, size, inner) = e.context.opset < 13 ? (x[..<axis].reduce(1, *), x[axis...].reduce(1, *), 1) : Indexing.split(x, at: axis)
        w.block("for (int o = 0; o < \(outer); ++o) for (int i = 0; i < \(inner); ++i)") { w in
            w.line("const int base = o * \(size * inner) + i;")
            softmax(type, row: { "\(e.x(0))[base + \($0) * \(inner)]" }, out: { "\(e.y(0))[base + \($0) * \(inner)]" },
                    count: String(size), masked: nil, &w)
        }
    }
}
