import WhittleIR
import WhittleOps

/// Pointwise int8 convolutions (1×1, stride 1, no padding, one group) on pruned weights, with the
/// library's `whittle_sparse_pointwise_s8`: each output channel stores a bitmask of its nonzero
/// weights (one bit per weight) and their values, and every nonzero weight is applied to a block of
/// output pixels at once (8 with the DSP extension, 64 with NEON on AArch64, 32 with SSE2), so the
/// work falls with the density (the layout of XNNPACK's sparse inference). It pays from about 30-55 %
/// zeros (see `cost`), where the delta rows of `SparseC` pay near 90 %.
enum SparsePointwiseC {
    /// The kernel's instructions per nonzero product, per decoded nonzero weight (once per row) and
    /// per output, for blocks of `block` pixels, and the dense kernel's instructions per product.
    /// Fitted to kws_dscnn int8 with its pointwise layers pruned from 50 to 90 % (QEMU instruction
    /// counts of the kernels, planes of 125 pixels):
    ///
    /// | target | per nonzero product | per output | dense, per product | breaks even at |
    /// |---|---:|---:|---:|---:|
    /// | cortex-m4f (DSP assembly loop, 8 pixels) | 2.42 | 14.6 | 1.435 | 50 % zeros |
    /// | rpi4 (NEON, 64 pixels; tiles dense) | 0.512 | 5.53 | 0.438 | 31 % |
    /// | x86-64 host (SSE2, 32 pixels; tiles dense) | 1.386 | 24.0 | 1.003 | 55 % |
    ///
    /// At 75 % zeros the kernel takes 0.58× (cortex-m4f), 0.49× (rpi4) and 0.72× (host) the
    /// dense kernel's instructions. The per-product figures include the decoding of each row
    /// (about 10 instructions per nonzero weight, 0.08 per product over 125 pixels), which is split
    /// out here so that small planes pay for it. NEON's narrower blocks for smaller planes pay the
    /// per-pair overhead (8 instructions, against 12 per 16 pixels) over fewer pixels. Planes of
    /// fewer pixels than the vector block stay dense on NEON and SSE2 targets.
    struct Cost {
        let block: Int
        let perProduct: Double
        let perDecoded: Double
        let perOutput: Double
        let dense: Double
    }

    static func cost(_ e: NodeEmission, pixels: Int) -> Cost? {
        guard e.weightLayout.isTiled else { return Cost(block: 8, perProduct: 2.34, perDecoded: 10, perOutput: 14.6, dense: 1.435) }
        guard e.neon else { return pixels >= 32 ? Cost(block: 32, perProduct: 1.31, perDecoded: 10, perOutput: 24.0, dense: 1.003) : nil }
        let vectors = pixels >= 64 ? 4 : pixels >= 32 ? 2 : pixels >= 16 ? 1 : 0
        guard vectors > 0 else { return nil }
        let pairShare = (8 + 12 * Double(vectors)) / (32 * Double(vectors)) / (56.0 / 128)
        return Cost(block: 16 * vectors, perProduct: 0.432 * pairShare, perDecoded: 10, perOutput: 5.22 + 20 / Double(16 * vectors), dense: 0.438)
    }

    /// A layer of the kernel's form: its geometry, weights and folded bias, and the cost model's
    /// comparison with the dense kernels.
    struct Layer {
        let g: ConvolutionC.Geometry
        let weights: [Int64]
        let nonzero: [Int64]
        let folded: [Int64]
        let bias: [Int64]
        let multipliers: [Float]
        let plan: SparseC.Plan
    }

