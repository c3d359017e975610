import ArgumentParser
import Foundation
import WhittleIR
import WhittleKit
import WhittlePasses

/// The `whittle` command line.
@main
struct Whittle: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "whittle",
        abstract: "Compile ONNX models into small standalone C for microcontrollers and Raspberry Pi.",
        version: "0.1.0",
        subcommands: [Inspect.self, Run.self, Compile.self, Verify.self, Targets.self]
    )
}

/// Options shared by commands that read a model.
struct ModelOptions: ParsableArguments {
    @Argument(help: "The ONNX model file.")
    var model: String

    @Option(name: .customLong("input-shape"),
            help: ArgumentHelp("Static shape for a graph input, replacing symbolic dimensions.", valueName: "NAME=D0,D1,..."))
    var inputShapes: [String] = []

    func load() throws -> AnalyzedModel { try Self.load(model, inputShapes) }

    static func load(_ model: String, _ inputShapes: [String]) throws -> AnalyzedModel {
        var pinned: [String: [Int]] = [:]
        for text in inputShapes {
            let (name, dims) = try ModelLoader.parseInputShape(text)
            guard pinned[name] == nil else { throw WhittleError(.usage, "--input-shape gives \"\(name)\" twice") }
            pinned[name] = dims
        }
        return try ModelLoader.load(path: model, inputShapes: pinned)
    }
}

/// Runs `body`, turning a Whittle error into a one-line message and exit code 1.
func reportingErrors(_ body: () throws -> Void) throws {
    do {
        try body()
    } catch let error as WhittleError {
        FileHandle.standardError.write(Data("error: \(error)\n".utf8))
        throw ExitCode(1)
    }
}

struct Inspect: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Describe a model: inputs, outputs, a per-node table with shapes, parameters and MACs, and unsupported operators."
    )

    @OptionGroup var options: ModelOptions

    @Flag(help: "Print the report as JSON (the format is described in the README).")
    var json = false

    func run() throws {
        try reportingErrors {
            let report = InspectReport(try options.load())
            print(json ? try report.json() : report.text(), terminator: "")
        }
    }
}

struct Run: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run a model with the reference interpreter on NumPy inputs and write its outputs as .npy files."
    )

    @OptionGroup var options: ModelOptions

    @Option(help: ArgumentHelp("Inputs as an .npz archive: arrays named like the inputs, or in_0/arr_0... in input order.",
                               valueName: "FILE.npz"))
    var inputs: String?

    @Option(name: .customLong("input"), help: ArgumentHelp("One input from an .npy file (repeat for each input).", valueName: "NAME=FILE.npy"))
    var inputFiles: [String] = []

    @Option(name: .shortAndLong, help: ArgumentHelp("Folder for the outputs, one <output name>.npy each.", valueName: "OUTDIR"))
    var output: String

    @Option(help: ArgumentHelp("Also write every intermediate value to this folder as .npy.", valueName: "DIR"))
    var trace: String?

    func validate() throws {
        guard (inputs == nil) != inputFiles.isEmpty else {
            throw ValidationError("give either --inputs FILE.npz or one --input NAME=FILE.npy per input")
        }
    }

    func run() throws {
        try reportingErrors {
            let analyzed = try options.load()
            let values: [String: NDArray]
            if let inputs {
                values = try ModelRunner.inputs(fromArchive: inputs, for: analyzed.graph)
            } else {
                values = try ModelRunner.inputs(fromFiles: inputFiles, for: analyzed.graph)
            }
            let outputs = try ModelRunner.run(analyzed, inputs: values, traceDirectory: trace)
            try ModelRunner.makeDirectory(output)
            var taken = Set<String>()
            for info in analyzed.graph.outputs {
                guard let value = outputs[info.name] else { continue }
                let file = ModelRunner.fileName(for: info.name, taken: &taken)
                try ModelRunner.write(value, to: output, file: file)
                print("\(info.name): \(TensorType(value.elementType, value.shape)) -> \(output)/\(file)")
            }
        }
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

    /// Prints the pass list; returns true when the command should stop there.
    func listIfAsked() -> Bool {
        guard listPasses else { return false }
        for pass in PassPipeline.standard.passes { print("\(pass.name.padding(toLength: 20, withPad: " ", startingAt: 0)) \(pass.summary)") }
        return true
    }
}

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

    func run() throws {
        if passes.listIfAsked() { return }
        try reportingErrors {
            guard let model, let output else { throw WhittleError(.usage, "compile needs MODEL.onnx and -o OUTDIR") }
            let target = try targetOptions.resolve()
            let analyzed = try ModelOptions.load(model, inputShapes)
            let compiled = try ModelCompiler.compile(analyzed, options: CompileOptions(
                name: name, disabledPasses: Set(passes.disabled), dumpAfter: Set(passes.dumpAfter)))
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
        }
    }
}

