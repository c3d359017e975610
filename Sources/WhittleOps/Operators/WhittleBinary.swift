import WhittleIR

/// Binary (1-bit) operators of Whittle's own domain, made by the fuse-binary pass, and QONNX's
/// BipolarQuant, read from binarized models made by others.
///
/// - `whittle.BitPack(X)`: the signs of a float tensor [N, C, H, W] (or [N, C]) packed along the
///   channels into uint32 words: output [N, H, W, planes · words], words = ⌈C / 32⌉, channel c at
///   bit c % 32 of word c / 32. `ternary` = 0: one plane, bit set where x ≥ 0 (+1; sign(0) = +1).
///   `ternary` = 1 (ONNX Sign, where sign(0) = 0): plane 0 has the bits of x > 0, plane 1 those of
///   x ≠ 0. Bits past C are 0.
/// - `whittle.BinaryConv(P, W, scale, bias)`: a convolution of packed ±1 (or −1/0/+1) inputs
///   with packed ±1 weights W [M, KH · KW · words] (bit set: +1), geometry in the usual
///   attributes (`kernel_shape`, `strides`, `pads`, `dilations`) and `channels` = C. For each
///   output, dot = count − 2 · popcount((x ⊕ w) ∧ nonzero) over the taps inside the map (taps in
///   the padding add 0, as ONNX's zero padding does), count = C per tap (or the nonzero inputs);
///   y = (float)dot · scale[m] + bias[m]. Output [N, M, OH, OW] float, or [N, M] with `dense` = 1
///   (a Gemm).
public enum WhittleBinaryOperators {
    public static let domain = "whittle"
    public static let qonnxDomain = "qonnx.custom_op.general"

    static var all: [OperatorDefinition] { [bitPack, binaryConv, binaryWeightConv, bipolarQuant] }
    static var kernels: [String: Kernel] {
        ["BitPack": bitPackKernel, "BinaryConv": binaryConvKernel, "BinaryWeightConv": binaryWeightConvKernel, "BipolarQuant": bipolarKernel]
    }

    public static func words(_ channels: Int) -> Int { (channels + 31) / 32 }

    static let bitPack = OperatorDefinition("BitPack", domain: domain, infer: { ctx in
        try ctx.expectInputs(1, 1)
        let x = try ctx.shape(0)
        guard x.count == 2 || x.count == 4, try ctx.type(0).elementType == .float else {
            throw WhittleError(.shapeMismatch, "BitPack needs a float [N, C] or [N, C, H, W] tensor, found \(Shape.describe(x))")
        }
        let planes = try ctx.int("ternary", default: 0) != 0 ? 2 : 1
        return [TensorType(.uint32, [x[0], x.count == 4 ? x[2] : 1, x.count == 4 ? x[3] : 1, planes * words(x[1])])]
    })

    static let binaryConv = OperatorDefinition("BinaryConv", domain: domain, infer: { ctx in
        try ctx.expectInputs(4, 4)
        let p = try ctx.shape(0)
        return [try outputType(ctx, try BinaryGeometry(ctx, input: p), batch: p[0])]
    }, macs: { ctx, outputs in
        guard let w = try? ctx.shape(1), let y = outputs.first?.shape, let c = try? ctx.int("channels", default: 0) else { return 0 }
        return y.reduce(1, *) * (w[1] / max(BinaryGeometry.wordsOf(c), 1)) * c
    })

    /// The float output of a binary convolution: [N, M, OH, OW], or [N, M] with `dense`; the
    /// packed weights [M, KH · KW · words], scale [M] and bias [M] must fit the geometry.
    static func outputType(_ ctx: InferenceContext, _ g: BinaryGeometry, batch: Int) throws -> TensorType {
        let w = try ctx.shape(1)
        guard w.count == 2, w[1] == g.kh * g.kw * g.words, try ctx.shape(2) == [w[0]], try ctx.shape(3) == [w[0]] else {
            throw WhittleError(.shapeMismatch, "\(ctx.node.opType) weights, scale and bias do not match the geometry")
        }
        return TensorType(.float, try ctx.int("dense", default: 0) != 0 ? [batch, w[0]] : [batch, w[0], g.oh, g.ow])
    }

