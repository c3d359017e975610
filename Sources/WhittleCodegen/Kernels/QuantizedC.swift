import WhittleIR
import WhittleOps

/// C for the integer operators the fuse-qdq pass produces: QLinearConv, QGemm (com.microsoft),
/// QLinearAdd, QLinearAveragePool, QLinearGlobalAveragePool. Accumulation is exact int32; the
/// result is requantized like ONNX Runtime: float32 product with a multiplier fixed at compile
/// time, rounded half to even (`rintf`), plus the zero point, saturated.
enum QuantizedC {
    static var kernels: [String: CKernel] {
        ["QLinearConv": qlinearConv, "com.microsoft.QGemm": qgemm, "com.microsoft.QLinearAdd": qlinearAdd,
         "com.microsoft.QLinearAveragePool": averagePool, "com.microsoft.QLinearGlobalAveragePool": globalAveragePool,
         "whittle.QSoftmax": softmax, "com.microsoft.QLinearSoftmax": qlinearSoftmax]
    }

    /// A constant scalar (scale or zero point) that must be known at compile time.
    static func constant(_ e: NodeEmission, _ index: Int, what: String) throws -> Tensor {
        guard let t = e.constant(index) else { throw WhittleError(.unsupported, "\(what) must be a constant for the C back end") }
        return t
    }

    static func zero(_ e: NodeEmission, _ index: Int) -> Int64 {
        e.has(index) ? (e.constant(index)?.int64s()?.first ?? 0) : 0
    }

    /// Saturating store of `rintf(value) + zero` into an integer of the output type. For 8- and 16-bit
    /// types the value is saturated first (to [low − zero, high − zero], integers: the same result, as
    /// rounding is monotonic) and rounded by `whittle_round_small`, which needs no call to `rintf`.
    static func store(_ target: String, _ value: String, zero: Int64, _ e: NodeEmission) -> [String] {
        let bounds = e.node.quantizedOutputBounds(e.elementType), (low, high) = (Double(bounds.low), Double(bounds.high))
        let type = CSyntax.type(e.elementType) ?? "int8_t"
        if high - low <= 65535 {
            let (below, above) = (CSyntax.float(Float(low - Double(zero))), CSyntax.float(Float(high - Double(zero))))
            // The rounded value is named before the cast: a cast of a composite float expression to an
            // integer type is a MISRA C:2012 rule 10.8 violation.
            return ["float q = \(value);",
                    "if (q < \(below)) q = \(below);",
                    "if (q > \(above)) q = \(above);",
                    "const float rounded = whittle_round_small(q)\(offset(zero));",
                    "\(target) = (\(type))rounded;"]
        }
        return ["float q = rintf(\(value)) + \(CSyntax.float(Float(zero)));",
                "if (q < \(CSyntax.float(Float(low)))) q = \(CSyntax.float(Float(low)));",
                "if (q > \(CSyntax.float(Float(high)))) q = \(CSyntax.float(Float(high)));",
                "\(target) = (\(type))q;"]
    }

    /// ` + z` (` - |z|` for a negative z) as a float literal, or nothing for 0.
    static func offset(_ zero: Int64) -> String {
        zero == 0 ? "" : zero < 0 ? " - \(CSyntax.float(Float(-zero)))" : " + \(CSyntax.float(Float(zero)))"
    }

    /// `x − zero` as a float, for an integer `value` of `type`: both converted first where that is exact
    /// (types of at most 16 bits: every difference is below 2^24), which keeps the C free of casts of
    /// composite expressions (MISRA C:2012 rule 10.8); wider types subtract in int64 and round once.
    static func dequantized(_ value: String, type: ElementType, zero: Int64) -> String {
        let (low, high) = type.integerRange
        if high - low <= 65535, abs(Double(zero)) <= 65535 { return "((float)\(value)\(offset(-zero)))" }
        return "(float)((int64_t)\(value) - \(zero))"
    }

