import ArgumentParser
import Foundation
import WhittleIR
import WhittleKit
import WhittlePasses
import WhittleBinarization
import WhittleCodegen

struct Compile: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Compile a model to standalone C99: NAME.h, NAME.c, the weights (NAME_weights.c, or NAME_weights.S and .bin) and a memory/weights report.",
        // The model and -o are required; they are optional to the parser only so that --list-passes works alone.
        usage: "whittle compile <model> --output <OUTDIR> [<options>]\nwhittle compile --list-passes"
    )

    @Argument(help: "The ONNX model file.")
    var model: String?

    @Option(name: .customLong("input-shape"), help: ArgumentHelp("Static shape for a graph input.", valueName: "NAME=D0,D1,..."))
    var inputShapes: [String] = []

    @Option(name: .customLong("bind"), help: ArgumentHelp("Freeze a graph input into a constant (a shape, axes, pads ...).",
                                                         valueName: "NAME=V0,V1,...|NAME=FILE.npy"))
    var bindings: [String] = []

    @Option(name: .shortAndLong, help: ArgumentHelp("Folder for the generated files.", valueName: "OUTDIR"))
    var output: String?

    @Option(help: ArgumentHelp("Prefix of the generated files and C symbols (default: the model file's name).", valueName: "NAME"))
    var name: String?

    @OptionGroup var targetOptions: TargetOptions

    @OptionGroup var passes: PassOptions

    @Option(help: ArgumentHelp("Quantize before compiling (needs --calibration).", valueName: "int8"))
    var quantize: String?

    @OptionGroup var calibration: CalibrationOptions

    @OptionGroup var pruning: PruningArguments

    @OptionGroup var binarization: BinarizeArguments

    @Option(help: ArgumentHelp("Re-apply the compression recorded by whittle distill-export to a retrained student.", valueName: "DIR/distill.json"))
    var recipe: String?

    @Option(help: ArgumentHelp("With --recipe: quantize the retrained float student afresh on these samples.", valueName: "DATA.npz"))
    var recalibrate: String?

    @Option(name: .customLong("report-html"), help: ArgumentHelp("Also write an HTML report (memory against the budget, arena, layers).", valueName: "FILE.html"))
    var reportHTML: String?

    @Flag(help: "Print each layer's kernel, weight form, scratch, whether it works in place, and why.")
    var explain = false

    func run() throws {
        if passes.listIfAsked() { return }
        try reportingErrors {
            guard let model, let output else { throw WhittleError(.usage, "compile needs MODEL.onnx and -o OUTDIR") }
            let target = try targetOptions.resolve()
            var analyzed = try ModelOptions.load(model, inputShapes, bindings: bindings)
            if let recipe {
                analyzed = try Self.applyRecipe(recipe, to: analyzed, recalibrate: recalibrate)
            } else if recalibrate != nil {
                throw WhittleError(.usage, "--recalibrate is used with --recipe")
            }
            let compression = try Self.compress(analyzed, pruning: pruning, binarization: binarization, calibration: calibration.calibration)
            analyzed = compression.analyzed
            for line in compression.lines { print(line) }
            if let quantize {
                guard quantize.lowercased() == "int8" else { throw WhittleError(.usage, "--quantize supports int8, not \"\(quantize)\"") }
                let (result, samples) = try calibration.quantize(analyzed)
                analyzed = try ModelLoader.analyze(result.model, path: model)
                print("quantized \(result.values.count) tensors to int8 (calibration: \(samples.count) samples of \(samples.path))")
            } else if calibration.calibration != nil && !binarization.binarize {
                throw WhittleError(.usage, "--calibration is only used with --quantize int8 or --binarize")
            }
            var options = try passes.compileOptions(name: name)
            options.adopt(target)
            let compiled = try ModelCompiler.compile(analyzed, options: options, progress: ProgressBar.standardError())
            for (pass, text) in compiled.dumps { print("== IR after \(pass)\n\(text)", terminator: "") }
            do {
                try TargetBudget.check(compiled, target: target, ram: try targetOptions.ram(), flash: try targetOptions.flash())
            } catch let error as WhittleError {
                throw error.inFile(model)
            }
            let files = try compiled.write(to: output, extra: compiled.buildSnippets(target: target).map { ($0.0, Data($0.1.utf8)) })
            if let reportHTML {
                var report = HTMLReport(title: "\(URL(fileURLWithPath: model).lastPathComponent) on \(target.name)")
                report.addCompiled(compiled, target: target, ram: try targetOptions.ram(), flash: try targetOptions.flash(),
                                   weightFormat: compiled.bundle.weightFormat)
                try HTMLReporting.write(report, to: reportHTML)
            }
            for note in compiled.notes { print("note: \(note)") }
            if explain { print(CompileReport(compiled).explanation(), terminator: "") }
            let plan = compiled.bundle.plan
            print("wrote \(files.map { URL(fileURLWithPath: $0).lastPathComponent }.joined(separator: ", ")) to \(output)")
            print("arena \(plan.arenaBytes) B (lower bound \(plan.lowerBound) B), weights \(compiled.bundle.weightBytes) B")
            if compiled.bundle.weightFormat == .binary && options.weightFormat == .auto {
                print("weights over \(WeightFormat.automaticLimit >> 20) MiB are written as \(compiled.bundle.name)_weights.bin, placed by "
                    + "\(compiled.bundle.name)_weights.S (assemble with -Wa,-I\(output), as the .mk and .cmake snippets do; --weights c for C initializers)")
            }
            let sparse = compiled.bundle.layers.filter { $0.choice.weightForm?.sparse == true }
            let withZeros = compiled.bundle.layers.filter { $0.weightForm != nil }.count
            if !sparse.isEmpty {
                print("sparse weights in \(sparse.count) of \(withZeros) layers with zeros (see the report)")
            } else if withZeros > 0 && passes.sparse != "off" {
                print("weights with zeros kept dense in \(withZeros) layers: the dense kernels are estimated faster (see the report; --sparse always forces sparse)")
            }
        }
    }

    /// What pruning and binarization did: the model, lines to print, and the layers touched.
    struct Compression {
        var analyzed: AnalyzedModel
        var lines: [String] = []
        /// Layers whose weights were pruned one by one (by node name).
        var pruned: Set<String> = []
        var binarized: Set<String> = []
    }

    /// Prunes, then binarizes, as asked (quantization comes after, in run).
    static func compress(_ analyzed: AnalyzedModel, pruning: PruningArguments, binarization: BinarizeArguments,
                         calibration: String?) throws -> Compression {
        var result = Compression(analyzed: analyzed)
        // Pruning first: zeros stay zeros through symmetric weight quantization.
        if let outcome = try pruning.apply(analyzed) {
            result.analyzed = outcome.analyzed
            result.lines.append(outcome.summary)
            result.pruned = Set(outcome.layers.filter { $0.zerosAfter > $0.zerosBefore }.map(\.node))
        }
        if let (binarized, layers) = try binarization.apply(result.analyzed, calibration: calibration) {
            result.analyzed = binarized
            result.lines.append("binarized \(layers.count) layers (\(binarization.activations) inputs)")
            result.binarized = Set(layers.map(\.node))
        }
        return result
    }

    /// `--recipe`: the retrained student with the recorded compression applied again.
    static func applyRecipe(_ path: String, to analyzed: AnalyzedModel, recalibrate: String?) throws -> AnalyzedModel {
        let (recipe, masks) = try DistillationExport.loadRecipe(path)
        do {
            let baked = try TrainingForm.bake(analyzed.model, recipe: recipe, masks: masks)
            var result = try ModelLoader.analyze(baked, path: analyzed.path)
            let quantized = baked.graph.nodes.contains { $0.opType == "DequantizeLinear" }
            if let recalibrate {
                guard !quantized else { throw WhittleError(.usage, "--recalibrate needs a float student; this one carries its quantization parameters") }
                let (q, _) = try ModelQuantizer.quantize(result, calibration: recalibrate)
                result = try ModelLoader.analyze(q.model, path: analyzed.path)
            } else if !recipe.quantized.isEmpty && !quantized {
                throw WhittleError(.usage, "the recipe quantizes to int8 but the model has no QuantizeLinear/DequantizeLinear; pass --recalibrate DATA.npz")
            }
            print("applied \(path): \(recipe.masks.count) masks, \(recipe.quantized.count) int8 weights, \(recipe.binarized.count) binarized layers")
            return result
        } catch let error as WhittleError {
            throw error.inFile(analyzed.path)
        }
    }
}

/// `--binarize` and its options, shared by compile and distill-export.
struct BinarizeArguments: ParsableArguments {
    @Flag(help: "Binarize Conv/Gemm layers (see whittle binarize).")
    var binarize = false

    @Option(name: .customLong("binarize-layers"), help: ArgumentHelp("With --binarize: the layers (default: all but the first and the last).", valueName: "NAME,..."))
    var layers: [String] = []

    @Option(name: .customLong("binarize-activations"), help: ArgumentHelp("With --binarize: binary (default) or float inputs.", valueName: "binary|float"))
    var activations = "binary"

    /// Binarizes when asked (β from the calibration samples when given).
    func apply(_ analyzed: AnalyzedModel, calibration: String?) throws -> (AnalyzedModel, [BinarizedLayer])? {
        guard binarize else {
            if !layers.isEmpty || activations != "binary" { throw WhittleError(.usage, "--binarize-layers and --binarize-activations need --binarize") }
            return nil
        }
        let set = try calibration.map { try SampleSet(path: $0, graph: analyzed.graph) }
        return try BinarizationChoice(layers: layers, activations: activations).apply(analyzed, calibration: set)
    }
}
