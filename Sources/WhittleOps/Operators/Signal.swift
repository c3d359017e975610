import Foundation
import WhittleIR

/// Window functions and MelWeightMatrix: outputs that depend only on their (scalar) inputs, so they
/// are computed when the model is compiled and become constants.
enum SignalOperators {
    static var all: [OperatorDefinition] {
        [window("HannWindow") { n, count in pow(Foundation.sin(Double.pi * n / count), 2) },
         window("HammingWindow") { n, count in 25.0 / 46.0 - (1 - 25.0 / 46.0) * Foundation.cos(2 * Double.pi * n / count) },
         window("BlackmanWindow") { n, count in
             0.42 - 0.5 * Foundation.cos(2 * Double.pi * n / count) + 0.08 * Foundation.cos(4 * Double.pi * n / count)
         },
         melWeightMatrix, dft, stft]
    }

    static var kernels: [String: Kernel] { ["DFT": dftKernel, "STFT": stftKernel] }

    /// STFT: signal [batch, length, 1 or 2], frames of frame_length every frame_step samples, each
    /// weighted by the window and transformed: [batch, frames, bins, 2] (bins halved + 1 when onesided).
    struct STFTPlan {
        var step: Int, length: Int, frames: Int, bins: Int

        init(_ ctx: InferenceContext) throws {
            let x = try ctx.shape(0)
            guard x.count == 3, x[2] == 1 || x[2] == 2, try ctx.type(0).elementType.isFloatingPoint else {
                throw WhittleError(.shapeMismatch, "STFT takes a floating-point signal [batch, length, 1 or 2], found \(Shape.describe(x))")
            }
            let steps = try ctx.constantInts(1, what: "frame_step")
            guard steps.count == 1, steps[0] > 0 else { throw WhittleError(.shapeMismatch, "frame_step must be one positive value") }
            step = steps[0]
            if ctx.has(3) {
                length = try ctx.constantInts(3, what: "frame_length").first ?? 0
            } else if ctx.has(2) {
                length = try ctx.shape(2).first ?? 0
            } else {
                length = x[1]
            }
            guard length > 0, length <= x[1] else { throw WhittleError(.shapeMismatch, "frame_length \(length) must be between 1 and the signal's \(x[1])") }
            if ctx.has(2), try ctx.shape(2) != [length] { throw WhittleError(.shapeMismatch, "window must have frame_length (\(length)) values") }
            frames = 1 + (x[1] - length) / step
            bins = try ctx.int("onesided", default: 1) != 0 ? length / 2 + 1 : length
        }
    }

    static let stft = OperatorDefinition("STFT", infer: { ctx in
        try ctx.expectInputs(2, 4)
        let plan = try STFTPlan(ctx)
        return [TensorType(try ctx.type(0).elementType, [try ctx.shape(0)[0], plan.frames, plan.bins, 2])]
    })

    static let stftKernel: Kernel = { ctx in
        let plan = try STFTPlan(ctx.node)
        let x = try ctx.input(0), v = x.doubles, window = ctx.optionalInput(2)?.doubles
        let (batch, length, parts) = (x.shape[0], x.shape[1], x.shape[2])
        var out = [Double](repeating: 0, count: batch * plan.frames * plan.bins * 2)
        for b in 0..<batch {
            for f in 0..<plan.frames {
                for bin in 0..<plan.bins {
                    var re = 0.0, im = 0.0
                    for k in 0..<plan.length {
                        let at = (b * length + f * plan.step + k) * parts, w = window?[k] ?? 1
                        let (a, c) = (v[at] * w, parts == 2 ? v[at + 1] * w : 0)
                        let angle = -2 * Double.pi * Double(k * bin % plan.length) / Double(plan.length)
                        re += a * Foundation.cos(angle) - c * Foundation.sin(angle)
                        im += a * Foundation.sin(angle) + c * Foundation.cos(angle)
                    }
                    out[((b * plan.frames + f) * plan.bins + bin) * 2] = re
                    out[((b * plan.frames + f) * plan.bins + bin) * 2 + 1] = im
                }
            }
        }
        return [NDArray(x.elementType, shape: [batch, plan.frames, plan.bins, 2], values: out)]
    }