    /// BinaryWeightConv(X, W, scale, bias): float inputs, packed ±1 weights as for BinaryConv.
    /// For each output, acc = Σ ±x over input channels c, then kernel rows and columns (in that
    /// order, taps outside the map skipped), sign from the weight bit; y = acc · scale[m] + bias[m].
    static let binaryWeightConv = OperatorDefinition("BinaryWeightConv", domain: domain, infer: { ctx in
        try ctx.expectInputs(4, 4)
        let x = try ctx.shape(0)
        return [try outputType(ctx, try BinaryGeometry(ctx, floatInput: x), batch: x[0])]
    }, macs: { ctx, outputs in
        guard let x = try? ctx.shape(0), let y = outputs.first?.shape, let g = try? BinaryGeometry(ctx, floatInput: x) else { return 0 }
        return y.reduce(1, *) * g.kh * g.kw * g.channels
    })

    static let binaryWeightConvKernel: Kernel = { ctx in
        let input = try ctx.input(0), g = try BinaryGeometry(ctx.node, floatInput: input.shape)
        let w = try ctx.input(1).ints.map { UInt32(truncatingIfNeeded: $0) }
        let x = input.floats, scale = try ctx.input(2).floats, bias = try ctx.input(3).floats
        let m = scale.count, n = input.shape[0], plane = g.h * g.w, taps = g.kh * g.kw
        var out = [Float](repeating: 0, count: n * m * g.oh * g.ow)
        for b in 0..<n {
            for o in 0..<m {
                for oh in 0..<g.oh {
                    for ow in 0..<g.ow {
                        var acc: Float = 0
                        for c in 0..<g.channels {
                            for kh in 0..<g.kh {
                                let ih = oh * g.sh + kh * g.dh - g.pt
                                guard ih >= 0, ih < g.h else { continue }
                                for kw in 0..<g.kw {
                                    let iw = ow * g.sw + kw * g.dw - g.pl
                                    guard iw >= 0, iw < g.w else { continue }
                                    let v = x[(b * g.channels + c) * plane + ih * g.w + iw]
                                    let bit = (w[(o * taps + kh * g.kw + kw) * g.words + c / 32] >> UInt32(c % 32)) & 1
                                    acc += bit == 1 ? v : -v
                                }
                            }
                        }
                        out[((b * m + o) * g.oh + oh) * g.ow + ow] = acc * scale[o] + bias[o]
                    }
                }
            }
        }
        return [NDArray(.float, shape: try ctx.outputShape(), floats: out)]
    }

    /// BipolarQuant(X, scale) (QONNX): scale · (+1 where x ≥ 0, else −1).
    static let bipolarQuant = OperatorDefinition("BipolarQuant", domain: qonnxDomain, infer: { ctx in
        try ctx.expectInputs(2, 2)
        return [try ctx.type(0)]
    })

    static let bipolarKernel: Kernel = { ctx in
        let x = try ctx.input(0), s = try ctx.input(1).floats
        guard s.count == 1 else { throw WhittleError(.unsupported, "BipolarQuant with a scale per element is not supported") }
        return [NDArray(.float, shape: x.shape, floats: x.floats.map { $0 >= 0 ? s[0] : -s[0] })]
    }

    /// The convolution geometry of a BinaryConv over packed input [N, H, W, planes · words].
    public struct BinaryGeometry: Sendable {
        public var h, w, kh, kw, sh, sw, dh, dw, pt, pl, oh, ow, channels, words, planes: Int

        static func wordsOf(_ channels: Int) -> Int { (channels + 31) / 32 }

        /// The geometry of a BinaryConv over packed input [N, H, W, planes · words].
        public init(_ ctx: InferenceContext, input p: [Int]) throws {
            guard p.count == 4 else { throw WhittleError(.shapeMismatch, "BinaryConv needs a packed [N, H, W, words] input") }
            try self.init(ctx, height: p[1], width: p[2], packed: p[3], channels: try ctx.int("channels", default: 0))
        }

        /// The geometry of a BinaryWeightConv over float input [N, C, H, W] or [N, C].
        public init(_ ctx: InferenceContext, floatInput x: [Int]) throws {
            guard x.count == 2 || x.count == 4 else { throw WhittleError(.shapeMismatch, "BinaryWeightConv needs a [N, C, H, W] or [N, C] input") }
            try self.init(ctx, height: x.count == 4 ? x[2] : 1, width: x.count == 4 ? x[3] : 1, packed: Self.wordsOf(x[1]), channels: x[1])
        }

