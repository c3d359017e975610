import Foundation
import Testing
import WhittleInterpreter
import WhittleIR
import WhittleKit
import WhittleOps
import WhittleNumPy
import WhittleONNX
import WhittlePasses

/// Well-formed models that declare absurd sizes: a clean error naming the node, never a trap, an
/// allocation that aborts, or C with int counters that overflow.
struct HostileModelTests {
    static func model(_ nodes: [Node], inputs: [ValueInfo] = [], outputs: [String], initializers: [String: Tensor] = [:]) -> Model {
        var graph = Graph(name: "hostile")
        graph.inputs = inputs
        graph.nodes = nodes
        graph.initializers = initializers
        graph.outputs = outputs.map { ValueInfo(name: $0, type: nil) }
        return Model(opsets: ["": 13], graph: graph)
    }

    static func scalar(_ v: Int64) throws -> Tensor { try Tensor(int64s: [v], shape: []) }

    @Test func integerRangesAtTheExtremesAreExact() throws {
        let cases: [(Int64, Int64, Int64, [Int64]?)] = [
            (.min, .max, 1 << 62, [.min, -(1 << 62), 0, 1 << 62]),
            (.max, .min, -(1 << 62), [.max, .max &- (1 << 62), .max &- (1 << 62) &* 2, .max &- (1 << 62) &* 3]),
            (0, .max, .max, [0]),
            (.min, 0, 1, nil),
        ]
        for (start, limit, delta, expected) in cases {
            let m = Self.model([Node(name: "range", opType: "Range", inputs: ["s", "l", "d"], outputs: ["y"])], outputs: ["y"],
                               initializers: ["s": try Self.scalar(start), "l": try Self.scalar(limit), "d": try Self.scalar(delta)])
            if let expected {
                let types = try ShapeInference.run(m)
                let y = try Interpreter(model: m, inference: types).run([:])["y"]?.ints
                #expect(y == expected, "\(start) \(limit) \(delta)")
            } else {
                let error = expectWhittleError { _ = try ShapeInference.run(m) }
                #expect(error?.reason.contains("not a finite size below 2^31") == true)
            }
        }
    }

    @Test func tensorsTheCCannotCountAreRefused() throws {
        for shape in [[1 << 31, 1 << 31], [1, 1 << 31]] {
            let m = Self.model([Node(name: "relu", opType: "Relu", inputs: ["x"], outputs: ["y"])],
                               inputs: [ValueInfo(name: "x", type: TensorType(.float, shape))], outputs: ["y"])
            let error = expectWhittleError { _ = try ModelCompiler.compile(try ModelLoader.analyze(m, path: "huge.onnx")) }
            #expect(error?.reason.contains("more than 2,147,483,647 elements") == true, "\(String(describing: error))")
            // inspect still describes it.
            _ = InspectReport(try ModelLoader.analyze(m, path: "huge.onnx"))
        }
        let expand = Self.model([Node(name: "expand", opType: "Expand", inputs: ["x", "s"], outputs: ["y"])],
                                inputs: [ValueInfo(name: "x", type: TensorType(.float, [1]))], outputs: ["y"],
                                initializers: ["s": try Tensor(int64s: [100_000, 100_000, 100_000], shape: [3])])
        let error = expectWhittleError { _ = try ModelCompiler.compile(try ModelLoader.analyze(expand, path: "expand.onnx")) }
        #expect(error?.node?.description.contains("Expand") == true && error?.reason.contains("100000x100000x100000") == true)
    }

    @Test func hugeOutputsAreRefusedBeforeAllocating() throws {
        let m = Self.model([Node(name: "fill", opType: "ConstantOfShape", inputs: ["s"], outputs: ["y"])], outputs: ["y"],
                           initializers: ["s": try Tensor(int64s: [100_000, 100_000, 100_000], shape: [3])])
        let analyzed = try ModelLoader.analyze(m, path: "fill.onnx")
        let error = expectWhittleError { _ = try ModelRunner.run(analyzed, inputs: [:]) }
        // The default: 4 GiB, or half of what this process may allocate when that is less.
        #expect(ProcessMemory.tensorLimit <= 1 << 32 && ProcessMemory.tensorLimit <= ProcessMemory.allocatableBytes / 2)
        #expect(error?.reason.contains("would take 4000000000000000 bytes, more than the \(ProcessMemory.tensorLimit) bytes allowed") == true,
                "\(String(describing: error))")
        let small = expectWhittleError { _ = try ModelRunner.run(analyzed, inputs: [:], maxTensorBytes: 16) }
        #expect(small?.reason.contains("more than the 16 bytes") == true)
        #expect(try TargetBudget.parse("4G") == 1 << 32)
        #expect(throws: WhittleError.self) { _ = try TargetBudget.parse("99999999999999G") }
    }
}

