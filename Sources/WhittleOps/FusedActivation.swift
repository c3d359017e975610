import Foundation
import WhittleIR

/// The activations a kernel can apply as it stores each result: one vocabulary for the pass that fuses
/// them, the interpreter that applies them and the C back end that writes them (each an exhaustive
/// `switch`, so a new case cannot be half supported).
public enum ActivationKind: String, Sendable, CaseIterable {
    case relu = "Relu", clip = "Clip", leakyRelu = "LeakyRelu", sigmoid = "Sigmoid", hardSwish = "HardSwish", tanh = "Tanh"
}

/// The activation a pass fused into a node (``WhittleAttribute/activation``), applied by the interpreter
/// and emitted by the C back end.
public struct FusedActivation: Sendable, Equatable {
    public var kind: ActivationKind
    public var alpha: Float
    public var low: Float
    public var high: Float

    /// The node's fused activation, if it has one.
    public init?(_ node: Node) {
        guard case .string(let name)? = node.attributes[WhittleAttribute.activation], let kind = ActivationKind(rawValue: name) else { return nil }
        func value(_ key: String, _ fallback: Float) -> Float {
            if case .float(let v)? = node.attributes[key] { return v }
            return fallback
        }
        self.kind = kind
        alpha = value(WhittleAttribute.activationAlpha, 0.01)
        low = value(WhittleAttribute.activationMin, -.infinity)
        high = value(WhittleAttribute.activationMax, .infinity)
    }

    /// The activation applied to one float32 value, as the unfused operator computes it.
    public func apply(_ x: Float) -> Float {
        switch kind {
        case .relu: return x < 0 ? 0 : x  // NaN stays NaN
        case .clip: return x.isNaN ? x : Swift.min(Swift.max(x, low), high)
        case .leakyRelu: return x < 0 ? alpha * x : x
        case .sigmoid: return Float(1 / (1 + Foundation.exp(-Double(x))))
        case .tanh: return Float(Foundation.tanh(Double(x)))
        case .hardSwish: return Float(Double(x) * Swift.max(0, Swift.min(1, Double(x) / 6 + 0.5)))
        }
    }
}
