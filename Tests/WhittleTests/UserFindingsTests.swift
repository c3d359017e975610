import Foundation
import Testing
import WhittleBinarization
import WhittleIR
import WhittleKit
import WhittleNumPy
import WhittleONNX

/// What a new user ran into, each as the command they typed: relative work folders on devices, a
/// full disk, non-finite calibration data, negative option values, compression commands that did
/// nothing or stacked on a quantized model, ReLU6 before binary inputs, and the static arena.
struct UserFindingsTests {
    static func scratch(_ name: String) throws -> String {
        let directory = CBackendTests.workDirectory("findings-\(name)")
        try? FileManager.default.removeItem(atPath: directory)
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        return directory
    }

    @Test func verifyOnADeviceTakesARelativeWorkFolder() throws {
        let directory = try Self.scratch("relative")
        let run = try CommandLineTests.run(["verify", TestPaths.model("digits_mlp.onnx"), "--target", "cortex-m4f", "--work-dir", "wd"],
                                           in: directory)
        #expect(run.status == 0 && run.stdout.contains("PASS"), "\(run.stdout) \(run.stderr)")
        #expect(FileManager.default.fileExists(atPath: directory + "/wd/model.elf"))
    }

    /// Every output of a command is written or none is: a name taken by a folder stops the command
    /// before any file is written, and a full file system (a 64 KiB tmpfs, where the test may mount
    /// one) leaves no truncated file and says why.
    @Test func failedWritesLeaveNoPartialOutput() throws {
        let directory = try Self.scratch("blocked")
        try FileManager.default.createDirectory(atPath: directory + "/kws_dscnn_weights.c", withIntermediateDirectories: true)
        let blocked = try CommandLineTests.run(["compile", TestPaths.model("kws_dscnn.onnx"), "-o", directory])
        #expect(blocked.status == 1 && blocked.stderr.contains("kws_dscnn_weights.c: it is a folder"), "\(blocked.stderr)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory) == ["kws_dscnn_weights.c"])

        let full = try Self.scratch("full")
        let mount = try CommandLineTests.execute("/bin/mount", ["-t", "tmpfs", "-o", "size=64k", "tmpfs", full])
        guard mount.status == 0 else {
            print("failedWritesLeaveNoPartialOutput: no tmpfs could be mounted (\(mount.stderr.trimmingCharacters(in: .whitespacesAndNewlines))); full-disk part skipped")
            return
        }
        defer { _ = try? CommandLineTests.execute("/bin/umount", [full]) }
        let compile = try CommandLineTests.run(["compile", TestPaths.model("kws_dscnn.onnx"), "-o", full + "/c"])
        #expect(compile.status == 1 && compile.stderr.contains("No space left on device"), "\(compile.stderr)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: full + "/c").isEmpty)
        let prune = try CommandLineTests.run(["prune", TestPaths.model("kws_dscnn.onnx"), "--sparsity", "0.5", "-o", full + "/p.onnx"])
        #expect(prune.status == 1 && prune.stderr.contains("p.onnx: No space left on device"), "\(prune.stderr)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: full) == ["c"])
    }

    /// An output that is a pipe (or a device such as /dev/null) is written through, not replaced by a file.
    @Test func pipesAreWrittenThrough() throws {
        let directory = try Self.scratch("pipe")
        let pipe = directory + "/model.pipe", copy = directory + "/copy.onnx"
        #expect(mkfifo(pipe, 0o600) == 0)
        let reader = Process()
        reader.executableURL = URL(fileURLWithPath: "/bin/sh")
        reader.arguments = ["-c", "timeout 60 cat '\(pipe)' > '\(copy)'"]  // a replaced pipe would never be opened for writing
        try reader.run()
        let prune = try CommandLineTests.run(["prune", TestPaths.model("digits_mlp.onnx"), "--sparsity", "0.5", "-o", pipe])
        reader.waitUntilExit()
        #expect(prune.status == 0, "\(prune.stderr)")
        var status = stat()
        #expect(stat(pipe, &status) == 0 && (status.st_mode & S_IFMT) == S_IFIFO, "the pipe was replaced")
        // What went through the pipe is the pruned model.
        let model = try ModelLoader.load(path: copy)
        #expect(model.graph.nodes.count == 5)
    }

