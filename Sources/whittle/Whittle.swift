import ArgumentParser
import Foundation
import WhittleKit

/// The `whittle` command line.
@main
struct Whittle: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "whittle",
        abstract: "Compile ONNX models into small standalone C for microcontrollers and Raspberry Pi.",
        version: WhittleVersion.current,
        subcommands: [Inspect.self, Run.self, Compile.self, Verify.self, Quantize.self, Prune.self, Binarize.self, DistillExport.self, Report.self, Targets.self]
    )

    /// `--option -0.5` as `--option=-0.5`: the argument parser reads a value that starts with a dash as
    /// the next option, so a negative number would be reported as a missing value instead of reaching
    /// the option's own range check. Whittle takes no positional argument that is a negative number.
    static func joiningNegativeValues(_ arguments: [String]) -> [String] {
        var result: [String] = []
        var index = 0
        while index < arguments.count {
            let argument = arguments[index]
            if argument == "--" { return result + arguments[index...] }
            if argument.hasPrefix("--"), !argument.contains("="), index + 1 < arguments.count,
               isNegativeNumber(arguments[index + 1]) {
                result.append(argument + "=" + arguments[index + 1])
                index += 2
                continue
            }
            result.append(argument)
            index += 1
        }
        return result
    }

    /// `-5`, `-0.5`, `-1e-3`, `-5K`: a dash followed by a digit or a point and digit.
    static func isNegativeNumber(_ text: String) -> Bool {
        let rest = text.dropFirst()
        guard text.hasPrefix("-"), let first = rest.first else { return false }
        return first.isNumber || (first == "." && rest.dropFirst().first?.isNumber == true)
    }

    /// One error style for every failure: `error: ...` on standard error and exit code 1, for
    /// argument errors as for model errors; help and version still print as usual.
    static func main() {
        do {
            var command = try parseAsRoot(joiningNegativeValues(Array(CommandLine.arguments.dropFirst())))
            try command.run()
        } catch let code as ExitCode {
            exit(withError: code)  // the message was printed where the failure happened
        } catch {
            guard exitCode(for: error) != .success else { exit(withError: error) }
            let text = exitCode(for: error) == .validationFailure ? message(for: error) : describe(error)
            FileHandle.standardError.write(Data("error: \(text.split(separator: "\n").joined(separator: " "))\n".utf8))
            if exitCode(for: error) == .validationFailure {
                FileHandle.standardError.write(Data("(see 'whittle help' or 'whittle <command> --help')\n".utf8))
            }
            exit(withError: ExitCode(1))
        }
    }
}

/// A failure in words a user can act on: Foundation's file errors say which file and why, not
/// their domain and code.
func describe(_ error: Error, flags: [WhittleSetting: String] = [:]) -> String {
    if let error = error as? WhittleError {
        guard let setting = error.setting else { return error.description }
        return "\(error.description) (\(flags[setting] ?? setting.flag))"
    }
    if let cocoa = error as? CocoaError {
        let path = (cocoa.userInfo[NSFilePathErrorKey] as? String) ?? cocoa.filePath ?? "a file"
        let posix = (cocoa.userInfo[NSUnderlyingErrorKey] as? NSError).map { String(cString: strerror(Int32($0.code))) }
        let code = cocoa.code.rawValue
        let verb = (256..<512).contains(code) ? "cannot read" : (512..<768).contains(code) ? "cannot write" : "cannot use"
        return "\(verb) \(path)" + (posix.map { ": \($0)" } ?? "")
    }
    return String(describing: error)
}

/// `--input-shape` and `--bind`: how a model's inputs are pinned, shared by every command that reads a model.
struct InputOptions: ParsableArguments {
    @Option(name: .customLong("input-shape"),
            help: ArgumentHelp("Static shape for a graph input, replacing symbolic dimensions.", valueName: "NAME=D0,D1,..."))
    var inputShapes: [String] = []

    @Option(name: .customLong("bind"), help: ArgumentHelp("Freeze a graph input into a constant (a shape, axes, pads ...).",
                                                         valueName: "NAME=V0,V1,...|NAME=FILE.npy"))
    var bindings: [String] = []

    /// Reads `model` with these shapes and bindings.
    func load(_ model: String) throws -> AnalyzedModel {
        try ModelLoader.load(path: model, shapes: inputShapes, bindings: bindings)
    }
}

