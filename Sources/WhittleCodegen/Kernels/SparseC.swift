import WhittleIR
import WhittleOps

/// When the C back end stores a weight tensor with zeros in sparse form.
public enum SparsePolicy: String, Sendable, CaseIterable {
    /// Sparse where the cost model says it pays: fewer weight bytes and no more estimated work.
    case auto
    /// Always dense.
    case off
    /// Sparse for every supported layer with at least one zero weight (for testing the kernels).
    case always
}

/// Weights stored as delta rows (`whittle_kernels.h`): one row per output channel, each entry a
/// value and a one-byte step to its column, fillers bridging gaps of 256 or more.
struct DeltaRows {
    var counts: [Int] = []
    var deltas: [UInt8] = []
    /// Index of each entry's value in the dense row-major matrix (nil for fillers).
    var sources: [Int?] = []

    /// Encodes the nonzeros of a rows × columns matrix; `isZero(r, c)` says which entries to skip.
    init(rows: Int, columns: Int, index: (Int, Int) -> Int, isZero: (Int) -> Bool) {
        for r in 0..<rows {
            var previous = 0, count = 0
            for c in 0..<columns where !isZero(index(r, c)) {
                while c - previous > 255 {
                    deltas.append(255)
                    sources.append(nil)
                    previous += 255
                    count += 1
                }
                deltas.append(UInt8(c - previous))
                sources.append(index(r, c))
                previous = c
                count += 1
            }
            counts.append(count)
        }
    }

    var entries: Int { deltas.count }

    /// Flash bytes of the three arrays with `valueBytes` per value.
    func bytes(valueBytes: Int) -> Int { entries * (valueBytes + 1) + counts.count * 2 }
}

/// Sparse kernels for Conv, Gemm, QLinearConv and QGemm with constant weights. Each falls back to
/// the dense kernel when the policy or the cost model says so, or when the layer has a form the
/// sparse kernels do not cover; the choice and its numbers go to the compile report.
enum SparseC {
    static var kernels: [String: CKernel] {
        ["Conv": choose(dense: ConvolutionC.convKernel, sparse: floatConv),
         "Gemm": choose(dense: MatrixC.gemmKernel, sparse: floatGemm),
         "QLinearConv": choose(dense: QuantizedC.qlinearConv, sparse: integerConv),
         "com.microsoft.QGemm": choose(dense: QuantizedC.qgemm, sparse: integerGemm)]
    }

    /// A sparse form of a layer, and what it costs against the dense one.
    struct Plan {
        var denseBytes: Int
        var sparseBytes: Int
        /// Estimated work (multiply-adds plus per-entry overhead, in MAC units).
        var denseWork: Double
        var sparseWork: Double
        var zeros: Int
        var total: Int

        func pays(_ policy: SparsePolicy) -> Bool {
            switch policy {
            case .off: false
            case .always: zeros > 0
            case .auto: Double(sparseBytes) <= 0.9 * Double(denseBytes) && sparseWork <= denseWork
            }
        }

        func form(chosen: Bool, layout: String = "delta rows") -> WeightForm {
            WeightForm(sparse: chosen, zeros: zeros, total: total, denseBytes: denseBytes, sparseBytes: sparseBytes,
                       workRatio: sparseWork / max(denseWork, 1), layout: layout)
        }
    }

    /// The dense kernel's work per multiply-add, in the units of the sparse estimates (a multiply-add
    /// of the generated dense loops): the library kernels do several per instruction. Measured on
    /// Cortex-M4F with kws_dscnn (float and ONNX Runtime's int8) pruned to 50, 70 and 90 %: sparse
    /// float convolutions break even near 70 % zeros, int8 ones near 90 %.
    static func denseShare(_ e: NodeEmission) throws -> Double {
        switch e.node.qualifiedOpType {
        case "Conv": return try FloatLibraryC.convForm(e) != nil ? 0.3 : 1
        case "Gemm": return try FloatLibraryC.gemmApplies(e) ? 0.5 : 1
        case "QLinearConv": return try Int8LibraryC.convForm(e) != nil ? 0.125 : 1
        case "com.microsoft.QGemm": return try Int8LibraryC.gemmForm(e) != nil ? 0.3 : 1
        default: return 1
        }
    }

    /// A sparse kernel: returns false (writing nothing) when the layer's form is not covered.
    typealias SparseKernel = @Sendable (NodeEmission, inout CWriter) throws -> Bool