/// Models that nest subgraphs or types tens of thousands of levels deep are refused before the
/// recursive protobuf decoder sees them.
struct DeepNestingTests {
    /// Builds a message inside out by prepending (kept reversed, so each level costs its own size).
    struct InsideOut {
        var reversed: [UInt8] = []
        var length = 0

        static func varint(_ value: Int) -> [UInt8] {
            var v = UInt64(value), out: [UInt8] = []
            repeat {
                out.append(UInt8(v & 0x7F) | (v >= 0x80 ? 0x80 : 0))
                v >>= 7
            } while v != 0
            return out
        }

        mutating func prepend(_ chunk: [UInt8]) {
            reversed.append(contentsOf: chunk.reversed())
            length += chunk.count
        }

        /// Wraps everything so far as field `field` (length-delimited) of a new message.
        mutating func wrap(_ field: Int) {
            prepend(Self.varint(length))
            prepend(Self.varint(field << 3 | 2))
        }

        var bytes: [UInt8] { reversed.reversed() }
    }

    /// A ModelProto around `graph` (ir_version 8, opset 13).
    static func model(_ graph: InsideOut) -> [UInt8] {
        var m = graph
        m.wrap(7)
        m.prepend([0x42, 0x02, 0x10, 0x0D])  // opset_import { version: 13 }
        m.prepend([0x08, 0x08])  // ir_version: 8
        return m.bytes
    }

    @Test(arguments: [2_000, 100_000])
    func nestedIfGraphsAreRefused(levels: Int) throws {
        var g = InsideOut()
        for _ in 0..<levels {
            g.wrap(6)  // AttributeProto.g
            g.prepend([0xA0, 0x01, 0x05])  // type: GRAPH
            g.prepend([0x0A, 0x0B] + Array("then_branch".utf8))
            g.wrap(5)  // NodeProto.attribute
            g.prepend([0x22, 0x02] + Array("If".utf8))
            g.wrap(1)  // GraphProto.node
        }
        let error = expectWhittleError { _ = try ONNXReader.read(bytes: Self.model(g)) }
        #expect(error?.reason.contains("nests graphs or types more than 64 levels deep") == true, "\(String(describing: error))")
    }

    @Test func nestedSequenceTypesAreRefused() throws {
        var t = InsideOut()
        for _ in 0..<100_000 {
            t.wrap(1)  // Sequence.elem_type
            t.wrap(4)  // TypeProto.sequence_type
        }
        t.wrap(2)  // ValueInfoProto.type
        t.prepend([0x0A, 0x01, 0x78])  // name: "x"
        t.wrap(11)  // GraphProto.input
        let error = expectWhittleError { _ = try ONNXReader.read(bytes: Self.model(t)) }
        #expect(error?.reason.contains("more than 64 levels deep") == true, "\(String(describing: error))")
    }

    @Test func realModelsPassTheCheck() throws {
        for name in ["digits_cnn", "kws_dscnn_int8_qdq"] { _ = try ONNXReader.read(path: TestPaths.model("\(name).onnx")) }
        _ = try ONNXReader.read(path: TestPaths.fixture("local_functions.onnx"))
    }
}

/// Graphs that are large rather than wrong compile in time linear in their size; functions that
/// expand exponentially are refused.
struct ScaleTests {
    @Test func longChainsAndWideNodesCompile() throws {
        let n = 20_000
        var chain = HostileModelTests.model((0..<n).map { i in
            Node(name: "r\(i)", opType: "Relu", inputs: [i == 0 ? "x" : "v\(i - 1)"], outputs: [i == n - 1 ? "y" : "v\(i)"])
        }, inputs: [ValueInfo(name: "x", type: TensorType(.float, [1, 4]))], outputs: ["y"])
        chain.graph.name = "chain"
        let compiled = try ModelCompiler.compile(try ModelLoader.analyze(chain, path: "chain.onnx"))
        // Every Relu runs in place on one buffer.
        #expect(compiled.bundle.plan.arenaBytes == 16 && compiled.bundle.layers.count == n)
        let names = (0..<n).map { "x\($0)" }
        let sum = HostileModelTests.model([Node(name: "sum", opType: "Sum", inputs: names, outputs: ["y"])],
                                          inputs: names.map { ValueInfo(name: $0, type: TensorType(.float, [1])) }, outputs: ["y"])
        let wide = try ModelCompiler.compile(try ModelLoader.analyze(sum, path: "sum.onnx")).bundle
        #expect(wide.header.contains("SUM_INPUT_19999_SIZE 1"))
    }