struct Verify: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Compile a model to C, build it with a test harness (ASan/UBSan by default), run it and compare with the reference interpreter."
    )

    @OptionGroup var options: ModelOptions

    @Option(help: ArgumentHelp("Inputs as an .npz archive (default: seeded random inputs).", valueName: "FILE.npz"))
    var inputs: String?

    @Option(help: ArgumentHelp("The C compiler.", valueName: "CC"))
    var cc = "cc"

    @Option(help: "An element passes when |C - reference| <= tolerance * max(1, |reference|); integer outputs must be equal.")
    var tolerance = 1e-4

    @Flag(help: "Build without -fsanitize=address,undefined.")
    var noSanitize = false

    @Option(help: ArgumentHelp("Keep the generated files and the test program in this folder.", valueName: "DIR"))
    var workDir: String?

    @OptionGroup var targetOptions: TargetOptions

    @OptionGroup var passes: PassOptions

    func run() throws {
        var failed = false
        try reportingErrors {
            let analyzed = try options.load()
            let given = try inputs.map { try ModelRunner.inputs(fromArchive: $0, for: analyzed.graph) }
            if targetOptions.target != "host" {
                let catalog = try targetOptions.catalog()
                let target = try catalog.target(targetOptions.target)
                let directory = workDir ?? FileManager.default.temporaryDirectory
                    .appendingPathComponent("whittle-verify-\(target.name)-\(ProcessInfo.processInfo.processIdentifier)").path
                try ModelRunner.makeDirectory(directory)
                let result: TargetVerifier.Result
                do {
                    result = try TargetVerifier.verify(analyzed, target: target, catalog: catalog, inputs: given, tolerance: tolerance,
                                                       budgets: (try targetOptions.ram(), try targetOptions.flash()), workDirectory: directory)
                } catch let error as WhittleError {
                    throw error.inFile(options.model)
                }
                if workDir == nil { try? FileManager.default.removeItem(atPath: directory) }
                for r in result.comparisons {
                    print("\(r.name): max abs error \(String(format: "%.3g", r.maxAbsError)), max ULP \(r.maxULP)  \(r.passed ? "PASS" : "FAIL")")
                    if !r.passed { failed = true }
                }
                print("\(target.name): text \(result.text) B, data \(result.data) B, bss \(result.bss) B, "
                    + "instructions per inference \(result.instructions.map(String.init) ?? "?")")
                return
            }
            var settings = ModelVerifier.Options()
            settings.compiler = cc
            settings.tolerance = tolerance
            settings.sanitize = !noSanitize
            settings.compile = CompileOptions(disabledPasses: Set(passes.disabled))
            let directory = workDir ?? FileManager.default.temporaryDirectory
                .appendingPathComponent("whittle-verify-\(ProcessInfo.processInfo.processIdentifier)").path
            let results = try ModelVerifier.verify(analyzed, inputs: given, options: settings, workDirectory: directory)
            if workDir == nil { try? FileManager.default.removeItem(atPath: directory) }
            for r in results {
                print("\(r.name): max abs error \(String(format: "%.3g", r.maxAbsError)), max ULP \(r.maxULP)  \(r.passed ? "PASS" : "FAIL")")
                if !r.passed { failed = true }
            }
        }
        if failed { throw ExitCode(1) }
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

    func catalog() throws -> TargetCatalog { try TargetCatalog(explicit: targetsDirectory) }
    func resolve() throws -> TargetDescription { try catalog().target(target) }
    func ram() throws -> Int? { try ramBudget.map(TargetBudget.parse) }
    func flash() throws -> Int? { try flashBudget.map(TargetBudget.parse) }
}

struct Targets: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "List the devices Whittle compiles for (the files in Targets/).")

    @Option(name: .customLong("targets-dir"), help: ArgumentHelp("The folder of target descriptions.", valueName: "DIR"))
    var targetsDirectory: String?

    func run() throws {
        try reportingErrors {
            let targets = try TargetCatalog(explicit: targetsDirectory).all()
            var rows = [["target", "kind", "compiler", "FPU", "flash", "RAM", "emulator", "description"]]
            for t in targets {
                let emulator = t.qemu.map { [$0.program, $0.machine ?? $0.cpu ?? ""].filter { !$0.isEmpty }.joined(separator: " ") } ?? "-"
                rows.append([t.name, t.kind, t.compiler, t.fpu, t.flash_bytes > 0 ? InspectReport.bytesText(t.flash_bytes) : "-",
                             t.ram_bytes > 0 ? InspectReport.bytesText(t.ram_bytes) : "-", emulator, t.description])
            }
            for line in InspectReport.table(rows, rightAligned: []) { print(line) }
        }
    }
}
