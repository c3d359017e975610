// The types a program that uses WhittleKit needs, so that it imports WhittleKit alone. The graph
// IR is re-exported whole: every WhittleKit API takes or returns its models, tensors and errors.
// From the other modules only the option and result types of WhittleKit's own API are named here;
// their work (passes, kernels, pruning, quantization) is reached through WhittleKit.
@_exported import WhittleIR
import WhittleBinarization
import WhittleCodegen
import WhittlePruning
import WhittleQuantization

/// How many weights to prune, by layer or globally (see ``CompressionPipeline``).
public typealias PruningOptions = WhittlePruning.PruningOptions
/// One layer's weights before and after unstructured pruning.
public typealias PrunedLayer = WhittlePruning.PrunedLayer
/// How output channels are ranked for structured pruning (l1 or l2 norm).
public typealias ChannelCriterion = WhittlePruning.ChannelPruner.Criterion
/// One group of layers whose output channels were pruned together.
public typealias ChannelGroup = WhittlePruning.ChannelPruner.Group
/// Which layers to binarize, and whether their inputs are binarized too.
public typealias BinarizationOptions = WhittleBinarization.BinarizationOptions
/// One binarized layer and its scales.
public typealias BinarizedLayer = WhittleBinarization.BinarizedLayer
/// The calibration method and activation type of int8 quantization.
public typealias QuantizationOptions = WhittleQuantization.QuantizationOptions
/// How quantization ranges are chosen (min/max, a percentile, entropy).
public typealias CalibrationMethod = WhittleQuantization.CalibrationMethod
/// A quantized model and its per-tensor parameters.
public typealias QuantizationResult = WhittleQuantization.QuantizationResult
/// When pruned weights are stored sparse in C.
public typealias SparsePolicy = WhittleCodegen.SparsePolicy
/// C initializers or a binary blob for the weights.
public typealias WeightFormat = WhittleCodegen.WeightFormat
/// Whittle's version, as written into every generated file.
public typealias WhittleVersion = WhittleCodegen.WhittleVersion