    @Test func exponentialFunctionsAreRefused() throws {
        guard let python = QuantizerTests.python else {
            if ProcessInfo.processInfo.environment["WHITTLE_REQUIRE_TOOLS"] != nil { Issue.record(".venv is missing") }
            return
        }
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("whittle-functions-\(getpid()).onnx").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        // F0 calls F1 twice, F1 calls F2 twice, ... 40 levels: 2^40 calls if expanded.
        let script = """
        import sys, onnx
        from onnx import helper, TensorProto
        funcs = []
        for k in range(40):
            body = [helper.make_node("Relu", ["a"], ["b"])] if k == 39 else [
                helper.make_node("F%d" % (k + 1), ["a"], ["t"], domain="local"), helper.make_node("F%d" % (k + 1), ["t"], ["b"], domain="local")]
            funcs.append(helper.make_function("local", "F%d" % k, ["a"], ["b"], body, [helper.make_opsetid("", 13), helper.make_opsetid("local", 1)]))
        g = helper.make_graph([helper.make_node("F0", ["x"], ["y"], domain="local")], "fn",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])], [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1])])
        onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 13), helper.make_opsetid("local", 1)], ir_version=8, functions=funcs), sys.argv[1])
        """
        let made = try CommandLineTests.execute(python, ["-c", script, path])
        #expect(made.status == 0, "\(made.stderr)")
        let error = expectWhittleError { _ = try ONNXReader.read(path: path) }
        #expect(error?.reason.contains("inlining the model's functions takes more than 200000 calls") == true, "\(String(describing: error))")
    }
}

/// The interpreter and the C agree where inputs are not ordinary numbers, and pools that ONNX
/// leaves undefined are refused by both.
struct EdgeSemanticsTests {
    @Test func reluKeepsNaNAndInfinityLikeONNXRuntime() throws {
        for fused in [false, true] {
            var nodes = [Node(name: "relu", opType: "Relu", inputs: [fused ? "s" : "x"], outputs: ["y"])]
            if fused { nodes.insert(Node(name: "add", opType: "Add", inputs: ["x", "x"], outputs: ["s"]), at: 0) }
            let m = HostileModelTests.model(nodes, inputs: [ValueInfo(name: "x", type: TensorType(.float, [1, 5]))], outputs: ["y"])
            let analyzed = try ModelLoader.analyze(m, path: "relu.onnx")
            let x = NDArray(.float, shape: [1, 5], floats: [.nan, -1, 2, .infinity, -.infinity])
            let y = try #require(try ModelRunner.run(analyzed, inputs: ["x": x])["y"]?.floats)
            #expect(y[0].isNaN && y[1] == 0 && y[3] == .infinity && y[4] == 0, "\(y)")
            let directory = CBackendTests.workDirectory("relu-nan-\(fused)")
            defer { try? FileManager.default.removeItem(atPath: directory) }
            let results = try ModelVerifier.verify(analyzed, inputs: ["x": x], options: ModelVerifier.Options(), workDirectory: directory)
            #expect(results.allSatisfy { $0.passed }, "fused \(fused): \(results.map { "\($0.name) \($0.maxAbsError)" })")
        }
    }

    @Test func poolsWithoutAValueAreRefused() throws {
        let pool = HostileModelTests.model([Node(name: "pool", opType: "MaxPool", inputs: ["x"], outputs: ["y"],
                                                 attributes: ["kernel_shape": .ints([2, 2]), "pads": .ints([2, 0, 0, 0])])],
                                           inputs: [ValueInfo(name: "x", type: TensorType(.float, [1, 1, 4, 4]))], outputs: ["y"])
        let padded = expectWhittleError { _ = try ModelLoader.analyze(pool, path: "pool.onnx") }
        #expect(padded?.reason.contains("must be smaller than kernel_shape") == true, "\(String(describing: padded))")
        let global = HostileModelTests.model([Node(name: "gap", opType: "GlobalAveragePool", inputs: ["x"], outputs: ["y"])],
                                             inputs: [ValueInfo(name: "x", type: TensorType(.float, [1, 2, 0, 3]))], outputs: ["y"])
        let empty = expectWhittleError { _ = try ModelLoader.analyze(global, path: "gap.onnx") }
        #expect(empty?.reason.contains("over an empty map") == true, "\(String(describing: empty))")
    }
}

