import Foundation
import Testing
import WhittleIR
import WhittleKit
import WhittleONNX

/// The ONNX front end on fixtures made by make_fixtures.py with the `onnx` package.
struct ImportTests {
    static let typeNames = ["float32", "float64", "float16", "bfloat16", "int8", "uint8", "int16", "uint16",
                            "int32", "uint32", "int64", "uint64", "bool"]

    @Test(arguments: ["types_raw.onnx", "types_typed.onnx"], typeNames)
    func elementTypeDecodes(file: String, type: String) throws {
        let model = try ONNXReader.read(path: TestPaths.fixture(file))
        let expected = try #require((Expected.json["element_types"] as? [String: Any])?[type] as? [String: Any])
        let tensor = try #require(model.graph.initializers[type])
        #expect(tensor.elementType.name == type)
        #expect(tensor.shape == (expected["shape"] as? [Int]))
        #expect(tensor.bytes == Expected.bytes(hex: expected["hex"] as? String ?? ""))
    }

    @Test func typedValuesReadBack() throws {
        let graph = try ONNXReader.read(path: TestPaths.fixture("types_typed.onnx")).graph
        #expect(graph.initializers["int64"]?.int64s() == [Int64.min, Int64.max, 0, -1, 1 << 40, -(1 << 40)])
        #expect(graph.initializers["uint8"]?.int64s() == [0, 255, 1, 128, 7, 9])
        #expect(graph.initializers["float16"]?.floats().prefix(4) == [1.0, -2.5, 0.000061035156, 65504.0])
        #expect(graph.initializers["bfloat16"]?.floats().prefix(3) == [1.0, -2.5, 3.140625])
        #expect(graph.initializers["bool"]?.int64s() == [1, 0, 1, 1, 0, 0])
    }

    @Test func emptyAndScalarTensors() throws {
        let graph = try ONNXReader.read(path: TestPaths.fixture("types_empty_scalar.onnx")).graph
        #expect(graph.initializers["empty"]?.shape == [0, 4])
        #expect(graph.initializers["empty"]?.bytes.isEmpty == true)
        #expect(graph.initializers["scalar"]?.shape == [])
        #expect(graph.initializers["scalar"]?.floats() == [2.5])
    }

    @Test func unalignedRawData() throws {
        let info = try #require(Expected.json["unaligned"] as? [String: Any])
        #expect((info["offset"] as? Int ?? 0) % 4 != 0, "the fixture must place the data at an unaligned offset")
        let graph = try ONNXReader.read(path: TestPaths.fixture("unaligned_raw.onnx")).graph
        let tensor = try #require(graph.initializers[info["name"] as? String ?? ""])
        #expect(tensor.bytes == Expected.bytes(hex: info["hex"] as? String ?? ""))
        #expect(tensor.floats().first == 0.125)
    }

    /// float8 codes travel one to each int32_data value: 56 and 64 are 1.0 and 2.0 in E4M3FN.
    @Test func float8InitializersDecode() throws {
        let graph = try ONNXReader.read(path: TestPaths.fixture("type_float8.onnx")).graph
        let tensor = try #require(graph.initializers["f8"])
        #expect(tensor.elementType == .float8e4m3fn && tensor.bytes == [56, 64])
        #expect(tensor.floats() == [1, 2])
    }

    @Test(arguments: [("type_string.onnx", "string"), ("type_complex64.onnx", "complex64")])
    func unsupportedElementTypesAreNamed(file: String, type: String) {
        let error = expectWhittleError { _ = try ONNXReader.read(path: TestPaths.fixture(file)) }
        #expect(error?.kind == .unsupported)
        #expect(error?.reason.contains("element type \(type) is not supported") == true)
        #expect(error?.file == TestPaths.fixture(file))
    }