    /// The layer, or nil when it does not have the kernel's form.
    static func layer(_ e: NodeEmission) throws -> Layer? {
        guard e.node.opType == "QLinearConv", try Int8LibraryC.isEightBit(e, data: 0, weights: 3),
              let weights = e.constant(3)?.int64s(), try e.inputShape(3).count == 4, try e.context.int("group", default: 1) == 1 else { return nil }
        let g = try ConvolutionC.Geometry(e, kernel: Array(try e.inputShape(3)[2...]))
        // The kernel's input offsets (channel times plane) are C ints.
        guard g.kh == 1, g.kw == 1, g.sh == 1, g.sw == 1, g.pt + g.pl + g.pb + g.pr == 0, g.oh == g.h, g.ow == g.w,
              weights.count == g.m * g.c, Int64(g.c) * Int64(g.h) * Int64(g.w) < Int64(Int32.max) else { return nil }
        let (multipliers, wz) = try QuantizedC.convParameters(e, channels: g.m)
        let bias = e.has(8) ? (e.constant(8)?.int64s() ?? []) : [Int64](repeating: 0, count: g.m)
        let xz = QuantizedC.zero(e, 2)
        guard wz.allSatisfy({ $0 == 0 }), bias.count == g.m,
              let folded = Int8LibraryC.foldedBias(bias, rows: g.m, taps: g.c, zero: xz, weight: { weights[$0 * g.c + $1] }) else { return nil }
        let nonzero = weights.filter { $0 != 0 }
        guard nonzero.count < weights.count else { return nil }
        let pixels = g.h * g.w, words = (g.c + 31) / 32
        guard let cost = cost(e, pixels: pixels) else { return nil }
        // Blocks overlap the one before where they do not divide the plane: those pixels are computed twice.
        let computed = pixels >= cost.block ? (pixels + cost.block - 1) / cost.block * cost.block
            : pixels >= 8 ? (pixels + 7) / 8 * 8 : pixels
        let instructions = Double(nonzero.count) * (Double(computed) * cost.perProduct + cost.perDecoded) + Double(g.m * computed) * cost.perOutput
        // In the units of `SparseC.denseShare`: the dense library kernels' product counts 0.125.
        let plan = SparseC.Plan(denseBytes: try Int8LibraryC.denseWeightBytes(e, weights), sparseBytes: g.m * words * 4 + nonzero.count,
                                denseWork: Double(g.n * g.m * pixels * g.c) * (try SparseC.denseShare(e)),
                                sparseWork: Double(g.n) * instructions * 0.125 / cost.dense,
                                zeros: weights.count - nonzero.count, total: weights.count)
        return Layer(g: g, weights: weights, nonzero: nonzero, folded: folded, bias: bias, multipliers: multipliers, plan: plan)
    }

    /// The kernel's scratch when the cost model chooses it: a row's bitmask decoded into at most
    /// `channels` + 2 int32 words.
    static func scratchBytes(_ e: NodeEmission) throws -> Int {
        guard let layer = try layer(e), layer.plan.pays(e.sparse) else { return 0 }
        return 4 * (layer.g.c + 2)
    }

    /// Emits the layer on bitmask rows: true when the cost model chose them, false when the dense
    /// kernels should run it, nil when the layer does not have the kernel's form.
    static func emit(_ e: NodeEmission, _ w: inout CWriter) throws -> Bool? {
        guard let layer = try layer(e) else { return nil }
        let g = layer.g, weights = layer.weights, pixels = g.h * g.w, words = (g.c + 31) / 32
        let chosen = layer.plan.pays(e.sparse)
        e.extras.weightForm = layer.plan.form(chosen: chosen, layout: "bitmask rows")
        guard chosen, let scratch = e.scratch else { return false }

        // Bit c % 32 of word c / 32 of row m marks weight (m, c) as nonzero.
        var masks = [Int64](repeating: 0, count: g.m * words)
        for (i, weight) in weights.enumerated() where weight != 0 {
            let (m, c) = i.quotientAndRemainder(dividingBy: g.c)
            masks[m * words + c / 32] |= Int64(1) << Int64(c % 32)
        }
        let maskSymbol = e.weightArray("masks", .uint32, integers: masks)
        let valueSymbol = e.weightArray("values", .int8, integers: layer.nonzero)
        let biasSymbol = e.weightArray("bias", .int32, integers: layer.folded)
        w.lines(Int8LibraryC.requantization(layer.multipliers, zero: QuantizedC.zero(e, 7),
                                            bounded: Int8LibraryC.bounded(layer.multipliers, bias: layer.bias, weights: weights, taps: g.c), e))
        w.line("/* Each nonzero weight times a block of pixels of its input channel; the bias holds bias - x_zero * sum(w). */")
        w.line("for (int n = 0; n < \(g.n); ++n) whittle_sparse_pointwise_s8(\(g.c), \(g.m), \(pixels), \(e.x(0)) + n * \(g.c * pixels), "
               + "\(try Int8LibraryC.unsignedFlag(e, 0)), \(maskSymbol), \(valueSymbol), \(biasSymbol), &rq, \(e.y(0)) + n * \(g.m * pixels), (int32_t *)\(scratch));")
        return true
    }
}
