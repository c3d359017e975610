import Foundation
import Testing
import WhittleIR
import WhittleKit
import WhittleNumPy
import WhittleONNX

/// `whittle run` and its NumPy input/output handling.
struct RunTests {
    static let mlp = TestPaths.model("digits_mlp.onnx")

    static func temporaryDirectory(_ name: String) -> String {
        try? FileManager.default.createDirectory(atPath: CBackendTests.workRoot, withIntermediateDirectories: true)
        return CBackendTests.workDirectory("run-\(name)")
    }

    @Test func npzHoldsEveryDtype() throws {
        let archive = try NPZArchive(path: TestPaths.fixture("npz_all_types.npz"))
        let expected: [String: ElementType] = ["f2": .float16, "f4": .float, "f8": .double, "i1": .int8, "u1": .uint8,
                                               "i2": .int16, "u2": .uint16, "i4": .int32, "u4": .uint32, "i8": .int64,
                                               "u8": .uint64, "b1": .bool]
        for (name, type) in expected {
            let tensor = try archive.array(name)
            #expect(tensor.elementType == type, "\(name)")
            #expect(tensor.shape == [2, 3])
            #expect(tensor.doubles() == (type == .bool ? [0, 1, 1, 1, 1, 1] : [0, 1, 2, 3, 4, 5]), "\(name)")
        }
        #expect(try archive.array("scalar").shape == [])
        #expect(try archive.array("scalar").floats() == [3.5])
        #expect(try archive.array("empty").shape == [0, 3])
    }

    @Test func npyAndNpzRoundTrip() throws {
        let tensor = try Tensor(int64s: [1, -2, 3, -4, 5, -6], shape: [3, 2], as: .int16)
        let decoded = try NPYFormat.decode(NPYFormat.encode(tensor), what: "memory")
        #expect(decoded == tensor)
        let path = Self.temporaryDirectory("roundtrip.npz")
        let floats = try Tensor(floats: [0.5, -1.25], shape: [2])
        try NPZArchive.write([("a", tensor), ("b", floats)], to: path)
        let archive = try NPZArchive(path: path)
        #expect(archive.names == ["a", "b"])
        #expect(try archive.array("a") == tensor)
        #expect(try archive.array("b") == floats)
    }

