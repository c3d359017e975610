import Foundation
import Testing
import WhittleIR
import WhittleKit
import WhittleCodegen
import WhittleNumPy
import WhittleONNX
import WhittlePruning

/// Magnitude pruning: which weights become zero, quantized models keep their parameters, the
/// written model is valid ONNX that ONNX Runtime runs, and the sparse C matches the interpreter
/// (bit for bit for integer kernels) on the host and under QEMU.
struct PruningTests {
    static func prune(_ model: String, _ options: PruningOptions) throws -> (AnalyzedModel, Model, [PrunedLayer]) {
        let analyzed = try ModelLoader.load(path: TestPaths.model("\(model).onnx"))
        let (pruned, layers) = try MagnitudePruner.prune(analyzed.model, options: options)
        return (analyzed, pruned, layers)
    }

    @Test func perLayerPruningRemovesTheSmallestWeightsAndKeepsTheEnds() throws {
        let (analyzed, pruned, layers) = try Self.prune("digits_cnn", PruningOptions(sparsity: 0.6))
        #expect(layers.map(\.node) == ["/features/features.0/Conv", "/features/features.4/Conv", "/fc/Gemm"])
        #expect(layers.map(\.target) == [nil, 0.6, nil])
        for layer in layers {
            let before = try #require(analyzed.graph.initializers[layer.weight]).floats()
            let after = try #require(pruned.graph.initializers[layer.weight]).floats()
            guard layer.target != nil else {
                #expect(before == after, "\(layer.node) is kept dense")
                continue
            }
            #expect(layer.zerosAfter == Int((0.6 * Double(before.count)).rounded()))
            #expect(after.filter { $0 == 0 }.count == layer.zerosAfter)
            // Every removed weight is no larger than every weight left.
            let removed = zip(before, after).filter { $0.1 == 0 }.map { abs($0.0) }.max() ?? 0
            let kept = zip(before, after).filter { $0.1 != 0 }.map { abs($0.0) }.min() ?? .infinity
            #expect(removed <= kept)
            #expect(zip(before, after).allSatisfy { $0.1 == 0 || $0.1 == $0.0 })
        }
    }

    @Test func globalScopeSharesOneThresholdAndOverridesWin() throws {
        let options = PruningOptions(sparsity: 0.5, scope: .global, layers: ["/net/net.0/net.0.1/Conv": 0.25], keep: [])
        let (_, _, layers) = try Self.prune("kws_dscnn", options)
        let pooled = layers.filter { $0.node != "/net/net.0/net.0.1/Conv" }
        let total = pooled.map(\.elements).reduce(0, +), zeros = pooled.map(\.zerosAfter).reduce(0, +)
        #expect(zeros == Int((0.5 * Double(total)).rounded()))
        #expect(Set(pooled.map { ($0.sparsityAfter * 100).rounded() }).count > 1, "one threshold gives layers different sparsity")
        let first = try #require(layers.first { $0.node == "/net/net.0/net.0.1/Conv" })
        #expect(first.zerosAfter == Int((0.25 * Double(first.elements)).rounded()))
    }

