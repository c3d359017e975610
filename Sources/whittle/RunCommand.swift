import ArgumentParser
import Foundation
import WhittleKit

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
        guard inputs == nil || inputFiles.isEmpty else {
            throw ValidationError("give either --inputs FILE.npz or one --input NAME=FILE.npy per input, not both")
        }
        if let maxTensorBytes {
            do { _ = try TargetBudget.parse(maxTensorBytes) } catch let error as WhittleError { throw ValidationError("--max-tensor-bytes: \(error.reason)") }
        }
    }

    @Option(name: .customLong("max-tensor-bytes"),
            help: ArgumentHelp("The most bytes one computed tensor may take (default 4G, or half of what the process may allocate when less).",
                               valueName: "BYTES"))
    var maxTensorBytes: String?

    func run() throws {
        try reportingErrors {
            let analyzed = try options.load()
            let values: [String: NDArray]
            if inputs == nil && inputFiles.isEmpty && !analyzed.graph.inputs.isEmpty {
                throw WhittleError(.usage, "give either --inputs FILE.npz or one --input NAME=FILE.npy per input")
            }
            if let inputs {
                values = try ModelRunner.inputs(fromArchive: inputs, for: analyzed.graph)
            } else {
                values = try ModelRunner.inputs(fromFiles: inputFiles, for: analyzed.graph)
            }
            let limit = try maxTensorBytes.map(TargetBudget.parse) ?? ProcessMemory.tensorLimit
            let outputs: [String: NDArray]
            do {
                outputs = try ModelRunner.run(analyzed, inputs: values, traceDirectory: trace, maxTensorBytes: limit)
            } catch let error as WhittleError {
                throw error.inFile(analyzed.path)
            }
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
