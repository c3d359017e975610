import Foundation
import WhittleInterpreter
import WhittleIR
import WhittlePruning

/// Picks a sparsity per layer from the sensitivity table so that the pruned model meets a goal:
/// a top-1 accuracy on the samples, or a weight size of the emitted C. Greedy: the next step is
/// the one that removes the most weights for the least damage, where damage is the output noise
/// the layer caused alone at that sparsity; for an accuracy goal each step is checked on the
/// samples with the whole model and a layer whose step costs too much is frozen.
public enum PruningSearch {
    public enum Goal: Sendable {
        /// Top-1 accuracy (0…1) on the labelled samples.
        case accuracy(Double)
        /// Bytes of weights in the emitted C (sparse where it pays).
        case weightBytes(Int)
    }

    public struct Choice: Sendable {
        public var sparsity: [String: Double]
        /// The accuracy (accuracy goal) or weight bytes (size goal) reached.
        public var reached: Double
    }

    public static func choose(_ analyzed: AnalyzedModel, table: PruningSensitivity, goal: Goal, samples: SampleSet, labels: [Int]?,
                              keep: Set<String>?, progress: (String, Int, Int) -> Void = { _, _, _ in }) throws -> Choice {
        let steps = [0] + table.levels
        let rows = table.rows
        let kept = keep ?? Set([rows.first?.node, rows.last?.node].compactMap { $0 })
        var level = [Int](repeating: 0, count: rows.count), frozen = Set(rows.indices.filter { kept.contains(rows[$0].node) })
        func choice() -> [String: Double] {
            Dictionary(uniqueKeysWithValues: rows.indices.filter { !kept.contains(rows[$0].node) }.map { (rows[$0].node, steps[level[$0]]) })
        }
        func prune() throws -> AnalyzedModel {
            let model = try MagnitudePruner.prune(analyzed.model, options: PruningOptions(sparsity: 0, layers: choice(), keep: kept)).model
            return try ModelLoader.analyze(model, path: analyzed.path)
        }
        /// Weights removed per unit of noise the layer caused alone at the next step.
        func score(_ r: Int) -> Double? {
            guard !frozen.contains(r), level[r] + 1 < steps.count else { return nil }
            let sqnr = rows[r].sqnrDecibels[level[r]] ?? 200
            let noise = pow(10, -sqnr / 10)
            return Double(rows[r].weights) * (steps[level[r] + 1] - steps[level[r]]) / max(noise, 1e-20)
        }
        switch goal {
        case .accuracy(let target):
            guard let labels else { throw WhittleError(.usage, "a target accuracy needs class labels", setting: .labels) }
            let count = min(samples.count, 100)
            let inputs = try (0..<count).map { try samples.sample($0) }
            func accuracy(_ model: AnalyzedModel) throws -> Double {
                let run = try Interpreter(model: model.model, inference: model.inference)
                let output = model.graph.outputs[0].name
                var correct = 0
                for (i, input) in inputs.enumerated() where argmax(try run.run(input)[output]?.doubles ?? []) == labels[i] { correct += 1 }
                return Double(correct) / Double(max(count, 1))
            }
            var reached = try accuracy(analyzed)
            guard reached >= target else {
                throw WhittleError(.usage, String(format: "the model itself reaches %.2f %% top-1 on these samples, below the target accuracy", reached * 100), setting: .targetAccuracy)
            }
            var tried = 0
            while let best = rows.indices.compactMap({ r in score(r).map { (r, $0) } }).max(by: { $0.1 < $1.1 }) {
                level[best.0] += 1
                let value = try accuracy(try prune())
                if value >= target { reached = value } else { level[best.0] -= 1; frozen.insert(best.0) }
                tried += 1
                progress("searching", tried, rows.count * (steps.count - 1))
            }
            return Choice(sparsity: choice(), reached: reached)
        case .weightBytes(let target):
            var bytes = try ModelCompiler.compile(analyzed).bundle.weightBytes
            var tried = 0
            while bytes > target, let best = rows.indices.compactMap({ r in score(r).map { (r, $0) } }).max(by: { $0.1 < $1.1 }) {
                level[best.0] += 1
                bytes = try ModelCompiler.compile(try prune()).bundle.weightBytes
                tried += 1
                progress("searching", tried, rows.count * (steps.count - 1))
            }
            guard bytes <= target else {
                throw WhittleError(.usage, "a target size of \(target) B cannot be reached: with every prunable layer at \(Int((steps.last ?? 0) * 100)) % the weights take \(bytes) B", setting: .targetSize)
            }
            return Choice(sparsity: choice(), reached: Double(bytes))
        }
    }
}