    /// The C type of an integer sum whose partial values stay within ±`reach`: int32 when it
    /// provably cannot overflow, else int64 (16-bit activations over long dot products; the
    /// interpreter's sums are exact, so a wrapped int32 would be silently wrong).
    static func accumulator(reach: Double) -> String { reach <= Double(Int32.max) ? "int32_t" : "int64_t" }

    /// The largest |x − zero| of an integer input `index`'s type.
    static func inputReach(_ e: NodeEmission, _ index: Int, zero: Int64) throws -> Double {
        let (low, high) = try e.inputType(index).elementType.integerRange
        return max(Double(zero) - low, high - Double(zero))
    }

    /// The largest partial sum of a dot product per output: |bias| plus Σ|w − w_zero| times the
    /// largest |x − x_zero|, over `rows` rows of `taps` weights (nil weights: any value of their type).
    /// `bias` is empty without one, nil when it is not a constant (any int32, up to 2^31).
    static func reach(_ e: NodeEmission, weights: [Int64]?, weightIndex: Int, weightZero: [Int64], rows: Int, taps: Int,
                      bias: [Int64]?, xReach: Double) throws -> Double {
        func biasReach(_ r: Int) -> Double {
            guard let bias else { return 2_147_483_648 }
            return bias.isEmpty ? 0 : Double(abs(bias[min(r, bias.count - 1)]))
        }
        guard let weights, weights.count >= rows * taps else {
            let (low, high) = try e.inputType(weightIndex).elementType.integerRange
            return ((0..<max(rows, 1)).map(biasReach).max() ?? 0) + Double(taps) * (high - low) * xReach
        }
        var largest = 0.0
        for r in 0..<rows {
            let z = weightZero.isEmpty ? 0 : weightZero[min(r, weightZero.count - 1)]
            let sum = weights[(r * taps)..<((r + 1) * taps)].reduce(0.0) { $0 + Double(abs($1 - z)) }
            largest = max(largest, biasReach(r) + sum * xReach)
        }
        return largest
    }

    /// The integer form of a float32 multiplier M = mantissa · 2^exponent (24-bit mantissa), exact.
    static func decompose(_ m: Float) -> (mantissa: UInt32, exponent: Int) {
        guard m.isNormal, m > 0 else { return (0, 0) }
        let bits = m.bitPattern
        return (bits & 0x7F_FFFF | 0x80_0000, Int((bits >> 23) & 0xFF) - 127 - 23)
    }

    /// Stores the requantized `acc` (int32 or int64) scaled by multiplier[index]: float or integer-only.
    static func requantize(_ target: String, index: String, zero: Int64, _ e: NodeEmission) -> [String] {
        guard e.integerOnly else { return store(target, "(float)acc * multiplier[\(index)]", zero: zero, e) }
        let (low, high) = e.node.quantizedOutputBounds(e.elementType)
        return ["int64_t q = (int64_t)whittle_requantize(acc, mantissa[\(index)], exponent[\(index)]) + \(zero);",
                "if (q < \(low)) q = \(low);",
                "if (q > \(high)) q = \(high);",
                "\(target) = (\(CSyntax.type(e.elementType) ?? "int8_t"))q;"]
    }

    /// The multiplier table(s) for the kernel: floats, or mantissas and exponents when integer-only.
    static func multiplierTables(_ values: [Float], _ e: NodeEmission) -> [String] {
        guard e.integerOnly else { return [table("multiplier", values)] }
        let parts = values.map(decompose)
        return ["static const uint32_t mantissa[\(max(parts.count, 1))] = {\(parts.map { String($0.mantissa) }.joined(separator: ", "))};",
                "static const int8_t exponent[\(max(parts.count, 1))] = {\(parts.map { String($0.exponent) }.joined(separator: ", "))};"]
    }

    static func table(_ name: String, _ values: [Float]) -> String {
        "static const float \(name)[\(max(values.count, 1))] = {\(values.map(CSyntax.hexFloat).joined(separator: ", "))};"
    }

