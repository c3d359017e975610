import Foundation
import WhittleIR
import WhittleQuantization

/// Pruning as asked: single weights by magnitude, or whole output channels.
public struct PruningRequest: Sendable {
    public var options: PruningOptions
    /// Remove whole output channels ranked by this norm (a smaller dense model) instead of single weights.
    public var channels: ChannelCriterion?

    public init(options: PruningOptions, channels: ChannelCriterion? = nil) {
        self.options = options
        self.channels = channels
    }
}

/// Binarization as asked; the input scales β come from up to 100 calibration samples when given.
public struct BinarizationRequest: Sendable {
    public var options: BinarizationOptions
    /// Samples (.npz) for β = mean |x|; without them β = 1.
    public var calibration: String?

    public init(options: BinarizationOptions, calibration: String? = nil) {
        self.options = options
        self.calibration = calibration
    }
}

/// Static int8 quantization calibrated on samples.
public struct QuantizationRequest: Sendable {
    /// The calibration samples (.npz, one array per input, first axis = samples).
    public var calibration: String
    /// Which archive array feeds which input, where names do not tell.
    public var map: [String: String]
    public var options: QuantizationOptions

    public init(calibration: String, map: [String: String] = [:], options: QuantizationOptions = .init()) {
        self.calibration = calibration
        self.map = map
        self.options = options
    }
}

/// The compression recorded by a distillation export, applied again to a retrained student.
public struct RecipeRequest: Sendable {
    /// The export's `distill.json`.
    public var path: String
    /// Quantize the retrained float student afresh on these samples (.npz).
    public var recalibration: String?

    public init(path: String, recalibration: String? = nil) {
        self.path = path
        self.recalibration = recalibration
    }
}
