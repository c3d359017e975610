import WhittleIR
import WhittleOps

/// C for the integer operators of ONNX Runtime's dynamically quantized and QOperator models:
/// MatMulInteger, QLinearMatMul, ConvInteger and DynamicQuantizeLinear. Products accumulate exactly in
/// int32; QLinearMatMul scales by a float multiplier, rounds half to even and saturates, as the interpreter does.
enum IntegerC {
    static var kernels: [String: CKernel] {
        ["MatMulInteger": integerMatMul(quantized: false), "QLinearMatMul": integerMatMul(quantized: true),
         "ConvInteger": convIntegerKernel, "DynamicQuantizeLinear": dynamicQuantizeKernel]
    }

    /// Direct convolution of (x - x_zero_point) by (w - w_zero_point) into int32 (1-D and 2-D, groups,
    /// strides, dilations, padding). Padded taps are skipped: they hold x's zero point and add nothing.
    static let convIntegerKernel: CKernel = { e, w in
        let weights = try e.inputShape(1)
        let g = try ConvolutionC.Geometry(e, kernel: Array(weights[2...]))
        for input in [0, 1] where ![.int8, .uint8].contains(try e.inputType(input).elementType) {
            throw WhittleError(.unsupported, "ConvInteger on \(try e.inputType(input).elementType.name) is not supported by the C back end")
        }
        let group = try e.context.int("group", default: 1)
        let wZeroCount = e.has(3) ? try e.inputShape(3).reduce(1, *) : 0
        let xZero = e.has(2) ? "(int32_t)\(e.x(2))[0]" : "0"
        let wZero = wZeroCount == 0 ? "0" : wZeroCount == 1 ? "(int32_t)\(e.x(3))[0]" : "(int32_t)\(e.x(3))[m]"
        let xType = try e.cType(input: 0), wType = try e.cType(input: 1)
        guard g.n * g.m * g.oh * g.ow > 0 else { return }
        QuantizedC.integerConvolution(e, &w, g: g, group: group, weights: 1, xType: xType, wType: wType, xZero: xZero,
                                      wZeroTerm: wZero == "0" ? "" : " - \(wZero)", initial: "0",
                                      finish: ["\(e.y(0))[((n * \(g.m) + m) * \(g.oh) + oh) * \(g.ow) + ow] = acc;"])
    }