    @Test(arguments: [
        ("run_fortran.npy", "Fortran-order arrays are not supported"),
        ("run_object.npy", "object arrays are not supported"),
    ])
    func unreadableArraysAreRefused(file: String, message: String) throws {
        let bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: TestPaths.fixture(file))))
        let error = expectWhittleError { _ = try NPYFormat.decode(bytes, what: file) }
        #expect(error?.kind == .unsupported)
        #expect(error?.reason.contains(message) == true, "\(String(describing: error))")
    }

    @Test func inputsAreMatchedByNameThenPosition() throws {
        let graph = try ModelLoader.load(path: Self.mlp).graph
        let good = try ModelRunner.inputs(fromFiles: ["input=" + TestPaths.fixture("run_good.npy")], for: graph)
        let named = try ModelRunner.inputs(fromArchive: TestPaths.fixture("run_named.npz"), for: graph)
        let positional = try ModelRunner.inputs(fromArchive: TestPaths.fixture("run_positional.npz"), for: graph)
        let bigEndian = try ModelRunner.inputs(fromFiles: ["input=" + TestPaths.fixture("run_big_endian.npy")], for: graph)
        #expect(named == good)
        #expect(positional == good)
        #expect(bigEndian == good)
    }

    /// float64 data (NumPy's default) is converted, as quantize's and prune's data are; integer data for a float input is refused.
    @Test func floatDataOfAnotherPrecisionIsConverted() throws {
        let graph = try ModelLoader.load(path: Self.mlp).graph
        let converted = try #require(try ModelRunner.inputs(fromFiles: ["input=" + TestPaths.fixture("run_wrong_dtype.npy")], for: graph)["input"])
        #expect(converted.elementType == .float && converted.shape == [1, 64])
        let path = CBackendTests.workDirectory("int-input.npy")
        try FileManager.default.createDirectory(atPath: CBackendTests.workRoot, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: path) }
        try Data(try NPYFormat.encode(try Tensor(int64s: Array(repeating: 1, count: 64), shape: [1, 64], as: .int32))).write(to: URL(fileURLWithPath: path))
        let error = expectWhittleError { _ = try ModelRunner.inputs(fromFiles: ["input=" + path], for: graph) }
        #expect(error?.reason.contains("dtype int32 does not match input \"input\" of type float32") == true, "\(String(describing: error))")
    }

    @Test(arguments: [
        (["input=run_wrong_shape.npy"], "shape 1x63 does not match input \"input\" of shape 1x64"),
        (["other=run_good.npy"], "an input file is given for \"other\", which is not a graph input (inputs: input)"),
        (["run_good.npy"], "must be given as NAME=FILE.npy"),
        ([String](), "no value given for input \"input\""),
    ])
    func badInputFilesAreUsageErrors(arguments: [String], message: String) throws {
        let graph = try ModelLoader.load(path: Self.mlp).graph
        let resolved = arguments.map { $0.contains("=") ? $0.replacingOccurrences(of: "=", with: "=" + TestPaths.fixtures.path + "/") : $0 }
        let error = expectWhittleError { _ = try ModelRunner.inputs(fromFiles: resolved, for: graph) }
        #expect(error?.kind == .usage)
        #expect(error?.reason.contains(message) == true, "\(String(describing: error))")
    }

    @Test func archiveWithoutTheInputIsAUsageError() throws {
        let graph = try ModelLoader.load(path: Self.mlp).graph
        let error = expectWhittleError { _ = try ModelRunner.inputs(fromArchive: TestPaths.fixture("run_missing.npz"), for: graph) }
        #expect(error?.reason.contains("looked for \"input\", \"in_0\", \"arr_0\"; it has: other") == true)
    }

    @Test func fileNamesAreSanitizedAndUnique() {
        var taken = Set<String>()
        #expect(ModelRunner.fileName(for: "/net/fc/Gemm_output_0", taken: &taken) == "_net_fc_Gemm_output_0.npy")
        #expect(ModelRunner.fileName(for: "_net_fc_Gemm_output_0", taken: &taken) == "_net_fc_Gemm_output_0_2.npy")
        #expect(ModelRunner.fileName(for: "..", taken: &taken) == "_...npy")
        #expect(ModelRunner.fileName(for: "logits", taken: &taken) == "logits.npy")
    }

    /// End to end through the command line: outputs and a trace as .npy files that match ONNX Runtime.
    @Test func commandLineRunWritesOutputsAndTrace() throws {
        let out = Self.temporaryDirectory("out"), trace = Self.temporaryDirectory("trace")
        let result = try CommandLineTests.run(["run", TestPaths.model("kws_dscnn.onnx"),
                                               "--input", "input=" + TestPaths.root.appendingPathComponent("Examples/kws_dscnn_input.npy").path,
                                               "-o", out, "--trace", trace])
        #expect(result.status == 0, "\(result.stderr)")
        let probs = try NPYFormat.decode([UInt8](Data(contentsOf: URL(fileURLWithPath: out + "/probs.npy"))), what: "probs")
        let reference = try NPZArchive(path: TestPaths.model("kws_dscnn.refs.npz")).array("out_0")
        let expected = Array(reference.floats().prefix(12))
        #expect(probs.shape == [1, 12])
        for (g, e) in zip(probs.floats(), expected) { #expect(abs(g - e) <= 1e-4) }
        let traced = try FileManager.default.contentsOfDirectory(atPath: trace)
        #expect(traced.count == 22)
        #expect(traced.contains("probs.npy"))
    }

    @Test func commandLineRejectsBadInputs() throws {
        let result = try CommandLineTests.run(["run", Self.mlp, "--input", "input=" + TestPaths.fixture("run_fortran.npy"), "-o", "/tmp"])
        #expect(result.status == 1)
        #expect(result.stderr.hasPrefix("error: "))
        #expect(result.stderr.contains("Fortran-order"))
        let neither = try CommandLineTests.run(["run", Self.mlp, "-o", "/tmp"])
        #expect(neither.status != 0)
        #expect(neither.stderr.contains("give --inputs FILE.npz, one --input NAME=FILE.npy (or .pb) per input, or --test-data DIR"))
    }

    /// A model whose Expand size is computed from an input's data: `whittle run` binds the inputs it is
    /// given, specializes the model on them and runs it; the trace has the values computed on the way.
    @Test func inputsThatSetShapesAreBoundAtRunTime() throws {
        let directory = Self.temporaryDirectory("bind")
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        var graph = Graph(name: "expand_by_input", inputs: [ValueInfo(name: "x", type: TensorType(.float, [2, 1])),
                                                             ValueInfo(name: "n", type: TensorType(.int64, [2]))])
        graph.initializers["one"] = try Tensor(int64s: [0, 1], shape: [2])
        graph.nodes = [Node(name: "size", opType: "Add", inputs: ["n", "one"], outputs: ["size"]),
                       Node(name: "grow", opType: "Expand", inputs: ["x", "size"], outputs: ["y"])]
        graph.outputs = [ValueInfo(name: "y", type: nil)]
        let path = directory + "/expand.onnx", inputs = directory + "/inputs.npz"
        try ONNXWriter.write(Model(opsets: ["": 13], graph: graph), to: path)
        try NPZArchive.write([("x", try Tensor(floats: [1, 2], shape: [2, 1])), ("n", try Tensor(int64s: [2, 2], shape: [2]))], to: inputs)
        #expect(try ModelLoader.load(path: path).needsInputValues)
        let result = try CommandLineTests.run(["run", path, "--inputs", inputs, "-o", directory + "/out", "--trace", directory + "/trace"])
        #expect(result.status == 0, "\(result.stderr)")
        let y = try NPYFormat.decode([UInt8](Data(contentsOf: URL(fileURLWithPath: directory + "/out/y.npy"))), what: "y")
        #expect(y.shape == [2, 3])
        #expect(y.floats() == [1, 1, 1, 2, 2, 2])
        #expect(Set(try FileManager.default.contentsOfDirectory(atPath: directory + "/trace")) == ["size.npy", "y.npy"])
        // Without values the compiler names what it cannot know, and the input to bind.
        let compile = try CommandLineTests.run(["compile", path, "-o", directory + "/c"])
        #expect(compile.status != 0)
        #expect(compile.stderr.contains("Expand") && compile.stderr.contains(" as n=...") && compile.stderr.contains("(--bind)"), "\(compile.stderr)")
        // Bound, it compiles, and the C matches the interpreter.
        let bound = try CommandLineTests.run(["compile", path, "--bind", "n=2,2", "-o", directory + "/c"])
        #expect(bound.status == 0, "\(bound.stderr)")
        #expect(try String(contentsOfFile: directory + "/c/expand.h", encoding: .utf8).contains("const float *x, float *y"))
        let verify = try CommandLineTests.run(["verify", path, "--bind", "n=2,2", "--inputs", inputs])
        #expect(verify.status == 0, "\(verify.stdout)\(verify.stderr)")
        let wrong = try CommandLineTests.run(["compile", path, "--bind", "n=2,2,2", "-o", directory + "/c"])
        #expect(wrong.status != 0 && wrong.stderr.contains("does not match input \"n\""), "\(wrong.stderr)")
        let float = try CommandLineTests.run(["compile", path, "--bind", "n=2.5,2", "-o", directory + "/c"])
        #expect(float.status != 0 && float.stderr.contains("must be integers"), "\(float.stderr)")
    }
}
