import ArgumentParser
import Foundation
import WhittleKit

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

    @Option(help: ArgumentHelp("Instead of --sparsity: at most N nonzero weights in every M consecutive taps of an output (2:4, 1:4 ...).",
                               valueName: "N:M"))
    var pattern: String?

    /// `--pattern N:M`, parsed.
    func parsedPattern() throws -> (n: Int, m: Int)? {
        guard let pattern else { return nil }
        let parts = pattern.split(separator: ":", omittingEmptySubsequences: false).map { Int($0) }
        guard parts.count == 2, let n = parts[0], let m = parts[1], n >= 1, n < m, m <= 256 else {
            throw ValidationError("--pattern takes N:M with 1 <= N < M <= 256 (for example 2:4), not \"\(pattern)\"")
        }
        return (n, m)
    }

    /// For compile and distill-export, where pruning is only asked for by --sparsity or --pattern.
    func requireSparsity() throws {
        if sparsity == nil && pattern == nil && (!layers.isEmpty || !keep.isEmpty || scope != "layer" || structured != nil || criterion != nil) {
            throw ValidationError("--layers, --keep, --scope, --structured and --criterion need --sparsity")
        }
    }

    func validate() throws {
        if try parsedPattern() != nil {
            if sparsity != nil { throw ValidationError("give --sparsity or --pattern, not both") }
            if structured != nil || !layers.isEmpty || scope != "layer" {
                throw ValidationError("--pattern prunes every layer alike: no --structured, --layers or --scope")
            }
        }
        guard PruningOptions.Scope(rawValue: scope) != nil else { throw ValidationError("--scope must be layer or global, not \"\(scope)\"") }
        _ = try overrides()
        if structured == nil, criterion != nil { throw ValidationError("--criterion is used with --structured channels") }
        if let structured, structured != "channels" { throw ValidationError("--structured supports channels, not \"\(structured)\"") }
        if structured != nil, scope != "layer" { throw ValidationError("--scope global is for unstructured pruning") }
        if let criterion, ChannelCriterion(rawValue: criterion) == nil { throw ValidationError("--criterion must be l1 or l2, not \"\(criterion)\"") }
    }

    /// `--layers NAME=S,...` by layer name.
    func overrides() throws -> [String: Double] {
        var overrides: [String: Double] = [:]
        for item in layers.flatMap({ $0.split(separator: ",") }) {
            let parts = item.split(separator: "=", maxSplits: 1)
            guard parts.count == 2, let value = Double(parts[1]) else {
                throw ValidationError("--layers takes NAME=S (for example conv1=0.5), not \"\(item)\"")
            }
            overrides[String(parts[0])] = value
        }
        return overrides
    }

    /// The request (after `validate`), or nil when no pruning was asked for.
    /// `chosen` replaces the sparsities with ones chosen per layer (by --target-accuracy/--target-size).
    func request(chosen: PruningOptions? = nil) throws -> PruningRequest? {
        let channels = structured == nil ? nil : ChannelCriterion(rawValue: criterion ?? "l2")
        if let chosen { return PruningRequest(options: chosen, channels: channels) }
        if let pattern = try parsedPattern() {
            return PruningRequest(options: PruningOptions(sparsity: Double(pattern.m - pattern.n) / Double(pattern.m), keep: keptLayers(),
                                                          pattern: pattern))
        }
        guard let sparsity else { return nil }
        let options = PruningOptions(sparsity: sparsity, scope: PruningOptions.Scope(rawValue: scope) ?? .layer,
                                     layers: try overrides(), keep: keptLayers())
        return PruningRequest(options: options, channels: channels)
    }

    /// `--keep`: nil for the default, empty for none.
    func keptLayers() -> Set<String>? {
        let names = keep.flatMap { $0.split(separator: ",").map(String.init) }
        return names.isEmpty ? nil : names == ["none"] ? [] : Set(names)
    }
}

struct Prune: ParsableCommand {
    /// The target given, if any.
    func goal() throws -> PruningSearch.Goal? {
        if targetAccuracy != nil && targetSize != nil { throw ValidationError("give --target-accuracy or --target-size, not both") }
        if let targetAccuracy {
            guard targetAccuracy > 0, targetAccuracy <= 1 else { throw ValidationError("--target-accuracy is a fraction in (0, 1], such as 0.98") }
            return .accuracy(targetAccuracy)
        }
        if let targetSize {
            do { return .weightBytes(try TargetBudget.parse(targetSize)) } catch let error as WhittleError { throw ValidationError("--target-size: \(error.reason)") }
        }
        return nil
    }

