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
        subcommands: [Inspect.self]
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