    @Test func initializersListedAsInputsStayConstants() throws {
        let analyzed = try ModelLoader.load(path: TestPaths.fixture("initializer_as_input.onnx"))
        #expect(analyzed.graph.inputs.map(\.name) == ["X"])
        #expect(analyzed.graph.initializers["W"]?.shape == [3, 4])
        #expect(analyzed.graph.type(of: "Y") == TensorType(.float, [2, 4]))
        #expect(analyzed.model.irVersion == 3)
    }

    @Test func constantNodesWithEveryValueAttribute() throws {
        let result = try ModelLoader.load(path: TestPaths.fixture("constants.onnx")).inference
        #expect(result.constants["c_tensor"]?.int64s() == [1, 2, 3, 4])
        #expect(result.constants["c_tensor"]?.elementType == .int32)
        #expect(result.constants["c_float"]?.shape == [])
        #expect(result.constants["c_float"]?.floats() == [0.5])
        #expect(result.constants["c_floats"]?.floats() == [1, 2, 3])
        #expect(result.constants["c_int"]?.int64s() == [7])
        #expect(result.constants["c_int"]?.shape == [])
        #expect(result.constants["c_ints"]?.int64s() == [4, 5, 6, 7])
        #expect(result.unsupported.isEmpty)
    }

    @Test func stringConstantIsReportedNotFatal() throws {
        let result = try ModelLoader.load(path: TestPaths.fixture("constant_string.onnx")).inference
        #expect(result.unsupported.map(\.node.opType) == ["Constant"])
        #expect(result.unsupported.first?.reason.contains("string") == true)
    }

    @Test func otherDomainsAreListedAsUnsupported() throws {
        let analyzed = try ModelLoader.load(path: TestPaths.fixture("domains.onnx"))
        #expect(analyzed.model.opsets == ["": 13, "ai.onnx.ml": 3, "com.microsoft": 1])
        let report = InspectReport(analyzed)
        #expect(report.unsupported.map(\.op) == ["Normalizer", "FastGelu"])
        #expect(report.unsupported.map(\.index) == [1, 2])
        #expect(report.unsupported[0].reason.contains("ai.onnx.ml"))
        #expect(report.unsupported[1].reason.contains("com.microsoft"))
        // Supported nodes before the unknown ones still have shapes.
        #expect(report.nodes[0].outputs.first?.shape == [1, 4])
        #expect(report.text().contains("unsupported operators (2 node(s), marked (!)): ai.onnx.ml.Normalizer, com.microsoft.FastGelu"))
    }

    @Test func externalDataIsReadWithOffsets() throws {
        let graph = try ONNXReader.read(path: TestPaths.fixture("external.onnx")).graph
        let expected = try #require(Expected.json["external"] as? [String: String])
        #expect(graph.initializers["W"]?.bytes == Expected.bytes(hex: expected["W"] ?? ""))
        #expect(graph.initializers["B"]?.bytes == Expected.bytes(hex: expected["B"] ?? ""))
        #expect(graph.initializers["W"]?.shape == [8, 4])
    }

    @Test(arguments: [
        ("external_absolute.onnx", WhittleError.Kind.malformedModel, "is absolute"),
        ("external_escape.onnx", .malformedModel, "leaves the model's folder"),
        ("external_missing.onnx", .io, "external data file \"missing.bin\" not found"),
    ])
    func badExternalDataIsRefused(file: String, kind: WhittleError.Kind, message: String) {
        let error = expectWhittleError { _ = try ONNXReader.read(path: TestPaths.fixture(file)) }
        #expect(error?.kind == kind)
        #expect(error?.reason.contains(message) == true, "\(String(describing: error))")
        #expect(error?.reason.contains("initializer \"W\"") == true)
    }

