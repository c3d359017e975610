import Foundation
import WhittleIR
import WhittleNumPy
import WhittleONNX

/// ONNX's own test data format: a `test_data_set_N` folder of serialized `TensorProto`s,
/// `input_K.pb` and `output_K.pb`. It holds every ONNX element type, where NumPy's `.npy`/`.npz`
/// cannot hold bfloat16, the 8- and 4-bit floats or the 4- and 2-bit integers.
public enum TestData {
    /// A test-data folder read for a graph: its inputs by name, and the expected outputs (in output
    /// order, possibly fewer than the graph has, or none).
    public struct Case: Sendable {
        public var inputs: [String: NDArray]
        public var expected: [(name: String, value: NDArray)]
    }

    /// The numbered files `PREFIX_K.pb` of a folder, in order; the numbers must run from 0 without a gap.
    static func numbered(_ prefix: String, in directory: String, files: [String]) throws -> [String] {
        var found: [Int: String] = [:]
        for file in files where file.hasPrefix(prefix + "_") && file.hasSuffix(".pb") {
            let digits = file.dropFirst(prefix.count + 1).dropLast(3)
            guard !digits.isEmpty, digits.allSatisfy(\.isASCII), digits.allSatisfy(\.isNumber), let k = Int(digits) else { continue }
            found[k] = file
        }
        for k in 0..<found.count where found[k] == nil {
            throw WhittleError(.usage, "\(directory): \(prefix)_\(k).pb is missing (found \(found.values.sorted().joined(separator: ", ")))")
        }
        return (0..<found.count).compactMap { found[$0].map { directory + "/" + $0 } }
    }

    /// Reads a test-data folder for `graph`: `input_K.pb` is the input the tensor's name gives when it
    /// is a graph input's, otherwise input K; each is checked against the input's type and shape.
    public static func load(_ directory: String, for graph: Graph) throws -> Case {
        let files: [String]
        do {
            files = try FileManager.default.contentsOfDirectory(atPath: directory)
        } catch {
            throw WhittleError(.io, "cannot read the test-data folder \(directory)")
        }
        let inputFiles = try numbered("input", in: directory, files: files)
        guard inputFiles.count == graph.inputs.count else {
            throw WhittleError(.usage, "\(directory) has \(inputFiles.count) input_K.pb files; the model has \(graph.inputs.count) inputs ("
                + graph.inputs.map(\.name).joined(separator: ", ") + ")")
        }
        var inputs: [String: NDArray] = [:]
        for (k, path) in inputFiles.enumerated() {
            let (tensor, name) = try ONNXReader.readNamedTensor(path: path)
            let input = graph.inputs.first { $0.name == name && !name.isEmpty } ?? graph.inputs[k]
            guard inputs[input.name] == nil else { throw WhittleError(.usage, "\(path): input \"\(input.name)\" is given twice") }
            inputs[input.name] = try ModelRunner.checked(NDArray(tensor), for: input, source: path)
        }
        let outputFiles = try numbered("output", in: directory, files: files)
        guard outputFiles.count <= graph.outputs.count else {
            throw WhittleError(.usage, "\(directory) has \(outputFiles.count) output_K.pb files; the model has \(graph.outputs.count) outputs")
        }
        let expected = try outputFiles.enumerated().map { k, path in
            (graph.outputs[k].name, NDArray(try ONNXReader.readTensor(path: path)))
        }
        return Case(inputs: inputs, expected: expected)
    }

    /// One array from a `.npy` file or a serialized `TensorProto` (`.pb`), by the file's extension.
    public static func read(_ path: String) throws -> NDArray {
        if path.hasSuffix(".pb") { return NDArray(try ONNXReader.readTensor(path: path)) }
        guard let data = FileManager.default.contents(atPath: path) else { throw WhittleError(.io, "cannot read \(path)") }
        return NDArray(try NPYFormat.decode([UInt8](data), what: path))
    }

    /// Writes `array` into `directory` as `BASE.npy`, or as `BASE.pb` (a `TensorProto` named `name`)
    /// when NumPy lacks its type; returns the file name.
    public static func write(_ array: NDArray, name: String, to directory: String, base: String) throws -> String {
        let tensor = try array.tensor()
        if NPYFormat.canEncode(array.elementType) {
            try FileOutput.write(try NPYFormat.encode(tensor), to: directory + "/" + base + ".npy")
            return base + ".npy"
        }
        try FileOutput.write(try ONNXWriter.serializeTensor(tensor, name: name), to: directory + "/" + base + ".pb")
        return base + ".pb"
    }

    /// The ONNX backend tests' check: floating-point elements within 1e-5 + 1e-3·|expected| (NaN
    /// matches NaN), integers and bool exactly. nil when they agree, else where they first differ.
    public static func compare(_ got: NDArray, _ expected: NDArray) -> String? {
        guard got.elementType == expected.elementType else { return "type \(got.elementType.name), expected \(expected.elementType.name)" }
        guard got.shape == expected.shape else { return "shape \(Shape.describe(got.shape)), expected \(Shape.describe(expected.shape))" }
        if expected.elementType.isFloatingPoint {
            let g = got.doubles, e = expected.doubles
            for i in e.indices {
                if g[i].isNaN && e[i].isNaN { continue }
                if g[i] == e[i] { continue }
                if !(abs(g[i] - e[i]) <= 1e-5 + 1e-3 * abs(e[i])) { return "element \(i) is \(g[i]), expected \(e[i])" }
            }
        } else if got.ints != expected.ints {
            let i = zip(got.ints, expected.ints).enumerated().first { $0.element.0 != $0.element.1 }?.offset ?? 0
            return "element \(i) is \(got.ints[i]), expected \(expected.ints[i])"
        }
        return nil
    }
}
