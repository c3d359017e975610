import Foundation
import Testing
import WhittleIR
import WhittleKit
import WhittleNumPy
import WhittleONNX
import WhittlePasses

/// Models with 4-bit weights as ONNX Runtime's quantizer writes them (opset 21 QDQ, int4/uint4
/// initializers packed two to a byte): the integer kernels get the weights as int8 values (the C
/// stores signed ones two per byte again, uint4 with zero points one per byte), the C equals the interpreter on the host (sanitized) and under QEMU, and the interpreter
/// agrees with ONNX Runtime. A packed weight reaching a byte kernel is the failure this guards.
struct LowBitImportTests {
    /// Each case: the model, ONNX Runtime's weight type, and whether the model keeps its opset (13),
    /// so that ONNX Runtime writes its com.microsoft QuantizeLinear/DequantizeLinear.
    @Test(arguments: [("kws_dscnn", "QInt4", false), ("digits_mlp", "QUInt4", false), ("kws_dscnn", "QInt4", true)])
    func ortFourBitWeightsCompileToCorrectC(model: String, weightType: String, contrib: Bool) throws {
        guard let python = QuantizerTests.python else {
            if ProcessInfo.processInfo.environment["WHITTLE_REQUIRE_TOOLS"] != nil { Issue.record("the test venv with onnxruntime is missing") }
            return
        }
        let directory = CBackendTests.workDirectory("low-bit-\(model)-\(weightType)\(contrib ? "-contrib" : "")")
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let path = directory + "/\(model)_\(weightType).onnx", refs = TestPaths.model("\(model).refs.npz")
        let made = try CommandLineTests.execute(python, [TestPaths.root.appendingPathComponent("Tests/Quantization/ort_low_bit.py").path,
                                                         TestPaths.model("\(model).onnx"), refs, "in_0", path, weightType]
                                                        + (contrib ? ["contrib"] : []))
        #expect(made.status == 0, "\(made.stderr.suffix(600))")
        let analyzed = try ModelLoader.load(path: path)
        if contrib {
            // Read as the standard operators; written back in ONNX Runtime's form, which it loads and runs.
            #expect(analyzed.model.opsets["com.microsoft"] != nil && analyzed.model.opsets[""] ?? 0 < 21)
            #expect(analyzed.graph.nodes.contains { $0.opType == "DequantizeLinear" && $0.domain.isEmpty })
            let rewritten = directory + "/rewritten.onnx"
            try ONNXWriter.write(analyzed.model, to: rewritten)
            #expect(try ONNXReader.read(path: rewritten).graph.nodes.count == analyzed.model.graph.nodes.count)
            let again = try CommandLineTests.execute(python, [TestPaths.root.appendingPathComponent("Tests/Quantization/ort_run.py").path,
                                                              rewritten, refs, "in_0", directory + "/again.npz"])
            #expect(again.status == 0, "ONNX Runtime on the written model: \(again.stderr.suffix(600))")
        }
        let packed = analyzed.graph.initializers.values.filter { $0.elementType == .int4 || $0.elementType == .uint4 }
        #expect(!packed.isEmpty, "\(model): ONNX Runtime wrote no 4-bit weights")

        // Every convolution and matrix product runs on the integer kernels, with byte weights.
        let (optimized, types) = try PassPipeline.standard.run(analyzed.model)
        let integer = optimized.graph.nodes.filter { ["QLinearConv", "QGemm"].contains($0.opType) }
        #expect(!integer.isEmpty && !optimized.graph.nodes.contains { ["Conv", "Gemm"].contains($0.opType) })
        for node in integer {
            let weight = types.graph.type(of: node.inputs[3])?.elementType
            #expect(weight == .int8 || weight == .uint8, "\(node.name): weights are \(String(describing: weight))")
        }

        // The interpreter is within one quantization step of ONNX Runtime on the reference inputs.
        let (differing, total, worst) = try Deployed.againstONNXRuntime(analyzed, path: path, refs: refs, python: python, directory: directory)
        print("\(weightType) \(model): \(differing) of \(total) output elements differ from ONNX Runtime (max \(worst) steps)")
        #expect(worst <= 1.0 + 1e-6)

        // The C computes exactly what the interpreter does: sanitized on the host, under QEMU on devices
        // (for the signed 4-bit model, with every kernel form that reads weights two per byte).
        let fourBit = weightType == "QInt4" && !contrib
        try Deployed.expectCEqualsInterpreter(analyzed, path: path, directory: directory,
                                              targets: fourBit ? FourBitWeightTests.everyWeightForm : ["cortex-m4f", "rpi4"])
        if fourBit {
            // The five convolutions and the matrix product on the library kernels store their weights two per
            // byte (the uint8 depthwise layers run on generated loops, a byte per weight).
            var options = CompileOptions()
            options.adopt(try #require(TargetTests.catalog).target("cortex-m4f"))
            let report = CompileReport(try ModelCompiler.compile(analyzed, options: options))
            let bits = report.layers.compactMap { layer in layer.weightBits.map { ($0, layer.kernels) } }
            #expect(bits.count == 6 && bits.allSatisfy { $0.0 == 4 }, "\(bits)")
        }
    }

    /// ONNX Runtime's 16×8 QDQ models (int16 activations, int8 weights; standard opset 21 and its
    /// com.microsoft forms) compile and verify on the host and devices. Their layers become integer
    /// operators on int16 (ONNX Runtime's activations are asymmetric, so they take the generated loops,
    /// not the library's zero-point-0 kernels); the model ends in a float Softmax, so the outputs are
    /// held to verify's tolerance rather than bit-exactness.
    @Test(arguments: [false, true])
    func ortSixteenBitActivationsCompileAndVerify(contrib: Bool) throws {
        guard let python = QuantizerTests.python else {
            if ProcessInfo.processInfo.environment["WHITTLE_REQUIRE_TOOLS"] != nil { Issue.record("the test venv with onnxruntime is missing") }
            return
        }
        let directory = CBackendTests.workDirectory("a16w8-\(contrib ? "contrib" : "standard")")
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = directory + "/kws_a16w8.onnx", refs = TestPaths.model("kws_dscnn.refs.npz")
        let made = try CommandLineTests.execute(python, [TestPaths.root.appendingPathComponent("Tests/Quantization/ort_low_bit.py").path,
                                                         TestPaths.model("kws_dscnn.onnx"), refs, "in_0", path, "QInt8", "activations=QInt16"]
                                                        + (contrib ? ["contrib"] : []))
        #expect(made.status == 0, "\(made.stderr.suffix(600))")
        let analyzed = try ModelLoader.load(path: path)
        let sixteen = analyzed.graph.nodes.filter { $0.opType == "QuantizeLinear" && $0.domain.isEmpty }
        #expect(!sixteen.isEmpty && analyzed.graph.initializers.values.contains { $0.elementType == .int16 })
        if contrib { #expect(analyzed.model.opsets["com.microsoft"] != nil) }
        let (compiled, types) = try PassPipeline.standard.run(analyzed.model)
        let layers = compiled.graph.nodes.filter { $0.opType == "QLinearConv" || $0.opType == "QGemm" }
        #expect(layers.count == 10 && layers.allSatisfy { types.graph.type(of: $0.inputs[0])?.elementType == .int16 })
        // Both run these layers in float, summing in different orders, which 16-bit steps resolve: the
        // interpreter is within one step of an 8-bit quantization of the same range (256 int16 steps)
        // of ONNX Runtime (21 steps measured on kws_dscnn).
        let (differing, total, worst) = try Deployed.againstONNXRuntime(analyzed, path: path, refs: refs, python: python, directory: directory)
        print("16x8 kws_dscnn: \(differing) of \(total) output elements differ from ONNX Runtime (max \(worst) int16 steps)")
        #expect(worst <= 256)
        for target in ["host", "cortex-m4f", "rpi4"] {
            let cli = try CommandLineTests.run(["verify", path, "--target", target, "--work-dir", directory + "/\(target)"])
            #expect(cli.status == 0 && cli.stdout.contains("PASS") && !cli.stdout.contains("FAIL"), "\(target): \(cli.stdout) \(cli.stderr)")
        }
    }

    /// Integer operators whose ONNX type constraint is 8 bits, given 4-bit or 16-bit data directly:
    /// refused with the node and the input named, by the interpreter and the compiler alike.
    @Test func integerOperatorsRefuseOtherThanEightBitData() throws {
        let x = ValueInfo(name: "x", type: TensorType(.uint8, [1, 2, 4, 4]))
        func scalar(_ type: ElementType, _ v: Int64) throws -> Tensor { try Tensor(int64s: [v], shape: [], as: type) }
        let common: [String: Tensor] = ["xs": try Tensor(floats: [0.1], shape: []), "xz": try scalar(.uint8, 0),
                                        "ws": try Tensor(floats: [0.1], shape: []), "ys": try Tensor(floats: [0.2], shape: []),
                                        "yz": try scalar(.uint8, 0)]
        for (weightType, zeroType) in [(ElementType.int4, ElementType.int4), (.int16, .int16), (.int8, .int4)] {
            var initializers = common
            initializers["w"] = try Tensor(int64s: Array(repeating: 1, count: 2 * 2 * 3 * 3), shape: [2, 2, 3, 3], as: weightType)
            initializers["wz"] = try scalar(zeroType, 0)
            let conv = Node(name: "qconv", opType: "QLinearConv", inputs: ["x", "xs", "xz", "w", "ws", "wz", "ys", "yz"], outputs: ["y"],
                            attributes: ["pads": .ints([1, 1, 1, 1])])
            let gemm = Node(name: "qgemm", opType: "QGemm", domain: "com.microsoft", inputs: ["f", "xs", "xz", "g", "ws", "gz", "", "ys", "yz"],
                            outputs: ["y"], attributes: ["transB": .int(1)])
            for (node, inputs) in [(conv, [x]), (gemm, [ValueInfo(name: "f", type: TensorType(.uint8, [1, 6]))])] {
                var m = HostileModelTests.model([node], inputs: inputs, outputs: ["y"], initializers: initializers)
                m.opsets = ["": 21, "com.microsoft": 1]
                if node.opType == "QGemm" {
                    m.graph.initializers["g"] = try Tensor(int64s: Array(repeating: 1, count: 12), shape: [2, 6], as: weightType)
                    m.graph.initializers["gz"] = try scalar(zeroType, 0)
                }
                let analyzed = try ModelLoader.analyze(m, path: "low_bit.onnx")
                let error = expectWhittleError { _ = try ModelCompiler.compile(analyzed) }
                let reason = error?.description ?? ""
                #expect(reason.contains("low_bit.onnx") && reason.contains(node.name), "\(reason)")
                #expect(reason.contains("must be int8 or uint8") || reason.contains("must have one element type"), "\(reason)")
            }
        }
    }
}
