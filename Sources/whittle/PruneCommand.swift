import ArgumentParser
import Foundation
import WhittleIR
import WhittleKit
import WhittleONNX
import WhittlePruning

/// The pruning choices shared by `prune` and `compile`.
struct PruningArguments: ParsableArguments {
    @Option(help: ArgumentHelp("Share of weights set to zero, from 0 up to (not including) 1.", valueName: "S"))
    var sparsity: Double?

    @Option(help: ArgumentHelp("layer: each layer loses that share (default); global: one magnitude threshold over all layers.",
                               valueName: "layer|global"))
    var scope = "layer"

    @Option(help: ArgumentHelp("Per-layer sparsity overrides, by node name (repeatable or comma-separated).", valueName: "NAME=S,..."))
    var layers: [String] = []

    @Option(help: ArgumentHelp("Layers left dense, or none (default: the first and the last prunable layer).", valueName: "NAME,...|none"))
    var keep: [String] = []

    @Option(help: ArgumentHelp("Remove whole output channels instead of single weights (a smaller dense model).", valueName: "channels"))
    var structured: String?

    @Option(help: ArgumentHelp("How channels are ranked for --structured: l1 or l2 norm of their weights (default l2).", valueName: "l1|l2"))
    var criterion: String?

    /// The options, or nil when no pruning was asked for.
    func options() throws -> PruningOptions? {
        guard let sparsity else {
            if !layers.isEmpty || !keep.isEmpty || scope != "layer" || structured != nil || criterion != nil {
                throw WhittleError(.usage, "--layers, --keep, --scope, --structured and --criterion need --sparsity")
            }
            return nil
        }
        guard let scope = PruningOptions.Scope(rawValue: scope) else { throw WhittleError(.usage, "--scope must be layer or global, not \"\(self.scope)\"") }
        var overrides: [String: Double] = [:]
        for item in layers.flatMap({ $0.split(separator: ",") }) {
            let parts = item.split(separator: "=", maxSplits: 1)
            guard parts.count == 2, let value = Double(parts[1]) else {
                throw WhittleError(.usage, "--layers takes NAME=S (for example conv1=0.5), not \"\(item)\"")
            }
            overrides[String(parts[0])] = value
        }
        let names = keep.flatMap { $0.split(separator: ",").map(String.init) }
        let kept: Set<String>? = names.isEmpty ? nil : names == ["none"] ? [] : Set(names)
        return PruningOptions(sparsity: sparsity, scope: scope, layers: overrides, keep: kept)
    }

    /// What pruning did: the model to continue with, and its unstructured or structured table.
    struct Outcome {
        var analyzed: AnalyzedModel
        var layers: [PrunedLayer]
        var groups: [ChannelPruner.Group]?

        /// One line for `compile`.
        var summary: String {
            if let groups {
                let before = groups.map(\.channelsBefore).reduce(0, +), after = groups.map(\.channelsAfter).reduce(0, +)
                return "pruned \(before - after) of \(before) channels in \(groups.filter { $0.keptBecause == nil }.count) of \(groups.count) channel groups"
            }
            let zeros = layers.map(\.zerosAfter).reduce(0, +), total = layers.map(\.elements).reduce(0, +)
            return String(format: "pruned %d of %d prunable weights (%.1f %%)", zeros, total, Double(zeros) / Double(max(total, 1)) * 100)
        }
    }

    /// Prunes `analyzed` when asked.
    func apply(_ analyzed: AnalyzedModel) throws -> Outcome? {
        guard let options = try options() else { return nil }
        if structured == nil, criterion != nil { throw WhittleError(.usage, "--criterion is used with --structured channels") }
        if let structured, structured != "channels" { throw WhittleError(.usage, "--structured supports channels, not \"\(structured)\"") }
        do {
            if structured != nil {
                guard options.scope == .layer else { throw WhittleError(.usage, "--scope global is for unstructured pruning") }
                guard let criterion = ChannelPruner.Criterion(rawValue: criterion ?? "l2") else {
                    throw WhittleError(.usage, "--criterion must be l1 or l2, not \"\(criterion ?? "")\"")
                }
                let (model, groups) = try ChannelPruner.prune(analyzed.model, options: options, criterion: criterion)
                return Outcome(analyzed: try ModelLoader.analyze(model, path: analyzed.path), layers: [], groups: groups)
            }
            let (model, layers) = try MagnitudePruner.prune(analyzed.model, options: options)
            return Outcome(analyzed: try ModelLoader.analyze(model, path: analyzed.path), layers: layers, groups: nil)
        } catch let error as WhittleError {
            throw error.inFile(analyzed.path)
        }
    }
}

struct Prune: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Prune a model's Conv/Gemm/MatMul weights by magnitude; writes a standard ONNX model and a report."
    )

    @OptionGroup var model: ModelOptions

    @OptionGroup var pruning: PruningArguments

    @Option(name: .shortAndLong, help: ArgumentHelp("The pruned model to write.", valueName: "OUT.onnx"))
    var output: String

    @Option(help: ArgumentHelp("Samples to compare the pruned model with the original on.", valueName: "DATA.npz"))
    var data: String?

    @Option(help: ArgumentHelp("Class labels for top-1 accuracy: an array of the data .npz or a .npy file.", valueName: "KEY|FILE.npy"))
    var labels: String?

    @Option(name: .customLong("map"), help: ArgumentHelp("Which array of the .npz feeds an input (repeatable).", valueName: "INPUT=KEY"))
    var map: [String] = []

    @Option(help: ArgumentHelp("Also write the report as JSON.", valueName: "FILE.json"))
    var report: String?

    @Flag(help: "Also prune each layer alone at 50, 70 and 90 % and compare the output on --data (first 100 samples).")
    var sensitivity = false

    func run() throws {
        try reportingErrors {
            guard pruning.sparsity != nil else { throw WhittleError(.usage, "prune needs --sparsity S") }
            if sensitivity && data == nil { throw WhittleError(.usage, "--sensitivity needs --data") }
            let analyzed = try model.load()
            // The data and labels are checked before any work.
            let samples: SampleSet?, labelValues: [Int]?
            do {
                samples = try data.map { try SampleSet(path: $0, graph: analyzed.graph, explicit: try ModelQuantizer.parseMap(map)) }
                if labels != nil && samples == nil { throw WhittleError(.usage, "--labels needs --data") }
                labelValues = try labels.flatMap { label in try samples?.labels(label) }
            } catch let error as WhittleError {
                throw error.inFile(analyzed.path)
            }
            guard let outcome = try pruning.apply(analyzed) else { return }
            do {
                try ONNXWriter.write(outcome.analyzed.model, to: output)
            } catch let error as WhittleError {
                throw error.inFile(output)
            }
            print("wrote \(output)")
            let summary = try PruningReport.evaluate(original: analyzed, pruned: outcome.analyzed.model, layers: outcome.layers,
                                                     groups: outcome.groups, samples: samples,
                                                     labels: labelValues, progress: ProgressBar.standardError())
            print(summary.text, terminator: "")
            if sensitivity, let samples {
                let table = try PruningSensitivity.measure(analyzed, samples: samples, labels: labelValues, progress: ProgressBar.standardError())
                print("")
                print(table.text, terminator: "")
            }
            if let report {
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
                guard FileManager.default.createFile(atPath: report, contents: try encoder.encode(summary) + Data("\n".utf8)) else {
                    throw WhittleError(.io, "cannot write \(report)")
                }
            }
        }
    }
}
