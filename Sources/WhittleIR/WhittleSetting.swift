/// A setting a caller of Whittle's library chooses, as errors refer to it.
///
/// Library errors describe the problem in words ("the sparsity must be below 1") and carry the
/// setting, so that each front end can add its own name for it: the command line adds its flag,
/// an embedding program its field or parameter. The library itself never names a flag.
public enum WhittleSetting: String, Sendable, Equatable, CaseIterable {
    /// Static shapes for graph inputs.
    case inputShape
    /// Graph inputs frozen into constants.
    case binding
    /// The largest tensor the interpreter or shape inference may compute.
    case maxTensorBytes
    /// Which sample array feeds which graph input.
    case sampleMap
    /// Class labels for top-1 accuracy.
    case labels
    /// One input file of a run.
    case runInput
    /// How quantization ranges are calibrated.
    case calibrationMethod
    /// int8, uint8 or int16 activations.
    case activationType
    /// int8 or int4 weights.
    case weightType
    /// Layers whose activations are int16 in a model that is otherwise 8-bit.
    case int16Layers
    /// The share of weights pruning sets to zero.
    case sparsity
    /// Layers pruning leaves dense.
    case keptLayers
    /// The accuracy a pruning search must keep.
    case targetAccuracy
    /// The weight size a pruning search must reach.
    case targetSize
    /// The layers to binarize.
    case binarizedLayers
    /// Whether binarized layers also binarize their inputs.
    case binarizedActivations
    /// The teacher/student layer pairs of a distillation export.
    case layerMatch
    /// The distillation loss's temperature and mixing weight.
    case distillationLoss
    /// The RAM and flash budgets a compiled model must fit.
    case budget
    /// The passes after which the graph is printed.
    case dumpedPass
    /// How the weights are written (C initializers or a binary blob).
    case weightFormat
}