/// Empty tensors (a dimension of 0) compile to valid C: layers with empty outputs emit no code,
/// empty buffers never share an address (restrict), reductions over nothing give their identity.
struct EmptyTensorTests {
    @Test(arguments: ["gcc", "clang"])
    func emptyTensorsCompileAndMatchTheInterpreter(compiler: String) throws {
        let model = HostileModelTests.model([
            Node(name: "fc", opType: "Gemm", inputs: ["x", "w", "b"], outputs: ["g"]),
            Node(name: "act", opType: "Relu", inputs: ["g"], outputs: ["r"]),
            Node(name: "soft", opType: "Softmax", inputs: ["r"], outputs: ["s"], attributes: ["axis": .int(-1)]),
            Node(name: "flip", opType: "Transpose", inputs: ["s"], outputs: ["t"], attributes: ["perm": .ints([1, 0])]),
            Node(name: "mean", opType: "ReduceMean", inputs: ["t"], outputs: ["m"], attributes: ["axes": .ints([1]), "keepdims": .int(1)]),
            Node(name: "peak", opType: "ReduceMax", inputs: ["t"], outputs: ["p"], attributes: ["axes": .ints([1]), "keepdims": .int(0)]),
            Node(name: "pad", opType: "Pad", inputs: ["t", "pads"], outputs: ["padded"]),
        ], inputs: [ValueInfo(name: "x", type: TensorType(.float, [0, 4]))], outputs: ["m", "p", "padded"],
           initializers: ["w": try Tensor(floats: Array(repeating: 0.5, count: 12), shape: [4, 3]),
                          "b": try Tensor(floats: [1, 2, 3], shape: [3]), "pads": try Tensor(int64s: [0, 1, 0, 1], shape: [4])])
        let analyzed = try ModelLoader.analyze(model, path: "empty.onnx")
        var options = ModelVerifier.Options()
        options.compiler = compiler
        let results = try ModelVerifier.verify(analyzed, inputs: nil, options: options, workDirectory: CBackendTests.workDirectory("empty-\(compiler)"))
        for c in results { #expect(c.passed, "\(c.name): max abs error \(c.maxAbsError)") }
        let compiled = try ModelCompiler.compile(analyzed)
        #expect(compiled.bundle.source.contains("empty output, no code"))
    }

    @Test func edgePaddingOfAnEmptyAxisIsRefused() throws {
        let model = HostileModelTests.model([Node(name: "pad", opType: "Pad", inputs: ["x", "pads"], outputs: ["y"], attributes: ["mode": .string("edge")])],
                                            inputs: [ValueInfo(name: "x", type: TensorType(.float, [0, 4]))], outputs: ["y"],
                                            initializers: ["pads": try Tensor(int64s: [1, 0, 1, 0], shape: [4])])
        let error = expectWhittleError { _ = try ShapeInference.run(model) }
        #expect(error?.reason.contains("mode edge cannot pad axis 0, which is empty") == true, "\(String(describing: error))")
    }
}

/// Memory a run may take, thousands of values alive at once, and cells as wide as a rank-100,000
/// shape: errors or linear work, never an abort or a hang.
struct ProcessBudgetTests {
    /// Values that fit one by one but not together are refused before the allocation that would
    /// take the process past what it may have.
    @Test func valuesThatDoNotFitTogetherAreRefused() throws {
        let fills = (0..<3).map { Node(name: "neg\($0)", opType: "Neg", inputs: ["x"], outputs: ["y\($0)"]) }
        let m = HostileModelTests.model(fills, inputs: [ValueInfo(name: "x", type: TensorType(.float, [1000]))], outputs: ["y0", "y1", "y2"])
        let analyzed = try ModelLoader.analyze(m, path: "negations.onnx")
        let x = ["x": NDArray(try Tensor(floats: Array(repeating: 1, count: 1000), shape: [1000]))]
        let error = expectWhittleError { _ = try ModelRunner.run(analyzed, inputs: x, maxTensorBytes: 4096, maxTotalBytes: 10_000) }
        #expect(error?.node?.description.contains("neg2") == true, "\(String(describing: error))")
        #expect(error?.reason.contains("the values computed before it 8000: more than the 10000 bytes this process can allocate") == true)
        #expect(try ModelRunner.run(analyzed, inputs: x, maxTensorBytes: 4096, maxTotalBytes: 12_000).count == 3)
    }