    /// The direct integer convolution QLinearConv and ConvInteger share: for each output (n, m, oh, ow), an
    /// int32 sum from `initial` of (x − x_zero) · (w − w_zero) over the window's valid taps, then `finish`
    /// stores `acc`. Padded taps are skipped: they hold x's zero point and add nothing.
    static func integerConvolution(_ e: NodeEmission, _ w: inout CWriter, g: ConvolutionC.Geometry, group: Int, weights: Int,
                                   xType: String, wType: String, xZero: String, wZeroTerm: String, initial: String, finish: [String],
                                   accumulator: String = "int32_t") {
        let cg = g.c / group, mg = g.m / group
        let (khLo, khHi) = ConvolutionC.range("ih0", size: g.h, kernel: g.kh, dilation: g.dh)
        let (kwLo, kwHi) = ConvolutionC.range("iw0", size: g.w, kernel: g.kw, dilation: g.dw)
        w.block("for (int n = 0; n < \(g.n); ++n)") { w in
            w.block("for (int m = 0; m < \(g.m); ++m)") { w in
                w.line("const \(wType) *wm = \(e.x(weights)) + m * \(cg * g.kh * g.kw);")
                w.line("const \(xType) *in = \(e.x(0)) + (n * \(g.c) + (m / \(mg)) * \(cg)) * \(g.h * g.w);")
                w.block("for (int oh = 0; oh < \(g.oh); ++oh)") { w in
                    w.line("const int ih0 = oh * \(g.sh) - \(g.pt);")
                    w.line("const int kh_lo = \(khLo), kh_hi = \(khHi);")
                    w.block("for (int ow = 0; ow < \(g.ow); ++ow)") { w in
                        w.line("const int iw0 = ow * \(g.sw) - \(g.pl);")
                        w.line("const int kw_lo = \(kwLo), kw_hi = \(kwHi);")
                        w.line("\(accumulator) acc = \(initial);")
                        w.block("for (int c = 0; c < \(cg); ++c)") { w in
                            w.line("const \(xType) *ic = in + c * \(g.h * g.w);")
                            w.line("const \(wType) *wc = wm + c * \(g.kh * g.kw);")
                            w.block("for (int kh = kh_lo; kh < kh_hi; ++kh)") { w in
                                w.line("const \(xType) *row = ic + (ih0 + kh * \(g.dh)) * \(g.w) + iw0;")
                                w.line("for (int kw = kw_lo; kw < kw_hi; ++kw) acc += ((int32_t)row[kw * \(g.dw)] - \(xZero)) * ((int32_t)wc[kh * \(g.kw) + kw]\(wZeroTerm));")
                            }
                        }
                        w.block("") { w in w.lines(finish) }
                    }
                }
            }
        }
    }

