import Foundation
import WhittleBinarization
import WhittleIR
import WhittlePruning

/// The compression a model gets before it is compiled, always in one order: a distillation
/// recipe, then pruning, then binarization, then int8 quantization.
///
/// Pruning comes first because zeros stay zeros through symmetric weight quantization;
/// binarization works on float weights, and quantization calibrates what is left.
public struct CompressionPipeline: Sendable {
    public var recipe: RecipeRequest?
    public var pruning: PruningRequest?
    public var binarization: BinarizationRequest?
    public var quantization: QuantizationRequest?

    public init(recipe: RecipeRequest? = nil, pruning: PruningRequest? = nil, binarization: BinarizationRequest? = nil,
                quantization: QuantizationRequest? = nil) {
        self.recipe = recipe
        self.pruning = pruning
        self.binarization = binarization
        self.quantization = quantization
    }

    /// Applies each step asked for, in order; errors name the model file.
    public func run(_ analyzed: AnalyzedModel, progress: @escaping (String, Int, Int) -> Void = { _, _, _ in }) throws -> CompressionOutcome {
        var outcome = CompressionOutcome(analyzed: analyzed)
        if let recipe {
            let (student, line) = try Self.apply(recipe, to: outcome.analyzed)
            outcome.analyzed = student
            outcome.lines.append(line)
        }
        if let pruning {
            let pruned = try Self.prune(outcome.analyzed, pruning)
            outcome.analyzed = pruned.analyzed
            outcome.lines.append(pruned.summary)
            outcome.pruning = pruned
        }
        if let binarization {
            let (binarized, layers) = try Self.binarize(outcome.analyzed, binarization)
            outcome.analyzed = binarized
            outcome.lines.append("binarized \(layers.count) layers (\(binarization.options.activations) inputs)")
            outcome.binarized = layers
        }
        if let quantization {
            let (result, samples) = try ModelQuantizer.quantize(outcome.analyzed, calibration: quantization.calibration, map: quantization.map,
                                                                options: quantization.options, progress: progress)
            outcome.analyzed = try ModelLoader.analyze(result.model, path: analyzed.path)
            outcome.lines.append("quantized \(result.values.count) tensors to int8 (calibration: \(samples.count) samples of \(samples.path))")
            outcome.quantization = result
        }
        return outcome
    }

    /// Prunes single weights by magnitude, or whole channels.
    public static func prune(_ analyzed: AnalyzedModel, _ request: PruningRequest) throws -> PruningOutcome {
        do {
            if let criterion = request.channels {
                guard request.options.scope == .layer else {
                    throw WhittleError(.usage, "channel pruning takes one sparsity per layer, not one global threshold", setting: .sparsity)
                }
                let (model, groups) = try ChannelPruner.prune(analyzed.model, options: request.options, criterion: criterion)
                return PruningOutcome(analyzed: try ModelLoader.analyze(model, path: analyzed.path), layers: [], groups: groups)
            }
            let (model, layers) = try MagnitudePruner.prune(analyzed.model, options: request.options)
            return PruningOutcome(analyzed: try ModelLoader.analyze(model, path: analyzed.path), layers: layers, groups: nil)
        } catch let error as WhittleError {
            throw error.inFile(analyzed.path)
        }
    }

    /// Binarizes; β comes from up to 100 samples of the request's calibration data, or of `samples`.
    public static func binarize(_ analyzed: AnalyzedModel, _ request: BinarizationRequest,
                                samples given: SampleSet? = nil) throws -> (AnalyzedModel, [BinarizedLayer]) {
        do {
            let set = try request.calibration.map { try SampleSet(path: $0, graph: analyzed.graph) } ?? given
            let samples = try set.map { set in try (0..<min(set.count, 100)).map { try set.sample($0) } } ?? []
            let (model, layers) = try Binarizer.binarize(analyzed.model, options: request.options, samples: samples)
            return (try ModelLoader.analyze(model, path: analyzed.path), layers)
        } catch let error as WhittleError {
            throw error.inFile(analyzed.path)
        }
    }

    /// The retrained student with the recorded compression applied again, and a line saying what was applied.
    public static func apply(_ request: RecipeRequest, to analyzed: AnalyzedModel) throws -> (AnalyzedModel, String) {
        let (recipe, masks) = try DistillationExport.loadRecipe(request.path)
        do {
            let baked = try TrainingForm.bake(analyzed.model, recipe: recipe, masks: masks)
            var result = try ModelLoader.analyze(baked, path: analyzed.path)
            let quantized = baked.graph.nodes.contains { $0.opType == "DequantizeLinear" }
            if let recalibration = request.recalibration {
                guard !quantized else {
                    throw WhittleError(.usage, "this student carries its quantization parameters; recalibrating needs a float student")
                }
                let (q, _) = try ModelQuantizer.quantize(result, calibration: recalibration)
                result = try ModelLoader.analyze(q.model, path: analyzed.path)
            } else if !recipe.quantized.isEmpty && !quantized {
                throw WhittleError(.usage, "the recipe quantizes to int8 but the model has no QuantizeLinear/DequantizeLinear; "
                                   + "give calibration samples to quantize it afresh")
            }
            return (result, "applied \(request.path): \(recipe.masks.count) masks, \(recipe.quantized.count) int8 weights, "
                            + "\(recipe.binarized.count) binarized layers")
        } catch let error as WhittleError {
            throw error.inFile(analyzed.path)
        }
    }
}

/// What pruning did: the model to continue with, and its unstructured or structured table.
public struct PruningOutcome: Sendable {
    public var analyzed: AnalyzedModel
    public var layers: [PrunedLayer]
    public var groups: [ChannelGroup]?

    /// The layers whose weights were pruned one by one (by node name).
    public var prunedLayers: Set<String> { Set(layers.filter { $0.zerosAfter > $0.zerosBefore }.map(\.node)) }

    /// One line for a log.
    public var summary: String {
        if let groups {
            let before = groups.map(\.channelsBefore).reduce(0, +), after = groups.map(\.channelsAfter).reduce(0, +)
            return "pruned \(before - after) of \(before) channels in \(groups.filter { $0.keptBecause == nil }.count) of \(groups.count) channel groups"
        }
        let zeros = layers.map(\.zerosAfter).reduce(0, +), total = layers.map(\.elements).reduce(0, +)
        return String(format: "pruned %d of %d prunable weights (%.1f %%)", zeros, total, Double(zeros) / Double(max(total, 1)) * 100)
    }
}

/// What a compression pipeline did, step by step.
public struct CompressionOutcome: Sendable {
    public var analyzed: AnalyzedModel
    /// One line per step taken, for a log.
    public var lines: [String] = []
    public var pruning: PruningOutcome?
    public var binarized: [BinarizedLayer] = []
    public var quantization: QuantizationResult?
}