/// The model file and its input options.
struct ModelOptions: ParsableArguments {
    @Argument(help: "The ONNX model file.")
    var model: String

    @OptionGroup var inputs: InputOptions

    func load() throws -> AnalyzedModel { try inputs.load(model) }
}

/// Runs `body`, turning a Whittle error into a one-line message and exit code 1. The message ends
/// with the flag of the setting the error is about; `flags` gives a command's own names for settings.
func reportingErrors(flags: [WhittleSetting: String] = [:], _ body: () throws -> Void) throws {
    do {
        try body()
    } catch let error as WhittleError {
        FileHandle.standardError.write(Data("error: \(describe(error, flags: flags))\n".utf8))
        throw ExitCode(1)
    } catch let code as ExitCode {
        throw code
    } catch {
        FileHandle.standardError.write(Data("error: \(describe(error))\n".utf8))
        throw ExitCode(1)
    }
}

/// Options that steer the optimization passes.
struct PassOptions: ParsableArguments {
    @Flag(help: "List the optimization passes and exit.")
    var listPasses = false

    @Option(name: .customLong("disable-pass"), help: ArgumentHelp("Skip an optimization pass (repeatable).", valueName: "NAME"))
    var disabled: [String] = []

    @Option(name: .customLong("dump-ir-after"), help: ArgumentHelp("Print the graph after a pass (repeatable).", valueName: "NAME"))
    var dumpAfter: [String] = []

    @Option(help: ArgumentHelp("Sparse weights: auto (where fewer bytes and no more work), off, or always (any layer with a zero).",
                               valueName: "auto|off|always"))
    var sparse = "auto"

    @Flag(help: "Unroll Loop and Scan (one copy of the body per iteration) instead of keeping them as C loops.")
    var unrollLoops = false

    @Option(help: ArgumentHelp("size: int8 weights take one byte everywhere (default); speed: int16 copies of int8 convolution "
                               + "and matrix weights on targets with the DSP extension (SMLAD reads them without unpacking; twice their flash).",
                               valueName: "size|speed"))
    var optimize = "size"

    @Option(help: ArgumentHelp("Weights as C initializers, or as NAME_weights.bin placed by NAME_weights.S (.incbin, ELF toolchains); "
                               + "auto: binary above 8 MiB.", valueName: "auto|c|binary"))
    var weights = "auto"

    func validate() throws {
        guard WeightFormat(rawValue: weights) != nil else { throw ValidationError("--weights must be auto, c or binary, not \"\(weights)\"") }
        guard SparsePolicy(rawValue: sparse) != nil else { throw ValidationError("--sparse must be auto, off or always, not \"\(sparse)\"") }
        guard OptimizationGoal(rawValue: optimize) != nil else { throw ValidationError("--optimize must be size or speed, not \"\(optimize)\"") }
    }

    /// Compile options from the pass flags (validated by `validate()`).
    func compileOptions(name: String? = nil, integerOnly: Bool = false) -> CompileOptions {
        var options = CompileOptions(name: name, disabledPasses: Set(disabled), dumpAfter: Set(dumpAfter), integerOnly: integerOnly)
        options.codegen.sparse = SparsePolicy(rawValue: sparse) ?? .auto
        options.weightFormat = WeightFormat(rawValue: weights) ?? .auto
        options.unrollLoops = unrollLoops
        options.goal = OptimizationGoal(rawValue: optimize) ?? .size
        return options
    }

    /// Prints the pass list; returns true when the command should stop there.
    func listIfAsked() -> Bool {
        guard listPasses else { return false }
        for pass in ModelCompiler.passes { print("\(pass.name.padding(toLength: 20, withPad: " ", startingAt: 0)) \(pass.summary)") }
        return true
    }
}

/// The target and its budgets, shared by compile and verify.
struct TargetOptions: ParsableArguments {
    @Option(help: ArgumentHelp("The device to compile for (see whittle targets).", valueName: "TARGET"))
    var target = "host"

    @Option(name: .customLong("targets-dir"), help: ArgumentHelp("The folder of target descriptions.", valueName: "DIR"))
    var targetsDirectory: String?

    @Option(name: .customLong("ram-budget"), help: ArgumentHelp("RAM available for the arena (bytes, or 256K / 1M).", valueName: "BYTES"))
    var ramBudget: String?

