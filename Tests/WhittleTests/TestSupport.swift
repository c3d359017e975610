import Foundation
import Testing
import WhittleIR
import WhittleKit
import WhittleONNX
import WhittleOps
import WhittleNumPy

/// Paths and helpers shared by the tests.
enum TestPaths {
    static let root = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let fixtures = root.appendingPathComponent("Tests/WhittleTests/Fixtures")
    static let models = root.appendingPathComponent("Examples/models")

    static func fixture(_ name: String) -> String { fixtures.appendingPathComponent(name).path }
    static func model(_ name: String) -> String { models.appendingPathComponent(name).path }

    /// The `whittle` executable built next to the test bundle.
    static var whittle: URL? {
        var directory = Bundle.main.bundleURL
        for _ in 0..<3 {
            let candidate = directory.appendingPathComponent("whittle")
            if FileManager.default.isExecutableFile(atPath: candidate.path) { return candidate }
            directory = directory.deletingLastPathComponent()
        }
        return nil
    }
}

/// Expected values written by make_fixtures.py.
enum Expected {
    static var json: [String: Any] {
        guard let data = FileManager.default.contents(atPath: TestPaths.fixture("expected.json")),
              let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else { return [:] }
        return object
    }

    static func bytes(hex: String) -> [UInt8] {
        var out: [UInt8] = []
        var index = hex.startIndex
        while index < hex.endIndex {
            let next = hex.index(index, offsetBy: 2)
            out.append(UInt8(hex[index..<next], radix: 16) ?? 0)
            index = next
        }
        return out
    }
}

/// Runs `body` and returns the Whittle error it throws; records an issue when it does not throw one.
func expectWhittleError(_ body: () throws -> Void, sourceLocation: SourceLocation = #_sourceLocation) -> WhittleError? {
    do {
        try body()
        Issue.record("expected an error", sourceLocation: sourceLocation)
    } catch let error as WhittleError {
        return error
    } catch {
        Issue.record("expected a WhittleError, got \(error)", sourceLocation: sourceLocation)
    }
    return nil
}

/// Infers the output types of a single node applied to inputs of the given types (and constant values).
func inferNode(_ op: String, inputs: [TensorType?], values: [Tensor?] = [], attributes: [String: Attribute] = [:],
               outputs: Int = 1, opset: Int = 13) throws -> [TensorType?] {
    var graph = Graph(name: "unit")
    var names: [String] = []
    for (i, type) in inputs.enumerated() {
        guard let type else { names.append(""); continue }
        let name = "in\(i)"
        names.append(name)
        if i < values.count, let value = values[i] {
            graph.initializers[name] = value
        } else {
            graph.inputs.append(ValueInfo(name: name, type: type))
        }
    }
    let outputNames = (0..<outputs).map { "out\($0)" }
    graph.nodes = [Node(name: "n", opType: op, inputs: names, outputs: outputNames, attributes: attributes)]
    graph.outputs = outputNames.map { ValueInfo(name: $0, type: nil) }
    let result = try ShapeInference.run(Model(opsets: ["": opset], graph: graph))
    if let problem = result.unsupported.first { throw WhittleError(.unsupported, problem.reason) }
    return outputNames.map { result.graph.type(of: $0) }
}

func f32(_ shape: [Int]) -> TensorType { TensorType(.float, shape) }

func i64(_ values: [Int]) -> Tensor? { try? Tensor(int64s: values.map(Int64.init), shape: [values.count]) }

/// `.npy` files for the tests that hand arrays to Python.
enum NPYFormatBridge {
    static func encode(_ array: NDArray) throws -> [UInt8] { try NPYFormat.encode(try array.tensor()) }

    static func decode(_ path: String) throws -> [Float] {
        try NPYFormat.decode(Array(try Data(contentsOf: URL(fileURLWithPath: path))), what: path).floats()
    }
}

/// ONNX's checker and ONNX Runtime on a model written by Whittle (with the project's `.venv`).
enum ONNXRuntimeCheck {
    static let script = """
    import sys, numpy as np, onnx, onnxruntime as ort
    if sys.argv[4] == "check":
        onnx.checker.check_model(sys.argv[1], full_check=True)
    s = ort.InferenceSession(sys.argv[1], providers=["CPUExecutionProvider"])
    np.save(sys.argv[3], s.run(None, {s.get_inputs()[0].name: np.load(sys.argv[2])})[0])
    """

    /// The first output ONNX Runtime computes for `input` (files go to `directory`); fails the test
    /// when the checker or ONNX Runtime refuses the model.
    /// `checker: false` skips the checker (its shape inference does not take sparse initializers).
    static func firstOutput(python: String, model: String, input: NDArray, directory: String, checker: Bool = true,
                            sourceLocation: SourceLocation = #_sourceLocation) throws -> [Float] {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        try Data(try NPYFormatBridge.encode(input)).write(to: URL(fileURLWithPath: directory + "/x.npy"))
        let run = try CommandLineTests.execute(python, ["-c", script, model, directory + "/x.npy", directory + "/y.npy", checker ? "check" : "nocheck"])
        #expect(run.status == 0, "\(run.stderr)", sourceLocation: sourceLocation)
        return run.status == 0 ? try NPYFormatBridge.decode(directory + "/y.npy") : []
    }
}