    static let qlinearConv: CKernel = { e, w in
        if try Int8LibraryC.qlinearConv(e, &w) { return }
        let weights = try e.inputShape(3)
        // The geometry of X (input 0) and the kernel from W (input 3).
        let g = try ConvolutionC.Geometry(e, kernel: Array(weights[2...]))
        let group = try e.context.int("group", default: 1)
        let (multipliers, wz) = try convParameters(e, channels: g.m)
        let xz = zero(e, 2), yz = zero(e, 7)
        w.lines(multiplierTables(multipliers, e))
        if wz.contains(where: { $0 != 0 }) {
            w.line("static const int32_t wz[\(g.m)] = {\(wz.map(String.init).joined(separator: ", "))};")
        }
        let wzTerm = wz.contains(where: { $0 != 0 }) ? " - wz[m]" : ""
        let xt = try e.cType(input: 0), wt = try e.cType(input: 3)
        let bias = e.has(8) ? e.constant(8)?.int64s() : []
        let taps = g.c / group * g.kh * g.kw
        if group == 1, g.kh == 1, g.kw == 1, g.sh == 1, g.sw == 1, g.pt == 0, g.pl == 0, g.pb == 0, g.pr == 0,
           wzTerm.isEmpty, let weights = e.constant(3)?.int64s() {
            // Σx·w − xz·Σw: partial sums reach |x| + |xz| per weight.
            let reach = try reach(e, weights: weights, weightIndex: 3, weightZero: [], rows: g.m, taps: taps, bias: bias,
                                  xReach: try inputReach(e, 0, zero: 0) + Double(abs(xz)))
            pointwise(e, &w, g: g, weights: weights, xz: xz, yz: yz, xt: xt, wt: wt, accumulator: accumulator(reach: reach))
            return
        }
        let reach = try reach(e, weights: e.constant(3)?.int64s(), weightIndex: 3, weightZero: wz, rows: g.m, taps: taps, bias: bias,
                              xReach: try inputReach(e, 0, zero: xz))
        integerConvolution(e, &w, g: g, group: group, weights: 3, xType: xt, wType: wt, xZero: String(xz), wZeroTerm: wzTerm,
                           initial: e.has(8) ? "\(e.x(8))[m]" : "0",
                           finish: requantize("\(e.y(0))[(n * \(g.m) + m) * \(g.oh * g.ow) + oh * \(g.ow) + ow]", index: "m", zero: yz, e),
                           accumulator: accumulator(reach: reach))
    }

    /// QLinearConv's per-channel multipliers, bit for bit the interpreter's ((x_scale · w_scale[m]) /
    /// y_scale in float32), and its weight zero points (one per channel).
    static func convParameters(_ e: NodeEmission, channels: Int) throws -> (multipliers: [Float], weightZero: [Int64]) {
        let xs = try constant(e, 1, what: "x_scale").floats()[0], ys = try constant(e, 6, what: "y_scale").floats()[0]
        let ws = try constant(e, 4, what: "w_scale").floats()
        let wz = e.has(5) ? (try constant(e, 5, what: "w_zero_point").int64s() ?? [0]) : [0]
        guard ws.count == 1 || ws.count == channels, wz.count == 1 || wz.count == channels else {
            throw WhittleError(.shapeMismatch, "w_scale and w_zero_point must have 1 or \(channels) values")
        }
        return ((0..<channels).map { Float(xs * ws[ws.count == 1 ? 0 : $0]) / ys }, (0..<channels).map { wz[wz.count == 1 ? 0 : $0] })
    }

    /// QGemm's per-column multipliers (alpha · a_scale · b_scale[j], divided by y_scale when the
    /// output is quantized), whether it is, and the weight zero points.
    static func gemmParameters(_ e: NodeEmission, columns n: Int) throws -> (multipliers: [Float], quantized: Bool, weightZero: [Int64]) {
        let alpha = try e.context.float("alpha", default: 1)
        let sa = try constant(e, 1, what: "a_scale").floats()[0], bs = try constant(e, 4, what: "b_scale").floats()
        let bz = e.has(5) ? (try constant(e, 5, what: "b_zero_point").int64s() ?? [0]) : [0]
        guard bs.count == 1 || bs.count == n, bz.count == 1 || bz.count == n else {
            throw WhittleError(.shapeMismatch, "b_scale and b_zero_point must have 1 or \(n) values")
        }
        let quantized = e.has(7)
        let sy = quantized ? try constant(e, 7, what: "y_scale").floats()[0] : 1
        let multipliers = (0..<n).map { j -> Float in
            let scale = alpha * sa * bs[bs.count == 1 ? 0 : j]
            return quantized ? scale / sy : scale
        }
        return (multipliers, quantized, (0..<n).map { bz[bz.count == 1 ? 0 : $0] })
    }

    /// The multiplier tables of a QGemm: requantization tables, or plain floats for a float output.
    static func gemmTables(_ multipliers: [Float], quantized: Bool, _ e: NodeEmission) -> [String] {
        quantized ? multiplierTables(multipliers, e) : [table("multiplier", multipliers)]
    }

