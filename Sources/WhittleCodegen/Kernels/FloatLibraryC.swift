import WhittleIR
import WhittleOps

/// Float32 Conv and Gemm layers on the library kernels of `conv_f32.c`: register-blocked
/// products (four channels by four pixels through im2col; two rows at a time for fully
/// connected layers), a depthwise kernel.
/// The emitter lays the weights out in blocks of four channels and applies a fused activation
/// after the kernel. Layers of other forms (float64, grouped convolutions other than depthwise,
/// weights computed at run time, Gemm with alpha or beta other than 1) keep the generated loops.
enum FloatLibraryC {
    enum Form {
        /// Convolution with one group; `columns` floats of im2col scratch.
        case matrix(columns: Int)
        /// One filter per channel over a zero-bordered plane of `padded` floats.
        case depthwise(padded: Int)
        /// Convolution with one group on `whittle_conv_f32_tiles`; `columns` floats of scratch.
        case tiles(columns: Int)
        /// A 3×3 depthwise layer with stride 1 and padding 1 on `whittle_depthwise3x3_f32_flat`.
        case flatDepthwise(padded: Int)
    }

    static var scratchNeeds: [String: @Sendable (NodeEmission) throws -> Int] {
        ["Conv": { e in
            switch try convForm(e) {
            case .matrix(let columns)?: return 4 * columns
            case .tiles?:
                // Tap offsets (two words per tap), then the padded copy or eight columns of floats.
                let g = try ConvolutionC.Geometry(e, kernel: Array(try e.inputShape(1)[2...]))
                let taps = g.c * g.kh * g.kw
                return 8 * taps + 4 * (Int8LibraryC.paddedCopy(g) ?? 8 * taps)
            case .depthwise(let padded)?, .flatDepthwise(let padded)?: return 4 * padded
            case nil: return 0
            }
        }]
    }

    static func convForm(_ e: NodeEmission) throws -> Form? {
        guard e.elementType == .float, try e.inputType(0).elementType == .float, let weights = e.constant(1),
              (3...4).contains(weights.shape.count), !e.has(2) || e.constant(2) != nil else { return nil }
        let g = try ConvolutionC.Geometry(e, kernel: Array(weights.shape[2...]))
        let group = try e.context.int("group", default: 1)
        if group == 1 { return e.floatTiles ? .tiles(columns: 8 * g.c * g.kh * g.kw) : .matrix(columns: 4 * g.c * g.kh * g.kw) }
        if group == g.c, g.m == g.c {
            if e.floatTiles, Int8LibraryC.isFlat(g) { return .flatDepthwise(padded: (g.h + 2) * g.w + 24) }
            let plane = Int8LibraryC.paddedPlane(g)
            return .depthwise(padded: plane.h * (plane.w - 1) + 16)
        }
        return nil
    }

    /// Weights in the blocked layout of `whittle_kernels.h`: blocks of four rows (eight: the tiled
    /// layout), tap by tap.
    static func blocked(_ rows: Int, _ taps: Int, block: Int = 4, value: (Int, Int) -> Float) -> [Float] {
        var out: [Float] = []
        let padded = (rows + block - 1) / block * block
        out.reserveCapacity(padded * taps)
        for first in stride(from: 0, to: padded, by: block) {
            for k in 0..<taps {
                for r in first..<(first + block) { out.append(r < rows ? value(r, k) : 0) }
            }
        }
        return out
    }

    /// A bias of `count` values (zeros when absent), padded to a multiple of `block`.
    static func bias(_ e: NodeEmission, _ index: Int, count: Int, block: Int = 4) -> [Float]? {
        let values: [Float]
        if e.has(index) {
            guard let floats = e.constant(index)?.floats() else { return nil }
            if floats.count == count {
                values = floats
            } else if floats.count == 1 {
                values = Array(repeating: floats[0], count: count)
            } else {
                return nil
            }
        } else {
            values = Array(repeating: 0, count: count)
        }
        let padded = (count + block - 1) / block * block
        return values + Array(repeating: 0, count: padded - count)
    }

    /// The fused activation, applied to the `count` outputs the kernel wrote.
    static func activation(_ e: NodeEmission, _ w: inout CWriter, count: Int) {
        guard let activation = FusedActivation(e.node) else { return }
        w.block("for (int i = 0; i < \(count); ++i)") { w in w.lines(ActivationC.store("\(e.y(0))[i]", "\(e.y(0))[i]", activation, e)) }
    }