    /// Links out of the model's folder (to a file or through a folder), devices and FIFOs are refused
    /// before anything is read; a FIFO must not make the reader wait.
    @Test func externalDataCannotEscapeThroughLinksOrBlock() throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("whittle-external-\(getpid())")
        defer { try? FileManager.default.removeItem(at: root) }
        let model = root.appendingPathComponent("model"), outside = root.appendingPathComponent("outside")
        let fm = FileManager.default
        let original = try Data(contentsOf: URL(fileURLWithPath: TestPaths.fixture("external.onnx")))
        let data = try Data(contentsOf: URL(fileURLWithPath: TestPaths.fixture("external.bin")))
        // The same model reading "dd/ernal.bin" (a location of the same length, so the protobuf stays valid).
        var bytes = [UInt8](original)
        let from = Array("external.bin".utf8), to = Array("dd/ernal.bin".utf8)
        var i = 0
        while i + from.count <= bytes.count {
            if Array(bytes[i..<(i + from.count)]) == from { bytes.replaceSubrange(i..<(i + from.count), with: to) }
            i += 1
        }
        func fresh(_ setUp: () throws -> Void) throws {
            try? fm.removeItem(at: root)
            try fm.createDirectory(at: model, withIntermediateDirectories: true)
            try fm.createDirectory(at: outside, withIntermediateDirectories: true)
            try original.write(to: model.appendingPathComponent("a.onnx"))
            try Data(bytes).write(to: model.appendingPathComponent("b.onnx"))
            try setUp()
        }
        let cases: [(String, String, () throws -> Void)] = [
            ("a.onnx", "leaves the model's folder", {
                try data.write(to: outside.appendingPathComponent("external.bin"))
                try fm.createSymbolicLink(atPath: model.appendingPathComponent("external.bin").path, withDestinationPath: outside.appendingPathComponent("external.bin").path)
            }),
            ("b.onnx", "leaves the model's folder", {
                try data.write(to: outside.appendingPathComponent("ernal.bin"))
                try fm.createSymbolicLink(atPath: model.appendingPathComponent("dd").path, withDestinationPath: outside.path)
            }),
            ("a.onnx", "leaves the model's folder", {
                try fm.createSymbolicLink(atPath: model.appendingPathComponent("external.bin").path, withDestinationPath: "/dev/zero")
            }),
            ("a.onnx", "is not a regular file", {
                #expect(mkfifo(model.appendingPathComponent("external.bin").path, 0o600) == 0)
            }),
        ]
        for (file, message, setUp) in cases {
            try fresh(setUp)
            let error = expectWhittleError { _ = try ONNXReader.read(path: model.appendingPathComponent(file).path) }
            #expect(error?.reason.contains(message) == true, "\(String(describing: error))")
        }
        // A link that stays inside the folder is fine.
        try fresh {
            try data.write(to: model.appendingPathComponent("real.bin"))
            try fm.createSymbolicLink(atPath: model.appendingPathComponent("external.bin").path, withDestinationPath: "real.bin")
        }
        #expect(try ONNXReader.read(path: model.appendingPathComponent("a.onnx").path).graph.initializers["W"]?.shape == [8, 4])
    }

    @Test func externalDataNeedsAFolder() throws {
        let bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: TestPaths.fixture("external.onnx"))))
        let error = expectWhittleError { _ = try ONNXReader.read(bytes: bytes) }
        #expect(error?.kind == .io)
    }

    @Test func localFunctionsAreInlined() throws {
        let analyzed = try ModelLoader.load(path: TestPaths.fixture("local_functions.onnx"))
        let nodes = analyzed.graph.nodes
        #expect(nodes.map(\.opType) == ["MatMul", "Add", "LeakyRelu", "MatMul", "Add", "LeakyRelu", "Gemm"])
        #expect(nodes.map(\.name) == ["layer1/MatMul", "layer1/Add", "layer1/LeakyRelu",
                                      "layer2/MatMul", "layer2/Add", "layer2/LeakyRelu", "layer3/Gemm"])
        // The call's attribute is substituted; the second call falls back to the function's default.
        #expect(nodes[2].attributes["alpha"] == .float(0.1))
        #expect(nodes[5].attributes["alpha"] == .float(0.2))
        #expect(nodes[0].inputs == ["X", "w1"])
        #expect(nodes[2].outputs == ["h1"])
        #expect(nodes[5].outputs == ["h2"])
        // The third call names the "fast" overload, whose body is a single Gemm.
        #expect(nodes[6].inputs == ["h2", "w3", "b3"])
        #expect(nodes[6].outputs == ["Y"])
        #expect(analyzed.graph.type(of: "Y") == TensorType(.float, [2, 3]))
        #expect(InspectReport(analyzed).totals.macs == 2 * 4 * 6 + 2 * 6 * 3 + 2 * 3 * 3)
        #expect(analyzed.model.notes.contains { $0.contains("inlined 3 call(s) of 2 model-local function(s)") })
    }

    @Test func subgraphsAreParsedAndReported() throws {
        let analyzed = try ModelLoader.load(path: TestPaths.fixture("subgraphs.onnx"))
        let nodes = analyzed.graph.nodes
        #expect(nodes.map(\.opType) == ["If", "Loop"])
        guard case .graph(let thenBranch)? = nodes[0].attributes["then_branch"],
              case .graph(let elseBranch)? = nodes[0].attributes["else_branch"],
              case .graph(let body)? = nodes[1].attributes["body"] else {
            Issue.record("subgraph attributes missing")
            return
        }
        #expect(thenBranch.nodes.map(\.opType) == ["Relu"])
        #expect(elseBranch.nodes.map(\.opType) == ["Neg"])
        #expect(body.nodes.map(\.opType) == ["Identity", "Add"])
        #expect(body.inputs.map(\.name) == ["i", "c_in", "v_in"])
        #expect(analyzed.inference.unsupported.map(\.node.opType) == ["If", "Loop"])
        #expect(analyzed.inference.unsupported[0].reason.contains("control flow"))
    }

    @Test func symbolicDimensionsDefaultToOne() throws {
        let analyzed = try ModelLoader.load(path: TestPaths.fixture("symbolic_reshape.onnx"))
        #expect(analyzed.graph.inputs.first?.type == TensorType(.float, [1, 3, 4, 4]))
        #expect(analyzed.graph.type(of: "Y") == TensorType(.float, [1, 48]))
        #expect(analyzed.model.notes == ["input \"X\" dimension 0 \"N\" set to 1; give the input a shape to choose another size"])
    }

    @Test func pinnedShapesFlowThroughShapeArithmetic() throws {
        let analyzed = try ModelLoader.load(path: TestPaths.fixture("symbolic_reshape.onnx"), inputShapes: ["X": [4, 3, 4, 4]])
        #expect(analyzed.graph.type(of: "Y") == TensorType(.float, [4, 48]))
        #expect(analyzed.inference.constants["target"]?.int64s() == [4, -1])
        #expect(analyzed.inference.constants["s"]?.int64s() == [4, 3, 4, 4])
        #expect(analyzed.model.notes.isEmpty)
    }

    @Test(arguments: [
        (["X": [4, 3, 4]], "rank 3 but the model declares rank 4"),
        (["X": [4, 2, 4, 4]], "dimension 1 is fixed to 3 by the model, not 2"),
        (["Q": [1]], "\"Q\", which is not a graph input (inputs: X)"),
    ])
    func badPinsAreUsageErrors(pins: [String: [Int]], message: String) {
        let error = expectWhittleError {
            _ = try ModelLoader.load(path: TestPaths.fixture("symbolic_reshape.onnx"), inputShapes: pins)
        }
        #expect(error?.kind == .usage)
        #expect(error?.reason.contains(message) == true, "\(String(describing: error))")
    }

    @Test func inputShapeArgumentParses() throws {
        #expect(try ModelLoader.parseInputShape("input=1,3,96,96") == ("input", [1, 3, 96, 96]))
        #expect(try ModelLoader.parseInputShape("a=b=2") == ("a=b", [2]))
        for bad in ["input", "=1,2", "x=", "x=1,,2", "x=-1", "x=a"] {
            #expect(throws: WhittleError.self) { try ModelLoader.parseInputShape(bad) }
        }
    }
}

