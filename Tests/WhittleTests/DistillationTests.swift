import Foundation
import Testing
import WhittleInterpreter
import WhittleIR
import WhittleKit
import WhittleNumPy
import WhittleBinarization
import WhittleONNX
import WhittleOps
import WhittlePruning

/// Distillation export: the student in training form computes what the compressed model computes,
/// the teacher's files are right, the recipe re-applies the compression even to a student that
/// lost it, and the worked example recovers accuracy.
struct DistillationTests {
    static func directory(_ name: String) throws -> String {
        let path = CBackendTests.workDirectory("distill-\(name)")
        try? FileManager.default.removeItem(atPath: path)
        return path
    }

    static func outputs(_ model: Model, _ inputs: [String: NDArray]) throws -> [Float] {
        let types = try ShapeInference.run(model)
        return try Interpreter(model: model, inference: types).run(inputs)[model.graph.outputs[0].name]?.floats ?? []
    }

    @Test func prunedStudentMatchesTheCompressedModelAndTheFilesAreRight() throws {
        let teacher = try ModelLoader.load(path: TestPaths.model("digits_mlp.onnx"))
        let (pruned, _) = try MagnitudePruner.prune(teacher.model, options: PruningOptions(sparsity: 0.9, keep: []))
        let samples = try SampleSet(path: TestPaths.model("digits_calib.npz"), graph: teacher.graph)
        let out = try Self.directory("pruned")
        defer { try? FileManager.default.removeItem(atPath: out) }
        var options = DistillationExport.Options()
        options.matches = [("/net/net.1/Relu", "/net/net.1/Relu")]
        let manifest = try DistillationExport.export(teacher: teacher, student: pruned, binarized: [], samples: samples, options: options, directory: out)
        #expect(manifest.recipe.masks.count == 3 && manifest.recipe.masks.allSatisfy { abs($0.sparsity - 0.9) < 0.01 })
        #expect(manifest.studentLogits == "logits" && manifest.softTargetsFile == "soft_targets_T4.npy" && manifest.layers.count == 5)
        // The student in training form computes exactly what the pruned model computes.
        let student = try ModelLoader.load(path: out + "/student.onnx")
        #expect(student.graph.nodes.filter { $0.opType == "Mul" }.count == 3)
        let input = try samples.sample(3)
        let trained = try Self.outputs(student.model, input), compressed = try Self.outputs(pruned, input)
        #expect(trained == compressed)
        // onnx.checker accepts the student and ONNX Runtime computes what the interpreter does.
        if let python = QuantizerTests.python {
            let ort = try ONNXRuntimeCheck.firstOutput(python: python, model: out + "/student.onnx",
                                                       input: try #require(input[teacher.graph.inputs[0].name]), directory: out)
            #expect(ChannelPruningTests.close(ort, trained))

        }
        // Teacher logits are the interpreter's; soft targets are their softmax at T = 4.
        let logits = try NPYFormatBridge.decode(out + "/teacher_logits.npy"), soft = try NPYFormatBridge.decode(out + "/soft_targets_T4.npy")
        let teacherOut = try Self.outputs(teacher.model, input)
        #expect(logits.count == 100 * 10 && Array(logits[30..<40]) == teacherOut)
        let row = logits[30..<40].map { Double($0) / 4 }, top = row.max() ?? 0
        let expected = row.map { exp($0 - top) / row.map { exp($0 - top) }.reduce(0, +) }
        #expect(zip(soft[30..<40], expected).allSatisfy { abs(Double($0) - $1) < 1e-6 })
        #expect(FileManager.default.fileExists(atPath: out + "/features/_net_net.1_Relu_output_0___net_net.1_Relu_output_0.npy"))
        // The recipe round trip compiles to the pruned model's weights, and restores masks a trainer dropped.
        let (recipe, masks) = try DistillationExport.loadRecipe(out + "/distill.json")
        let baked = try TrainingForm.bake(student.model, recipe: recipe, masks: masks)
        try Self.expectSameC(baked, pruned, out)
        var dropped = teacher.model // dense weights, no Mul: as if the trainer exported plain tensors
        dropped.graph.name = "retrained"
        let restored = try TrainingForm.bake(dropped, recipe: recipe, masks: masks)
        for node in restored.graph.nodes where node.opType == "Gemm" {
            let w = try #require(restored.graph.initializers[node.inputs[1]]).floats()
            #expect(Double(w.filter { $0 == 0 }.count) / Double(w.count) > 0.89, "\(node.name)")
        }
    }

    /// The emitted C of two models, byte for byte.
    static func expectSameC(_ a: Model, _ b: Model, _ path: String, sourceLocation: SourceLocation = #_sourceLocation) throws {
        let x = try ModelCompiler.compile(try ModelLoader.analyze(a, path: path + "/model.onnx")).bundle
        let y = try ModelCompiler.compile(try ModelLoader.analyze(b, path: path + "/model.onnx")).bundle
        #expect(x.source == y.source && x.weights == y.weights && x.header == y.header, "the round trip changed the C", sourceLocation: sourceLocation)
    }

    /// Int8 (pruned first) and binarized students: through the training form and back, the same C as the compressed model.
    @Test func roundTripGivesTheCompressedModelsC() throws {
        let out = try Self.directory("roundtrip")
        defer { try? FileManager.default.removeItem(atPath: out) }
        let cnn = try ModelLoader.load(path: TestPaths.model("digits_cnn.onnx"))
        let (pruned, layers) = try MagnitudePruner.prune(cnn.model, options: PruningOptions(sparsity: 0.5))
        let (quantized, _) = try ModelQuantizer.quantize(try ModelLoader.analyze(pruned, path: cnn.path), calibration: TestPaths.model("digits_calib.npz"))
        let masked = Set(layers.filter { $0.zerosAfter > 0 }.map(\.node))
        let mlp = try ModelLoader.load(path: TestPaths.model("digits_mlp.onnx"))
        let (binarized, binary) = try Binarizer.binarize(mlp.model, options: BinarizationOptions(activations: .float))
        for (teacher, student, binarizedLayers, maskedLayers) in [(cnn, quantized.model, Set<String>(), masked),
                                                                  (mlp, binarized, Set(binary.map(\.node)), Set<String>())] {
            let (training, recipe, masks) = try TrainingForm.make(student, binarizedLayers: binarizedLayers, maskedLayers: maskedLayers)
            let baked = try TrainingForm.bake(training, recipe: recipe, masks: Dictionary(uniqueKeysWithValues: masks))
            try Self.expectSameC(baked, student, out)
            // Untrained, the training form computes what the compressed model computes.
            let input = ModelVerifier.randomInputs(for: teacher.graph, seed: 2)
            let a = try Self.outputs(training, input), b = try Self.outputs(student, input)
            #expect(ChannelPruningTests.close(a, b))
        }
    }

    @Test func quantizedAndBinarizedStudentsRoundTrip() throws {
        for arguments in [["--sparsity", "0.5", "--quantize", "int8", "--calibration", TestPaths.model("digits_calib.npz")],
                          ["--binarize", "--binarize-activations", "float"]] {
            let out = try Self.directory(arguments[0])
            defer { try? FileManager.default.removeItem(atPath: out) }
            let model = TestPaths.model(arguments.contains("--binarize") ? "digits_mlp.onnx" : "digits_cnn.onnx")
            let export = try CommandLineTests.run(["distill-export", model, "--data", TestPaths.model("digits_calib.npz"), "-o", out] + arguments)
            #expect(export.status == 0, "\(export.stderr)")
            let manifest = try JSONDecoder().decode(DistillationManifest.self, from: try Data(contentsOf: URL(fileURLWithPath: out + "/distill.json")))
            if arguments.contains("--binarize") {
                #expect(manifest.recipe.binarized.count == 1)
            } else {
                #expect(manifest.recipe.quantized.count == 3 && manifest.recipe.masks.count == 1 && manifest.recipe.quantizedActivations)
            }
            // The untrained student compiles (with the recipe) to the compressed model's C, and verifies.
            let verify = try CommandLineTests.run(["verify", out + "/student.onnx", "--recipe", out + "/distill.json"])
            #expect(verify.status == 0 && verify.stdout.contains("PASS") && !verify.stdout.contains("FAIL"), "\(verify.stdout)\(verify.stderr)")
            guard let python = QuantizerTests.python else { continue }
            let check = try CommandLineTests.execute(python, ["-c", "import onnx, sys; onnx.checker.check_model(sys.argv[1], full_check=True)", out + "/student.onnx"])
            #expect(check.status == 0, "\(check.stderr)")
        }
    }

    /// A quantizer that drops a ReLU gives its output's name to the Conv before it: the table pairs
    /// the teacher's ReLU output with the student's dequantized value, never with pre-activation values.
    @Test func quantizedStudentsAreComparedValueForValue() throws {
        let out = try Self.directory("pairing")
        defer { try? FileManager.default.removeItem(atPath: out) }
        let export = try CommandLineTests.run(["distill-export", TestPaths.model("digits_cnn.onnx"), "--data", TestPaths.model("digits_calib.npz"),
                                               "-o", out, "--quantize", "int8", "--calibration", TestPaths.model("digits_calib.npz")])
        #expect(export.status == 0, "\(export.stderr)")
        let manifest = try JSONDecoder().decode(DistillationManifest.self, from: try Data(contentsOf: URL(fileURLWithPath: out + "/distill.json")))
        let relu = try #require(manifest.layers.first { $0.value == "/features/features.2/Relu_output_0" })
        #expect(relu.op == "Relu" && (relu.sqnrDecibels ?? 0) > 30, "\(manifest.layers.map { "\($0.value) \($0.sqnrDecibels ?? 0)" })")
        #expect(manifest.layers.allSatisfy { ($0.sqnrDecibels ?? 0) > 30 }, "\(manifest.layers.map { "\($0.value) \($0.sqnrDecibels ?? 0)" })")
    }

    @Test func badOptionsAreNamed() throws {
        let out = try Self.directory("errors")
        defer { try? FileManager.default.removeItem(atPath: out) }
        let base = ["distill-export", TestPaths.model("digits_mlp.onnx"), "--data", TestPaths.model("digits_calib.npz"), "-o", out]
        for (arguments, message) in [(["--student", TestPaths.model("digits_mlp.onnx"), "--sparsity", "0.5"], "give --student or compression options, not both"),
                                     (["--sparsity", "0.5", "--match", "nothing"], "--match takes TEACHER:STUDENT"),
                                     (["--sparsity", "0.5", "--match", "a:b"], "\"a\" is neither a value nor a node"),
                                     (["--sparsity", "0.5", "--alpha", "2"], "mixing weight alpha in [0, 1] (--temperature, --alpha)")] {
            let bad = try CommandLineTests.run(base + arguments)
            #expect(bad.status == 1 && bad.stderr.contains(message), "\(arguments): \(bad.stderr)")
        }
        let recipe = try CommandLineTests.run(["compile", TestPaths.model("digits_mlp.onnx"), "--recipe", TestPaths.model("manifest.json"), "-o", out])
        #expect(recipe.status == 1 && recipe.stderr.contains("not a distill.json"), "\(recipe.stderr)")
        let recalibrate = try CommandLineTests.run(["compile", TestPaths.model("digits_mlp.onnx"), "--recalibrate", TestPaths.model("digits_calib.npz"), "-o", out])
        #expect(recalibrate.status == 1 && recalibrate.stderr.contains("--recalibrate is used with --recipe"))
    }

    /// Examples/distillation end to end: 90 % pruning costs most of the accuracy, distillation brings it back.
    @Test func workedExampleRecoversAccuracy() throws {
        guard QuantizerTests.python != nil else {
            if ProcessInfo.processInfo.environment["WHITTLE_REQUIRE_TOOLS"] != nil { Issue.record(".venv with onnxruntime is missing") }
            return
        }
        let folder = TestPaths.root.appendingPathComponent("Examples/distillation").path
        defer { try? FileManager.default.removeItem(atPath: folder + "/build") }
        let (status, output) = try ExampleTests.runExample("distillation")
        #expect(status == 0, "\(output.suffix(800))")
        func accuracy(_ label: String) -> Double? {
            output.components(separatedBy: "\n").first { $0.hasPrefix("| \(label) |") }
                .flatMap { $0.split(separator: "|").last?.trimmingCharacters(in: .whitespaces).replacingOccurrences(of: " %", with: "") }
                .flatMap(Double.init)
        }
        let pruned = try #require(accuracy("90 % pruned")), distilled = try #require(accuracy("90 % pruned, distilled"))
        print("distillation example: 90 % pruned \(pruned) %, distilled \(distilled) %")
        #expect(pruned < 50 && distilled > 85, "\(output.suffix(400))")
        #expect(output.contains("sparse weights in 3 of 3 layers"))
        // The compiled C gives the distilled student's accuracy on the host and on the Cortex-M4F.
        let correct = Int((distilled * 450 / 100).rounded())
        #expect(output.contains("distilled C on the host: top-1: \(correct) of 450"), "\(output.suffix(600))")
        if TargetTests.emulatorsInstalled { #expect(output.contains("distilled C on cortex-m4f (QEMU): top-1: \(correct) of 450")) }
        // Training kept every pruned weight at zero.
        let retrained = try ModelLoader.load(path: folder + "/build/retrained.onnx")
        let masks = try NPZArchive(path: folder + "/build/export/masks.npz")
        for name in masks.names {
            let mask = try masks.array(name).floats()
            let weight = try #require(retrained.graph.nodes.first { $0.opType == "Mul" && $0.inputs[1] == name }?.inputs[0])
            let values = try #require(retrained.graph.initializers[weight]).floats()
            #expect(zip(values, mask).allSatisfy { $1 != 0 || $0 == 0 }, "\(weight) changed a pruned weight")
        }
    }
}
