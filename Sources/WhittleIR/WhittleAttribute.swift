/// Attributes Whittle adds to ONNX nodes. They are not ONNX attributes, so every
/// name carries the `whittle_` prefix.
public enum WhittleAttribute {
    /// An activation fused into the node's output: "Relu", "Clip", "LeakyRelu", "Sigmoid", "HardSwish", "Tanh".
    public static let activation = "whittle_activation"
    /// Its parameters: alpha (LeakyRelu) or the Clip bounds.
    public static let activationAlpha = "whittle_activation_alpha"
    public static let activationMin = "whittle_activation_min"
    public static let activationMax = "whittle_activation_max"
    /// 1 on a Reshape/Flatten/Squeeze/Unsqueeze whose output shares its input's memory.
    public static let alias = "whittle_alias"
}
