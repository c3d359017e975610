import WhittleIR
import WhittleOps

/// 8-bit QLinearConv and QGemm layers on the library kernels of `conv_s8.c`: im2col with a
/// blocked matrix product (SMLAD on cores with the DSP extension) and a depthwise kernel. The
/// emitter bakes what it knows at compile time: weights padded and reordered for the kernels,
/// biases with the input zero point folded in where the arithmetic allows, requantization tables.
/// Layers of other forms (weight zero points, uint8 depthwise, grouped convolutions other than
/// depthwise) keep the generated loops of `QuantizedC`.
enum Int8LibraryC {
    /// How a layer runs on the library.
    enum Form: Equatable {
        /// Convolution with one group, or a fully connected layer: rows of `padded` taps.
        case matrix(padded: Int)
        /// One filter per channel.
        case depthwise
        /// Convolution with one group, or a fully connected layer, on the tiled kernels of
        /// `conv_s8_tiles.c` (`taps` per output channel; the layout `.tiles`).
        case tiles(taps: Int)
        /// A 3×3 depthwise layer with stride 1 and one tap of padding on every side (the layout `.tiles`).
        case flatDepthwise
    }

    static var scratchNeeds: [String: @Sendable (NodeEmission) throws -> Int] {
        ["QLinearConv": { e in max(try scratchBytes(convForm(e), e), try SparsePointwiseC.scratchBytes(e)) }, "com.microsoft.QGemm": { e in try scratchBytes(gemmForm(e), e) }]
    }

    /// Two im2col columns of int16, or the padded plane of a depthwise layer.
    static func scratchBytes(_ form: Form?, _ e: NodeEmission) throws -> Int {
        switch form {
        case .matrix(let padded)?: return 2 * padded * 2
        case .depthwise?:
            let g = try ConvolutionC.Geometry(e, kernel: Array(try e.inputShape(3)[2...]))
            if try e.inputType(0).elementType == .int16 { return 2 * (paddedPlane(g).h * paddedPlane(g).w + 8) }
            // 4-bit filters are unpacked one channel at a time after the plane's copy.
            let unpacked = e.constant(3)?.int64s().map { nibbles(e, $0) } == true ? g.kh * g.kw : 0
            return paddedPlane(g).h * paddedPlane(g).w + 16 + unpacked
        case .tiles(let taps)?:
            guard e.node.opType == "QLinearConv" else { return 0 }
            let g = try ConvolutionC.Geometry(e, kernel: Array(try e.inputShape(3)[2...]))
            // Tap offsets, a tile's inputs widened to int16, then the padded copy or the columns.
            return 24 * taps + 16 + (paddedCopy(g) ?? 8 * taps)
        case .flatDepthwise?:
            // Room for the map as floats (the generic-vector variant).
            let g = try ConvolutionC.Geometry(e, kernel: Array(try e.inputShape(3)[2...]))
            return 4 * ((g.h + 2) * g.w + 24)
        case nil: return 0
        }
    }

    /// The rows and columns the windows of a depthwise layer reach, padding included, and a spare
    /// column for the last pair of outputs.
    static func paddedPlane(_ g: ConvolutionC.Geometry) -> (h: Int, w: Int) {
        ((g.oh - 1) * g.sh + (g.kh - 1) * g.dh + 1, (g.ow - 1) * g.sw + (g.kw - 1) * g.dw + 2)
    }

    static func padded(_ k: Int) -> Int { (k + 3) / 4 * 4 }

    static let eightBit: Set<ElementType> = [.int8, .uint8]

    /// Int8 weights (input `weights`) and int8 or uint8 data in and out.
    static func isEightBit(_ e: NodeEmission, data: Int, weights: Int) throws -> Bool {
        try e.inputType(weights).elementType == .int8 && eightBit.contains(e.inputType(data).elementType) && eightBit.contains(e.elementType)
    }

    /// A 16×8 layer the library takes: int8 weights, int16 data in (zero point 0) and out.
    static func isSixteenByEight(_ e: NodeEmission, data: Int, weights: Int, zero: Int) throws -> Bool {
        try e.inputType(weights).elementType == .int8 && e.inputType(data).elementType == .int16 && e.elementType == .int16
            && QuantizedC.zero(e, zero) == 0
    }