    @Option(name: .customLong("flash-budget"), help: ArgumentHelp("Flash available for the weights.", valueName: "BYTES"))
    var flashBudget: String?

    func validate() throws {
        for (flag, value) in [("--ram-budget", ramBudget), ("--flash-budget", flashBudget)] {
            guard let value else { continue }
            do { _ = try TargetBudget.parse(value) } catch let error as WhittleError { throw ValidationError("\(flag): \(error.reason)") }
        }
    }

    func catalog() throws -> TargetCatalog { try TargetCatalog(explicit: targetsDirectory) }
    func resolve() throws -> TargetDescription { try catalog().target(target) }
    func ram() throws -> Int? { try ramBudget.map(TargetBudget.parse) }
    func flash() throws -> Int? { try flashBudget.map(TargetBudget.parse) }
}

/// Writes a report as JSON (sorted keys, indented) when a path is given.
func writeReport<T: Encodable>(_ value: T, to path: String?) throws {
    guard let path else { return }
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
    try FileOutput.write(try encoder.encode(value) + Data("\n".utf8), to: path)
}

/// Inputs one at a time (`.npy`, or `.pb` for any element type) or from an ONNX test-data folder,
/// with its expected outputs (run, verify).
struct TensorInputs: ParsableArguments {
    @Option(name: .customLong("input"), help: ArgumentHelp("One input from an .npy file or a serialized ONNX TensorProto (.pb, any element type); repeat for each input.",
                                                           valueName: "NAME=FILE.npy|FILE.pb"))
    var files: [String] = []

    @Option(help: ArgumentHelp("An ONNX test-data folder (test_data_set_N): input_K.pb are the inputs; output_K.pb, where present, are compared with the outputs (exit 1 on a difference).",
                               valueName: "DIR"))
    var testData: String?

    /// Refuses a second source of inputs beside the command's `--inputs` archive.
    func check(archive: String?) throws {
        guard [archive != nil, !files.isEmpty, testData != nil].filter({ $0 }).count <= 1 else {
            throw ValidationError("give one of --inputs FILE.npz, one --input NAME=FILE per input, or --test-data DIR")
        }
    }

    /// The inputs given (nil: none) and the test data's expected outputs, in output order.
    func load(archive: String?, for graph: Graph) throws -> (inputs: [String: NDArray]?, expected: [(name: String, value: NDArray)]) {
        if let archive { return (try ModelRunner.inputs(fromArchive: archive, for: graph), []) }
        if let testData {
            let loaded = try TestData.load(testData, for: graph)
            return (loaded.inputs, loaded.expected)
        }
        return (files.isEmpty ? nil : try ModelRunner.inputs(fromFiles: files, for: graph), [])
    }
}

/// The samples a compressed model is compared with its original on (prune, binarize).
struct ComparisonData: ParsableArguments {
    @Option(help: ArgumentHelp("Samples to compare the compressed model with the original on.", valueName: "DATA.npz"))
    var data: String?

    @Option(help: ArgumentHelp("Class labels for top-1 accuracy: an array of the data .npz or a .npy file.", valueName: "KEY|FILE.npy"))
    var labels: String?

    @Option(name: .customLong("map"), help: ArgumentHelp("Which array of the .npz feeds an input (repeatable).", valueName: "INPUT=KEY"))
    var map: [String] = []

    @Option(help: ArgumentHelp("Also write the report as JSON.", valueName: "FILE.json"))
    var report: String?

    @Option(name: .customLong("report-html"), help: ArgumentHelp("Also write an HTML report (charts, arena, layers).", valueName: "FILE.html"))
    var reportHTML: String?

    func validate() throws {
        if labels != nil && data == nil { throw ValidationError("--labels needs --data") }
    }

    /// The samples and labels, checked before any work (errors name the model).
    func load(for analyzed: AnalyzedModel) throws -> (SampleSet?, [Int]?) {
        do {
            let samples = try data.map { try SampleSet(path: $0, graph: analyzed.graph, explicit: try ModelQuantizer.parseMap(map)) }
            return (samples, try labels.flatMap { label in try samples?.labels(label) })
        } catch let error as WhittleError {
            throw error.inFile(analyzed.path)
        }
    }
}

