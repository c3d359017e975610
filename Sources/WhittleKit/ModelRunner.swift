import Foundation
import WhittleIR
import WhittleInterpreter
import WhittleNumPy

/// Runs a model on NumPy inputs with the reference interpreter (`whittle run`).
public enum ModelRunner {
    /// Input arrays for `graph` from an `.npz` archive: by input name, else positionally as `in_<i>` or `arr_<i>`.
    public static func inputs(fromArchive path: String, for graph: Graph) throws -> [String: NDArray] {
        let archive = try NPZArchive(path: path)
        var result: [String: NDArray] = [:]
        for (i, input) in graph.inputs.enumerated() {
            guard let key = [input.name, "in_\(i)", "arr_\(i)"].first(where: archive.names.contains) else {
                throw WhittleError(.usage, "\(path) has no array for input \"\(input.name)\" (looked for \"\(input.name)\", "
                    + "\"in_\(i)\", \"arr_\(i)\"; it has: \(archive.names.joined(separator: ", ")))")
            }
            result[input.name] = try checked(NDArray(archive.array(key)), for: input, source: "\(path): \(key)")
        }
        return result
    }

    /// Case `index` of a reference archive whose arrays `in_<i>` stack cases on their first axis.
    public static func inputs(fromArchive path: String, for graph: Graph, case index: Int) throws -> [String: NDArray] {
        let archive = try NPZArchive(path: path)
        var result: [String: NDArray] = [:]
        for (i, input) in graph.inputs.enumerated() {
            let all = NDArray(try archive.array("in_\(i)"))
            let shape = Array(all.shape.dropFirst())
            let size = shape.reduce(1, *)
            guard index < (all.shape.first ?? 0) else { throw WhittleError(.usage, "\(path) has no case \(index)") }
            result[input.name] = try checked(all.gathered(Array((index * size)..<((index + 1) * size)), shape: shape), for: input, source: path)
        }
        return result
    }

    /// Input arrays from `NAME=FILE.npy` or `NAME=FILE.pb` (a serialized ONNX `TensorProto`, which
    /// holds the types NumPy lacks) arguments.
    public static func inputs(fromFiles arguments: [String], for graph: Graph) throws -> [String: NDArray] {
        var result: [String: NDArray] = [:]
        for argument in arguments {
            guard let equals = argument.firstIndex(of: "=") else {
                throw WhittleError(.usage, "input file \"\(argument)\" must be given as NAME=FILE.npy or NAME=FILE.pb", setting: .runInput)
            }
            let name = String(argument[..<equals]), file = String(argument[argument.index(after: equals)...])
            guard let input = graph.inputs.first(where: { $0.name == name }) else {
                throw WhittleError(.usage, "an input file is given for \"\(name)\", which is not a graph input (inputs: "
                    + graph.inputs.map(\.name).joined(separator: ", ") + ")", setting: .runInput)
            }
            result[name] = try checked(TestData.read(file), for: input, source: file)
        }
        for input in graph.inputs where result[input.name] == nil {
            throw WhittleError(.usage, "no value given for input \"\(input.name)\"; give it as \(input.name)=FILE.npy or \(input.name)=FILE.pb", setting: .runInput)
        }
        return result
    }

    /// Checks an array against the graph input's declared type and shape. Floating-point data of
    /// another precision (NumPy's default float64, say) is converted to the input's type, as the
    /// calibration and evaluation data of quantize and prune are; other types must match.
    static func checked(_ array: NDArray, for input: ValueInfo, source: String) throws -> NDArray {
        guard let type = input.type else { return array }
        var array = array
        if array.elementType != type.elementType, array.elementType.isFloatingPoint, type.elementType.isFloatingPoint {
            array = NDArray(type.elementType, shape: array.shape, values: array.doubles)
        }
        guard array.elementType == type.elementType else {
            throw WhittleError(.usage, "\(source): dtype \(array.elementType.name) does not match input \"\(input.name)\" of type \(type.elementType.name)")
        }
        if let shape = type.shape, shape != array.shape {
            throw WhittleError(.usage, "\(source): shape \(Shape.describe(array.shape)) does not match input \"\(input.name)\" of shape \(Shape.describe(shape))")
        }
        return array
    }