    /// Whether every sum of a 16×8 layer stays in int32 (|x| ≤ 32768 per tap), as the library's
    /// 32-bit accumulators need; the generated loops sum in int64 otherwise.
    static func fitsInt32(_ e: NodeEmission, _ weights: [Int64], rows: Int, taps: Int, bias: Int) throws -> Bool {
        let constantBias = e.has(bias) ? e.constant(bias)?.int64s() : []
        return try QuantizedC.reach(e, weights: weights, weightIndex: 3, weightZero: [], rows: rows, taps: taps, bias: constantBias,
                                    xReach: 32768) <= Double(Int32.max)
    }

    /// Whether input `i` is uint8, as the kernels' `x_unsigned` argument.
    static func unsignedFlag(_ e: NodeEmission, _ i: Int) throws -> Int { try e.inputType(i).elementType == .uint8 ? 1 : 0 }

    /// The library form of a QLinearConv, or nil when the generated loops must do it.
    static func convForm(_ e: NodeEmission) throws -> Form? {
        let sixteen = try isSixteenByEight(e, data: 0, weights: 3, zero: 2)
        guard try isEightBit(e, data: 0, weights: 3) || sixteen, let weights = e.constant(3), (3...4).contains(weights.shape.count),
              !e.has(8) || e.constant(8) != nil else { return nil }
        let wz = e.has(5) ? (e.constant(5)?.int64s() ?? [1]) : [0]
        guard wz.allSatisfy({ $0 == 0 }) else { return nil }
        let g = try ConvolutionC.Geometry(e, kernel: Array(weights.shape[2...]))
        let group = try e.context.int("group", default: 1)
        let k = g.c * g.kh * g.kw
        if sixteen {
            // 16-bit activations: the paired rows (int16 columns as they are) and the depthwise kernel.
            let taps = g.c / max(group, 1) * g.kh * g.kw
            guard let values = weights.int64s(), try fitsInt32(e, values, rows: g.m, taps: taps, bias: 8) else { return nil }
            if group == 1 { return .matrix(padded: padded(k)) }
            return group == g.c && g.m == g.c ? .depthwise : nil
        }
        if group == 1 {
            if e.weightLayout.isTiled, let values = weights.int64s(), let bias = e.has(8) ? e.constant(8)?.int64s() : Array(repeating: 0, count: g.m),
               foldedBias(bias, rows: g.m, taps: k, zero: try tileZero(e), weight: { values[$0 * k + $1] }) != nil {
                return .tiles(taps: k)
            }
            return .matrix(padded: padded(k))
        }
        if group == g.c, g.m == g.c, try e.inputType(0).elementType == .int8, e.elementType == .int8 {
            return e.weightLayout.isTiled && isFlat(g) ? .flatDepthwise : .depthwise
        }
        return nil
    }

    /// The zero point a tiled convolution folds into its bias: the input's, less 128 where the
    /// dot-product layout reads uint8 inputs as x − 128 (SDOT multiplies int8 by int8).
    static func tileZero(_ e: NodeEmission) throws -> Int64 {
        let xz = QuantizedC.zero(e, 2)
        return try e.weightLayout == .dotTiles && unsignedFlag(e, 0) == 1 ? xz - 128 : xz
    }

    /// The elements of the padded input copy the tiled convolutions work on (stride 1, rows of a
    /// multiple of 8 or at least 16 outputs, other than a pointwise layer that keeps the map's size),
    /// as `whittle_conv_s8_tiles` and `whittle_conv_f32_tiles` decide; nil when they use im2col columns.
    static func paddedCopy(_ g: ConvolutionC.Geometry) -> Int? {
        let pointwise = g.kh == 1 && g.kw == 1 && g.pt == 0 && g.pl == 0 && g.oh == g.h && g.ow == g.w
        guard g.sh == 1, g.sw == 1, !pointwise, g.ow % 8 == 0 || g.ow >= 16 else { return nil }
        let pitch = (g.ow + 7) / 8 * 8 + (g.kw - 1) * g.dw
        return g.c * (g.oh + (g.kh - 1) * g.dh) * pitch
    }

    /// Whether a depthwise layer has the flat kernels' form: 3×3, stride 1, no dilation, one tap of
    /// padding on every side (the output keeps the map's size), rows short enough for 16-bit lanes.
    static func isFlat(_ g: ConvolutionC.Geometry) -> Bool {
        g.kh == 3 && g.kw == 3 && g.sh == 1 && g.sw == 1 && g.dh == 1 && g.dw == 1 && g.pt == 1 && g.pl == 1
            && g.oh == g.h && g.ow == g.w && g.w < 32768
    }