    @Test func nonFiniteCalibrationDataIsRefused() throws {
        let directory = try Self.scratch("nan")
        var samples = NDArray(try NPZArchive(path: TestPaths.model("kws_dscnn.refs.npz")).array("in_0"))
        let perSample = samples.count / samples.shape[0]
        for (index, value, position) in [(perSample * 2 + 7, Double.nan, "nan at sample 2, element 7"),
                                         (5, Double.infinity, "inf at sample 0, element 5")] {
            var values = samples.doubles
            values[index] = value
            samples = NDArray(.float, shape: samples.shape, values: values)
            let path = directory + "/bad.npz"
            try NPZArchive.write([("in_0", try samples.tensor())], to: path)
            let run = try CommandLineTests.run(["quantize", TestPaths.model("kws_dscnn.onnx"), "--calibration", path, "-o", directory + "/q.onnx"])
            #expect(run.status == 1, "\(run.stdout)")
            #expect(run.stderr.contains("array \"in_0\" holds \(position)") && run.stderr.contains("must be finite"),
                    "\(run.stderr)")
            #expect(!FileManager.default.fileExists(atPath: directory + "/q.onnx"))
        }
    }

    @Test func negativeOptionValuesReachTheirRangeCheck() throws {
        let prune = try CommandLineTests.run(["prune", TestPaths.model("digits_mlp.onnx"), "--sparsity", "-0.5", "-o", "/dev/null"])
        #expect(prune.status == 1 && prune.stderr.contains("the sparsity must be at least 0 and below 1, not -0.5 (--sparsity)"), "\(prune.stderr)")
        let compile = try CommandLineTests.run(["compile", TestPaths.model("digits_mlp.onnx"), "--ram-budget", "-5", "-o", "/dev/null"])
        #expect(compile.status == 1 && compile.stderr.contains("\"-5\" must be a byte count"), "\(compile.stderr)")
    }

    /// prune on integer matrix products zeroes their weights (to the zero point) and the model still
    /// verifies; binarize and quantize refuse a quantized model instead of doing nothing or stacking.
    @Test(arguments: ["digits_mlp_dynamic", "digits_mlp_qoperator"])
    func compressionCommandsOnQuantizedModels(model: String) throws {
        let directory = try Self.scratch("quantized-\(model)")
        let path = TestPaths.model("\(model).onnx"), pruned = directory + "/p.onnx"
        let prune = try CommandLineTests.run(["prune", path, "--sparsity", "0.5", "-o", pruned])
        #expect(prune.status == 0, "\(prune.stderr)")
        let layers = try #require(prune.stdout.split(separator: "\n").first { $0.contains("/net/net.2/") })
        #expect(layers.contains("50.0 %"), "\(prune.stdout)")
        let verify = try CommandLineTests.run(["verify", pruned])
        #expect(verify.status == 0, "\(verify.stdout) \(verify.stderr)")
        let binarize = try CommandLineTests.run(["binarize", path, "-o", directory + "/b.onnx"])
        #expect(binarize.status == 1 && binarize.stderr.contains("binarization works on float models and this one is quantized"), "\(binarize.stderr)")
        let quantize = try CommandLineTests.run(["quantize", path, "--calibration", TestPaths.model("digits_calib.npz"), "-o", directory + "/q.onnx"])
        #expect(quantize.status == 1 && quantize.stderr.contains("the model is already quantized"), "\(quantize.stderr)")
        #expect(!FileManager.default.fileExists(atPath: directory + "/b.onnx") && !FileManager.default.fileExists(atPath: directory + "/q.onnx"))
    }

    @Test func pruningAModelWithoutWeightsSaysSo() throws {
        let m = HostileModelTests.model([Node(name: "relu", opType: "Relu", inputs: ["x"], outputs: ["y"])],
                                        inputs: [ValueInfo(name: "x", type: TensorType(.float, [1, 4]))], outputs: ["y"])
        let directory = try Self.scratch("no-weights")
        try ONNXWriter.write(m, to: directory + "/relu.onnx")
        let run = try CommandLineTests.run(["prune", directory + "/relu.onnx", "--sparsity", "0.5", "-o", directory + "/p.onnx"])
        #expect(run.status == 1 && run.stderr.contains("relu.onnx") && run.stderr.contains("no prunable weights"), "\(run.stderr)")
    }

    /// Binary inputs after a ReLU6 (Clip from 0 to 6, bounds as initializers, Constant nodes or attributes) are all +1.
    @Test(arguments: ["initializers", "constants", "attributes"])
    func binarizeWarnsAboutReLU6Inputs(form: String) throws {
        var nodes: [Node] = [], initializers: [String: Tensor] = [:]
        var x = "x"
        for i in 0..<3 {
            let inputs = i == 0 ? 1 : 4
            initializers["w\(i)"] = try Tensor(floats: (0..<(36 * inputs)).map { Float(($0 * 7 + i) % 11) - 5 }, shape: [4, inputs, 3, 3])
            nodes.append(Node(name: "conv\(i)", opType: "Conv", inputs: [x, "w\(i)"], outputs: ["c\(i)"], attributes: ["pads": .ints([1, 1, 1, 1])]))
            switch form {
            case "initializers":
                initializers["lo"] = try Tensor(floats: [0], shape: [])
                initializers["hi"] = try Tensor(floats: [6], shape: [])
                nodes.append(Node(name: "clip\(i)", opType: "Clip", inputs: ["c\(i)", "lo", "hi"], outputs: ["r\(i)"]))
            case "constants":
                nodes.append(Node(name: "lo\(i)", opType: "Constant", inputs: [], outputs: ["lo\(i)"], attributes: ["value": .tensor(try Tensor(floats: [0], shape: []))]))
                nodes.append(Node(name: "hi\(i)", opType: "Constant", inputs: [], outputs: ["hi\(i)"], attributes: ["value": .tensor(try Tensor(floats: [6], shape: []))]))
                nodes.append(Node(name: "clip\(i)", opType: "Clip", inputs: ["c\(i)", "lo\(i)", "hi\(i)"], outputs: ["r\(i)"]))
            default:
                nodes.append(Node(name: "clip\(i)", opType: "Clip", inputs: ["c\(i)"], outputs: ["r\(i)"], attributes: ["min": .float(0), "max": .float(6)]))
            }
            x = "r\(i)"
        }
        var m = HostileModelTests.model(nodes, inputs: [ValueInfo(name: "x", type: TensorType(.float, [1, 1, 6, 6]))], outputs: [x],
                                        initializers: initializers)
        m.opsets = ["": form == "attributes" ? 6 : 13]
        let (_, layers) = try Binarizer.binarize(m, options: BinarizationOptions(layers: ["conv1"]))
        #expect(layers.count == 1 && layers[0].warning?.contains("ReLU6 (Clip) \"clip0\"") == true, "\(layers.map(\.warning))")
    }

    /// With NAME_NO_STATIC_ARENA the model C defines neither the static arena nor NAME_run.
    @Test func theStaticArenaCanBeLeftOut() throws {
        let directory = try Self.scratch("arena")
        let compile = try CommandLineTests.run(["compile", TestPaths.model("digits_mlp.onnx"), "-o", directory])
        #expect(compile.status == 0, "\(compile.stderr)")
        for (flags, hasArena) in [([String](), true), (["-DDIGITS_MLP_NO_STATIC_ARENA"], false)] {
            let object = directory + "/model\(hasArena).o"
            let cc = try CommandLineTests.execute("/usr/bin/cc", ["-std=c99", "-Wall", "-Wextra", "-Werror", "-pedantic", "-c"] + flags
                                                  + [directory + "/digits_mlp.c", "-o", object])
            #expect(cc.status == 0, "\(cc.stderr)")
            let symbols = try CommandLineTests.execute("/usr/bin/nm", [object]).stdout
            #expect(symbols.contains("digits_mlp_arena") == hasArena && symbols.contains("T digits_mlp_run\n") == hasArena, "\(symbols)")
            #expect(symbols.contains("T digits_mlp_run_with_arena"))
        }
    }
}