        init(_ ctx: InferenceContext, height: Int, width: Int, packed: Int, channels c: Int) throws {
            let kernel = try ctx.ints("kernel_shape") ?? [1, 1]
            let strides = try ctx.ints("strides") ?? [1, 1], dilations = try ctx.ints("dilations") ?? [1, 1]
            let pads = try ctx.ints("pads") ?? [0, 0, 0, 0]
            guard kernel.count == 2, strides.count == 2, dilations.count == 2, pads.count == 4 else {
                throw WhittleError(.invalidAttribute, "BinaryConv needs 2-D kernel_shape, strides, dilations and pads")
            }
            channels = c
            planes = try ctx.int("ternary", default: 0) != 0 ? 2 : 1
            words = Self.wordsOf(channels)
            guard channels > 0, packed == planes * words else { throw WhittleError(.shapeMismatch, "BinaryConv channels do not match the packed input") }
            (h, w, kh, kw) = (height, width, kernel[0], kernel[1])
            (sh, sw, dh, dw, pt, pl) = (strides[0], strides[1], dilations[0], dilations[1], pads[0], pads[1])
            guard sh > 0, sw > 0, dh > 0, dw > 0 else { throw WhittleError(.invalidAttribute, "strides and dilations must be positive") }
            oh = (h + pads[0] + pads[2] - dh * (kh - 1) - 1) / sh + 1
            ow = (w + pads[1] + pads[3] - dw * (kw - 1) - 1) / sw + 1
            guard oh > 0, ow > 0 else { throw WhittleError(.shapeMismatch, "BinaryConv output would be empty") }
        }
    }

    static let bitPackKernel: Kernel = { ctx in
        let x = try ctx.input(0), y = try ctx.outputShape()
        let ternary = try ctx.node.int("ternary", default: 0) != 0
        let c = x.shape[1], pixels = x.shape.count == 4 ? x.shape[2] * x.shape[3] : 1, n = x.shape[0]
        let words = words(c), planes = ternary ? 2 : 1
        let v = x.floats
        var out = [Int64](repeating: 0, count: y.reduce(1, *))
        for b in 0..<n {
            for p in 0..<pixels {
                let base = (b * pixels + p) * planes * words
                var packed = [UInt32](repeating: 0, count: planes * words)
                for ch in 0..<c {
                    let value = v[(b * c + ch) * pixels + p]
                    let bit = UInt32(1) << UInt32(ch % 32)
                    if ternary {
                        if value > 0 { packed[ch / 32] |= bit }
                        if value != 0 { packed[words + ch / 32] |= bit }
                    } else if value >= 0 {
                        packed[ch / 32] |= bit
                    }
                }
                for k in 0..<(planes * words) { out[base + k] = Int64(packed[k]) }
            }
        }
        return [NDArray(.uint32, shape: y, ints: out)]
    }

    static let binaryConvKernel: Kernel = { ctx in
        let p = try ctx.input(0), g = try BinaryGeometry(ctx.node, input: p.shape)
        let w = try ctx.input(1).ints.map { UInt32(truncatingIfNeeded: $0) }
        let x = p.ints.map { UInt32(truncatingIfNeeded: $0) }
        let scale = try ctx.input(2).floats, bias = try ctx.input(3).floats
        let m = scale.count, n = p.shape[0], stride = g.planes * g.words
        var out = [Float](repeating: 0, count: n * m * g.oh * g.ow)
        for b in 0..<n {
            for o in 0..<m {
                for oh in 0..<g.oh {
                    for ow in 0..<g.ow {
                        var count = 0, mismatched = 0
                        for kh in 0..<g.kh {
                            let ih = oh * g.sh + kh * g.dh - g.pt
                            guard ih >= 0, ih < g.h else { continue }
                            for kw in 0..<g.kw {
                                let iw = ow * g.sw + kw * g.dw - g.pl
                                guard iw >= 0, iw < g.w else { continue }
                                let at = ((b * g.h + ih) * g.w + iw) * stride
                                let wat = o * g.kh * g.kw * g.words + (kh * g.kw + kw) * g.words
                                for k in 0..<g.words {
                                    let diff = x[at + k] ^ w[wat + k]
                                    if g.planes == 2 {
                                        let nonzero = x[at + g.words + k]
                                        mismatched += (diff & nonzero).nonzeroBitCount
                                        count += nonzero.nonzeroBitCount
                                    } else {
                                        mismatched += diff.nonzeroBitCount
                                    }
                                }
                                if g.planes == 1 { count += g.channels }
                            }
                        }
                        let dot = count - 2 * mismatched
                        out[((b * m + o) * g.oh + oh) * g.ow + ow] = Float(dot) * scale[o] + bias[o]
                    }
                }
            }
        }
        return [NDArray(.float, shape: try ctx.outputShape(), floats: out)]
    }
}