    /// The bias of the tiled kernels, bias[m] − x_zero · Σ w[m] (the kernels multiply the input as
    /// it is), or nil when a partial sum could leave int32 (|folded bias| + 255 · Σ |w[m]| ≥ 2^31),
    /// in which case the paired rows do the layer.
    static func foldedBias(_ bias: [Int64], rows: Int, taps: Int, zero: Int64, weight: (Int, Int) -> Int64) -> [Int64]? {
        guard bias.count == rows else { return nil }
        var folded: [Int64] = []
        folded.reserveCapacity(rows)
        for m in 0..<rows {
            var sum: Int64 = 0, magnitude: Int64 = 0
            for t in 0..<taps {
                let w = weight(m, t)
                sum += w
                magnitude += abs(w)
            }
            let value = bias[m] - zero * sum
            guard abs(value) + 255 * magnitude < Int64(Int32.max) else { return nil }
            folded.append(value)
        }
        return folded
    }

    /// The tiled layout of `whittle_kernels.h`: int8, channels in blocks of eight (the last
    /// block padded with zero weights), each block's taps in pairs (an odd count padded with a
    /// zero tap), each pair holding the eight channels' two weights, channel by channel.
    static func tiledRows(_ rows: Int, _ taps: Int, value: (Int, Int) -> Int64) -> [Int64] {
        var out: [Int64] = []
        out.reserveCapacity((rows + 7) / 8 * 8 * (taps + taps % 2))
        for first in stride(from: 0, to: rows, by: 8) {
            for t in stride(from: 0, to: taps, by: 2) {
                for r in first..<(first + 8) {
                    out.append(r < rows ? value(r, t) : 0)
                    out.append(r < rows && t + 1 < taps ? value(r, t + 1) : 0)
                }
            }
        }
        return out
    }

    /// The library form of a QGemm (quantized output, constant weights without zero points).
    static func gemmForm(_ e: NodeEmission) throws -> Form? {
        let sixteen = try isSixteenByEight(e, data: 0, weights: 3, zero: 2)
        guard try isEightBit(e, data: 0, weights: 3) || sixteen, e.has(7), e.constant(3) != nil, !e.has(6) || e.constant(6) != nil,
              try e.context.int("transA", default: 0) == 0 else { return nil }
        let bz = e.has(5) ? (e.constant(5)?.int64s() ?? [1]) : [0]
        guard bz.allSatisfy({ $0 == 0 }) else { return nil }
        let k = try e.inputShape(0)[1], n = try e.outputShape()[1]
        if sixteen {
            // The bound is per output column; |B| sums the same in any order.
            guard let b = e.constant(3)?.int64s(), b.count == n * k else { return nil }
            let transB = try e.context.int("transB", default: 0) != 0
            let rows = (0..<n).flatMap { j in (0..<k).map { p in transB ? b[j * k + p] : b[p * n + j] } }
            return try fitsInt32(e, rows, rows: n, taps: k, bias: 6) ? .matrix(padded: padded(k)) : nil
        }
        if e.weightLayout.isTiled, let b = e.constant(3)?.int64s(), b.count == n * k,
           let bias = e.has(6) ? e.constant(6)?.int64s() : Array(repeating: 0, count: n) {
            let transB = try e.context.int("transB", default: 0) != 0
            if foldedBias(bias, rows: n, taps: k, zero: QuantizedC.zero(e, 2), weight: { transB ? b[$0 * k + $1] : b[$1 * n + $0] }) != nil {
                return .tiles(taps: k)
            }
        }
        return .matrix(padded: padded(k))
    }

    /// The paired-row layout of `whittle_kernels.h`: rows of `k` taps padded to `padded` with
    /// zeros, rows in pairs whose groups of four alternate, each group in the order 0, 2, 1, 3.
    /// With `wide` (int16 weights), each four stays in tap order.
    static func packedRows(_ rows: Int, _ k: Int, padded: Int, wide: Bool = false, value: (Int, Int) -> Int64) -> [Int64] {
        var out: [Int64] = []
        out.reserveCapacity(rows * padded)
        let order = wide ? [0, 1, 2, 3] : [0, 2, 1, 3]
        for first in stride(from: 0, to: rows, by: 2) {
            for base in stride(from: 0, to: padded, by: 4) {
                for r in first..<min(first + 2, rows) {
                    for j in order {
                        let column = base + j
                        out.append(column < k ? value(r, column) : 0)
                    }
                }
            }
        }
        return out
    }

