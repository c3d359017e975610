import Foundation
import Testing
import WhittleCodegen
import WhittleIR
import WhittleKit

/// Weights as C initializers or as a binary blob placed by the assembler (`--weights`).
struct WeightFormatTests {
    static func compiled(_ model: String, _ format: WeightFormat, name: String? = nil) throws -> CompiledModel {
        var options = CompileOptions(name: name)
        options.weightFormat = format
        return try ModelCompiler.compile(try ModelLoader.load(path: TestPaths.model(model)), options: options)
    }

    @Test(arguments: ["kws_dscnn", "kws_dscnn_int8_qdq", "digits_cnn"])
    func binaryWeightsVerifyOnTheHost(model: String) throws {
        let analyzed = try ModelLoader.load(path: TestPaths.model("\(model).onnx"))
        var options = ModelVerifier.Options()
        options.compile.weightFormat = .binary
        let directory = CBackendTests.workDirectory("weights-binary-\(model)")
        let inputs = try ModelRunner.inputs(fromArchive: TestPaths.model("\(model).refs.npz"), for: analyzed.graph, case: 0)
        for c in try ModelVerifier.verify(analyzed, inputs: inputs, options: options, workDirectory: directory) where c.decides {
            #expect(c.passed, "\(model): \(c.name) max abs error \(c.maxAbsError)")
        }
        let files = try FileManager.default.contentsOfDirectory(atPath: directory)
        #expect(!files.contains { $0.hasSuffix("_weights.c") })
        let bundle = try Self.compiled("\(model).onnx", .binary).bundle
        // The blob is the weights' own bytes plus at most 15 bytes of alignment per array.
        let arrays = bundle.weightAssembly.components(separatedBy: ".incbin").count - 1
        #expect(bundle.weightBlob.count >= bundle.weightBytes && bundle.weightBlob.count < bundle.weightBytes + 16 * arrays)
        #expect(bundle.weightAssembly.utf8.count < bundle.weightBlob.count / 4 + 4096)
    }