    static let qgemm: CKernel = { e, w in
        if try Int8LibraryC.qgemm(e, &w) { return }
        let a = try e.inputShape(0), y = try e.outputShape()
        let transA = try e.context.int("transA", default: 0) != 0, transB = try e.context.int("transB", default: 0) != 0
        let (m, n) = (y[0], y[1]), k = transA ? a[0] : a[1]
        let az = zero(e, 2)
        let (multipliers, quantized, bz) = try gemmParameters(e, columns: n)
        w.lines(gemmTables(multipliers, quantized: quantized, e))
        if bz.contains(where: { $0 != 0 }) {
            w.line("static const int32_t bz[\(n)] = {\(bz.map(String.init).joined(separator: ", "))};")
        }
        let bzTerm = bz.contains(where: { $0 != 0 }) ? " - bz[j]" : ""
        let aIndex = transA ? "p * \(m) + i" : "i * \(k) + p"
        let bIndex = transB ? "j * \(k) + p" : "p * \(n) + j"
        // The reach per output column j: its weights in column-major order.
        let columns = e.constant(3)?.int64s().map { b in (0..<n).flatMap { j in (0..<k).map { p in b[transB ? j * k + p : p * n + j] } } }
        let reach = try reach(e, weights: columns, weightIndex: 3, weightZero: bz, rows: n, taps: k,
                              bias: e.has(6) ? e.constant(6)?.int64s() : [], xReach: try inputReach(e, 0, zero: az))
        let accumulator = accumulator(reach: reach)
        w.block("for (int i = 0; i < \(m); ++i)") { w in
            w.block("for (int j = 0; j < \(n); ++j)") { w in
                w.line("\(accumulator) acc = \(e.has(6) ? "\(e.x(6))[j]" : "0");")
                w.line("for (int p = 0; p < \(k); ++p) acc += ((int32_t)\(e.x(0))[\(aIndex)] - \(az)) * ((int32_t)\(e.x(3))[\(bIndex)]\(bzTerm));")
                if quantized {
                    w.lines(requantize("\(e.y(0))[i * \(n) + j]", index: "j", zero: zero(e, 8), e))
                } else {
                    w.line("\(e.y(0))[i * \(n) + j] = (float)acc * multiplier[j];")
                }
            }
        }
    }

    static let qlinearAdd: CKernel = { e, w in
        let shape = try e.outputShape()
        let sa = try constant(e, 1, what: "A_scale").floats()[0], sb = try constant(e, 4, what: "B_scale").floats()[0]
        let sc = try constant(e, 6, what: "C_scale").floats()[0]
        let (za, zb, zc) = (zero(e, 2), zero(e, 5), zero(e, 7))
        let operands = [StridedOperand(name: "y", strides: Shape.strides(shape)),
                        StridedOperand.broadcast("a", shape: try e.inputShape(0), to: shape),
                        StridedOperand.broadcast("b", shape: try e.inputShape(3), to: shape)]
        let ra = CSyntax.hexFloat(sa / sc), rb = CSyntax.hexFloat(sb / sc)
        let (ta, tb) = (try e.inputType(0).elementType, try e.inputType(3).elementType)
        w.loopNest(shape, operands) { idx in
            ["const float v = \(dequantized("\(e.x(0))[\(idx[1])]", type: ta, zero: za)) * \(ra) + \(dequantized("\(e.x(3))[\(idx[2])]", type: tb, zero: zb)) * \(rb);"]
                + store("\(e.y(0))[\(idx[0])]", "v", zero: zc, e)
        }
    }