    func validate() throws {
        let goal = try self.goal()
        if goal == nil, pruning.sparsity == nil, pruning.pattern == nil {
            throw ValidationError("prune needs --sparsity S, --pattern N:M, --target-accuracy A or --target-size BYTES")
        }
        if goal != nil, pruning.sparsity != nil || pruning.pattern != nil { throw ValidationError("give one of --sparsity, --pattern and a target") }
        if goal != nil, pruning.structured != nil { throw ValidationError("--target-accuracy and --target-size choose unstructured sparsities") }
        if (analyze || goal != nil) && comparison.data == nil { throw ValidationError("--analyze, --target-accuracy and --target-size need --data") }
        if case .accuracy? = goal, comparison.labels == nil { throw ValidationError("--target-accuracy needs --labels") }
    }

    static let configuration = CommandConfiguration(
        abstract: "Prune a model's Conv/Gemm/MatMul weights by magnitude; writes a standard ONNX model and a report."
    )

    @OptionGroup var model: ModelOptions

    @OptionGroup var pruning: PruningArguments

    @Option(name: .shortAndLong, help: ArgumentHelp("The pruned model to write.", valueName: "OUT.onnx"))
    var output: String

    @OptionGroup var comparison: ComparisonData

    @Flag(help: "Sensitivity analysis: prune each layer alone at 50, 70, 80 and 90 % and compare the output on --data (first 100 samples).")
    var analyze = false

    @Option(name: .customLong("target-accuracy"),
            help: ArgumentHelp("Choose per-layer sparsities that keep this top-1 accuracy on --data (needs --labels).", valueName: "A (e.g. 0.98)"))
    var targetAccuracy: Double?

    @Option(name: .customLong("target-size"),
            help: ArgumentHelp("Choose per-layer sparsities so that the C weights take at most this many bytes.", valueName: "BYTES (e.g. 20K)"))
    var targetSize: String?

    func run() throws {
        try reportingErrors {
            let goal = try self.goal()
            let analyzed = try model.load()
            // The data and labels are checked before any work.
            let (samples, labelValues) = try comparison.load(for: analyzed)
            var table: PruningSensitivity?
            if analyze || goal != nil, let samples {
                table = try PruningSensitivity.measure(analyzed, samples: samples, labels: labelValues, progress: ProgressBar.standardError())
            }
            var chosen: PruningOptions?
            if let goal, let table, let samples {
                let keep = pruning.keptLayers()
                let choice = try PruningSearch.choose(analyzed, table: table, goal: goal, samples: samples, labels: labelValues, keep: keep,
                                                      progress: ProgressBar.standardError())
                switch goal {
                case .accuracy: print(String(format: "chosen for top-1 %.2f %% on the first %d samples:", choice.reached * 100, min(samples.count, 100)))
                case .weightBytes: print("chosen for \(Int(choice.reached)) B of weights in C:")
                }
                print(choice.sparsity.keys.sorted().map { String(format: "  %@=%.2f", $0, choice.sparsity[$0] ?? 0) }.joined(separator: "\n"))
                chosen = PruningOptions(sparsity: 0, layers: choice.sparsity, keep: keep)
            }
            guard let request = try pruning.request(chosen: chosen) else { return }
            let outcome = try CompressionPipeline.prune(analyzed, request)
            do {
                try ModelWriter.write(outcome.analyzed.model, to: output)
            } catch let error as WhittleError {
                throw error.inFile(output)
            }
            print("wrote \(output)")
            let summary = try PruningReport.evaluate(original: analyzed, pruned: outcome.analyzed.model, layers: outcome.layers,
                                                     groups: outcome.groups, samples: samples,
                                                     labels: labelValues, progress: ProgressBar.standardError())
            print(summary.text, terminator: "")
            if let table {
                print("")
                print(table.text, terminator: "")
            }
            try writeReport(summary, to: comparison.report)
            try HTMLReporting.writeIfAsked(comparison.reportHTML, title: "\(URL(fileURLWithPath: output).lastPathComponent): pruned",
                                           model: outcome.analyzed.model, source: output) { $0.addPruning(summary) }
        }
    }
}