    static func choose(dense: @escaping CKernel, sparse: @escaping SparseKernel) -> CKernel {
        { e, w in
            var body = CWriter()
            if e.sparse != .off, try sparse(e, &body) {
                w.lines(body.lines)
            } else {
                try dense(e, &w)
            }
        }
    }

    /// Decides for one layer: records the note, and returns the plan when sparse is chosen.
    static func decide(_ e: NodeEmission, rows: Int, columns: Int, index: @escaping (Int, Int) -> Int, isZero: (Int) -> Bool,
                       valueBytes: Int, denseBytes: Int? = nil, denseWork: Double, sparseWork: (DeltaRows) -> Double) -> DeltaRows? {
        let delta = DeltaRows(rows: rows, columns: columns, index: index, isZero: isZero)
        let total = rows * columns
        let zeros = total - delta.sources.lazy.filter { $0 != nil }.count
        let plan = Plan(denseBytes: denseBytes ?? total * valueBytes, sparseBytes: delta.bytes(valueBytes: valueBytes),
                        denseWork: denseWork, sparseWork: sparseWork(delta), zeros: zeros, total: total)
        let chosen = plan.pays(e.sparse)
        if zeros > 0 { e.extras.weightForm = plan.form(chosen: chosen) }
        return chosen ? delta : nil
    }

    /// The count and delta arrays in the weights file; returns their symbols.
    static func indexArrays(_ e: NodeEmission, _ rows: DeltaRows) -> (count: String, delta: String) {
        (e.weightArray("count", .uint16, integers: rows.counts.map { Int64($0) }),
         e.weightArray("delta", .uint8, integers: rows.deltas.map { Int64($0) }))
    }

    /// `static const whittle_conv_geometry g = {...};` for one group of the convolution.
    static func geometry(_ g: ConvolutionC.Geometry, channels: Int) -> String {
        "static const whittle_conv_geometry g = {\([channels, g.h, g.w, g.oh, g.ow, g.kh, g.kw, g.sh, g.sw, g.dh, g.dw, g.pt, g.pl].map(String.init).joined(separator: ", "))};"
    }

    // MARK: float

    static let floatConv: SparseKernel = { e, w in
        guard e.elementType == .float, let weights = e.constant(1), weights.elementType == .float else { return false }
        let shape = try e.inputShape(1)
        guard shape.count <= 4 else { return false }
        let g = try ConvolutionC.Geometry(e, kernel: Array(shape[2...]))
        let group = try e.context.int("group", default: 1)
        let cg = g.c / group, mg = g.m / group, taps = cg * g.kh * g.kw
        let values = weights.floats()
        guard values.count == g.m * taps else { return false }
        let macs = Double(g.n * g.m * g.oh * g.ow * taps)
        // A 1×1 convolution without stride or padding runs over its map flattened into one row.
        var flat = g
        if g.kh == 1 && g.kw == 1 && g.sh == 1 && g.sw == 1 && g.pt + g.pl + g.pb + g.pr == 0 {
            (flat.h, flat.w, flat.oh, flat.ow) = (1, g.h * g.w, 1, g.oh * g.ow)
        }
        guard let rows = decide(e, rows: g.m, columns: taps, index: { $0 * taps + $1 }, isZero: { values[$0] == 0 }, valueBytes: 4,
                                denseWork: macs * (try denseShare(e)), sparseWork: { d in
                                    // Each entry: a multiply-add per output pixel plus decoding and bounds per output row
                                    // (measured on Cortex-M4F: about 2.5 multiply-adds' worth).
                                    Double(g.n * d.entries) * Double(flat.oh) * (Double(flat.ow) + 2.5)
                                }) else { return false }
        let (count, delta) = indexArrays(e, rows)
        let value = e.weightArray("values", floats: rows.sources.map { $0.map { values[$0] } ?? 0 })
        let pixels = g.oh * g.ow
        let activation = FusedActivation(e.node)
        w.line(geometry(flat, channels: cg))
        w.block("for (int n = 0; n < \(g.n); ++n)") { w in
            w.line("const uint8_t *delta = \(delta);")
            w.line("const float *value = \(value);")
            w.block("for (int m = 0; m < \(g.m); ++m)") { w in
                w.line("float *out = \(e.y(0)) + (n * \(g.m) + m) * \(pixels);")
                w.line("for (int p = 0; p < \(pixels); ++p) out[p] = \(e.has(2) ? "\(e.x(2))[m]" : "0.0f");")
                w.line("whittle_sparse_conv_plane_f32(&g, \(count)[m], delta, value, \(e.x(0)) + (n * \(g.c) + (m / \(mg)) * \(cg)) * \(g.h * g.w), out);")
                w.line("delta += \(count)[m];")
                w.line("value += \(count)[m];")
                if activation != nil {
                    w.block("for (int p = 0; p < \(pixels); ++p)") { w in w.lines(ActivationC.store("out[p]", "out[p]", activation, e)) }
                }
            }
        }
        return true
    }