    /// Dequantize each tap, sum in float32 in window order, divide, quantize (as the interpreter).
    static let averagePool: CKernel = { e, w in
        guard let kernel = try e.context.ints("kernel_shape") else { throw WhittleError(.invalidAttribute, "kernel_shape is required") }
        let g = try ConvolutionC.Geometry(e, kernel: kernel)
        let sx = try constant(e, 1, what: "x_scale").floats()[0], sy = try constant(e, 3, what: "y_scale").floats()[0]
        let (zx, zy) = (zero(e, 2), zero(e, 4))
        let includePad = try e.context.int("count_include_pad", default: 0) != 0
        let xt = try e.cType(input: 0), inputType = try e.inputType(0).elementType
        ConvolutionC.poolLoops(g, inputType: xt, input: e.x(0), &w) { w, tap, out in
            w.line("float acc = 0.0f;")
            w.line("for (int kh = kh_lo; kh < kh_hi; ++kh) for (int kw = kw_lo; kw < kw_hi; ++kw) acc += \(dequantized(tap, type: inputType, zero: zx)) * \(CSyntax.hexFloat(sx));")
            if includePad {
                w.line("const int count = \(ConvolutionC.paddedCount("ih0", size: g.h, padEnd: g.pb, kernel: g.kh, dilation: g.dh)) * \(ConvolutionC.paddedCount("iw0", size: g.w, padEnd: g.pr, kernel: g.kw, dilation: g.dw));")
            } else {
                w.line("const int count = (kh_hi - kh_lo) * (kw_hi - kw_lo);")
            }
            w.line("const float average = count > 0 ? acc / (float)count : 0.0f;")
            w.block("") { w in
                w.lines(store("\(e.y(0))[\(out)]", "average / \(CSyntax.hexFloat(sy))", zero: zy, e))
            }
        }
    }

    static let globalAveragePool: CKernel = { e, w in
        let x = try e.inputShape(0)
        let planes = x[0] * x[1], size = x[2...].reduce(1, *)
        let sx = try constant(e, 1, what: "x_scale").floats()[0], sy = try constant(e, 3, what: "y_scale").floats()[0]
        let (zx, zy) = (zero(e, 2), zero(e, 4))
        let scale = sx / (sy * Float(max(size, 1)))
        let (low, high) = try e.inputType(0).elementType.integerRange
        let sum = accumulator(reach: Double(size) * max(abs(low), abs(high)) + Double(abs(zx)) * Double(size))
        w.block("for (int plane = 0; plane < \(planes); ++plane)") { w in
            w.line("\(sum) sum = 0;")
            w.line("for (int i = 0; i < \(size); ++i) sum += \(e.x(0))[plane * \(size) + i];")
            w.line("sum -= \(zx * Int64(size));")
            w.lines(store("\(e.y(0))[plane]", "(float)sum * \(CSyntax.hexFloat(scale))", zero: zy, e))
        }
    }

