import Foundation
import Testing
import WhittleIR
import WhittleNumPy
import WhittleKit
import WhittleONNX

/// Bad input gives one clean error (kind, file, node) and never a crash or a hang.
struct ErrorTests {
    static func temporaryFile(_ bytes: [UInt8], name: String) throws -> String {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("whittle-tests-\(getpid())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let url = directory.appendingPathComponent(name)
        try Data(bytes).write(to: url)
        return url.path
    }

    @Test func emptyFile() throws {
        let path = try Self.temporaryFile([], name: "empty.onnx")
        let error = expectWhittleError { _ = try ModelLoader.load(path: path) }
        #expect(error?.kind == .malformedModel)
        #expect(error?.description == "\(path): the file is empty (0 bytes), not an ONNX model")
    }

    @Test func missingFileAndDirectory() {
        let missing = expectWhittleError { _ = try ModelLoader.load(path: "/nonexistent/model.onnx") }
        #expect(missing?.description == "/nonexistent/model.onnx: no such file")
        let directory = expectWhittleError { _ = try ModelLoader.load(path: TestPaths.fixtures.path) }
        #expect(directory?.kind == .io)
    }

    /// Random bytes of many lengths: each must give a clean error (or, if protobuf happens to accept
    /// them, a model with no graph, which is an error too).
    @Test func randomBytes() throws {
        var generator = SplitMix64(seed: 0x5EED)
        for length in [1, 2, 3, 7, 16, 100, 1000, 65536] {
            for _ in 0..<8 {
                let bytes = (0..<length).map { _ in UInt8(truncatingIfNeeded: generator.next()) }
                let error = expectWhittleError { _ = try ONNXReader.read(bytes: bytes) }
                #expect(error?.kind == .malformedModel)
            }
        }
    }

    @Test(arguments: [0.5, 0.9, 0.999])
    func truncatedModel(fraction: Double) throws {
        let data = try [UInt8](Data(contentsOf: URL(fileURLWithPath: TestPaths.model("digits_cnn.onnx"))))
        let cut = Array(data.prefix(Int(Double(data.count) * fraction)))
        let path = try Self.temporaryFile(cut, name: "truncated-\(fraction).onnx")
        let error = expectWhittleError { _ = try ModelLoader.load(path: path) }
        #expect(error?.kind == .malformedModel)
        #expect(error?.reason.contains("truncated") == true)
        #expect(error?.file == path)
    }

    @Test(arguments: [
        ("error_cycle.onnx", WhittleError.Kind.invalidGraph, "first", "cycle"),
        ("error_undefined_input.onnx", .invalidGraph, "adder", "input \"nowhere\" is not defined"),
        ("error_attribute_type.onnx", .invalidAttribute, "conv1", "attribute kernel_shape must be INTS, found FLOATS"),
        ("error_overflow_inferred.onnx", .shapeMismatch, "grow", "more elements than fit in a 64-bit integer"),
    ])
    func graphErrorsNameTheNode(file: String, kind: WhittleError.Kind, node: String, message: String) {
        let path = TestPaths.fixture(file)
        let error = expectWhittleError { _ = try ModelLoader.load(path: path) }
        #expect(error?.kind == kind)
        #expect(error?.node?.name == node)
        #expect(error?.file == path)
        #expect(error?.reason.contains(message) == true, "\(String(describing: error))")
        #expect(error?.description.contains("\n") == false)
    }

    @Test func overflowingDeclaredShape() {
        let error = expectWhittleError { _ = try ModelLoader.load(path: TestPaths.fixture("error_overflow.onnx")) }
        #expect(error?.kind == .shapeMismatch)
        #expect(error?.reason.contains("more elements than fit in a 64-bit integer") == true)
    }

    @Test func errorDescriptionIsOneLine() {
        let error = WhittleError(.invalidGraph, "two\nlines", file: "m.onnx", node: NodeContext(index: 3, name: "c", opType: "Conv"))
        #expect(error.description == "m.onnx: node 3 \"c\" (Conv): two lines")
        // The innermost context is kept.
        let outer = error.inNode(NodeContext(index: 9, name: "x", opType: "If")).inFile("other.onnx")
        #expect(outer.node?.index == 3)
        #expect(outer.file == "m.onnx")
    }
}

/// Command-line behaviour: exit codes and the one-line messages users see.
struct CommandLineTests {
    struct Run {
        var status: Int32
        var stdout: String
        var stderr: String
    }

