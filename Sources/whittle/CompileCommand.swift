import ArgumentParser
import Foundation
import WhittleKit

struct Compile: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Compile a model to standalone C99: NAME.h, NAME.c, the weights (NAME_weights.c, or NAME_weights.S and .bin) and a memory/weights report.",
        // The model and -o are required; they are optional to the parser only so that --list-passes works alone.
        usage: "whittle compile <model> --output <OUTDIR> [<options>]\nwhittle compile --list-passes"
    )

    @Argument(help: "The ONNX model file.")
    var model: String?

    @OptionGroup var inputs: InputOptions

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

    @Option(help: ArgumentHelp("Lay the C out as a library: arduino (library.properties, src/, an example sketch), platformio (the same with library.json) or cmake (CMakeLists.txt for add_subdirectory, NAMEConfig.cmake for find_package).",
                               valueName: "arduino|platformio|cmake"))
    var package: String?

    @Flag(help: "Print each layer's kernel, weight form, scratch, whether it works in place, and why.")
    var explain = false

    func validate() throws {
        try pruning.requireSparsity()
        if recalibrate != nil && recipe == nil { throw ValidationError("--recalibrate is used with --recipe") }
        if let quantize, quantize.lowercased() != "int8" { throw ValidationError("--quantize supports int8, not \"\(quantize)\"") }
        if quantize != nil && calibration.calibration == nil { throw ValidationError("--quantize int8 needs --calibration DATA.npz") }
        if let package, FirmwarePackage(rawValue: package) == nil {
            throw ValidationError("--package takes arduino, platformio or cmake, not \"\(package)\"")
        }
        if quantize == nil && calibration.calibration != nil && !binarization.binarize {
            throw ValidationError("--calibration is only used with --quantize int8 or --binarize")
        }
    }

    /// The compression asked for; the pipeline applies it in its fixed order.
    func compression() throws -> CompressionPipeline {
        var pipeline = CompressionPipeline()
        pipeline.recipe = recipe.map { RecipeRequest(path: $0, recalibration: recalibrate) }
        pipeline.pruning = try pruning.request()
        pipeline.binarization = binarization.request(calibration: calibration.calibration)
        if quantize != nil { pipeline.quantization = try calibration.request() }
        return pipeline
    }

    func run() throws {
        if passes.listIfAsked() { return }
        try reportingErrors {
            guard let model, let output else { throw ValidationError("compile needs MODEL.onnx and -o OUTDIR") }
            let target = try targetOptions.resolve()
            let compressed = try compression().run(try inputs.load(model), progress: ProgressBar.standardError())
            for line in compressed.lines { print(line) }
            var options = passes.compileOptions(name: name)
            options.adopt(target)
            var compiled = try ModelCompiler.compile(compressed.analyzed, options: options, progress: ProgressBar.standardError())
            compiled.stack = CompileStack.measure(compiled, target: target)
            for (pass, text) in compiled.dumps { print("== IR after \(pass)\n\(text)", terminator: "") }
            do {
                try TargetBudget.check(compiled, target: target, ram: try targetOptions.ram(), flash: try targetOptions.flash())
            } catch let error as WhittleError {
                throw error.inFile(model)
            }
            let files: [String]
            if let kind = package.flatMap(FirmwarePackage.init(rawValue:)) {
                files = try kind.write(compiled, graph: compressed.analyzed.graph, target: target, to: output)
            } else {
                files = try compiled.write(to: output, extra: compiled.buildSnippets(target: target).map { ($0.0, Data($0.1.utf8)) })
            }
            if let reportHTML {
                var report = HTMLReport(title: "\(URL(fileURLWithPath: model).lastPathComponent) on \(target.name)")
                report.addCompiled(compiled, target: target, ram: try targetOptions.ram(), flash: try targetOptions.flash(),
                                   weightFormat: compiled.bundle.weightFormat)
                try HTMLReporting.write(report, to: reportHTML)
            }
            for note in compiled.notes { print("note: \(note)") }
            if explain { print(CompileReport(compiled).explanation(), terminator: "") }
            let plan = compiled.bundle.plan
            let root = URL(fileURLWithPath: output).standardizedFileURL.path + "/"
            print("wrote \(files.map { $0.hasPrefix(root) ? String($0.dropFirst(root.count)) : URL(fileURLWithPath: $0).lastPathComponent }.joined(separator: ", ")) to \(output)")
            let int8 = CompileReport(compiled).int8Weights.map { " (int8 convolution and matrix weights: \($0))" } ?? ""
            print("arena \(plan.arenaBytes) B (lower bound \(plan.lowerBound) B), weights \(compiled.bundle.weightBytes) B\(int8)")
            switch compiled.stack {
            case .success(let stack)?: print(stack.summary(entry: "\(compiled.bundle.name)_run", measuredBy: target.compiler))
            case .failure(let error)?: print("stack: unknown: \(error.reason)")
            case nil: break
            }
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
}

/// `--binarize` and its options, shared by compile and distill-export.
struct BinarizeArguments: ParsableArguments {
    @Flag(help: "Binarize Conv/Gemm layers (see whittle binarize).")
    var binarize = false

    @Option(name: .customLong("binarize-layers"), help: ArgumentHelp("With --binarize: the layers (default: all but the first and the last).", valueName: "NAME,..."))
    var layers: [String] = []

    @Option(name: .customLong("binarize-activations"), help: ArgumentHelp("With --binarize: binary (default) or float inputs.", valueName: "binary|float"))
    var activations = "binary"

    func validate() throws {
        if !binarize && (!layers.isEmpty || activations != "binary") {
            throw ValidationError("--binarize-layers and --binarize-activations need --binarize")
        }
        try BinarizationChoice(layers: layers, activations: activations).validate(flag: "--binarize-activations")
    }

    /// The request, or nil without --binarize; β from `calibration` when given.
    func request(calibration: String?) -> BinarizationRequest? {
        guard binarize else { return nil }
        return BinarizationRequest(options: BinarizationChoice(layers: layers, activations: activations).options, calibration: calibration)
    }
}