    /// The dot-product layout of `whittle_kernels.h`: int8, channels in blocks of eight (the last block
    /// padded with zero weights), each block's taps in quads (padded with zero taps), each quad holding
    /// the eight channels' four weights, channel by channel.
    static func quadRows(_ rows: Int, _ taps: Int, value: (Int, Int) -> Int64) -> [Int64] {
        var out: [Int64] = []
        out.reserveCapacity((rows + 7) / 8 * 8 * ((taps + 3) / 4 * 4))
        for first in stride(from: 0, to: rows, by: 8) {
            for t in stride(from: 0, to: taps, by: 4) {
                for r in first..<(first + 8) {
                    for j in 0..<4 { out.append(r < rows && t + j < taps ? value(r, t + j) : 0) }
                }
            }
        }
        return out
    }

    /// Whether a layer's weights are stored two per byte: every value fits 4 bits and the layout is not
    /// the wide one (the paired rows' DSP kernels also need at most 65,536 padded taps, as they sum 16
    /// times the products in int32).
    static func nibbles(_ e: NodeEmission, _ weights: [Int64], padded: Int? = nil) -> Bool {
        // Not under 16-bit activations, whose sums times 16 could leave int32.
        e.packsNibbles && (padded ?? 0) <= 65_536 && (try? e.inputType(0).elementType) != .int16 && weights.allSatisfy { (-8...7).contains($0) }
    }

    /// The bytes a QLinearConv's or QGemm's dense weights take: half their count where its library
    /// form stores them two per byte (what the sparse form must beat).
    static func denseWeightBytes(_ e: NodeEmission, _ values: [Int64]) throws -> Int {
        switch e.node.opType == "QLinearConv" ? try convForm(e) : try gemmForm(e) {
        case .matrix(let padded)?: return nibbles(e, values, padded: padded) ? (values.count + 1) / 2 : values.count
        case .tiles?: return nibbles(e, values) ? (values.count + 1) / 2 : values.count
        default: return values.count
        }
    }

    /// Two 4-bit weights per byte (`high` in the high nibble), as unsigned bytes.
    static func byte(high: Int64, low: Int64) -> Int64 { (high & 15) << 4 | (low & 15) }

    /// The paired rows' 4-bit form (whittle_kernels.h): rows padded to an even count, each group of
    /// eight weights in one word whose byte j holds weight j (high nibble) and j + 4 (low nibble).
    static func nibbleRows(_ rows: Int, _ k: Int, padded: Int, value: (Int, Int) -> Int64) -> [Int64] {
        let even = packedRows(rows + rows % 2, k, padded: padded) { $0 < rows ? value($0, $1) : 0 }
        return stride(from: 0, to: even.count, by: 8).flatMap { g in (0..<4).map { byte(high: even[g + $0], low: even[g + $0 + 4]) } }
    }

    /// Values two per byte in their order, value i in the low nibble of byte i / 2 when i is even (the
    /// depthwise filters' 4-bit form, read by `whittle_unpack_filter4`).
    static func nibbleSequence(_ values: [Int64]) -> [Int64] {
        stride(from: 0, to: values.count, by: 2).map { byte(high: $0 + 1 < values.count ? values[$0 + 1] : 0, low: values[$0]) }
    }

    /// The tiled layout's 4-bit form: byte i of a pair of taps holds its bytes 2i (low nibble) and
    /// 2i + 1 (high); the dot-product layout's (`quads`): byte b of a quad holds bytes b (low) and b + 16 (high).
    static func nibbleTiles(_ bytes: [Int64], quads: Bool) -> [Int64] {
        let chunk = quads ? 32 : 16
        return stride(from: 0, to: bytes.count, by: chunk).flatMap { c in
            (0..<(chunk / 2)).map { i in quads ? byte(high: bytes[c + i + 16], low: bytes[c + i]) : byte(high: bytes[c + 2 * i + 1], low: bytes[c + 2 * i]) }
        }
    }