    /// Batched integer MatMul with NumPy broadcasting. A's zero point is one value or one per row,
    /// B's one value or one per column (the interpreter's reading of ONNX's rules).
    static func integerMatMul(quantized: Bool) -> CKernel {
        { e, w in
            let (aIn, aZero, bIn, bZero) = quantized ? (0, 2, 3, 5) : (0, 2, 1, 3)
            let a = try e.inputShape(aIn), b = try e.inputShape(bIn)
            for input in [aIn, bIn] where ![.int8, .uint8].contains(try e.inputType(input).elementType) {
                throw WhittleError(.unsupported, "\(e.node.opType) on \(try e.inputType(input).elementType.name) is not supported by the C back end")
            }
            let aZeroCount = e.has(aZero) ? try e.inputShape(aZero).reduce(1, *) : 0
            let bZeroCount = e.has(bZero) ? try e.inputShape(bZero).reduce(1, *) : 0
            let n = (b.count == 1 ? b + [1] : b).last ?? 1
            if quantized {
                let bScaleCount = try e.inputShape(4).reduce(1, *)
                guard bScaleCount == 1 || bScaleCount == n else {
                    throw WhittleError(.shapeMismatch, "b_scale has \(bScaleCount) values; 1 or \(n) expected")
                }
            }
            guard try e.outputShape().reduce(1, *) > 0 else { return }
            let (m, k, _, count) = MatrixC.batchedProduct(a, b, &w)
            let aType = try e.cType(input: aIn), bType = try e.cType(input: bIn)
            let t = try e.cType(output: 0)
            try w.block("for (int t = 0; t < \(count); ++t)") { w in
                w.line("const \(aType) *ab = \(e.x(aIn)) + \(count > 1 ? "a_batch[t]" : "0");")
                w.line("const \(bType) *bb = \(e.x(bIn)) + \(count > 1 ? "b_batch[t]" : "0");")
                try w.block("for (int i = 0; i < \(m); ++i)") { w in
                    // The zero point of this row of A (rows counted over the batch, as the interpreter does).
                    let za = aZeroCount == 0 ? "0" : aZeroCount == 1 ? "(int32_t)\(e.x(aZero))[0]"
                        : "(int32_t)\(e.x(aZero))[(t * \(m) + i) % \(aZeroCount)]"
                    w.line("const int32_t za = \(za);")
                    try w.block("for (int j = 0; j < \(n); ++j)") { w in
                        let zb = bZeroCount == 0 ? "0" : bZeroCount == 1 ? "(int32_t)\(e.x(bZero))[0]" : "(int32_t)\(e.x(bZero))[j % \(bZeroCount)]"
                        w.line("const int32_t zb = \(zb);")
                        w.line("int32_t acc = 0;")
                        w.line("for (int p = 0; p < \(k); ++p) acc += ((int32_t)ab[i * \(k) + p] - za) * ((int32_t)bb[p * \(n) + j] - zb);")
                        if quantized {
                            let bScale = try e.inputShape(4).reduce(1, *) == 1 ? "\(e.x(4))[0]" : "\(e.x(4))[j]"
                            let (low, high) = e.elementType.integerRange
                            let zero = e.has(7) ? "(float)\(e.x(7))[0]" : "0.0f"
                            // The multiplier in float, in the interpreter's order: a_scale * b_scale / y_scale.
                            w.line("const float multiplier = \(e.x(1))[0] * \(bScale) / \(e.x(6))[0];")
                            w.line("float q = rintf((float)acc * multiplier) + \(zero);")
                            w.line("q = q < \(CSyntax.float(Float(low))) ? \(CSyntax.float(Float(low))) : (q > \(CSyntax.float(Float(high))) ? \(CSyntax.float(Float(high))) : q);")
                            w.line("\(e.y(0))[(t * \(m) + i) * \(n) + j] = (\(t))q;")
                        } else {
                            w.line("\(e.y(0))[(t * \(m) + i) * \(n) + j] = acc;")
                        }
                    }
                }
            }
        }
    }

    /// uint8 quantization with a scale and zero point chosen from the data's range (widened to hold 0).
    static let dynamicQuantizeKernel: CKernel = { e, w in
        guard try e.inputType(0).elementType == .float else {
            throw WhittleError(.unsupported, "DynamicQuantizeLinear of \(try e.inputType(0).elementType.name) is not supported by the C back end")
        }
        let count = try e.inputShape(0).reduce(1, *)
        w.line("float low = 0.0f, high = 0.0f;")
        if count > 0 {
            w.block("for (int i = 0; i < \(count); ++i)") { w in
                w.line("if (\(e.x(0))[i] < low) low = \(e.x(0))[i];")
                w.line("if (\(e.x(0))[i] > high) high = \(e.x(0))[i];")
            }
        }
        w.line("const float scale = (high - low) / 255.0f;")
        w.line("float zero = 0.0f;")
        w.block("if (scale > 0.0f)") { w in
            w.line("zero = rintf(0.0f - low / scale);")
            w.line("zero = zero < 0.0f ? 0.0f : (zero > 255.0f ? 255.0f : zero);")
        }
        if count > 0 {
            w.block("for (int i = 0; i < \(count); ++i)") { w in
                w.line("float q = scale > 0.0f ? rintf(\(e.x(0))[i] / scale) + zero : 0.0f;")
                // NaN is stored as 0, as the saturating conversion does.
                w.line("q = q < 0.0f ? 0.0f : (q > 255.0f ? 255.0f : (q == q ? q : 0.0f));")
                w.line("\(e.y(0))[i] = (uint8_t)q;")
            }
        }
        if e.node.outputs.count > 1 && !e.node.outputs[1].isEmpty { w.line("\(e.y(1))[0] = scale > 0.0f ? scale : 0.0f;") }
        if e.node.outputs.count > 2 && !e.node.outputs[2].isEmpty { w.line("\(e.y(2))[0] = (uint8_t)zero;") }
    }
}
