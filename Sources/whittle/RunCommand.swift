import ArgumentParser
import Foundation
import WhittleKit

struct Run: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run a model with the reference interpreter on NumPy or ONNX test-data inputs and write its outputs as .npy files (.pb for types NumPy lacks)."
    )

    @OptionGroup var options: ModelOptions

    @Option(help: ArgumentHelp("Inputs as an .npz archive: arrays named like the inputs, or in_0/arr_0... in input order.",
                               valueName: "FILE.npz"))
    var inputs: String?

    @OptionGroup var given: TensorInputs

    @Option(name: .shortAndLong, help: ArgumentHelp("Folder for the outputs, one <output name>.npy each (.pb for bfloat16, float8, int4 and the other types NumPy lacks); optional with --test-data.",
                                                    valueName: "OUTDIR"))
    var output: String?

    @Option(help: ArgumentHelp("Also write every intermediate value to this folder as .npy.", valueName: "DIR"))
    var trace: String?

    func validate() throws {
        try given.check(archive: inputs)
        guard output != nil || given.testData != nil else {
            throw ValidationError("give --output OUTDIR for the outputs (or --test-data DIR to compare them with the expected ones)")
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
        var failed = false
        try reportingErrors {
            let analyzed = try options.load()
            let (loaded, expected) = try given.load(archive: inputs, for: analyzed.graph)
            if loaded == nil && !analyzed.graph.inputs.isEmpty {
                throw WhittleError(.usage, "give --inputs FILE.npz, one --input NAME=FILE.npy (or .pb) per input, or --test-data DIR")
            }
            let values = loaded ?? [:]
            let limit = try maxTensorBytes.map(TargetBudget.parse) ?? ProcessMemory.tensorLimit
            let outputs: [String: NDArray]
            do {
                outputs = try ModelRunner.run(analyzed, inputs: values, traceDirectory: trace, maxTensorBytes: limit)
            } catch let error as WhittleError {
                throw error.inFile(analyzed.path)
            }
            if let output {
                try ModelRunner.makeDirectory(output)
                var taken = Set<String>()
                for info in analyzed.graph.outputs {
                    guard let value = outputs[info.name] else { continue }
                    let base = String(ModelRunner.fileName(for: info.name, taken: &taken).dropLast(4))
                    let file = try TestData.write(value, name: info.name, to: output, base: base)
                    print("\(info.name): \(TensorType(value.elementType, value.shape)) -> \(output)/\(file)")
                }
            }
            var differ = 0
            for (name, value) in expected {
                guard let got = outputs[name] else { throw WhittleError(.invalidGraph, "output \"\(name)\" was not computed") }
                if let problem = TestData.compare(got, value) {
                    print("\(name): differs from the test data: \(problem)  FAIL")
                    differ += 1
                } else {
                    print("\(name): matches the test data (\(value.shape.reduce(1, *)) elements, |got - expected| <= 1e-5 + 1e-3 |expected|)  PASS")
                }
            }
            failed = differ > 0
        }
        if failed { throw ExitCode(1) }
    }
}
