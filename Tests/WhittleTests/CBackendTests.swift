import Foundation
import Testing
import WhittleIR
import WhittleKit

/// The emitted C: builds warning-free with gcc and clang, matches the interpreter under ASan/UBSan,
/// and is byte-identical from run to run.
struct CBackendTests {
    static let models = ["ad_autoencoder", "digits_cnn", "digits_mlp", "ic_resnet8", "kws_dscnn", "vww_mobilenet_v1_025",
                         "digits_cnn_int8_qdq", "ic_resnet8_int8_qdq", "kws_dscnn_int8_qdq"]

    static func workDirectory(_ name: String) -> String {
        FileManager.default.temporaryDirectory.appendingPathComponent("whittle-c-\(getpid())-\(name)").path
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
                    #expect(["<math.h>", "<stddef.h>", "<stdint.h>", "<string.h>", "\"\(bundle.name).h\""].contains { include.hasSuffix($0) }, "\(include)")
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
