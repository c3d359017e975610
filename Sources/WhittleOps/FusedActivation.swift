import Foundation
import WhittleIR

/// The activation a pass fused into a node (``WhittleAttribute/activation``), applied by the interpreter
/// and emitted by the C back end.
public struct FusedActivation: Sendable, Equatable {
    public var kind: String
    public var alpha: Float
    public var low: Float
    public var high: Float

    /// The node's fused activation, if it has one.
    public init?(_ node: Node) {
        guard case .string(let kind)? = node.attributes[WhittleAttribute.activation] else { return nil }
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
        case "Relu": return x < 0 ? 0 : x  // NaN stays NaN
        case "Clip": return x.isNaN ? x : Swift.min(Swift.max(x, low), high)
        case "LeakyRelu": return x < 0 ? alpha * x : x
        case "Sigmoid": return Float(1 / (1 + Foundation.exp(-Double(x))))
        case "Tanh": return Float(Foundation.tanh(Double(x)))
        case "HardSwish": return Float(Double(x) * Swift.max(0, Swift.min(1, Double(x) / 6 + 0.5)))
        default: return x
        }
    }
}