/// inspect's summary promises C only when compile delivers it.
struct InspectSupportTests {
    @Test func theSummarySaysWhetherTheModelCompilesToC() throws {
        let good = InspectReport(try ModelLoader.load(path: TestPaths.model("kws_dscnn_int8_qdq.onnx")))
        #expect(good.compilesToC && good.compileProblem == nil && good.text().contains("all operators are supported; compiles to C"))
        // A Resize on doubles: the interpreter runs it, the C back end resizes float tensors only.
        let directory = CBackendTests.workDirectory("inspect-resize-double")
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let resize = HostileModelTests.model([Node(name: "", opType: "Resize", inputs: ["x", "", "scales"], outputs: ["y"])],
                                             inputs: [ValueInfo(name: "x", type: TensorType(.double, [1, 1, 2, 2]))], outputs: ["y"],
                                             initializers: ["scales": try Tensor(floats: [1, 1, 2, 2], shape: [4])])
        try ONNXWriter.write(resize, to: directory + "/resize.onnx")
        let bad = InspectReport(try ModelLoader.load(path: directory + "/resize.onnx"))
        #expect(!bad.compilesToC && bad.unsupported.isEmpty)
        #expect(bad.text().contains("does not compile to C: node 0 (Resize): Resize on float64 is not supported by the C back end"), "\(bad.text())")
        // Per node: the interpreter runs it, the C back end does not.
        #expect(bad.nodes[0].supported && !bad.nodes[0].compiles && bad.nodes[0].kernel == nil)
        #expect(bad.text().contains("no kernel"))
    }

