/// Attributes Whittle adds to ONNX nodes. They are not ONNX attributes, so every
/// name carries the `whittle_` prefix.
public enum WhittleAttribute {
    /// An activation fused into the node's output: "Relu", "Clip", "LeakyRelu", "Sigmoid", "HardSwish", "Tanh".
    public static let activation = "whittle_activation"
    /// Its parameters: alpha (LeakyRelu) or the Clip bounds.
    public static let activationAlpha = "whittle_activation_alpha"
    public static let activationMin = "whittle_activation_min"
    public static let activationMax = "whittle_activation_max"
    /// Integer bounds on the output of a fused integer operator (QLinearConv, QGemm, QLinearAdd): the
    /// Relu or Clip that followed it, as quantized values. Quantization is monotonic, so clamping the
    /// quantized output to Q(min) and Q(max) is exactly Q(Clip(y)); 16-bit activations, symmetric
    /// with zero point 0, cannot get their Relu from saturation as 8-bit ones do.
    public static let clampLow = "whittle_clamp_low"
    public static let clampHigh = "whittle_clamp_high"
    /// 1 on a Reshape/Flatten/Squeeze/Unsqueeze whose output shares its input's memory.
    public static let alias = "whittle_alias"
}

extension Node {
    /// The range a fused integer operator's output is saturated to: its type's, narrowed by the
    /// bounds of a fused activation (``WhittleAttribute/clampLow``, ``WhittleAttribute/clampHigh``).
    public func quantizedOutputBounds(_ type: ElementType) -> (low: Int64, high: Int64) {
        let (low, high) = type.integerRange
        var bounds = (low: Int64(low), high: Int64(high))
        if case .int(let v)? = attributes[WhittleAttribute.clampLow] { bounds.low = Swift.max(bounds.low, Int64(v)) }
        if case .int(let v)? = attributes[WhittleAttribute.clampHigh] { bounds.high = Swift.min(bounds.high, Int64(v)) }
        return bounds
    }
}