    static func run(_ arguments: [String], in directory: String? = nil) throws -> Run {
        let executable = try #require(TestPaths.whittle, "the whittle executable is built by `swift build` before the tests")
        return try execute(executable.path, arguments, in: directory)
    }

    /// Runs a program that waits for SIGCHLD (CMake, Chromium): the test process blocks it in the
    /// threads that start programs, so a small Python launcher clears the signal mask first.
    static func executeWithSignals(_ program: String, _ arguments: [String]) throws -> Run {
        try execute("/usr/bin/python3", ["-c", "import os, signal, sys; signal.pthread_sigmask(signal.SIG_SETMASK, set()); os.execv(sys.argv[1], sys.argv[1:])",
                                         program] + arguments)
    }

    /// Runs any program; its standard error is collected through a file so neither pipe can fill up.
    static func execute(_ program: String, _ arguments: [String], in directory: String? = nil) throws -> Run {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: program)
        process.arguments = arguments
        if let directory { process.currentDirectoryURL = URL(fileURLWithPath: directory) }
        let errorFile = FileManager.default.temporaryDirectory.appendingPathComponent("whittle-stderr-\(getpid())-\(UUID().uuidString)")
        _ = FileManager.default.createFile(atPath: errorFile.path, contents: nil)
        defer { try? FileManager.default.removeItem(at: errorFile) }
        let out = Pipe(), err = try FileHandle(forWritingTo: errorFile)
        process.standardOutput = out
        process.standardError = err
        try process.run()
        let stdout = out.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        try err.close()
        let stderr = (try? Data(contentsOf: errorFile)) ?? Data()
        return Run(status: process.terminationStatus, stdout: String(decoding: stdout, as: UTF8.self),
                   stderr: String(decoding: stderr, as: UTF8.self))
    }

    @Test func inspectPrintsTheTable() throws {
        let result = try Self.run(["inspect", TestPaths.model("kws_dscnn.onnx")])
        #expect(result.status == 0)
        #expect(result.stdout.contains("nodes 22, parameters 22,604, weights 88.3 KiB, MACs 2,656,768"))
        #expect(result.stderr.isEmpty)
    }

    @Test func inspectJSONIsValid() throws {
        let result = try Self.run(["inspect", "--json", TestPaths.model("ic_resnet8.onnx")])
        #expect(result.status == 0)
        let report = try JSONDecoder().decode(InspectReport.self, from: Data(result.stdout.utf8))
        #expect(report.totals.macs == 12_501_632)
        #expect(report.outputs.first?.shape == [1, 10])
    }

    @Test func inputShapeOption() throws {
        let result = try Self.run(["inspect", "--json", "--input-shape", "X=2,3,4,4", TestPaths.fixture("symbolic_reshape.onnx")])
        #expect(result.status == 0)
        let report = try JSONDecoder().decode(InspectReport.self, from: Data(result.stdout.utf8))
        #expect(report.outputs.first?.shape == [2, 48])
    }

    @Test(arguments: ["error_cycle.onnx", "error_undefined_input.onnx", "error_attribute_type.onnx",
                      "error_overflow.onnx", "error_overflow_inferred.onnx", "external_missing.onnx",
                      "external_escape.onnx", "type_string.onnx"])
    func badModelsExitWithOneLine(file: String) throws {
        let path = TestPaths.fixture(file)
        let result = try Self.run(["inspect", path])
        #expect(result.status == 1)
        #expect(result.stdout.isEmpty)
        let lines = result.stderr.split(separator: "\n")
        #expect(lines.count == 1)
        #expect(result.stderr.hasPrefix("error: \(path): "))
    }

