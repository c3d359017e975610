import Foundation
import WhittleInterpreter
import WhittleIR
import WhittleOps
import WhittlePruning

/// What `whittle prune` did: per-layer sparsity, the weight bytes of the compiled C before and
/// after (sparse kernels where they pay), and with data the pruned model against the original.
public struct PruningReport: Codable, Sendable {
    public var layers: [PrunedLayer]
    /// Per pruned layer (same order): MACs, and weight bytes in C dense and as stored (sparse where chosen).
    public var layerCosts: [LayerCost] = []

    public struct LayerCost: Codable, Sendable {
        public var macs: Int
        /// MACs with a nonzero weight.
        public var nonzeroMacs: Int
        public var denseBytes: Int?
        public var storedBytes: Int?
    }
    /// Structured pruning: the channel groups, and what each lost or why it was kept.
    public var groups: [ChannelPruner.Group]?
    /// Parameters (initializer elements) and MACs per inference of the original and pruned models.
    public var parametersBefore = 0
    public var parametersAfter = 0
    public var macsBefore = 0
    public var macsAfter = 0
    /// Prunable weights in all layers, and how many are zero after pruning.
    public var prunableWeights: Int
    public var zeroWeights: Int
    /// Weight bytes of the emitted C (NAME_weights.c) for the original and the pruned model.
    public var denseWeightBytes: Int
    public var prunedWeightBytes: Int
    public var sparseLayers: Int
    public var dataset: String?
    public var samples: Int?
    public var outputs: [QuantizationReport.Output]?
    public var accuracy: Accuracy?

    public struct Accuracy: Codable, Sendable {
        public var samples: Int
        public var denseTop1: Double
        public var prunedTop1: Double
    }

    /// Compiles both models for the weight bytes and, with samples, runs both with the interpreter.
    public static func evaluate(original: AnalyzedModel, pruned: Model, layers: [PrunedLayer], groups: [ChannelPruner.Group]? = nil,
                                samples: SampleSet?, labels: [Int]?,
                                progress: (String, Int, Int) -> Void = { _, _, _ in }) throws -> PruningReport {
        let prunedAnalyzed = try ModelLoader.analyze(pruned, path: original.path)
        let dense = try ModelCompiler.compile(original).bundle
        let sparse = try ModelCompiler.compile(prunedAnalyzed).bundle
        var report = PruningReport(layers: layers, prunableWeights: layers.map(\.elements).reduce(0, +),
                                   zeroWeights: layers.map(\.zerosAfter).reduce(0, +), denseWeightBytes: dense.weightBytes,
                                   prunedWeightBytes: sparse.weightBytes,
                                   sparseLayers: sparse.layers.filter { $0.choice.weightForm?.sparse == true }.count)
        report.groups = groups
        let stored = Dictionary(sparse.layers.compactMap { l in l.weightBytes.map { (l.name, $0) } }) { a, _ in a }
        report.layerCosts = layers.map { layer in
            let index = original.graph.nodes.firstIndex { $0.name == layer.node }
            let macs = index.map { $0 < original.inference.macs.count ? original.inference.macs[$0] : 0 } ?? 0
            let density = 1 - layer.sparsityAfter
            return LayerCost(macs: macs, nonzeroMacs: Int((Double(macs) * density).rounded()),
                             denseBytes: stored[layer.node]?.dense, storedBytes: stored[layer.node]?.stored)
        }
        let parameters = { (graph: Graph) in graph.initializers.values.reduce(0) { $0 + $1.count } }
        report.parametersBefore = parameters(original.graph)
        report.parametersAfter = parameters(prunedAnalyzed.graph)
        report.macsBefore = original.inference.macs.reduce(0, +)
        report.macsAfter = prunedAnalyzed.inference.macs.reduce(0, +)
        guard let samples else { return report }
        let comparison = try ModelComparison.compare(original, prunedAnalyzed, samples: samples, labels: labels, progress: progress)
        report.dataset = samples.path
        report.samples = samples.count
        report.outputs = comparison.outputs
        report.accuracy = comparison.top1.map { Accuracy(samples: samples.count, denseTop1: $0.original, prunedTop1: $0.changed) }
        return report
    }

    /// The report as aligned text.
    public var text: String {
        var lines: [String] = []
        if let groups {
            lines.append("parameters: \(parametersBefore) -> \(parametersAfter), MACs: \(macsBefore) -> \(macsAfter)")
            lines.append("weights in C: \(denseWeightBytes) B -> \(prunedWeightBytes) B")
            lines.append("")
            lines += QuantizationReport.table(["layers", "channels", "kept because"], groups.map {
                [$0.layers.joined(separator: " + "), "\($0.channelsBefore) -> \($0.channelsAfter)", $0.keptBecause ?? ""]
            })
        } else {
            let share = Double(zeroWeights) / Double(max(prunableWeights, 1)) * 100
            lines.append(String(format: "prunable weights: %d, zero after pruning: %d (%.1f %%)", prunableWeights, zeroWeights, share))
            lines.append("weights in C: \(denseWeightBytes) B dense -> \(prunedWeightBytes) B (\(sparseLayers) layers sparse)")
            lines.append("")
            let macs = layerCosts.map(\.macs).reduce(0, +), nonzero = layerCosts.map(\.nonzeroMacs).reduce(0, +)
            lines.insert("MACs of these layers: \(macs), with a nonzero weight: \(nonzero)", at: 2)
            lines += QuantizationReport.table(["node", "op", "weights", "target", "zeros before", "zeros after", "sparsity", "MACs (nonzero)", "C bytes"],
                                              layers.indices.map { i in
                let l = layers[i], cost = i < layerCosts.count ? layerCosts[i] : nil
                let bytes = cost.flatMap { c in c.denseBytes.map { "\($0) -> \(c.storedBytes ?? $0)" } } ?? "dense"
                return [l.node, l.op, String(l.elements), l.target.map { String(format: "%.2f", $0) } ?? "kept", String(l.zerosBefore),
                        String(l.zerosAfter), String(format: "%.1f %%", l.sparsityAfter * 100),
                        cost.map { "\($0.macs) (\($0.nonzeroMacs))" } ?? "", bytes]
            })
        }
        if let outputs, let dataset, let samples {
            lines += ["", "evaluated on \(dataset) (\(samples) samples), pruned vs original:"]
            lines += QuantizationReport.table(["output", "SQNR (dB)", "max abs error"], outputs.map {
                [$0.name, $0.error.sqnrDecibels.map { String(format: "%.1f", $0) } ?? "exact", String(format: "%.6g", $0.error.maxAbsError)]
            })
        }
        if let accuracy {
            lines.append("")
            lines.append(String(format: "top-1 accuracy: original %.2f %%, pruned %.2f %% (%+.2f pp) on %d labelled samples",
                                accuracy.denseTop1 * 100, accuracy.prunedTop1 * 100, (accuracy.prunedTop1 - accuracy.denseTop1) * 100,
                                accuracy.samples))
        }
        return lines.joined(separator: "\n") + "\n"
    }
}