    /// The DFT's axis, length and directions; the signal's last axis holds 1 (real) or 2 (complex) values.
    struct DFTPlan {
        var axis: Int, length: Int, inverse: Bool, onesided: Bool
        var outputShape: [Int]

        init(_ ctx: InferenceContext) throws {
            let x = try ctx.shape(0)
            guard x.count >= 2, x.last == 1 || x.last == 2, try ctx.type(0).elementType.isFloatingPoint else {
                throw WhittleError(.shapeMismatch, "DFT takes a floating-point signal whose last axis is 1 (real) or 2 (complex), found \(Shape.describe(x))")
            }
            var axisValue = try ctx.int("axis", default: 1)
            if ctx.opset >= 20 {
                axisValue = ctx.has(2) ? try ctx.constantInts(2, what: "axis").first ?? -2 : -2
            }
            axis = ((axisValue % x.count) + x.count) % x.count
            guard axis < x.count - 1 else { throw WhittleError(.invalidAttribute, "the DFT axis cannot be the last (real/imaginary) axis") }
            inverse = try ctx.int("inverse", default: 0) != 0
            onesided = try ctx.int("onesided", default: 0) != 0
            if ctx.has(1) {
                let values = try ctx.constantInts(1, what: "dft_length")
                guard values.count == 1, values[0] > 0 else { throw WhittleError(.shapeMismatch, "dft_length must be one positive value") }
                length = values[0]
            } else {
                length = inverse && onesided ? 2 * (x[axis] - 1) : x[axis]
            }
            guard length > 0, length <= 1 << 20 else { throw WhittleError(.shapeMismatch, "the DFT length \(length) is out of range") }
            outputShape = x
            outputShape[axis] = !inverse && onesided ? length / 2 + 1 : length
            outputShape[x.count - 1] = inverse && onesided ? 1 : 2
        }
    }

    static let dft = OperatorDefinition("DFT", infer: { ctx in
        try ctx.expectInputs(1, 3)
        return [TensorType(try ctx.type(0).elementType, try DFTPlan(ctx).outputShape)]
    })

    /// Direct transforms in double precision, as NumPy's fft, ifft and irfft define them (truncated or
    /// zero-padded to the length; the inverse divides by it).
    static let dftKernel: Kernel = { ctx in
        let plan = try DFTPlan(ctx.node)
        let x = try ctx.input(0), v = x.doubles
        let parts = x.shape[x.rank - 1], size = x.shape[plan.axis]
        let outer = x.shape[..<plan.axis].reduce(1, *), inner = x.shape[(plan.axis + 1)..<(x.rank - 1)].reduce(1, *)
        let outParts = plan.outputShape[x.rank - 1], outSize = plan.outputShape[plan.axis], n = plan.length
        var out = [Double](repeating: 0, count: plan.outputShape.reduce(1, *))
        for o in 0..<outer {
            for i in 0..<inner {
                // The signal along the axis, as complex values (zero beyond its length).
                func value(_ k: Int) -> (Double, Double) {
                    guard k < size else { return (0, 0) }
                    let at = ((o * size + k) * inner + i) * parts
                    return (v[at], parts == 2 ? v[at + 1] : 0)
                }
                for f in 0..<outSize {
                    var re = 0.0, im = 0.0
                    if plan.inverse && plan.onesided {
                        // irfft: the spectrum's first n/2 + 1 values, extended by Hermitian symmetry.
                        for k in 0..<n {
                            let mirrored = k <= n / 2 ? k : n - k
                            var (a, b) = value(mirrored)
                            if k > n / 2 { b = -b }
                            if k == 0 || (n % 2 == 0 && k == n / 2) { b = 0 }
                            let angle = 2 * Double.pi * Double(k * f % n) / Double(n)
                            re += a * Foundation.cos(angle) - b * Foundation.sin(angle)
                        }
                        re /= Double(n)
                    } else {
                        let sign = plan.inverse ? 1.0 : -1.0
                        for k in 0..<Swift.min(n, size) {
                            let (a, b) = value(k)
                            let angle = sign * 2 * Double.pi * Double(k * f % n) / Double(n)
                            re += a * Foundation.cos(angle) - b * Foundation.sin(angle)
                            im += a * Foundation.sin(angle) + b * Foundation.cos(angle)
                        }
                        if plan.inverse { re /= Double(n); im /= Double(n) }
                    }
                    let at = ((o * outSize + f) * inner + i) * outParts
                    out[at] = re
                    if outParts == 2 { out[at + 1] = im }
                }
            }
        }
        return [NDArray(x.elementType, shape: plan.outputShape, values: out)]
    }