    /// Integer softmax (the interpreter's algorithm): exp(−x_scale·d) from a Q30 table indexed by the
    /// distance d to the row maximum, a 64-bit row sum, p = entry/sum in Q32, times 1/y_scale as a
    /// 24-bit mantissa and a shift, rounded half to even.
    static let softmax: CKernel = { e, w in
        let x = try e.inputShape(0)
        let sx = try constant(e, 1, what: "x_scale").floats()[0], sy = try constant(e, 3, what: "y_scale").floats()[0]
        let zy = zero(e, 4)
        guard let (mantissa, exponent) = WhittleQuantizedOperators.reciprocal(sy) else {
            throw WhittleError(.invalidAttribute, "y_scale must be a positive normal number")
        }
        let axis = try Shape.normalizeAxis(try e.context.int("axis", default: x.count - 1), rank: max(x.count, 1))
        let (outer, size, inner) = try e.context.int("coerce", default: 0) != 0
            ? (x[..<axis].reduce(1, *), x[axis...].reduce(1, *), 1)
            : Indexing.split(x, at: axis)
        let table = WhittleQuantizedOperators.softmaxTable(inputScale: sx)
        let shift = 32 - exponent
        let (low, high) = e.elementType.integerRange
        w.line("static const uint32_t table[256] = {\(table.map { "\($0)u" }.joined(separator: ", "))};")
        softmaxRows(e, w: &w, outer: outer, size: size, inner: inner) { w in
            w.line("uint64_t sum = 0;")
            w.line("for (int k = 0; k < \(size); ++k) sum += table[top - (int32_t)\(e.x(0))[base + k * \(inner)]];")
            w.block("for (int k = 0; k < \(size); ++k)") { w in
                w.line("const uint64_t p = ((uint64_t)table[top - (int32_t)\(e.x(0))[base + k * \(inner)]] << 32) / sum;")
                if shift <= 0 {
                    w.line("int64_t q = p ? \(Int64(high) - zy) : 0;")
                } else if shift >= 58 {
                    w.line("int64_t q = 0;")
                    w.line("(void)p;")
                } else {
                    w.line("const uint64_t n = p * \(mantissa)ULL, rest = n & \((UInt64(1) << UInt64(shift)) - 1)ULL;")
                    w.line("int64_t q = (int64_t)(n >> \(shift));")
                    w.line("if (rest > \(UInt64(1) << UInt64(shift - 1))ULL || (rest == \(UInt64(1) << UInt64(shift - 1))ULL && (q & 1))) ++q;")
                }
                w.line("q += \(zy);")
                w.line("if (q < \(Int64(low))) q = \(Int64(low));")
                w.line("if (q > \(Int64(high))) q = \(Int64(high));")
                w.line("\(e.y(0))[base + k * \(inner)] = (\(CSyntax.type(e.elementType) ?? "int8_t"))q;")
            }
        }
    }

    /// ONNX Runtime's QLinearSoftmax, as its reference kernel computes it (see `QLinearSoftmaxOperator`):
    /// the float table is baked, each row's sum is a float added in element order, and each output is
    /// rintf(entry · ⌊1/Y_scale⌋ / sum) + Y_zero_point, saturated to the type.
    static let qlinearSoftmax: CKernel = { e, w in
        let x = try e.inputShape(0)
        let sx = try constant(e, 1, what: "X_scale").floats()[0], sy = try constant(e, 3, what: "Y_scale").floats()[0]
        let zy = zero(e, 4)
        let (outer, size, inner) = try QLinearSoftmaxOperator.rows(shape: x, axis: try e.context.int("axis"),
                                                                   opset: try e.context.int("opset", default: 13))
        let signed = try e.inputType(0).elementType == .int8
        let table = QLinearSoftmaxOperator.table(xScale: sx, length: size, signed: signed)
        let scale = (1 / sy).rounded(.down)
        // A row's index of a value: its distance below the maximum, back from 255 (uint8) or 127 (int8), as a byte.
        let index: (String) -> String = { value in signed ? "(127 - top + \(value)) & 255" : "255 - top + \(value)" }
        w.line("static const float table[256] = {\(table.map { CSyntax.hexFloat($0) }.joined(separator: ", "))};")
        softmaxRows(e, w: &w, outer: outer, size: size, inner: inner) { w in
            w.line("float sum = 0.0f;")
            w.line("for (int k = 0; k < \(size); ++k) sum += table[\(index("\(e.x(0))[base + k * \(inner)]"))];")
            w.block("for (int k = 0; k < \(size); ++k)") { w in
                w.line("int32_t q = (int32_t)rintf(table[\(index("\(e.x(0))[base + k * \(inner)]"))] * \(CSyntax.hexFloat(scale)) / sum) + \(zy);")
                let (low, high) = signed ? (-128, 127) : (0, 255)
                w.line("if (q < \(low)) q = \(low);")
                w.line("if (q > \(high)) q = \(high);")
                w.line("\(e.y(0))[base + k * \(inner)] = (\(signed ? "int8_t" : "uint8_t"))q;")
            }
        }
    }