    @Test func quantizedWeightsArePrunedToTheirZeroPointWithTheirScales() throws {
        let (analyzed, pruned, layers) = try Self.prune("kws_dscnn_int8_qdq", PruningOptions(sparsity: 0.7, keep: []))
        #expect(layers.count == 10 && layers.allSatisfy { $0.target == 0.7 })
        for (name, tensor) in analyzed.graph.initializers where !layers.contains(where: { $0.weight == name }) {
            #expect(pruned.graph.initializers[name] == tensor, "\(name) (scales, zero points, biases) unchanged")
        }
        for layer in layers {
            // Exactly 70 % of each weight tensor sits at its zero point (0 here), the weights already there included.
            let values = try #require(pruned.graph.initializers[layer.weight]?.int64s())
            #expect(layer.zerosAfter == Int((0.7 * Double(values.count)).rounded()) && values.filter { $0 == 0 }.count == layer.zerosAfter,
                    "\(layer.node): \(layer.zerosAfter)")
        }
    }

    /// digits_mlp at 50 % (every layer) loses at most one point of top-1 on the digits test set, without fine-tuning.
    @Test func digitsMLPAtHalfSparsityKeepsItsAccuracy() throws {
        let analyzed = try ModelLoader.load(path: TestPaths.model("digits_mlp.onnx"))
        let test = try SampleSet(path: TestPaths.model("digits_test.npz"), graph: analyzed.graph)
        var lines: [String] = []
        for sparsity in [0.5, 0.7, 0.9] {
            let (model, layers) = try MagnitudePruner.prune(analyzed.model, options: PruningOptions(sparsity: sparsity, keep: []))
            let report = try PruningReport.evaluate(original: analyzed, pruned: model, layers: layers, samples: test, labels: try test.labels("y"))
            let accuracy = try #require(report.accuracy)
            lines.append(String(format: "%.0f %%: top-1 %.2f %% -> %.2f %%, weights %d -> %d B", sparsity * 100, accuracy.denseTop1 * 100,
                                accuracy.prunedTop1 * 100, report.denseWeightBytes, report.prunedWeightBytes))
            if sparsity == 0.5 { #expect(accuracy.prunedTop1 >= accuracy.denseTop1 - 0.01, "\(lines)") }
        }
        print("digits_mlp pruned: " + lines.joined(separator: "; "))
    }

    /// The searches meet their goals: a weight size, and a top-1 accuracy on the first 100 samples.
    @Test func targetsPickPerLayerSparsities() throws {
        let analyzed = try ModelLoader.load(path: TestPaths.model("digits_mlp.onnx"))
        let test = try SampleSet(path: TestPaths.model("digits_test.npz"), graph: analyzed.graph)
        let labels = try test.labels("y")
        let table = try PruningSensitivity.measure(analyzed, samples: test, labels: labels)
        #expect(table.rows.count == 3 && table.levels == [0.5, 0.7, 0.8, 0.9])
        let small = try PruningSearch.choose(analyzed, table: table, goal: .weightBytes(12_000), samples: test, labels: labels, keep: [])
        let pruned = try MagnitudePruner.prune(analyzed.model, options: PruningOptions(sparsity: 0, layers: small.sparsity, keep: [])).model
        #expect(try ModelCompiler.compile(try ModelLoader.analyze(pruned, path: analyzed.path)).bundle.weightBytes <= 12_000)
        let accurate = try PruningSearch.choose(analyzed, table: table, goal: .accuracy(0.94), samples: test, labels: labels, keep: [])
        #expect(accurate.reached >= 0.94 && accurate.sparsity.values.contains { $0 > 0 }, "\(accurate.sparsity)")
    }

    @Test func badOptionsAreNamed() throws {
        let model = try ModelLoader.load(path: TestPaths.model("digits_cnn.onnx")).model
        let range = expectWhittleError { _ = try MagnitudePruner.prune(model, options: PruningOptions(sparsity: 1.0)) }
        #expect(range?.reason.contains("the sparsity must be at least 0 and below 1") == true && range?.setting == .sparsity)
        let unknown = expectWhittleError { _ = try MagnitudePruner.prune(model, options: PruningOptions(sparsity: 0.5, layers: ["conv9": 0.5])) }
        #expect(unknown?.reason.contains("\"conv9\" is not a prunable layer; the prunable layers are: /features/features.0/Conv") == true)
    }

    /// Pruned at 80 %, every shared model (float and int8) compiles to sparse C that matches the
    /// interpreter under sanitizers, with far fewer weight bytes (with `--sparse always`: at 80 %
    /// `auto` keeps int8 layers other than pointwise ones on the faster dense kernels, and some small
    /// float ones dense).
    @Test(arguments: ["digits_mlp", "digits_cnn", "kws_dscnn", "ic_resnet8", "digits_cnn_int8_qdq", "kws_dscnn_int8_qdq", "ic_resnet8_int8_qdq"])
    func sparseCMatchesTheInterpreter(model: String) throws {
        let (analyzed, pruned, _) = try Self.prune(model, PruningOptions(sparsity: 0.8, keep: []))
        let prunedAnalyzed = try ModelLoader.analyze(pruned, path: analyzed.path)
        let dense = try ModelCompiler.compile(analyzed).bundle
        var options = CompileOptions()
        options.codegen.sparse = .always
        if model.hasSuffix("int8_qdq") {
            let auto = try ModelCompiler.compile(prunedAnalyzed).bundle
            #expect(auto.layers.allSatisfy { $0.weightForm?.hasPrefix("sparse") != true || $0.weightForm?.hasPrefix("sparse (bitmask rows)") == true },
                    "\(model): at 80 % only pointwise layers beat the dense int8 kernels")
        }
        let sparse = try ModelCompiler.compile(prunedAnalyzed, options: options).bundle
        let sparseLayers = sparse.layers.filter { $0.weightForm?.hasPrefix("sparse") == true }
        #expect(!sparseLayers.isEmpty)
        #expect(Double(sparse.weightBytes) < 0.6 * Double(dense.weightBytes), "\(model): \(dense.weightBytes) -> \(sparse.weightBytes) B")
        print("\(model) pruned 80 %: weights \(dense.weightBytes) -> \(sparse.weightBytes) B, \(sparseLayers.count) sparse layers")
        let refs = try ModelRunner.inputs(fromArchive: TestPaths.model("\(model).refs.npz"), for: analyzed.graph, case: 0)
        let directory = CBackendTests.workDirectory("pruned-\(model)")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        for policy in [SparsePolicyChoice.auto, .always] {
            var options = ModelVerifier.Options()
            options.compile.codegen.sparse = policy.value
            let results = try ModelVerifier.verify(prunedAnalyzed, inputs: refs, options: options, workDirectory: directory)
            for r in results { #expect(r.passed, "\(model) \(policy): \(r.name) max abs error \(r.maxAbsError)") }
            if model.hasSuffix("int8_qdq") { #expect(results[0].maxAbsError == 0, "integer kernels are exact") }
        }
    }

    /// The cost model keeps int8 weights dense when few are zero (one byte per index would not pay).
    @Test func lightlyPrunedInt8LayersStayDense() throws {
        let (analyzed, pruned, _) = try Self.prune("kws_dscnn_int8_qdq", PruningOptions(sparsity: 0.3, keep: []))
        let bundle = try ModelCompiler.compile(try ModelLoader.analyze(pruned, path: analyzed.path)).bundle
        let notes = bundle.layers.compactMap(\.weightForm)
        #expect(notes.count == 10 && notes.allSatisfy { $0.hasPrefix("dense") }, "\(notes)")
        #expect(bundle.weightBytes == (try ModelCompiler.compile(analyzed)).bundle.weightBytes)
    }

    /// Under QEMU: the sparse int8 and float C on Cortex-M4F and the float-free int8 path on a
    /// Cortex-M0+ (RP2040) give the interpreter's outputs; flash and instructions are printed.
    @Test(arguments: [("kws_dscnn_int8_qdq", "cortex-m4f"), ("kws_dscnn_int8_qdq", "rp2040"), ("digits_cnn", "cortex-m4f"), ("digits_mlp", "cortex-m4f"),
                      ("digits_mlp", "rpi4")])
    func sparseCRunsOnDevices(model: String, target: String) throws {
        guard TargetTests.emulatorsInstalled else {
            if ProcessInfo.processInfo.environment["WHITTLE_REQUIRE_TOOLS"] != nil { Issue.record("the cross compilers and QEMU are not installed") }
            return
        }
        let catalog = try #require(TargetTests.catalog)
        // digits_mlp: all three layers at 80 %; the others keep their first and last layer.
        let (analyzed, pruned, _) = try Self.prune(model, PruningOptions(sparsity: 0.8, keep: model == "digits_mlp" ? [] : nil))
        let prunedAnalyzed = try ModelLoader.analyze(pruned, path: analyzed.path)
        let refs = try ModelRunner.inputs(fromArchive: TestPaths.model("\(model).refs.npz"), for: analyzed.graph, case: 0)
        var rows: [String] = [], firmware: [Int] = []
        for (label, subject) in [("dense", analyzed), ("pruned", prunedAnalyzed)] {
            let directory = CBackendTests.workDirectory("pruned-\(model)-\(target)-\(label)")
            defer { try? FileManager.default.removeItem(atPath: directory) }
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            // At 80 % the dense library kernels can be the faster ones (int8 always, float on small
            // maps), so `auto` may keep layers dense; `always` runs the sparse kernels here.
            var compile = CompileOptions()
            compile.codegen.sparse = .always
            let result = try TargetVerifier.verify(subject, target: catalog.target(target), catalog: catalog, inputs: refs, tolerance: 1e-4,
                                                   budgets: (nil, nil), workDirectory: directory, compile: compile)
            for c in result.comparisons { #expect(c.passed, "\(model) \(label) on \(target): \(c.name) \(c.maxAbsError)") }
            rows.append("\(label): text \(result.text) B, \(result.instructions.map(String.init) ?? "?") instructions")
            firmware.append(result.text + result.data)
        }
        // The 80 %-sparse digits_mlp firmware (text + data) is below 75 % of the dense one.
        if model == "digits_mlp" && target == "cortex-m4f" { #expect(Double(firmware[1]) < 0.75 * Double(firmware[0]), "\(firmware)") }
        #expect(firmware[1] < firmware[0], "\(model) on \(target): \(firmware)")
        print("\(model) on \(target): \(rows.joined(separator: "; "))")
    }

    @Test func prunedModelsAreValidONNXThatONNXRuntimeRuns() throws {
        guard let python = QuantizerTests.python else {
            if ProcessInfo.processInfo.environment["WHITTLE_REQUIRE_TOOLS"] != nil { Issue.record(".venv with onnxruntime is missing (make test creates it)") }
            return
        }
        let directory = CBackendTests.workDirectory("pruned-ort")
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        for model in ["digits_cnn", "digits_cnn_int8_qdq"] {
            let (analyzed, pruned, _) = try Self.prune(model, PruningOptions(sparsity: 0.75))
            let path = directory + "/\(model).pruned.onnx"
            try ModelWriter.write(pruned, to: path)
            let check = try CommandLineTests.execute(python, ["-c", "import onnx, sys; onnx.checker.check_model(sys.argv[1], full_check=True)", path])
            #expect(check.status == 0, "\(check.stderr)")
            let ort = directory + "/\(model).ort.npz"
            let run = try CommandLineTests.execute(python, [TestPaths.root.appendingPathComponent("Tests/Quantization/ort_run.py").path,
                                                            path, TestPaths.model("digits_calib.npz"), "X_img", ort])
            #expect(run.status == 0, "\(run.stderr)")
            let reread = try ModelLoader.load(path: path)
            let samples = try SampleSet(path: TestPaths.model("digits_calib.npz"), graph: reread.graph,
                                        explicit: [reread.graph.inputs[0].name: "X_img"])
            let interpreter = try Deployed.interpreter(reread.model)
            let output = reread.graph.outputs[0].name
            let step = model.hasSuffix("qdq") ? try #require(ModelVerifier.outputStep(reread.graph, output)) : 1e-4
            let (_, _, worst) = try Deployed.difference(interpreter, output: output, samples: samples.count, inputs: samples.sample,
                                                        expected: NDArray(try NPZArchive(path: ort).array("out_0")), step: step)
            // float: within 1e-4 (in units of 1e-4); int8: within one quantization step, as for quantized models.
            #expect(worst <= 1.0 + 1e-6, "\(model): \(worst)")
            _ = analyzed
        }
    }

    @Test func commandLinePruneAndCompile() throws {
        let directory = CBackendTests.workDirectory("prune-cli")
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let out = directory + "/digits.pruned.onnx"
        let result = try CommandLineTests.run(["prune", TestPaths.model("digits_cnn.onnx"), "--sparsity", "0.5", "-o", out,
                                               "--data", TestPaths.model("digits_test.npz"), "--labels", "y", "--report", directory + "/r.json"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains("top-1 accuracy: original 99.11 %, pruned"))
        #expect(result.stdout.contains("/features/features.4/Conv  Conv  1152     0.50"))
        #expect(FileManager.default.fileExists(atPath: out) && FileManager.default.fileExists(atPath: directory + "/r.json"))
        // Sensitivity: the first convolution (kept dense by default) is the most sensitive layer of digits_cnn.
        let sensitivity = try CommandLineTests.run(["prune", TestPaths.model("digits_cnn.onnx"), "--sparsity", "0.5", "-o", out,
                                                    "--data", TestPaths.model("digits_test.npz"), "--labels", "y", "--analyze"])
        #expect(sensitivity.status == 0, "\(sensitivity.stderr)")
        let rows = sensitivity.stdout.components(separatedBy: "\n").filter { $0.hasPrefix("/") && $0.contains(" dB") }
        #expect(rows.count == 3, "\(sensitivity.stdout)")
        #expect(sensitivity.stdout.contains("SQNR at 50 %  SQNR at 70 %  SQNR at 80 %  SQNR at 90 %"))
        let at90 = rows.compactMap { row in row.components(separatedBy: "  ").filter { $0.hasSuffix(" dB") }.last.flatMap { Double($0.dropLast(3)) } }
        #expect(at90.count == 3 && at90[0] < at90[1] && at90[0] < at90[2], "\(rows)")
        // At 80 % the int8 library kernels beat the delta rows: `auto` keeps the weights dense but for the four
        // pointwise layers, whose bitmask rows are faster still, and says so.
        let dense = try CommandLineTests.run(["compile", TestPaths.model("kws_dscnn_int8_qdq.onnx"), "--sparsity", "0.8", "--keep", "none",
                                              "-o", directory + "/c"])
        #expect(dense.status == 0, "\(dense.stderr)")
        #expect(dense.stdout.contains("sparse weights in 4 of 10 layers with zeros"), "\(dense.stdout)")
        let compile = try CommandLineTests.run(["compile", TestPaths.model("kws_dscnn_int8_qdq.onnx"), "--sparsity", "0.8", "--keep", "none",
                                                "--sparse", "always", "-o", directory + "/c"])
        #expect(compile.status == 0, "\(compile.stderr)")
        #expect(compile.stdout.contains("pruned 17614 of 22016 prunable weights (80.0 %)"))
        #expect(compile.stdout.contains("sparse weights in 10 of 10 layers with zeros"))
        let report = try String(contentsOfFile: directory + "/c/kws_dscnn_int8_qdq_report.md", encoding: .utf8)
        #expect(report.contains("sparse (delta rows): 80.0 % zeros") && report.contains("sparse (bitmask rows): 80.0 % zeros"))
        for (arguments, message) in [(["--sparsity", "1.5"], "the sparsity must be at least 0 and below 1, not 1.5 (--sparsity)"),
                                     (["--sparsity", "0.5", "--layers", "conv9=0.5"], "\"conv9\" is not a prunable layer"),
                                     (["--keep", "x"], "prune needs --sparsity"),
                                     (["--sparsity", "0.5", "--analyze"], "--analyze, --target-accuracy and --target-size need --data"),
                                     (["--target-accuracy", "98"], "--target-accuracy is a fraction"),
                                     (["--target-size", "4K", "--sparsity", "0.5"], "give one of --sparsity, --pattern and a target"),
                                     (["--target-size", "1K", "--data", TestPaths.model("digits_test.npz")], "a target size of 1024 B cannot be reached"),
                                     (["--sparsity", "0.5", "--scope", "row"], "--scope must be layer or global")] {
            let bad = try CommandLineTests.run(["prune", TestPaths.model("digits_cnn.onnx"), "-o", out] + arguments)
            #expect(bad.status == 1 && bad.stderr.contains(message), "\(arguments): \(bad.stderr)")
        }
        let sparse = try CommandLineTests.run(["compile", TestPaths.model("digits_cnn.onnx"), "--sparse", "sometimes", "-o", directory + "/d"])
        #expect(sparse.status == 1 && sparse.stderr.contains("--sparse must be auto, off or always"))
    }
}

/// `SparsePolicy` by name, for test arguments.
enum SparsePolicyChoice: String, CustomStringConvertible {
    case auto, always
    var value: SparsePolicy { self == .auto ? .auto : .always }
    var description: String { rawValue }
}