    /// Whether |acc · multiplier| stays within 2^21 for every accumulator a layer can reach
    /// (|x − x_zero| ≤ 255 for the matrix kernels, |x| ≤ 128 plus the folded zero point for the
    /// depthwise one, both below 383 per tap): the requantization may then round before it saturates.
    static func bounded(_ multipliers: [Float], bias: [Int64], weights: [Int64], taps: Int, perTap: Double = 383) -> Bool {
        for (m, multiplier) in multipliers.enumerated() {
            let slice = weights[(m * taps)..<min((m + 1) * taps, weights.count)]
            let reach = Double(abs(bias[m])) + perTap * Double(slice.reduce(0) { $0 + abs($1) })
            if reach * Double(multiplier) > Double(1 << 21) || reach >= Double(Int32.max) { return false }
        }
        return true
    }

    /// The largest |x| a tap of the layer's input adds per unit of weight: 383 for 8-bit inputs (see
    /// `bounded`), 32768 for 16-bit ones.
    static func reachPerTap(_ e: NodeEmission) throws -> Double { try e.inputType(0).elementType == .int16 ? 32768 : 383 }

    static func geometry(_ g: ConvolutionC.Geometry, channels: Int) -> String {
        let fields = [channels, g.h, g.w, g.oh, g.ow, g.kh, g.kw, g.sh, g.sw, g.dh, g.dw, g.pt, g.pl]
        return "static const whittle_conv_geometry g = {\(fields.map(String.init).joined(separator: ", "))};"
    }

    /// The requantization tables and the `rq` descriptor of int8 outputs.
    static func requantization(_ multipliers: [Float], zero: Int64, bounded: Bool, _ e: NodeEmission) -> [String] {
        let tables = QuantizedC.multiplierTables(multipliers, e)
        let pointers = e.integerOnly ? "0, mantissa, exponent" : "multiplier, 0, 0"
        let (low, high) = e.node.quantizedOutputBounds(e.elementType)
        let unsigned = e.elementType == .uint8 ? 1 : e.elementType == .int16 ? 2 : 0
        // The fast rounding needs float multipliers.
        let bounded = bounded && !e.integerOnly
        return tables + ["static const whittle_requant rq = {\(pointers), \(zero), \(low), \(high), \(unsigned), \(bounded ? 1 : 0)};"]
    }