    /// Per node, for a target: the library kernel and the variant its instructions select, or how else the C handles it.
    @Test func eachNodeSaysHowTheTargetsCComputesIt() throws {
        let catalog = try TargetCatalog(explicit: TestPaths.root.appendingPathComponent("Targets").path)
        let analyzed = try ModelLoader.load(path: TestPaths.model("kws_dscnn_int8_qdq.onnx"))
        func kernel(_ report: InspectReport, _ name: String) -> String? { report.nodes.first { $0.name == name }?.kernel }
        let m4 = InspectReport(analyzed, target: try catalog.target("cortex-m4f"))
        #expect(m4.target == "cortex-m4f" && m4.nodes.allSatisfy(\.compiles))
        #expect(kernel(m4, "/net/net.0/net.0.1/Conv") == "whittle_conv_s8 (Arm DSP)")
        #expect(kernel(m4, "/net/net.2/net.2.0/Conv") == "whittle_depthwise_s8 (Arm DSP)")
        #expect(kernel(m4, "/net/net.13/Gemm") == "whittle_fully_connected_s8 (Arm DSP)")
        #expect(kernel(m4, "/net/net.12/Flatten") == "view (no code)")
        #expect(kernel(m4, "/net/net.14/Softmax") == "generated loops")
        #expect(kernel(m4, "/net/net.0/net.0.3/Relu_output_0_QuantizeLinear") == "fused")
        #expect(m4.text().contains("compiles to C for cortex-m4f"))
        // The 64-bit Pi cores take the tiled int8 kernels; the 32-bit ones with the DSP extension keep the paired rows.
        #expect(kernel(InspectReport(analyzed, target: try catalog.target("rpi4")), "/net/net.0/net.0.1/Conv") == "whittle_conv_s8_tiles (NEON)")
        #expect(kernel(InspectReport(analyzed, target: try catalog.target("rpi4")), "/net/net.2/net.2.0/Conv") == "whittle_depthwise3x3_s8_flat (NEON)")
        #expect(kernel(InspectReport(analyzed, target: try catalog.target("rpi3")), "/net/net.0/net.0.1/Conv") == "whittle_conv_s8 (NEON)")
        #expect(kernel(InspectReport(analyzed, target: try catalog.target("cortex-m0plus")), "/net/net.0/net.0.1/Conv") == "whittle_conv_s8 (portable C)")
        let json = try CommandLineTests.run(["inspect", "--json", "--target", "rpi4", TestPaths.model("kws_dscnn_int8_qdq.onnx")])
        #expect(json.status == 0 && json.stdout.contains("\"kernel\" : \"whittle_conv_s8_tiles (NEON)\"") && json.stdout.contains("\"compiles\" : true"))
    }
}