    /// Gemm with a constant B and an untransposed A: one sparse row per output column.
    static let floatGemm: SparseKernel = { e, w in
        guard e.elementType == .float, let b = e.constant(1), b.elementType == .float,
              try e.context.int("transA", default: 0) == 0 else { return false }
        let a = try e.inputShape(0), y = try e.outputShape()
        let transB = try e.context.int("transB", default: 0) != 0
        let (m, n, k) = (y[0], y[1], a[1])
        let values = b.floats()
        guard values.count == n * k else { return false }
        let index: (Int, Int) -> Int = transB ? { j, p in j * k + p } : { j, p in p * n + j }
        guard let rows = decide(e, rows: n, columns: k, index: index, isZero: { values[$0] == 0 }, valueBytes: 4,
                                denseWork: Double(m * n * k) * (try denseShare(e)),
                                sparseWork: { d in Double(m) * (Double(d.entries) * 1.3 + Double(n) * 4) }) else { return false }
        let (count, delta) = indexArrays(e, rows)
        let value = e.weightArray("values", floats: rows.sources.map { $0.map { values[$0] } ?? 0 })
        try w.block("for (int i = 0; i < \(m); ++i)") { w in
            w.line("float *row = \(e.y(0)) + i * \(n);")
            w.line("whittle_sparse_gemv_f32(\(n), \(count), \(delta), \(value), \(e.x(0)) + i * \(k), row);")
            try MatrixC.gemmTail(e, &w, m: m, n: n)
        }
        return true
    }

    // MARK: integer

    /// The kernel suffix for the activation type (`s8` or `u8`), nil for other types.
    static func suffix(_ e: NodeEmission, input: Int) throws -> String? {
        switch try e.inputType(input).elementType {
        case .int8: "s8"
        case .uint8: "u8"
        default: nil
        }
    }

    /// Int8 weights with zero point 0 (symmetric), as values of the sparse arrays.
    static func symmetricWeights(_ e: NodeEmission, _ index: Int, weightZero: [Int64]) -> [Int64]? {
        guard let w = e.constant(index), w.elementType == .int8, weightZero.allSatisfy({ $0 == 0 }) else { return nil }
        return w.int64s()
    }