    /// Emits the layer on the library when it has a library form; false otherwise.
    static func qlinearConv(_ e: NodeEmission, _ w: inout CWriter) throws -> Bool {
        guard let form = try convForm(e), let weights = e.constant(3)?.int64s() else { return false }
        let shape = try e.inputShape(3)
        let g = try ConvolutionC.Geometry(e, kernel: Array(shape[2...]))
        let (multipliers, _) = try QuantizedC.convParameters(e, channels: g.m)
        let xz = QuantizedC.zero(e, 2), yz = QuantizedC.zero(e, 7)
        let bias = e.has(8) ? (e.constant(8)?.int64s() ?? []) : [Int64](repeating: 0, count: g.m)
        guard bias.count == g.m else { return false }
        let taps = g.kh * g.kw
        let inputPlane = g.c * g.h * g.w, outputPlane = g.m * g.oh * g.ow
        switch form {
        case .matrix(let padded):
            guard let scratch = e.scratch else { return false }
            let k = g.c * taps
            let (packed, form) = pairedWeights(e, rows: g.m, k, padded: padded, weights) { weights[$0 * k + $1] }
            let biasSymbol = e.weightArray("bias", .int32, integers: bias)
            w.lines(requantization(multipliers, zero: yz, bounded: bounded(multipliers, bias: bias, weights: weights, taps: k, perTap: try reachPerTap(e)), e))
            w.line(geometry(g, channels: g.c))
            w.line("/* im2col, two pixels at a time, and a blocked matrix product (SMLAD with the DSP extension)\(formNote(form)). */")
            if try e.inputType(0).elementType == .int16 {
                w.line("for (int n = 0; n < \(g.n); ++n) whittle_conv_s16(&g, \(g.m), \(e.x(0)) + n * \(inputPlane), \(packed), \(form), \(biasSymbol), &rq, \(e.y(0)) + n * \(outputPlane), (int16_t *)\(scratch));")
            } else {
                w.line("for (int n = 0; n < \(g.n); ++n) whittle_conv_s8(&g, \(g.m), \(e.x(0)) + n * \(inputPlane), \(try unsignedFlag(e, 0)), \(xz), \(packed), \(form), \(biasSymbol), &rq, \(e.y(0)) + n * \(outputPlane), (int16_t *)\(scratch));")
            }
        case .tiles(let k):
            let quads = e.weightLayout == .dotTiles
            guard let scratch = e.scratch,
                  let folded = foldedBias(bias, rows: g.m, taps: k, zero: try tileZero(e), weight: { weights[$0 * k + $1] }) else { return false }
            let (packed, form) = tiledWeights(e, rows: g.m, k, weights, quads: quads) { weights[$0 * k + $1] }
            let biasSymbol = e.weightArray("bias", .int32, integers: folded)
            w.lines(requantization(multipliers, zero: yz, bounded: bounded(multipliers, bias: bias, weights: weights, taps: k, perTap: try reachPerTap(e)), e))
            w.line(geometry(g, channels: g.c))
            let weightsNote = quads ? "int8 weights in quads (SDOT)" : "int8 weights widened in registers"
            w.line("/* Eight output channels by eight pixels at a time on \(weightsNote)\(form >= 2 ? ", stored as 4 bits two per byte" : ""); the bias holds bias - x_zero * sum(w). */")
            w.line("for (int n = 0; n < \(g.n); ++n) whittle_conv_s8_tiles(&g, \(g.m), \(e.x(0)) + n * \(inputPlane), \(try unsignedFlag(e, 0)), \(xz), \(packed), \(form), \(biasSymbol), &rq, \(e.y(0)) + n * \(outputPlane), (uint8_t *)\(scratch));")
        case .depthwise where try e.inputType(0).elementType == .int16:
            guard let scratch = e.scratch else { return false }
            let filters = e.weightArray("weights", .int8, integers: weights)
            e.extras.weightBits = 8
            let biasSymbol = e.weightArray("bias", .int32, integers: bias)
            w.lines(requantization(multipliers, zero: yz, bounded: bounded(multipliers, bias: bias, weights: weights, taps: taps, perTap: 32768), e))
            w.line(geometry(g, channels: g.c))
            w.line("/* 16-bit activations: each channel copied into a zero border, two outputs at a time with SMLAD on the DSP extension. */")
            e.extras.overwritesInput = true
            w.line("for (int n = 0; n < \(g.n); ++n) whittle_depthwise_s16(&g, \(e.x(0)) + n * \(inputPlane), \(filters), \(biasSymbol), &rq, \(e.y(0)) + n * \(outputPlane), (int16_t *)\(scratch));")
        case .depthwise, .flatDepthwise:
            let sums = (0..<g.m).map { c in weights[(c * taps)..<((c + 1) * taps)].reduce(0, +) }
            guard let scratch = e.scratch else { return false }
            // 4-bit filters two per byte, unpacked one channel at a time by the kernels.
            let packs = nibbles(e, weights)
            let filters = packs ? e.weightArray("weights", .uint8, integers: nibbleSequence(weights)) : e.weightArray("weights", .int8, integers: weights)
            e.extras.weightBits = packs ? 4 : 8
            // The kernel pads each plane with x_zero, so every tap is inside: Σ(x − xz)·w = Σx·w − xz·Σw.
            let inner = e.weightArray("inner_bias", .int32, integers: (0..<g.m).map { bias[$0] - Int64(xz) * sums[$0] })
            w.lines(requantization(multipliers, zero: yz, bounded: bounded(multipliers, bias: bias, weights: weights, taps: taps, perTap: try reachPerTap(e)), e))
            w.line(geometry(g, channels: g.c))
            let kernel = form == .flatDepthwise ? "whittle_depthwise3x3_s8_flat" : "whittle_depthwise_s8"
            // The depthwise kernels copy each channel into scratch before writing its output.
            e.extras.overwritesInput = true
            w.line("for (int n = 0; n < \(g.n); ++n) \(kernel)(&g, \(e.x(0)) + n * \(inputPlane), \(xz), \(filters), \(packs ? 1 : 0), \(inner), &rq, \(e.y(0)) + n * \(outputPlane), (int8_t *)\(scratch));")
        }
        return true
    }

