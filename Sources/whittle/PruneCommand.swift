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

    /// The options, or nil when no pruning was asked for.
    func options() throws -> PruningOptions? {
        guard let sparsity else {
            if !layers.isEmpty || !keep.isEmpty || scope != "layer" {
                throw WhittleError(.usage, "--layers, --keep and --scope need --sparsity")
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

    /// Prunes `analyzed` when asked; returns the model to continue with and the layer table.
    func apply(_ analyzed: AnalyzedModel) throws -> (AnalyzedModel, [PrunedLayer])? {
        guard let options = try options() else { return nil }
        do {
            let (model, layers) = try MagnitudePruner.prune(analyzed.model, options: options)
            return (try ModelLoader.analyze(model, path: analyzed.path), layers)
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
            guard let (pruned, layers) = try pruning.apply(analyzed) else { return }
            do {
                try ONNXWriter.write(pruned.model, to: output)
            } catch let error as WhittleError {
                throw error.inFile(output)
            }
            print("wrote \(output)")
            let summary = try PruningReport.evaluate(original: analyzed, pruned: pruned.model, layers: layers, samples: samples,
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
