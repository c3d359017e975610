import ArgumentParser
import Foundation
import WhittleIR
import WhittleKit

/// The `whittle` command line.
@main
struct Whittle: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "whittle",
        abstract: "Compile ONNX models into small standalone C for microcontrollers and Raspberry Pi.",
        version: "0.1.0",
        subcommands: [Inspect.self, Run.self]
    )
}

/// Options shared by commands that read a model.
struct ModelOptions: ParsableArguments {
    @Argument(help: "The ONNX model file.")
    var model: String

    @Option(name: .customLong("input-shape"),
            help: ArgumentHelp("Static shape for a graph input, replacing symbolic dimensions.", valueName: "NAME=D0,D1,..."))
    var inputShapes: [String] = []

    func load() throws -> AnalyzedModel {
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
