import Foundation
import Testing
import WhittleIR
import WhittleCodegen
import WhittleKit

/// The emitted C: builds warning-free with gcc and clang, matches the interpreter under ASan/UBSan,
/// and is byte-identical from run to run.
struct CBackendTests {
    static let models = ["ad_autoencoder", "digits_cnn", "digits_mlp", "ic_resnet8", "kws_dscnn", "vww_mobilenet_v1_025",
                         "digits_cnn_int8_qdq", "ic_resnet8_int8_qdq", "kws_dscnn_int8_qdq"]

    /// One folder per test process for the files tests build; removed when the process exits, so
    /// `make test` leaves nothing in the temporary directory.
    static let workRoot: String = {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("whittle-tests-\(getpid())").path
        atexit {
            try? FileManager.default.removeItem(atPath: FileManager.default.temporaryDirectory.appendingPathComponent("whittle-tests-\(getpid())").path)
        }
        return path
    }()

    static func workDirectory(_ name: String) -> String {
        workRoot + "/" + name
    }

    @Test(arguments: models, ["gcc", "clang"])
    func verifiesAgainstTheInterpreter(model: String, compiler: String) throws {
        let analyzed = try ModelLoader.load(path: TestPaths.model("\(model).onnx"))
        var options = ModelVerifier.Options()
        options.compiler = compiler
        let refs = try ModelRunner.inputs(fromArchive: TestPaths.model("\(model).refs.npz"), for: analyzed.graph, case: 0)
        let results = try ModelVerifier.verify(analyzed, inputs: refs, options: options, workDirectory: Self.workDirectory("\(model)-\(compiler)"))
        for r in results {
            #expect(r.passed, "\(model) with \(compiler): \(r.name) max abs error \(r.maxAbsError)")
        }
    }

    @Test func outputIsDeterministic() throws {
        let analyzed = try ModelLoader.load(path: TestPaths.model("kws_dscnn.onnx"))
        let first = try ModelCompiler.compile(analyzed).bundle, second = try ModelCompiler.compile(analyzed).bundle
        #expect(first.header == second.header)
        #expect(first.source == second.source)
        #expect(first.weights == second.weights)
    }

    @Test func emittedCodeAvoidsForbiddenConstructs() throws {
        for model in Self.models {
            let bundle = try ModelCompiler.compile(ModelLoader.load(path: TestPaths.model("\(model).onnx"))).bundle
            for text in [bundle.header, bundle.source, bundle.weights] {
                for forbidden in ["malloc", "free(", "printf", "stdio.h", "FILE"] { #expect(!text.contains(forbidden), "\(model): \(forbidden)") }
                let includes = text.split(separator: "\n").filter { $0.hasPrefix("#include") }.map(String.init)
                for include in includes {
                    // Standard headers, and the compilers' Arm and x86 intrinsics headers behind feature tests.
                    #expect(["<math.h>", "<float.h>", "<stddef.h>", "<stdint.h>", "<string.h>", "<arm_acle.h>", "<arm_neon.h>", "<emmintrin.h>",
                             "<immintrin.h>", "\"\(bundle.name).h\""].contains { include.hasSuffix($0) }, "\(include)")
                }
            }
            #expect(bundle.weights.contains("const float") || !bundle.source.contains("extern const float"))
        }
    }

    @Test func unsupportedOperatorsAreNamed() throws {
        let error = expectWhittleError { _ = try ModelCompiler.compile(ModelLoader.load(path: TestPaths.fixture("domains.onnx"))) }
        #expect(error?.kind == .unsupported)
        #expect(error?.node?.name == "norm")
        #expect(error?.reason.contains("cannot compile") == true)
    }

    @Test func commandLineCompileWritesTheFiles() throws {
        let out = Self.workDirectory("cli")
        let result = try CommandLineTests.run(["compile", TestPaths.model("digits_mlp.onnx"), "-o", out, "--name", "mlp"])
        #expect(result.status == 0, "\(result.stderr)")
        for file in ["mlp.h", "mlp.c", "mlp_weights.c", "mlp_report.md", "mlp_report.json"] {
            #expect(FileManager.default.fileExists(atPath: out + "/" + file), "\(file)")
        }
        let header = try String(contentsOfFile: out + "/mlp.h", encoding: .utf8)
        #expect(header.contains("int mlp_run(const float *input, float *logits);"))
        #expect(header.contains("#define MLP_ARENA_BYTES 384"))
        #expect(header.contains("int mlp_run_with_arena(void *arena, const float *input, float *logits);"))
        let list = try CommandLineTests.run(["compile", "--list-passes"])
        #expect(list.stdout.contains("fold-batchnorm"))
        let dump = try CommandLineTests.run(["compile", TestPaths.model("digits_cnn.onnx"), "-o", out, "--dump-ir-after", "fold-batchnorm",
                                             "--disable-pass", "fuse-activation"])
        #expect(dump.stdout.contains("== IR after fold-batchnorm"))
        #expect(dump.stdout.contains("Relu("))
        let bad = try CommandLineTests.run(["compile", TestPaths.model("digits_cnn.onnx"), "-o", out, "--disable-pass", "nope"])
        #expect(bad.status == 1)
        #expect(bad.stderr.contains("unknown pass \"nope\""))
    }

    @Test func commandLineVerifyPrintsPass() throws {
        let result = try CommandLineTests.run(["verify", TestPaths.model("digits_cnn.onnx")])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains("logits: max abs error"))
        #expect(result.stdout.contains("PASS"))
        // An impossible tolerance makes it fail with exit code 1.
        let strict = try CommandLineTests.run(["verify", TestPaths.model("digits_cnn.onnx"), "--tolerance", "0"])
        #expect(strict.status == 1)
        #expect(strict.stdout.contains("FAIL"))
    }
}