    /// A file name for a value: characters other than letters, digits, `.`, `_` and `-` become `_`;
    /// `taken` keeps names unique (a numeric suffix is added on a clash).
    public static func fileName(for value: String, taken: inout Set<String>) -> String {
        var base = String(value.unicodeScalars.map { scalar -> Character in
            let c = Character(scalar)
            return (c.isASCII && (c.isLetter || c.isNumber)) || c == "." || c == "_" || c == "-" ? c : "_"
        })
        if base.isEmpty || base.allSatisfy({ $0 == "." }) { base = "_" + base }
        var name = base, suffix = 1
        while taken.contains(name) {
            suffix += 1
            name = "\(base)_\(suffix)"
        }
        taken.insert(name)
        return name + ".npy"
    }

    /// Writes `array` as `directory/file`.
    public static func write(_ array: NDArray, to directory: String, file: String) throws {
        let url = URL(fileURLWithPath: directory).appendingPathComponent(file)
        try FileOutput.write(try NPYFormat.encode(array.tensor()), to: url.path)
    }

    /// `path` as an absolute path (a relative one is taken from the current folder), for folders that
    /// tools started in other folders must find.
    public static func absolute(_ path: String) -> String {
        URL(fileURLWithPath: path).standardizedFileURL.path
    }

    /// Creates `directory` (and parents) if needed.
    public static func makeDirectory(_ directory: String) throws {
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        } catch {
            throw WhittleError(.io, "cannot create directory \(directory): \(error.localizedDescription)")
        }
    }

    /// Runs `analyzed` on `inputs`; with `traceDirectory`, writes every computed value there as `.npy`.
    /// A model whose shapes depend on its inputs' values (`needsInputValues`) is analyzed again with
    /// every input bound, and runs on those values. The run refuses a tensor of more than
    /// `maxTensorBytes`, and values that would take more than `maxTotalBytes` together (by default what
    /// the process can allocate: ``ProcessMemory``).
    public static func run(_ analyzed: AnalyzedModel, inputs: [String: NDArray], traceDirectory: String? = nil,
                           maxTensorBytes: Int = ProcessMemory.tensorLimit,
                           maxTotalBytes: Int = ProcessMemory.allocatableBytes) throws -> [String: NDArray] {
        var analyzed = analyzed, inputs = inputs
        let specialized = analyzed.needsInputValues
        if specialized {
            var bound: [String: Tensor] = [:]
            for input in analyzed.graph.inputs {
                guard let value = inputs[input.name] else {
                    throw WhittleError(.usage, "no value given for input \"\(input.name)\"")
                }
                bound[input.name] = try value.tensor()
            }
            analyzed = try ModelLoader.analyze(ModelLoader.bind(bound, in: analyzed.model, path: analyzed.path), path: analyzed.path,
                                               specializing: maxTensorBytes)
            inputs = [:]
        }
        var interpreter = try Interpreter(model: analyzed.model, inference: analyzed.inference)
        interpreter.maxTensorBytes = maxTensorBytes
        interpreter.maxTotalBytes = maxTotalBytes
        guard let traceDirectory else { return try interpreter.run(inputs) }
        try makeDirectory(traceDirectory)
        var taken = Set<String>()
        let results = try interpreter.run(inputs) { name, value in
            try write(value, to: traceDirectory, file: fileName(for: name, taken: &taken))
        }
        // A specialized model's values were computed during analysis, not by the run: write those, in node order.
        if specialized {
            for node in analyzed.graph.nodes {
                for name in node.outputs where !name.isEmpty {
                    guard let value = analyzed.inference.constants[name] else { continue }
                    try write(NDArray(value), to: traceDirectory, file: fileName(for: name, taken: &taken))
                }
            }
        }
        return results
    }
}