/// verify's tolerance: chosen per output from the model when not given (and printed), advice on a
/// failure, and outputs that are NaN everywhere reported as unchecked rather than passed.
struct VerifyToleranceTests {
    @Test func deepFloatModelsGetATolerancePrintedForEachOutput() throws {
        let run = try CommandLineTests.run(["verify", TestPaths.model("vww_mobilenet_v1_025.onnx"), "--no-sanitize"])
        #expect(run.status == 0, "\(run.stdout) \(run.stderr)")
        #expect(run.stdout.contains("tolerance 0.0001 relative, or ") && run.stdout.contains("accumulation depth"), "\(run.stdout)")
        let strict = try CommandLineTests.run(["verify", TestPaths.model("vww_mobilenet_v1_025.onnx"), "--no-sanitize", "--tolerance", "1e-9"])
        #expect(strict.status == 1 && strict.stdout.contains("FAIL") && strict.stdout.contains("try: rounding can explain") && strict.stdout.contains("--tolerance"),
                "\(strict.stdout)")
        #expect(!strict.stdout.contains("accumulation depth"), "a given tolerance is used as given")
    }

    @Test func theAutomaticToleranceGrowsWithDepthAndMagnitude() throws {
        let analyzed = try ModelLoader.load(path: TestPaths.model("vww_mobilenet_v1_025.onnx"))
        let compiled = try ModelCompiler.compile(analyzed)
        let output = analyzed.graph.outputs[0].name
        let one = ModelVerifier.automaticTolerance(compiled.types, output: output, reference: NDArray(.float, shape: [2], values: [0.5, -1]))
        let ten = ModelVerifier.automaticTolerance(compiled.types, output: output, reference: NDArray(.float, shape: [2], values: [10, -1]))
        // Depth: the products every output element of each layer sums, over the 28 layers the output depends on.
        #expect(one.description.contains("over 28 layers"), "\(one.description)")
        #expect(abs(ten.absolute / one.absolute - 10) < 1e-9 && one.absolute > 1e-4)
        let shallow = try ModelLoader.load(path: TestPaths.model("digits_mlp.onnx"))
        let mlp = ModelVerifier.automaticTolerance(try ModelCompiler.compile(shallow).types, output: shallow.graph.outputs[0].name,
                                                   reference: NDArray(.float, shape: [1], values: [1]))
        #expect(mlp.absolute < ModelVerifier.defaultTolerance && mlp.description.contains("depth 160 products over 3 layers"), "\(mlp.description)")
    }

    @Test func outputsThatAreNaNEverywhereAreUnchecked() throws {
        // sqrt(-|x| - 1) is NaN for every input.
        let m = HostileModelTests.model([Node(name: "abs", opType: "Abs", inputs: ["x"], outputs: ["a"]),
                                         Node(name: "neg", opType: "Neg", inputs: ["a"], outputs: ["n"]),
                                         Node(name: "sub", opType: "Sub", inputs: ["n", "one"], outputs: ["s"]),
                                         Node(name: "sqrt", opType: "Sqrt", inputs: ["s"], outputs: ["y"])],
                                        inputs: [ValueInfo(name: "x", type: TensorType(.float, [4]))], outputs: ["y"],
                                        initializers: ["one": try Tensor(floats: [1], shape: [])])
        let directory = try UserFindingsTests.scratch("nan-outputs")
        try ONNXWriter.write(m, to: directory + "/nan.onnx")
        let run = try CommandLineTests.run(["verify", directory + "/nan.onnx", "--no-sanitize"])
        #expect(run.stdout.contains("UNCHECKED: every value is NaN") && !run.stdout.contains("PASS"), "\(run.stdout) \(run.stderr)")
    }
}