    /// The loops of a softmax kernel over its rows (`outer` × `inner` of them, `size` values `inner`
    /// apart): `base` is a row's first element and `top` its maximum when `body` runs.
    static func softmaxRows(_ e: NodeEmission, w: inout CWriter, outer: Int, size: Int, inner: Int, body: (inout CWriter) -> Void) {
        w.block("for (int o = 0; o < \(outer); ++o)") { w in
            w.block("for (int i = 0; i < \(inner); ++i)") { w in
                w.line("const int base = o * \(size * inner) + i;")
                w.line("int32_t top = \(e.x(0))[base];")
                w.line("for (int k = 1; k < \(size); ++k) if ((int32_t)\(e.x(0))[base + k * \(inner)] > top) top = \(e.x(0))[base + k * \(inner)];")
                body(&w)
            }
        }
    }

    /// A 1×1 convolution without padding or stride, the bulk of depthwise-separable networks: a dot
    /// product over the channels per pixel. With symmetric weights Σ(x − xz)·w = Σx·w − xz·Σw, so the
    /// input zero point leaves the inner loop (Σw per output channel is fixed at compile time); the
    /// integer sum is the same, so results stay bit-exact.
    static func pointwise(_ e: NodeEmission, _ w: inout CWriter, g: ConvolutionC.Geometry, weights: [Int64],
                          xz: Int64, yz: Int64, xt: String, wt: String, accumulator: String) {
        let plane = g.h * g.w
        let sums = (0..<g.m).map { m in weights[(m * g.c)..<((m + 1) * g.c)].reduce(0, +) * xz }
        w.line("static const \(accumulator) zero_term[\(g.m)] = {\(sums.map(String.init).joined(separator: ", "))};")
        w.block("for (int n = 0; n < \(g.n); ++n)") { w in
            w.block("for (int m = 0; m < \(g.m); ++m)") { w in
                w.line("const \(wt) *wm = \(e.x(3)) + m * \(g.c);")
                w.line("const \(accumulator) base = (\(accumulator))\(e.has(8) ? "\(e.x(8))[m]" : "0") - zero_term[m];")
                // Four pixels per pass share each weight load and the loop overhead.
                let blocked = plane / 4 * 4
                if blocked > 0 {
                    w.block("for (int p = 0; p < \(blocked); p += 4)") { w in
                        w.line("const \(xt) *in = \(e.x(0)) + n * \(g.c * plane) + p;")
                        w.line("\(accumulator) acc0 = base, acc1 = base, acc2 = base, acc3 = base;")
                        w.block("for (int c = 0; c < \(g.c); ++c, in += \(plane))") { w in
                            w.line("const \(accumulator) wc = wm[c];")
                            w.line("acc0 += (\(accumulator))in[0] * wc;")
                            w.line("acc1 += (\(accumulator))in[1] * wc;")
                            w.line("acc2 += (\(accumulator))in[2] * wc;")
                            w.line("acc3 += (\(accumulator))in[3] * wc;")
                        }
                        for k in 0..<4 {
                            w.block("") { w in
                                w.line("const \(accumulator) acc = acc\(k);")
                                w.lines(requantize("\(e.y(0))[(n * \(g.m) + m) * \(plane) + p + \(k)]", index: "m", zero: yz, e))
                            }
                        }
                    }
                }
                if blocked < plane {
                    w.block("for (int p = \(blocked); p < \(plane); ++p)") { w in
                        w.line("const \(xt) *in = \(e.x(0)) + n * \(g.c * plane) + p;")
                        w.line("\(accumulator) acc = base;")
                        w.line("for (int c = 0; c < \(g.c); ++c) acc += (\(accumulator))in[c * \(plane)] * (int32_t)wm[c];")
                        w.block("") { w in
                            w.lines(requantize("\(e.y(0))[(n * \(g.m) + m) * \(plane) + p]", index: "m", zero: yz, e))
                        }
                    }
                }
            }
        }
    }
}