/// The emitted C for the device compilers (arm-none-eabi-gcc, the Raspberry Pi cross compilers)
/// under the strictest warnings, and golden snapshots of small models.
struct CPortabilityTests {
    static var armCompiler: Bool {
        FileManager.default.isExecutableFile(atPath: "/usr/bin/arm-none-eabi-gcc")
    }

    @Test(arguments: CBackendTests.models)
    func buildsForCortexM(model: String) throws {
        guard Self.armCompiler else {
            if ProcessInfo.processInfo.environment["WHITTLE_REQUIRE_TOOLS"] != nil { Issue.record("arm-none-eabi-gcc is not installed") }
            return
        }
        let directory = CBackendTests.workDirectory("arm-\(model)")
        let compiled = try ModelCompiler.compile(ModelLoader.load(path: TestPaths.model("\(model).onnx")), options: CompileOptions(name: "model"))
        _ = try compiled.write(to: directory)
        // Cortex-M4F (single-precision FPU) and Cortex-M0+ (no FPU): the strictest warnings, no errors.
        for cpu in [["-mcpu=cortex-m4", "-mfloat-abi=hard", "-mfpu=fpv4-sp-d16"], ["-mcpu=cortex-m0plus"]] {
            try ModelVerifier.run("arm-none-eabi-gcc", ["-mthumb"] + cpu + ModelVerifier.strictFlags + ["-O2", "-c", "model.c", "model_weights.c"],
                                  in: directory, what: "arm-none-eabi-gcc \(cpu[0])")
        }
        // The Raspberry Pi compilers, whose builds take the NEON kernel variants.
        for (compiler, flags) in [("aarch64-linux-gnu-gcc", ["-mcpu=cortex-a72"]),
                                  ("arm-linux-gnueabihf-gcc", ["-mcpu=cortex-a53", "-mfpu=neon-fp-armv8", "-mfloat-abi=hard"])]
        where FileManager.default.isExecutableFile(atPath: "/usr/bin/" + compiler) {
            try ModelVerifier.run(compiler, flags + ModelVerifier.strictFlags + ["-O2", "-c", "model.c", "model_weights.c"],
                                  in: directory, what: "\(compiler) \(flags[0])")
        }
    }

    /// Snapshots: re-record with RECORD_GOLDEN=1 and review the diff.
    @Test(arguments: ["digits_mlp", "local_functions", "initializer_as_input"])
    func emittedCMatchesSnapshot(model: String) throws {
        let path = model == "digits_mlp" ? TestPaths.model("\(model).onnx") : TestPaths.fixture("\(model).onnx")
        let bundle = try ModelCompiler.compile(ModelLoader.load(path: path)).bundle
        let folder = TestPaths.root.appendingPathComponent("Tests/WhittleTests/Golden/c/\(model)")
        let files = [("\(bundle.name).h", bundle.header), ("\(bundle.name).c", bundle.source), ("\(bundle.name)_weights.c", bundle.weights)]
        if ProcessInfo.processInfo.environment["RECORD_GOLDEN"] != nil {
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
            for (file, text) in files { try text.write(to: folder.appendingPathComponent(file), atomically: true, encoding: .utf8) }
        }
        for (file, text) in files {
            let expected = try String(contentsOf: folder.appendingPathComponent(file), encoding: .utf8)
            #expect(text == expected, "\(model)/\(file) differs from its snapshot (RECORD_GOLDEN=1 to re-record)")
        }
    }
}
