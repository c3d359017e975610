import Foundation
import WhittleInterpreter
import WhittleIR
import WhittlePruning

/// How much each layer alone can be pruned: every prunable layer is pruned by itself at a few
/// sparsities and the model's first output compared with the original's on the samples, so the
/// layers that tolerate pruning (and those to keep dense or prune less) stand out before flashing.
public struct PruningSensitivity: Codable, Sendable {
    public struct Row: Codable, Sendable {
        public var node: String
        public var op: String
        public var weights: Int
        /// Output SQNR (dB) at each level; nil when the output is unchanged.
        public var sqnrDecibels: [Double?]
        /// Top-1 accuracy at each level, with labels.
        public var top1: [Double]?
    }

    public var levels: [Double]
    public var samples: Int
    public var rows: [Row]

    public static func measure(_ analyzed: AnalyzedModel, levels: [Double] = [0.5, 0.7, 0.8, 0.9], samples: SampleSet, labels: [Int]?,
                               maxSamples: Int = 100, progress: (String, Int, Int) -> Void = { _, _, _ in }) throws -> PruningSensitivity {
        let count = min(samples.count, maxSamples)
        let inputs = try (0..<count).map { try samples.sample($0) }
        let output = analyzed.graph.outputs[0].name
        let original = try Interpreter(model: analyzed.model, inference: analyzed.inference)
        let references = try inputs.map { try original.run($0)[output]?.floats ?? [] }
        let layers = try MagnitudePruner.prune(analyzed.model, options: PruningOptions(sparsity: 0, keep: [])).layers
        var rows: [Row] = []
        for (k, layer) in layers.enumerated() {
            var sqnr: [Double?] = [], top1: [Double] = []
            for level in levels {
                let model = try MagnitudePruner.prune(analyzed.model, options: PruningOptions(sparsity: 0, layers: [layer.node: level], keep: [])).model
                let pruned = try ModelLoader.analyze(model, path: analyzed.path)
                let run = try Interpreter(model: pruned.model, inference: pruned.inference)
                var error = ErrorAccumulator(), correct = 0
                for (i, input) in inputs.enumerated() {
                    guard let value = try run.run(input)[output] else { continue }
                    error.add(reference: references[i], actual: value.doubles)
                    if let labels, argmax(value.doubles) == labels[i] { correct += 1 }
                }
                sqnr.append(error.result.sqnrDecibels)
                top1.append(Double(correct) / Double(max(count, 1)))
            }
            rows.append(Row(node: layer.node, op: layer.op, weights: layer.elements, sqnrDecibels: sqnr, top1: labels == nil ? nil : top1))
            progress("sensitivity", k + 1, layers.count)
        }
        return PruningSensitivity(levels: levels, samples: count, rows: rows)
    }

    public var text: String {
        let percent = levels.map { String(format: "%.0f %%", $0 * 100) }
        var header = ["node", "op", "weights"] + percent.map { "SQNR at \($0)" }
        if rows.first?.top1 != nil { header += percent.map { "top-1 at \($0)" } }
        let body = rows.map { row -> [String] in
            var cells = [row.node, row.op, String(row.weights)] + row.sqnrDecibels.map { $0.map { String(format: "%.1f dB", $0) } ?? "exact" }
            if let top1 = row.top1 { cells += top1.map { String(format: "%.2f %%", $0 * 100) } }
            return cells
        }
        let title = "sensitivity (each layer pruned alone; the first output against the original's on \(samples) samples):"
        return ([title] + QuantizationReport.table(header, body)).joined(separator: "\n") + "\n"
    }
}