/// Sparse initializers, as pruning tools may write them, are read as dense tensors (after checks).
struct SparseInitializerTests {
    @Test func sparseInitializersAreReadAndRunAsInONNXRuntime() throws {
        guard let python = QuantizerTests.python else {
            if ProcessInfo.processInfo.environment["WHITTLE_REQUIRE_TOOLS"] != nil { Issue.record(".venv is missing") }
            return
        }
        let directory = CBackendTests.workDirectory("sparse-initializer")
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        // w: 8x16 with 10 nonzeros (linear indices); v: 2x3 with coordinates; bad: an index out of range; huge: 2^40 elements.
        let script = """
        import sys, numpy as np, onnx
        from onnx import helper, TensorProto, numpy_helper
        def model(sparse, path):
            g = helper.make_graph([helper.make_node("Gemm", ["x", "w"], ["y"], transB=1)], "g",
                                  [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 16])],
                                  [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 8])], sparse_initializer=[sparse])
            onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)], ir_version=8), path)
        rng = np.random.default_rng(0)
        idx = np.sort(rng.choice(128, 10, replace=False)).astype(np.int64)
        vals = rng.uniform(-1, 1, 10).astype(np.float32)
        sp = helper.make_sparse_tensor(numpy_helper.from_array(vals, "w"), numpy_helper.from_array(idx, "i"), [8, 16])
        model(sp, sys.argv[1] + "/good.onnx")
        dense = np.zeros(128, np.float32); dense[idx] = vals
        np.save(sys.argv[1] + "/dense.npy", dense.reshape(8, 16))
        bad = helper.make_sparse_tensor(numpy_helper.from_array(vals[:1], "w"), numpy_helper.from_array(np.array([500], np.int64), "i"), [8, 16])
        model(bad, sys.argv[1] + "/bad.onnx")
        huge = helper.make_sparse_tensor(numpy_helper.from_array(vals[:1], "w"), numpy_helper.from_array(np.array([0], np.int64), "i"), [1 << 20, 1 << 20])
        model(huge, sys.argv[1] + "/huge.onnx")
        """
        let made = try CommandLineTests.execute(python, ["-c", script, directory])
        #expect(made.status == 0, "\(made.stderr)")
        let good = try ONNXReader.read(path: directory + "/good.onnx")
        let dense = try NPYFormatBridge.decode(directory + "/dense.npy")
        #expect(good.graph.initializers["w"]?.shape == [8, 16] && good.graph.initializers["w"]?.floats() == dense)
        let input = ModelVerifier.randomInputs(for: good.graph, seed: 4)
        let ours = try ModelRunner.run(try ModelLoader.analyze(good, path: directory + "/good.onnx"), inputs: input)["y"]?.floats ?? []
        let ort = try ONNXRuntimeCheck.firstOutput(python: python, model: directory + "/good.onnx", input: try #require(input["x"]), directory: directory,
                                                   checker: false)
        #expect(ChannelPruningTests.close(ours, ort), "\(ours) vs \(ort)")
        let bad = expectWhittleError { _ = try ONNXReader.read(path: directory + "/bad.onnx") }
        #expect(bad?.reason.contains("sparse initializer \"w\": linear index 500 out of range for 128 elements") == true, "\(String(describing: bad))")
        let huge = expectWhittleError { _ = try ONNXReader.read(path: directory + "/huge.onnx") }
        #expect(huge?.reason.contains("would take 4398046511104 bytes") == true, "\(String(describing: huge))")
    }
}