    /// Emits a float Conv on the library when it has a library form; false otherwise.
    static func conv(_ e: NodeEmission, _ w: inout CWriter) throws -> Bool {
        guard let form = try convForm(e), let weights = e.constant(1)?.floats() else { return false }
        let shape = try e.inputShape(1)
        let g = try ConvolutionC.Geometry(e, kernel: Array(shape[2...]))
        guard let biasValues = bias(e, 2, count: g.m, block: e.floatTiles ? 8 : 4) else { return false }
        let taps = g.kh * g.kw
        let inputPlane = g.c * g.h * g.w, outputPlane = g.m * g.oh * g.ow
        switch form {
        case .matrix(let columns):
            guard columns > 0, let scratch = e.scratch else { return false }
            let k = g.c * taps
            let packed = e.weightArray("weights", floats: blocked(g.m, k) { weights[$0 * k + $1] })
            let biasSymbol = e.weightArray("bias", floats: biasValues)
            w.line(Int8LibraryC.geometry(g, channels: g.c))
            w.line("/* im2col four pixels at a time, four output channels by four pixels per pass. */")
            w.line("for (int n = 0; n < \(g.n); ++n) whittle_conv_f32(&g, \(g.m), \(e.x(0)) + n * \(inputPlane), \(packed), \(biasSymbol), \(e.y(0)) + n * \(outputPlane), (float *)\(scratch));")
        case .tiles(let columns):
            guard columns > 0, let scratch = e.scratch else { return false }
            let k = g.c * taps
            let packed = e.weightArray("weights", floats: blocked(g.m, k, block: 8) { weights[$0 * k + $1] })
            let biasSymbol = e.weightArray("bias", floats: biasValues)
            w.line(Int8LibraryC.geometry(g, channels: g.c))
            w.line("/* Eight output channels by eight pixels per pass (pointwise layers read their input in place). */")
            w.line("for (int n = 0; n < \(g.n); ++n) whittle_conv_f32_tiles(&g, \(g.m), \(e.x(0)) + n * \(inputPlane), \(packed), \(biasSymbol), \(e.y(0)) + n * \(outputPlane), (float *)\(scratch));")
        case .depthwise, .flatDepthwise:
            guard let scratch = e.scratch else { return false }
            let filters = e.weightArray("weights", floats: weights)
            let biasSymbol = e.weightArray("bias", floats: biasValues)
            let kernel: String
            if case .flatDepthwise = form { kernel = "whittle_depthwise3x3_f32_flat" } else { kernel = "whittle_depthwise_f32" }
            // The depthwise kernels copy each channel into scratch before writing its output.
            e.extras.overwritesInput = true
            w.line(Int8LibraryC.geometry(g, channels: g.c))
            w.line("for (int n = 0; n < \(g.n); ++n) \(kernel)(&g, \(e.x(0)) + n * \(inputPlane), \(filters), \(biasSymbol), \(e.y(0)) + n * \(outputPlane), (float *)\(scratch));")
        }
        activation(e, &w, count: g.n * outputPlane)
        return true
    }

    /// Whether a Gemm has the library's form: float, A not transposed, constant B, alpha 1, C
    /// absent or one constant row added with beta 1.
    static func gemmApplies(_ e: NodeEmission) throws -> Bool {
        guard e.elementType == .float, try e.context.int("transA", default: 0) == 0, try e.context.float("alpha", default: 1) == 1,
              let b = e.constant(1), b.elementType == .float else { return false }
        let a = try e.inputShape(0), y = try e.outputShape()
        guard a.count == 2, y.count == 2, b.count == y[1] * a[1] else { return false }
        if e.has(2) {
            guard try e.context.float("beta", default: 1) == 1, e.constant(2) != nil, let c = try? e.inputShape(2),
                  c.reduce(1, *) == y[1] || c.reduce(1, *) == 1, c.count < 2 || c[0] == 1 else { return false }
        }
        return true
    }

    /// Emits a float Gemm on the library when it has the library's form; false otherwise.
    static func gemm(_ e: NodeEmission, _ w: inout CWriter) throws -> Bool {
        guard try gemmApplies(e), let b = e.constant(1)?.floats(), let biasValues = bias(e, 2, count: try e.outputShape()[1]) else { return false }
        let a = try e.inputShape(0), y = try e.outputShape()
        let (rows, n, k) = (y[0], y[1], a[1])
        let transB = try e.context.int("transB", default: 0) != 0
        let packed = e.weightArray("weights", floats: blocked(n, k) { transB ? b[$0 * k + $1] : b[$1 * n + $0] })
        let biasSymbol = e.weightArray("bias", floats: biasValues)
        w.line("whittle_fully_connected_f32(\(rows), \(k), \(n), \(e.x(0)), \(packed), \(biasSymbol), \(e.y(0)));")
        activation(e, &w, count: rows * n)
        return true
    }
}
