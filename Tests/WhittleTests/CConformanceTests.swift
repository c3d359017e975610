import Foundation
import Testing
import WhittleIR
import WhittleKit
import WhittleONNX

/// The ONNX node cases that the interpreter passes, compiled to C, built (ASan/UBSan, strict
/// warnings) and run. Tests/Conformance/c_expected_passes.txt lists the ones that must pass;
/// c_excluded.txt gives the reason for the others.
struct CConformanceTests {
    struct Case {
        var name: String
        var symbol: String
        /// Bytes of each run-time input, in order.
        var inputBytes: [Int]
        var outputs: [(type: ElementType, bytes: Int)]
    }

    @Test func nodeTestsPassThroughEmittedC() throws {
        guard ConformanceTests.available else {
            if ConformanceTests.required { Issue.record("no node tests in \(ConformanceTests.directory); run make test") }
            return
        }
        let names = ConformanceTests.lines("expected_passes.txt")
        let work = TestPaths.root.appendingPathComponent(".build-conformance/c").path
        try? FileManager.default.removeItem(atPath: work)
        try FileManager.default.createDirectory(atPath: work, withIntermediateDirectories: true)
        var failures: [String: String] = [:]
        var cases: [Case] = []
        for (index, name) in names.enumerated() {
            do {
                cases.append(try Self.prepare(name, symbol: "t\(index)", in: work))
            } catch {
                failures[name] = "compile: \(error)"
            }
        }
        // Objects are built one file at a time, so a file that does not compile costs only its own case.
        var built: [Case] = []
        for c in cases {
            do {
                for file in ["\(c.symbol).c", "\(c.symbol)_weights.c"] {
                    try ModelVerifier.run("cc", Self.flags + ["-c", file, "-o", file + ".o"], in: work, what: "building \(file)")
                }
                built.append(c)
            } catch {
                failures[c.name] = "build: \(error)"
            }
        }
        try Self.harness(built).write(toFile: work + "/main.c", atomically: true, encoding: .utf8)
        let objects = built.flatMap { ["\($0.symbol).c.o", "\($0.symbol)_weights.c.o"] }
        try ModelVerifier.run("cc", Self.flags + ["-o", "cases", "main.c"] + objects + ["-lm"], in: work, what: "linking")
        var passed: [String] = []
        for (k, c) in built.enumerated() {
            do {
                try ModelVerifier.run("./cases", [String(k)], in: work, what: "running")
                if let problem = try Self.compare(c, in: work) { failures[c.name] = problem } else { passed.append(c.name) }
            } catch {
                failures[c.name] = "run: \(error)"
            }
        }
        let expected = Set(ConformanceTests.lines("c_expected_passes.txt")), excluded = Set(ConformanceTests.lines("c_excluded.txt"))
        for name in names {
            if let problem = failures[name], expected.contains(name) { Issue.record("\(name) is expected to pass through C: \(problem)") }
            if !expected.contains(name) && !excluded.contains(name) {
                Issue.record("\(name) is in neither c_expected_passes.txt nor c_excluded.txt (make conformance-manifest)")
            }
        }
        print("conformance through C: \(passed.count)/\(names.count) of the interpreter's passes")
        if let report = ProcessInfo.processInfo.environment["WHITTLE_CONFORMANCE_REPORT"] {
            try (passed.sorted().joined(separator: "\n") + "\n").write(toFile: report + ".c.passed", atomically: true, encoding: .utf8)
            let lines = failures.keys.sorted().map { "\($0)\t\(failures[$0] ?? "")" }
            try (lines.joined(separator: "\n") + "\n").write(toFile: report + ".c.failed", atomically: true, encoding: .utf8)
        }
    }

    static let flags = ["-std=c99", "-O0", "-g", "-Wall", "-Wextra", "-Werror", "-pedantic", "-Wshadow", "-Wstrict-prototypes",
                        "-Wdouble-promotion", "-fsanitize=address,undefined", "-fno-sanitize-recover=all"]