    static let integerConv: SparseKernel = { e, w in
        // Pointwise layers have their own sparse form (bitmask rows), which decides for them.
        if let chosen = try SparsePointwiseC.emit(e, &w) { return chosen }
        let shape = try e.inputShape(3)
        guard shape.count <= 4 else { return false }
        let g = try ConvolutionC.Geometry(e, kernel: Array(shape[2...]))
        let group = try e.context.int("group", default: 1)
        let cg = g.c / group, mg = g.m / group, taps = cg * g.kh * g.kw
        let (multipliers, wz) = try QuantizedC.convParameters(e, channels: g.m)
        guard let kind = try suffix(e, input: 0), let values = symmetricWeights(e, 3, weightZero: wz), values.count == g.m * taps else { return false }
        let macs = Double(g.n * g.m * g.oh * g.ow * taps)
        // A 1×1 convolution without stride or padding runs over its map flattened into one row.
        let pointwise = g.kh == 1 && g.kw == 1 && g.sh == 1 && g.sw == 1 && g.pt + g.pl + g.pb + g.pr == 0
        var flat = g
        if pointwise { (flat.h, flat.w, flat.oh, flat.ow) = (1, g.h * g.w, 1, g.oh * g.ow) }
        let stretch = min(flat.ow, 64)
        let stretches = (flat.ow + stretch - 1) / stretch
        guard let rows = decide(e, rows: g.m, columns: taps, index: { $0 * taps + $1 }, isZero: { values[$0] == 0 }, valueBytes: 1,
                                denseBytes: try Int8LibraryC.denseWeightBytes(e, values), denseWork: macs * (try denseShare(e)), sparseWork: { d in
                                    // Each entry is decoded once per stretch of an output row and costs a multiply-add per pixel.
                                    Double(g.n * d.entries) * Double(flat.oh * stretches) * (Double(stretch) + 10)
                                }) else { return false }
        let (count, delta) = indexArrays(e, rows)
        let value = e.weightArray("values", .int8, integers: rows.sources.map { $0.map { Int64(values[$0]) } ?? 0 })
        let xt = try e.cType(input: 0), yt = try e.cType(output: 0)
        w.lines(QuantizedC.multiplierTables(multipliers, e))
        w.line(geometry(flat, channels: cg))
        w.block("for (int n = 0; n < \(g.n); ++n)") { w in
            w.line("const uint8_t *delta = \(delta);")
            w.line("const int8_t *value = \(value);")
            w.block("for (int m = 0; m < \(g.m); ++m)") { w in
                w.line("const \(xt) *in = \(e.x(0)) + (n * \(g.c) + (m / \(mg)) * \(cg)) * \(g.h * g.w);")
                w.line("\(yt) *out = \(e.y(0)) + (n * \(g.m) + m) * \(g.oh * g.ow);")
                w.block("for (int oh = 0; oh < \(flat.oh); ++oh)") { w in
                    w.block("for (int ow0 = 0; ow0 < \(flat.ow); ow0 += \(stretch))") { w in
                        w.line("const int width = \(flat.ow) - ow0 < \(stretch) ? \(flat.ow) - ow0 : \(stretch);")
                        w.line("int32_t row[\(stretch)];")
                        w.line("for (int k = 0; k < width; ++k) row[k] = \(e.has(8) ? "\(e.x(8))[m]" : "0");")
                        w.line("whittle_sparse_conv_row_\(kind)(&g, oh, ow0, width, \(count)[m], delta, value, in, \(QuantizedC.zero(e, 2)), row);")
                        w.block("for (int k = 0; k < width; ++k)") { w in
                            w.line("const int32_t acc = row[k];")
                            w.lines(QuantizedC.requantize("out[oh * \(flat.ow) + ow0 + k]", index: "m", zero: QuantizedC.zero(e, 7), e))
                        }
                    }
                }
                w.line("delta += \(count)[m];")
                w.line("value += \(count)[m];")
            }
        }
        return true
    }

    static let integerGemm: SparseKernel = { e, w in
        guard try e.context.int("transA", default: 0) == 0 else { return false }
        let a = try e.inputShape(0), y = try e.outputShape()
        let transB = try e.context.int("transB", default: 0) != 0
        let (m, n, k) = (y[0], y[1], a[1])
        let (multipliers, quantized, bz) = try QuantizedC.gemmParameters(e, columns: n)
        guard let kind = try suffix(e, input: 0), let values = symmetricWeights(e, 3, weightZero: bz), values.count == n * k else { return false }
        let index: (Int, Int) -> Int = transB ? { j, p in j * k + p } : { j, p in p * n + j }
        guard let rows = decide(e, rows: n, columns: k, index: index, isZero: { values[$0] == 0 }, valueBytes: 1,
                                denseBytes: try Int8LibraryC.denseWeightBytes(e, values), denseWork: Double(m * n * k) * (try denseShare(e)),
                                sparseWork: { d in Double(m) * (Double(d.entries) * 1.3 + Double(n) * 4) }) else { return false }
        let (count, delta) = indexArrays(e, rows)
        let value = e.weightArray("values", .int8, integers: rows.sources.map { $0.map { Int64(values[$0]) } ?? 0 })
        w.lines(QuantizedC.gemmTables(multipliers, quantized: quantized, e))
        w.block("for (int i = 0; i < \(m); ++i)") { w in
            w.line("int32_t sums[\(n)];")
            w.line("for (int j = 0; j < \(n); ++j) sums[j] = \(e.has(6) ? "\(e.x(6))[j]" : "0");")
            w.line("whittle_sparse_gemv_\(kind)(\(n), \(count), \(delta), \(value), \(e.x(0)) + i * \(k), \(QuantizedC.zero(e, 2)), sums);")
            w.block("for (int j = 0; j < \(n); ++j)") { w in
                w.line("const int32_t acc = sums[j];")
                if quantized {
                    w.lines(QuantizedC.requantize("\(e.y(0))[i * \(n) + j]", index: "j", zero: QuantizedC.zero(e, 8), e))
                } else {
                    w.line("\(e.y(0))[i * \(n) + j] = (float)acc * multiplier[j];")
                }
            }
        }
        return true
    }
}