    /// `whittle run` under `ulimit -v 4G` on a model that fills 4 GiB: `error:` and exit 1, not an
    /// abort in the allocator. (A machine whose hard limit is lower keeps it: the run is refused
    /// either way.)
    @Test func aTensorLargerThanTheAddressSpaceLimitIsAnError() throws {
        let directory = CBackendTests.workDirectory("address-space")
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let m = HostileModelTests.model([Node(name: "fill", opType: "ConstantOfShape", inputs: ["s"], outputs: ["c"],
                                 attributes: ["value": .tensor(try Tensor(floats: [1], shape: [1]))]),
                            Node(name: "add", opType: "Add", inputs: ["c", "x"], outputs: ["y"])],
                           inputs: [ValueInfo(name: "x", type: TensorType(.float, [1]))], outputs: ["y"],
                           initializers: ["s": try Tensor(int64s: [1 << 30], shape: [1])])
        try ONNXWriter.write(m, to: directory + "/fill.onnx")
        try Data(try NPYFormat.encode(try Tensor(floats: [1], shape: [1]))).write(to: URL(fileURLWithPath: directory + "/x.npy"))
        let executable = try #require(TestPaths.whittle)
        let run = try CommandLineTests.execute("/bin/sh", ["-c", "ulimit -v 4194304; exec \"$0\" run fill.onnx --input x=x.npy -o out", executable.path],
                                               in: directory)
        #expect(run.status == 1 && run.stderr.hasPrefix("error: fill.onnx: ") && run.stderr.contains("(ConstantOfShape)")
                && run.stderr.contains("would take 4294967296 bytes"), "\(run.status) \(run.stderr)")
    }

    /// Thousands of values alive at once (a Sum of 3,000 Relus, past the planner's `manyBuffers`):
    /// every value gets its own bytes, and the arena is the bytes alive at the Sum.
    @Test func thousandsOfValuesAliveTogetherArePlacedApart() throws {
        let n = 3_000
        var nodes = (0..<n).map { Node(name: "r\($0)", opType: "Relu", inputs: ["x"], outputs: ["v\($0)"]) }
        nodes.append(Node(name: "sum", opType: "Sum", inputs: (0..<n).map { "v\($0)" }, outputs: ["y"]))
        let m = HostileModelTests.model(nodes, inputs: [ValueInfo(name: "x", type: TensorType(.float, [1, 4]))], outputs: ["y"])
        let plan = try ModelCompiler.compile(try ModelLoader.analyze(m, path: "sum.onnx")).bundle.plan
        #expect(plan.buffers.count > MemoryPlanner.manyBuffers)
        #expect(plan.arenaBytes == plan.lowerBound && plan.arenaBytes == 16 * n, "\(plan.arenaBytes) \(plan.lowerBound)")
        let spans = plan.buffers.map { ($0.offset, $0.offset + 16) }.sorted { $0.0 < $1.0 }
        #expect(zip(spans, spans.dropFirst()).allSatisfy { $0.1 <= $1.0 })
    }

    /// An initializer of rank 100,000 is described by `inspect` (its table cells are as wide as the
    /// shape; trailing blanks used to go by a pattern that backtracked over every run of padding).
    @Test func aRank100000InitializerIsInspected() throws {
        let w = try Tensor(floats: [1], shape: Array(repeating: 1, count: 100_000))
        let m = HostileModelTests.model([Node(name: "add", opType: "Add", inputs: ["x", "w"], outputs: ["y"])],
                           inputs: [ValueInfo(name: "x", type: TensorType(.float, [1]))], outputs: ["y"], initializers: ["w": w])
        let text = InspectReport(try ModelLoader.analyze(m, path: "rank.onnx")).text()
        #expect(text.contains("Add") && !text.split(separator: "\n").contains { $0.last?.isWhitespace == true })
        #expect(InspectReport.table([["a", "bbbbbb", "c"], ["aaaa", "b", ""]], rightAligned: []) == ["a     bbbbbb  c", "aaaa  b"])
    }
}

