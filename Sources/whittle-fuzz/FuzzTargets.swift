import Foundation
import WhittleInterpreter
import WhittleIR
import WhittleKit
import WhittleNumPy
import WhittleONNX

/// What each fuzz target does with one input. Errors are the expected outcome for most inputs;
/// anything else (a trap, a sanitizer report, a hang, an allocation past the limits) is a finding.
enum FuzzTargets {
    static let all: [String: @Sendable ([UInt8]) -> Void] = ["onnx": onnx, "npy": npy, "npz": npz, "target": target]

    /// The ONNX loader and shape inference; small models are also compiled to C (without weights)
    /// and run by the interpreter on zeros, so hostile attributes reach the passes and kernels.
    static func onnx(_ bytes: [UInt8]) {
        guard let model = try? ONNXReader.read(bytes: bytes), let analyzed = try? ModelLoader.analyze(model, path: "fuzz.onnx") else { return }
        let graph = analyzed.graph
        guard graph.nodes.count <= 64 else { return }
        var options = CompileOptions()
        options.withWeights = false
        _ = try? ModelCompiler.compile(analyzed, options: options)
        var inputs: [String: NDArray] = [:]
        var elements = 0
        for input in graph.inputs {
            guard let type = graph.type(of: input.name), let shape = type.shape else { return }
            let count = shape.reduce(1) { $0.multipliedReportingOverflow(by: max($1, 0)).partialValue }
            elements += count
            guard elements <= 1 << 14, shape.allSatisfy({ $0 >= 0 }) else { return }
            inputs[input.name] = NDArray(type.elementType, shape: shape, values: [Double](repeating: 0, count: count))
        }
        guard var interpreter = try? Interpreter(model: analyzed.model, inference: analyzed.inference) else { return }
        // A smaller limit than the command line's 4 GiB: the fuzzer's memory limit is a finding.
        interpreter.maxTensorBytes = 16 << 20
        _ = try? interpreter.run(inputs)
    }

    /// One `.npy` array.
    static func npy(_ bytes: [UInt8]) {
        _ = try? NPYFormat.decode(bytes, what: "fuzz.npy")
    }

    /// A `.npz` archive and every array in it.
    static func npz(_ bytes: [UInt8]) {
        guard let archive = try? NPZArchive(bytes: bytes, path: "fuzz.npz") else { return }
        for name in archive.names { _ = try? archive.array(name) }
    }

    /// A target description, and the budget parser its numbers meet.
    static func target(_ bytes: [UInt8]) {
        guard let target = try? TargetDescription.parse(Data(bytes), name: nil, what: "fuzz.json") else { return }
        _ = try? TargetBudget.parse("\(target.ram_bytes)")
        _ = try? TargetBudget.parse(String(decoding: bytes.prefix(32), as: UTF8.self))
    }
}