/// The compile reports say what inspect and the C say.
struct ReportFindingsTests {
    @Test func viewsAndArenaPeakAgreeAcrossReports() throws {
        for model in ["digits_mlp", "digits_cnn", "ic_resnet8"] {
            let compiled = try ModelCompiler.compile(try ModelLoader.load(path: TestPaths.model("\(model).onnx")))
            var page = HTMLReport(title: model)
            page.addCompiled(compiled, target: nil)
            let html = page.html()
            // The arena picture counts buffers as the planner does: its peak is the lower bound.
            #expect(html.contains("peak \(InspectReport.grouped(compiled.bundle.plan.lowerBound)) B live"), "\(model)")
            let report = CompileReport(compiled)
            for layer in report.layers where layer.view {
                #expect(report.markdown().contains("| (none) | \(layer.op) | 0 | view (no code) |"), "\(report.markdown())")
                #expect(!compiled.bundle.source.contains(layer.function + "("), "\(layer.function) is named but has no code")
            }
        }
        let cnn = CompileReport(try ModelCompiler.compile(try ModelLoader.load(path: TestPaths.model("digits_cnn.onnx"))))
        #expect(cnn.layers.contains { $0.view && $0.op == "Flatten" })
        #expect(try cnn.json().contains("\"view\" : true"))
    }
}