    /// Compiles one case to C and writes its inputs.
    static func prepare(_ name: String, symbol: String, in work: String) throws -> Case {
        let folder = ConformanceTests.directory + "/" + name
        let raw = try ONNXReader.read(path: folder + "/model.onnx")
        let parameters = ConformanceTests.staticParameters(raw.graph)
        var constants: [String: Tensor] = [:]
        var runtime: [(Int, Tensor)] = []
        for (i, input) in raw.graph.inputs.enumerated() {
            let value = try ONNXReader.readTensor(path: folder + "/test_data_set_0/input_\(i).pb")
            if parameters.contains(input.name) { constants[input.name] = value } else { runtime.append((i, value)) }
        }
        let analyzed = try ModelLoader.load(path: folder + "/model.onnx", constantInputs: constants)
        let compiled = try ModelCompiler.compile(analyzed, options: CompileOptions(name: symbol))
        for (file, text) in [("\(symbol).h", compiled.bundle.header), ("\(symbol).c", compiled.bundle.source),
                             ("\(symbol)_weights.c", compiled.bundle.weights)] {
            try text.write(toFile: work + "/" + file, atomically: true, encoding: .utf8)
        }
        for (k, (_, value)) in runtime.enumerated() {
            try Data(value.bytes).write(to: URL(fileURLWithPath: work + "/\(symbol)_in\(k).bin"))
        }
        let outputs = analyzed.graph.outputs.map { output -> (ElementType, Int) in
            let type = analyzed.graph.type(of: output.name)
            return (type?.elementType ?? .float, type?.storageBytes ?? 0)
        }
        guard (runtime.map(\.1.bytes.count) + outputs.map(\.1)).allSatisfy({ $0 <= 1 << 22 }), runtime.count + outputs.count <= 16 else {
            throw WhittleError(.unsupported, "case too large for the conformance harness")
        }
        return Case(name: name, symbol: symbol, inputBytes: runtime.map(\.1.bytes.count), outputs: outputs)
    }

    /// One program for all cases: `./cases K` runs case K.
    static func harness(_ cases: [Case]) -> String {
        var lines = ["#include <stdio.h>", "#include <stdlib.h>"]
        lines += cases.map { "#include \"\($0.symbol).h\"" }
        lines += ["", "static unsigned char buffers[16][1 << 22];", "",
                  "static int load(const char *path, void *data, size_t bytes) {",
                  "    FILE *f = fopen(path, \"rb\"); size_t got = 0;",
                  "    if (!f) return 1;",
                  "    if (bytes) got = fread(data, 1, bytes, f);",
                  "    fclose(f); return got != bytes;", "}", "",
                  "static int save(const char *path, const void *data, size_t bytes) {",
                  "    FILE *f = fopen(path, \"wb\"); size_t put = 0;",
                  "    if (!f) return 1;",
                  "    if (bytes) put = fwrite(data, 1, bytes, f);",
                  "    fclose(f); return put != bytes;", "}", ""]
        for c in cases {
            var body = ["static int run_\(c.symbol)(void) {"]
            var arguments: [String] = []
            for (k, bytes) in c.inputBytes.enumerated() {
                body.append("    if (load(\"\(c.symbol)_in\(k).bin\", buffers[\(k)], \(bytes))) return 10;")
                arguments.append("(void *)buffers[\(k)]")
            }
            for j in c.outputs.indices { arguments.append("(void *)buffers[\(c.inputBytes.count + j)]") }
            body.append("    if (\(c.symbol)_run(\(arguments.joined(separator: ", "))) != 0) return 11;")
            for (j, output) in c.outputs.enumerated() {
                body.append("    if (save(\"\(c.symbol)_out\(j).bin\", buffers[\(c.inputBytes.count + j)], \(output.bytes))) return 12;")
            }
            body += ["    return 0;", "}", ""]
            lines += body
        }
        lines.append("int main(int argc, char **argv) {")
        lines.append("    if (argc != 2) return 2;")
        lines.append("    switch (atoi(argv[1])) {")
        for (k, c) in cases.enumerated() { lines.append("    case \(k): return run_\(c.symbol)();") }
        lines += ["    default: return 3;", "    }", "}"]
        return lines.joined(separator: "\n") + "\n"
    }

    static func compare(_ c: Case, in work: String) throws -> String? {
        let folder = ConformanceTests.directory + "/" + c.name
        for (j, (type, _)) in c.outputs.enumerated() {
            let expected = NDArray(try ONNXReader.readTensor(path: folder + "/test_data_set_0/output_\(j).pb"))
            let data = try Data(contentsOf: URL(fileURLWithPath: work + "/\(c.symbol)_out\(j).bin"))
            let got = NDArray(try Tensor(elementType: type, shape: expected.shape, bytes: [UInt8](data)))
            if let problem = ConformanceTests.compare(got, expected) { return "output \(j): \(problem)" }
        }
        return nil
    }
}
