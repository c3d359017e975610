import Foundation
import WhittleIR

/// Options of static post-training quantization.
public struct QuantizationOptions: Sendable {
    /// How calibration ranges are chosen.
    public var method: CalibrationMethod
    /// The activation type: int8 (TFLite's scheme, the default), uint8 (ONNX Runtime's default) or
    /// int16 (TFLite's 16×8 scheme: symmetric, zero point 0, with int8 weights).
    public var activationType: ElementType
    /// The convolution and matrix weights' type: int8 (the default) or int4 (W4A8: symmetric per
    /// channel in [−7, 7], each channel's clipping chosen for the least squared rounding error,
    /// written as int4 DequantizeLinear).
    public var weightType: ElementType
    /// With int4 weights, the layers (node names) kept at int8; nil for the first and the last
    /// layer with weights, which lose the most accuracy at 4 bits, and the grouped (depthwise)
    /// convolutions, which are sensitive and whose C keeps a byte per weight.
    public var int8Layers: Set<String>?
    /// Layers (node names) whose outputs take int16 activations in the 16×8 scheme while the rest of
    /// the model keeps `activationType` (mixed precision); a graph input read by one of them is int16 too.
    public var int16Layers: Set<String>

    public init(method: CalibrationMethod = .minMax, activationType: ElementType = .int8, weightType: ElementType = .int8,
                int8Layers: Set<String>? = nil, int16Layers: Set<String> = []) {
        self.method = method
        self.activationType = activationType
        self.weightType = weightType
        self.int8Layers = int8Layers
        self.int16Layers = int16Layers
    }
}

/// The scale and zero point of a per-tensor quantized activation: real = (q − zeroPoint) · scale.
public struct QuantizationParameters: Sendable, Equatable {
    public var scale: Float
    public var zeroPoint: Int64

    public init(scale: Float, zeroPoint: Int64) {
        self.scale = scale
        self.zeroPoint = zeroPoint
    }

    /// Asymmetric parameters whose grid spans `range` (which contains 0, so 0 is exact):
    /// scale = (high − low) / (qmax − qmin), zero point = qmin − round(low / scale).
    /// int16 activations are symmetric instead (TFLite's 16×8 scheme): zero point 0 and scale
    /// max(|low|, |high|) / 32767, so the kernels multiply the stored values as they are.
    public static func activation(_ range: ValueRange, type: ElementType) -> QuantizationParameters {
        if type == .int16 {
            var scale = Float(Swift.max(abs(range.low), abs(range.high)) / 32767)
            if !(scale > 0) || !scale.isFinite { scale = 1 }
            return QuantizationParameters(scale: scale, zeroPoint: 0)
        }
        let (qmin, qmax) = type.integerRange
        var scale = Float((range.high - range.low) / (qmax - qmin))
        if !(scale > 0) || !scale.isFinite { scale = 1 }
        let zero = (qmin - range.low / Double(scale)).rounded(.toNearestOrEven)
        return QuantizationParameters(scale: scale, zeroPoint: Int64(Swift.min(qmax, Swift.max(qmin, zero))))
    }

    /// Softmax outputs lie in [0, 1]: TFLite fixes scale 1/256 with the zero point at the type's minimum
    /// (−128 for int8, 0 for uint8), so 0 is exact and 1 saturates to 255/256.
    public static func softmaxOutput(type: ElementType) -> QuantizationParameters {
        QuantizationParameters(scale: 1.0 / 256.0, zeroPoint: Int64(type.integerRange.0))
    }

    /// The real value of integer `q`.
    public func dequantize(_ q: Int64) -> Double { Double(q - zeroPoint) * Double(scale) }
}

/// Symmetric per-channel int8 weights: zero point 0, range [−127, 127] (−128 unused, as TFLite requires,
/// so the product of two int8 values never needs the asymmetric corner case); with `bits` 4, the
/// same in [−7, 7].
struct ChannelWeights {
    var values: [Int64]
    var scales: [Float]

    /// Quantizes `weights` (row-major `shape`) along `axis`.
    init(_ weights: [Float], shape: [Int], axis: Int, bits: Int = 8) {
        let limit = Float((1 << (bits - 1)) - 1)
        let channels = shape[axis]
        let inner = shape[(axis + 1)...].reduce(1, *)
        var maxima = Array(repeating: Float(0), count: channels)
        for (i, w) in weights.enumerated() {
            let c = (i / inner) % channels
            maxima[c] = Swift.max(maxima[c], abs(w))
        }
        var scales = maxima.map { m in m > 0 && m.isFinite ? m / limit : 1 }
        if bits <= 4 {
            // With so few levels, the largest weight should not set the step alone: each channel takes
            // the clipping (from 100 % of its largest magnitude down to 50 %) whose rounding error
            // (squared, clipped weights included) is smallest.
            var rows = Array(repeating: [Float](), count: channels)
            for (i, w) in weights.enumerated() where w.isFinite { rows[(i / inner) % channels].append(w) }
            for c in 0..<channels where maxima[c] > 0 && maxima[c].isFinite {
                var best = (error: Double.infinity, scale: scales[c])
                for step in 0...20 {
                    let scale = maxima[c] * (1 - Float(step) * 0.025) / limit
                    var error = 0.0
                    for w in rows[c] {
                        let q = Swift.min(Double(limit), Swift.max(-Double(limit), (Double(w) / Double(scale)).rounded(.toNearestOrEven)))
                        error += (q * Double(scale) - Double(w)) * (q * Double(scale) - Double(w))
                    }
                    if error < best.error { best = (error, scale) }
                }
                scales[c] = best.scale
            }
        }
        self.scales = scales
        values = weights.enumerated().map { i, w in
            let q = (Double(w) / Double(scales[(i / inner) % channels])).rounded(.toNearestOrEven)
            return Int64(Swift.min(Double(limit), Swift.max(-Double(limit), q.isFinite ? q : 0)))
        }
    }
}

/// int32 biases with scale s_in · s_w[c] and zero point 0, so they add straight into the accumulator.
func quantizedBias(_ bias: [Float], inputScale: Float, weightScales: [Float]) -> (values: [Int64], scales: [Float]) {
    let scales = weightScales.map { inputScale * $0 }
    let values = bias.enumerated().map { c, b -> Int64 in
        let q = (Double(b) / Double(scales[c])).rounded(.toNearestOrEven)
        guard q.isFinite else { return 0 }
        return Int64(Swift.min(Double(Int32.max), Swift.max(Double(Int32.min), q)))
    }
    return (values, scales)
}