    /// The same program either way: identical outputs and instruction counts on the device.
    @Test func bothFormsRunTheSameOnCortexM4F() throws {
        guard TargetTests.emulatorsInstalled, let catalog = TargetTests.catalog else {
            if ProcessInfo.processInfo.environment["WHITTLE_REQUIRE_TOOLS"] != nil { Issue.record("QEMU or a cross compiler is missing") }
            return
        }
        let analyzed = try ModelLoader.load(path: TestPaths.model("kws_dscnn_int8_qdq.onnx"))
        let inputs = try ModelRunner.inputs(fromArchive: TestPaths.model("kws_dscnn_int8_qdq.refs.npz"), for: analyzed.graph, case: 0)
        var results: [TargetVerifier.Result] = []
        for format in [WeightFormat.c, .binary] {
            var compile = CompileOptions()
            compile.weightFormat = format
            results.append(try TargetVerifier.verify(analyzed, target: try catalog.target("cortex-m4f"), catalog: catalog, inputs: inputs,
                                                     tolerance: 0, budgets: (nil, nil),
                                                     workDirectory: CBackendTests.workDirectory("weights-m4f-\(format.rawValue)"), compile: compile))
        }
        for result in results { for c in result.comparisons where c.decides { #expect(c.passed, "\(c.name)") } }
        #expect(results[0].instructions == results[1].instructions)
        #expect(results[0].modelWeights == results[1].modelWeights)
    }

    /// A model over the limit gets the binary form without asking; small ones keep C.
    @Test func autoChoosesByTheWeightBytes() throws {
        #expect(try Self.compiled("digits_mlp.onnx", .auto).bundle.weightFormat == .c)
        // One Gemm with 1,100 × 2,048 float weights: 9 MB.
        let (k, n) = (1100, 2048)
        let weights = (0..<(k * n)).map { Float(($0 * 7919) % 1000) / 1000 - 0.5 }
        let model = HostileModelTests.model([Node(name: "fc", opType: "Gemm", inputs: ["x", "w"], outputs: ["y"])],
                                            inputs: [ValueInfo(name: "x", type: TensorType(.float, [1, k]))], outputs: ["y"],
                                            initializers: ["w": try Tensor(floats: weights, shape: [k, n])])
        let analyzed = try ModelLoader.analyze(model, path: "big.onnx")
        let compiled = try ModelCompiler.compile(analyzed)
        #expect(compiled.bundle.weightFormat == .binary)
        #expect(compiled.bundle.weights.isEmpty)
        // The weights re-laid for the kernel and a zero bias.
        #expect(compiled.bundle.weightBlob.count == k * n * 4 + n * 4)
        let results = try ModelVerifier.verify(analyzed, inputs: nil, options: .init(), workDirectory: CBackendTests.workDirectory("weights-auto"))
        for c in results where c.decides { #expect(c.passed, "\(c.name) max abs error \(c.maxAbsError)") }
    }

    /// The C form is exact and short: every float in the fewest digits that read back as itself.
    @Test func cInitializersAreExact() throws {
        let bundle = try Self.compiled("kws_dscnn.onnx", .c).bundle
        #expect(bundle.weights.utf8.count < bundle.weightBytes * 4)
        #expect(bundle.weights.contains("f, "))
        #expect(!bundle.weights.contains("0x"))
        // Values whose shortest form is tricky: the smallest and largest subnormals, the largest float, 2^24, thirds.
        let values: [Float] = [0.1, -0.0, Float(bitPattern: 1), .greatestFiniteMagnitude, Float(bitPattern: 0x007F_FFFF), 1.0 / 3, 16_777_216, -2.5e-12]
        let model = HostileModelTests.model([Node(name: "scale", opType: "Mul", inputs: ["x", "w"], outputs: ["y"])],
                                            inputs: [ValueInfo(name: "x", type: TensorType(.float, [values.count]))], outputs: ["y"],
                                            initializers: ["w": try Tensor(floats: values, shape: [values.count])])
        let text = try ModelCompiler.compile(try ModelLoader.analyze(model, path: "scale.onnx"), options: .init()).bundle.weights
        let body = try #require(text.components(separatedBy: "= {").last?.components(separatedBy: "};").first)
        let literals = body.split(whereSeparator: { $0 == "," || $0.isWhitespace }).map(String.init)
        #expect(literals.count == values.count)
        for (literal, value) in zip(literals, values) {
            #expect(literal.hasSuffix("f"))
            #expect(Float(literal.dropLast())?.bitPattern == value.bitPattern, "\(value) written as \(literal)")
        }
    }

    /// The generated Make snippet builds the model from another folder, as a firmware project would.
    @Test func makeSnippetBuildsTheBinaryFormFromAnotherFolder() throws {
        let directory = CBackendTests.workDirectory("weights-make")
        let out = directory + "/gen", app = directory + "/app"
        try FileManager.default.createDirectory(atPath: app, withIntermediateDirectories: true)
        let result = try CommandLineTests.run(["compile", TestPaths.model("kws_dscnn.onnx"), "--name", "model", "--weights", "binary", "-o", out])
        #expect(result.status == 0, "\(result.stderr)")
        let makefile = """
        include ../gen/model.mk
        run_model: \(TestPaths.root.appendingPathComponent("Examples/host/main.c").path) $(MODEL_SOURCES)
        \t$(MODEL_CC) $(MODEL_CFLAGS) -Wall -Wextra -Werror -I../gen -o $@ $^ $(MODEL_LDLIBS)

        """
        try makefile.write(toFile: app + "/Makefile", atomically: true, encoding: .utf8)
        let build = try CommandLineTests.execute("/usr/bin/env", ["make", "-s", "-C", app])
        #expect(build.status == 0, "\(build.stdout) \(build.stderr)")
        let run = try CommandLineTests.execute(app + "/run_model", [TestPaths.root.appendingPathComponent("Examples/kws_dscnn_input.npy").path])
        #expect(run.status == 0 && run.stdout.contains("top class: 4"), "\(run.stdout) \(run.stderr)")
        let bad = try CommandLineTests.run(["compile", TestPaths.model("kws_dscnn.onnx"), "--weights", "hex", "-o", out])
        #expect(bad.status == 1 && bad.stderr.contains("--weights must be auto, c or binary"))
    }

    /// The generated CMake snippet builds a program in both forms (CMake's own build folder, out of the source tree).
    @Test(arguments: ["c", "binary"])
    func cmakeSnippetBuildsTheModel(format: String) throws {
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/cmake") else {
            if ProcessInfo.processInfo.environment["WHITTLE_REQUIRE_TOOLS"] != nil { Issue.record("cmake is missing") }
            return
        }
        let directory = CBackendTests.workDirectory("weights-cmake-\(format)")
        let result = try CommandLineTests.run(["compile", TestPaths.model("kws_dscnn.onnx"), "--name", "model", "--weights", format,
                                               "-o", directory + "/gen"])
        #expect(result.status == 0, "\(result.stderr)")
        let main = TestPaths.root.appendingPathComponent("Examples/host/main.c").path
        let lists = """
        cmake_minimum_required(VERSION 3.13)
        project(app C)
        include(${CMAKE_CURRENT_SOURCE_DIR}/gen/model.cmake)
        add_executable(app \(main))
        target_link_libraries(app PRIVATE model)

        """
        try lists.write(toFile: directory + "/CMakeLists.txt", atomically: true, encoding: .utf8)
        let configure = try CommandLineTests.executeWithSignals("/usr/bin/cmake", ["-S", directory, "-B", directory + "/build"])
        #expect(configure.status == 0, "\(configure.stdout) \(configure.stderr)")
        let build = try CommandLineTests.executeWithSignals("/usr/bin/cmake", ["--build", directory + "/build"])
        #expect(build.status == 0, "\(build.stdout) \(build.stderr)")
        let run = try CommandLineTests.execute(directory + "/build/app", [TestPaths.root.appendingPathComponent("Examples/kws_dscnn_input.npy").path])
        #expect(run.status == 0 && run.stdout.contains("top class: 4"), "\(run.stdout) \(run.stderr)")
    }

    /// Long compiles and verifications say how far they are (the CLI draws this on a terminal).
    @Test func compileAndVerifyReportProgress() throws {
        final class Log: @unchecked Sendable { var phases: [(String, Int, Int)] = [] }
        let log = Log()
        let analyzed = try ModelLoader.load(path: TestPaths.model("digits_cnn.onnx"))
        _ = try ModelVerifier.verify(analyzed, inputs: nil, options: .init(), workDirectory: CBackendTests.workDirectory("progress")) {
            log.phases.append(($0, $1, $2))
        }
        let names = log.phases.map(\.0)
        #expect(names.first == "optimizing" && names.contains("emitting C") && names.last == "building and running")
        #expect(log.phases.last.map { $0.1 == $0.2 } == true)
        let emitted = log.phases.filter { $0.0 == "emitting C" }
        #expect(emitted.map(\.1) == Array(1...emitted.count) && emitted.allSatisfy { $0.2 == emitted.count })
    }
}
