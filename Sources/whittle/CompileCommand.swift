import ArgumentParser
import Foundation
import WhittleIR
import WhittleKit
import WhittlePasses

struct Compile: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Compile a model to standalone C99: NAME.h, NAME.c, NAME_weights.c and a memory/weights report."
    )

    @Argument(help: "The ONNX model file.")
    var model: String?

    @Option(name: .customLong("input-shape"), help: ArgumentHelp("Static shape for a graph input.", valueName: "NAME=D0,D1,..."))
    var inputShapes: [String] = []

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

    @Flag(help: "Binarize Conv/Gemm layers before compiling (see whittle binarize).")
    var binarize = false

    @Option(name: .customLong("binarize-layers"), help: ArgumentHelp("With --binarize: the layers (default: all but the first and the last).", valueName: "NAME,..."))
    var binarizeLayers: [String] = []

    @Option(name: .customLong("binarize-activations"), help: ArgumentHelp("With --binarize: binary (default) or float inputs.", valueName: "binary|float"))
    var binarizeActivations = "binary"

    func run() throws {
        if passes.listIfAsked() { return }
        try reportingErrors {
            guard let model, let output else { throw WhittleError(.usage, "compile needs MODEL.onnx and -o OUTDIR") }
            let target = try targetOptions.resolve()
            var analyzed = try ModelOptions.load(model, inputShapes)
            // Pruning first: zeros stay zeros through symmetric weight quantization.
            if let outcome = try pruning.apply(analyzed) {
                analyzed = outcome.analyzed
                print(outcome.summary)
            }
            if binarize {
                let calibrationSet = try calibration.calibration.map { try SampleSet(path: $0, graph: analyzed.graph) }
                let (binarized, layers) = try BinarizationChoice(layers: binarizeLayers, activations: binarizeActivations)
                    .apply(analyzed, calibration: calibrationSet)
                analyzed = binarized
                print("binarized \(layers.count) layers (\(binarizeActivations) inputs)")
            } else if !binarizeLayers.isEmpty || binarizeActivations != "binary" {
                throw WhittleError(.usage, "--binarize-layers and --binarize-activations need --binarize")
            }
            if let quantize {
                guard quantize.lowercased() == "int8" else { throw WhittleError(.usage, "--quantize supports int8, not \"\(quantize)\"") }
                let (result, samples) = try calibration.quantize(analyzed)
                analyzed = try ModelLoader.analyze(result.model, path: model)
                print("quantized \(result.values.count) tensors to int8 (calibration: \(samples.count) samples of \(samples.path))")
            } else if calibration.calibration != nil && !binarize {
                throw WhittleError(.usage, "--calibration is only used with --quantize int8 or --binarize")
            }
            var options = CompileOptions(name: name, disabledPasses: Set(passes.disabled), dumpAfter: Set(passes.dumpAfter),
                                         integerOnly: target.fpu == "none")
            options.sparse = try passes.sparsePolicy()
            let compiled = try ModelCompiler.compile(analyzed, options: options)
            for (pass, text) in compiled.dumps { print("== IR after \(pass)\n\(text)", terminator: "") }
            do {
                try TargetBudget.check(compiled, target: target, ram: try targetOptions.ram(), flash: try targetOptions.flash())
            } catch let error as WhittleError {
                throw error.inFile(model)
            }
            var files = try compiled.write(to: output)
            for (file, text) in compiled.buildSnippets(target: target) {
                let path = URL(fileURLWithPath: output).appendingPathComponent(file).path
                guard FileManager.default.createFile(atPath: path, contents: Data(text.utf8)) else {
                    throw WhittleError(.io, "cannot write \(path)")
                }
                files.append(path)
            }
            let plan = compiled.bundle.plan
            print("wrote \(files.map { URL(fileURLWithPath: $0).lastPathComponent }.joined(separator: ", ")) to \(output)")
            print("arena \(plan.arenaBytes) B (lower bound \(plan.lowerBound) B), weights \(compiled.bundle.weightBytes) B")
            let sparse = compiled.bundle.layers.filter { $0.weightForm?.hasPrefix("sparse") == true }
            if !sparse.isEmpty { print("sparse weights in \(sparse.count) of \(compiled.bundle.layers.filter { $0.weightForm != nil }.count) layers with zeros (see the report)") }
        }
    }
}