    /// The paired rows' weight array and the kernels' `form` (0 int8, 1 int16, 2 4-bit), noted for the report.
    static func pairedWeights(_ e: NodeEmission, rows: Int, _ k: Int, padded: Int, _ all: [Int64], value: (Int, Int) -> Int64) -> (String, Int) {
        if nibbles(e, all, padded: padded) {
            e.extras.weightBits = 4
            return (e.weightArray("weights", .uint8, integers: nibbleRows(rows, k, padded: padded, value: value)), 2)
        }
        e.extras.weightBits = e.wideWeights ? 16 : 8
        return (e.weightArray("weights", e.wideWeights ? .int16 : .int8, integers: packedRows(rows, k, padded: padded, wide: e.wideWeights, value: value)),
                e.wideWeights ? 1 : 0)
    }

    /// The tiled (or, with `quads`, dot-product) weight array and the kernels' `form` (+1 quads, +2 4-bit).
    static func tiledWeights(_ e: NodeEmission, rows: Int, _ k: Int, _ all: [Int64], quads: Bool, value: (Int, Int) -> Int64) -> (String, Int) {
        let bytes = quads ? quadRows(rows, k, value: value) : tiledRows(rows, k, value: value)
        let packs = nibbles(e, all)
        e.extras.weightBits = packs ? 4 : 8
        return (e.weightArray("weights", packs ? .uint8 : .int8, integers: packs ? nibbleTiles(bytes, quads: quads) : bytes), (quads ? 1 : 0) + (packs ? 2 : 0))
    }

    /// How the comment of a paired-rows call names its weights.
    static func formNote(_ form: Int) -> String {
        form == 1 ? " on weights stored as int16" : form == 2 ? " on 4-bit weights stored two per byte" : ""
    }

    /// Emits a QGemm on the library when it has a library form; false otherwise.
    static func qgemm(_ e: NodeEmission, _ w: inout CWriter) throws -> Bool {
        guard let form = try gemmForm(e), let b = e.constant(3)?.int64s() else { return false }
        let a = try e.inputShape(0), y = try e.outputShape()
        let (count, n, k) = (y[0], y[1], a[1])
        let transB = try e.context.int("transB", default: 0) != 0
        let (multipliers, _, _) = try QuantizedC.gemmParameters(e, columns: n)
        let bias = e.has(6) ? (e.constant(6)?.int64s() ?? []) : [Int64](repeating: 0, count: n)
        guard bias.count == n, b.count == n * k else { return false }
        let weight: (Int, Int) -> Int64 = { transB ? b[$0 * k + $1] : b[$1 * n + $0] }
        if case .tiles = form {
            guard let folded = foldedBias(bias, rows: n, taps: k, zero: QuantizedC.zero(e, 2), weight: weight) else { return false }
            let (packed, layout) = tiledWeights(e, rows: n, k, b, quads: false, value: weight)
            let biasSymbol = e.weightArray("bias", .int32, integers: folded)
            let rows = (0..<n).flatMap { j in (0..<k).map { p in weight(j, p) } }
            w.lines(requantization(multipliers, zero: QuantizedC.zero(e, 8), bounded: bounded(multipliers, bias: bias, weights: rows, taps: k, perTap: try reachPerTap(e)), e))
            w.line("whittle_fully_connected_s8_tiles(\(count), \(k), \(n), \(e.x(0)), \(try unsignedFlag(e, 0)), \(packed), \(layout), \(biasSymbol), &rq, \(e.y(0)));")
            return true
        }
        guard case .matrix(let padded) = form, let scratch = e.scratch else { return false }
        let (packed, layout) = pairedWeights(e, rows: n, k, padded: padded, b, value: weight)
        let biasSymbol = e.weightArray("bias", .int32, integers: bias)
        let rows = (0..<n).flatMap { j in (0..<k).map { p in transB ? b[j * k + p] : b[p * n + j] } }
        w.lines(requantization(multipliers, zero: QuantizedC.zero(e, 8), bounded: bounded(multipliers, bias: bias, weights: rows, taps: k, perTap: try reachPerTap(e)), e))
        if try e.inputType(0).elementType == .int16 {
            w.line("whittle_fully_connected_s16(\(count), \(k), \(n), \(e.x(0)), \(packed), \(layout), \(biasSymbol), &rq, \(e.y(0)), (int16_t *)\(scratch));")
        } else {
            w.line("whittle_fully_connected_s8(\(count), \(k), \(n), \(e.x(0)), \(try unsignedFlag(e, 0)), \(QuantizedC.zero(e, 2)), \(packed), \(layout), \(biasSymbol), &rq, \(e.y(0)), (int16_t *)\(scratch));")
        }
        return true
    }
}