    static func outputType(_ ctx: InferenceContext) throws -> ElementType {
        let type = try ctx.elementType("output_datatype") ?? .float
        guard type.isSupported, type != .string else { throw WhittleError(.unsupported, "output_datatype \(type.name) is not supported") }
        return type
    }

    /// A window of `size` values; `periodic` (default 1) divides by the size instead of size − 1.
    static func windowSize(_ ctx: InferenceContext) throws -> Int {
        let values = try ctx.constantInts(0, what: "size")
        guard values.count == 1, values[0] >= 0, values[0] <= 1 << 24 else {
            throw WhittleError(.shapeMismatch, "size must be one value between 0 and 2^24")
        }
        return values[0]
    }

    static func window(_ name: String, _ value: @escaping @Sendable (Double, Double) -> Double) -> OperatorDefinition {
        OperatorDefinition(name, infer: { ctx in
            try ctx.expectInputs(1, 1)
            return [TensorType(try outputType(ctx), [try windowSize(ctx)])]
        }, fold: { ctx in
            let n = try windowSize(ctx)
            let count = Double(try ctx.int("periodic", default: 1) != 0 ? n : n - 1)
            return [try NDArray(try outputType(ctx), shape: [n], values: (0..<n).map { value(Double($0), count) }).tensor()]
        })
    }

    /// Triangular mel filters: [dft_length / 2 + 1, num_mel_bins], as ONNX defines them.
    static let melWeightMatrix = OperatorDefinition("MelWeightMatrix", infer: { ctx in
        try ctx.expectInputs(5, 5)
        let bins = try ctx.constantInts(0, what: "num_mel_bins"), length = try ctx.constantInts(1, what: "dft_length")
        guard bins.count == 1, length.count == 1, bins[0] > 0, length[0] > 0, bins[0] <= 1 << 16, length[0] <= 1 << 24 else {
            throw WhittleError(.shapeMismatch, "num_mel_bins and dft_length must be positive scalars")
        }
        return [TensorType(try outputType(ctx), [length[0] / 2 + 1, bins[0]])]
    }, fold: { ctx in
        guard let rate = ctx.value(2)?.doubles().first, let low = ctx.value(3)?.doubles().first,
              let high = ctx.value(4)?.doubles().first else { return nil }
        let bins = try ctx.constantInts(0, what: "num_mel_bins")[0], length = try ctx.constantInts(1, what: "dft_length")[0]
        let rows = length / 2 + 1
        guard rate > 0 else { throw WhittleError(.shapeMismatch, "sample_rate must be positive") }
        let lowMel = 2595 * Foundation.log1p(low / 700) / Foundation.log(10.0)
        let highMel = 2595 * Foundation.log1p(high / 700) / Foundation.log(10.0)
        let step = (highMel - lowMel) / Double(bins + 2)
        let edges = (0..<(bins + 2)).map { i -> Int in
            let hertz = 700 * Foundation.expm1((Double(i) * step + lowMel) / 2595 * Foundation.log(10.0))
            return Int(clamping: Int64(((Double(length + 1) * hertz) / rate).rounded(.down)))
        }
        var out = [Double](repeating: 0, count: rows * bins)
        func set(_ j: Int, _ i: Int, _ v: Double) throws {
            guard j >= 0, j < rows else { throw WhittleError(.shapeMismatch, "a mel filter edge falls outside the \(rows) spectrogram bins") }
            out[j * bins + i] = v
        }
        for i in 0..<bins {
            let (left, center, right) = (edges[i], edges[i + 1], edges[i + 2])
            if center == left {
                try set(center, i, 1)
            } else if center > left {
                for j in left...center { try set(j, i, Double(j - left) / Double(center - left)) }
            }
            if right > center {
                for j in center..<right { try set(j, i, Double(right - j) / Double(right - center)) }
            }
        }
        return [try NDArray(try outputType(ctx), shape: [rows, bins], values: out).tensor()]
    })
}