    @Test func emptyRandomAndTruncatedFilesExitWithOneLine() throws {
        var generator = SplitMix64(seed: 42)
        let model = try [UInt8](Data(contentsOf: URL(fileURLWithPath: TestPaths.model("digits_mlp.onnx"))))
        let cases: [(String, [UInt8])] = [
            ("empty.onnx", []),
            ("random.onnx", (0..<4096).map { _ in UInt8(truncatingIfNeeded: generator.next()) }),
            ("truncated.onnx", Array(model.prefix(model.count / 2))),
        ]
        for (name, bytes) in cases {
            let path = try ErrorTests.temporaryFile(bytes, name: name)
            let result = try Self.run(["inspect", path])
            #expect(result.status == 1, "\(name)")
            #expect(result.stderr.split(separator: "\n").count == 1, "\(name)")
            #expect(result.stderr.hasPrefix("error: \(path): "), "\(name)")
        }
    }

    @Test func badInputShapeIsAUsageError() throws {
        let result = try Self.run(["inspect", "--input-shape", "X", TestPaths.fixture("symbolic_reshape.onnx")])
        #expect(result.status == 1)
        #expect(result.stderr == "error: input shape \"X\" must look like NAME=1,3,96,96 (--input-shape)\n")
    }
}

/// A small deterministic generator, so random-input tests are repeatable.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// Every failure of the command line looks the same: `error: ...` and exit code 1, with a reason
/// a user can act on.
struct ErrorStyleTests {
    @Test func argumentAndFileErrorsShareOneStyle() throws {
        let mlp = TestPaths.model("digits_mlp.onnx"), calib = TestPaths.model("digits_calib.npz")
        let cases: [([String], String)] = [
            (["compile", mlp, "--bogus"], "error: Unknown option '--bogus'"),
            (["verify", mlp, "--tolerance", "-1"], "error: --tolerance must be a number of at least 0, not -1.0"),
            (["quantize", mlp, "--calibration", calib, "-o", NSTemporaryDirectory()], "it is a folder; give a file name"),
            (["quantize", mlp, "--calibration", calib, "-o", "/nonexistent-whittle/x.onnx"], "the folder /nonexistent-whittle does not exist"),
        ]
        for (arguments, message) in cases {
            let result = try CommandLineTests.run(arguments)
            #expect(result.status == 1 && result.stderr.hasPrefix("error: ") && result.stderr.contains(message), "\(arguments): \(result.stderr)")
            #expect(!result.stderr.contains("NSCocoaErrorDomain") && !result.stderr.contains("Error:"), "\(result.stderr)")
        }
        let help = try CommandLineTests.run(["--help"])
        #expect(help.status == 0 && help.stdout.contains("SUBCOMMANDS"))
        // Required arguments show as required in every command's usage line.
        let usages = [("compile", "USAGE: whittle compile <model> --output <OUTDIR>"), ("quantize", "--calibration <DATA.npz> --output <OUT.onnx>"),
                      ("run", "<model>"), ("verify", "<model>"), ("prune", "<model> --output <OUT.onnx>"), ("report", "<model> --output <report.html>"),
                      ("binarize", "<model>"), ("inspect", "<model>"), ("distill-export", "<model> --data <TRANSFER.npz> --output <DIR>")]
        for (command, usage) in usages {
            let text = try CommandLineTests.run([command, "--help"]).stdout
            let line = text.split(separator: "\n").first { $0.hasPrefix("USAGE:") } ?? ""
            #expect(line.contains(usage) && !line.contains("[<model>]"), "\(command): \(line)")
        }
    }

    @Test func anEmptyArchiveSaysSo() throws {
        let path = CBackendTests.workDirectory("empty.npz")
        try FileManager.default.createDirectory(atPath: CBackendTests.workRoot, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: path) }
        try NPZArchive.write([], to: path)
        let error = expectWhittleError { _ = try NPZArchive(path: path).array("x") }
        #expect(error?.reason.hasSuffix("has no array \"x\" (it has none)") == true, "\(String(describing: error))")
    }
}
