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
         melWeightMatrix]
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
