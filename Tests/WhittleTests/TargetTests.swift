import Foundation
import Testing
import WhittleIR
import WhittleKit

/// Device targets: descriptions, budgets, and the emitted C verified under QEMU.
struct TargetTests {
    static var catalog: TargetCatalog? { try? TargetCatalog(explicit: TestPaths.root.appendingPathComponent("Targets").path) }

    static var emulatorsInstalled: Bool {
        ["/usr/bin/qemu-system-arm", "/usr/bin/qemu-aarch64", "/usr/bin/qemu-arm", "/usr/bin/aarch64-linux-gnu-gcc",
         "/usr/bin/arm-linux-gnueabihf-gcc", "/usr/bin/arm-none-eabi-gcc", "/usr/bin/qemu-system-riscv32", "/usr/bin/riscv64-unknown-elf-gcc"].allSatisfy { FileManager.default.isExecutableFile(atPath: $0) }
    }

    @Test func everyTargetDescriptionLoads() throws {
        let targets = try #require(Self.catalog).all()
        #expect(Set(targets.map(\.name)) == ["cortex-m0plus", "rp2040", "cortex-m4f", "cortex-m7", "cortex-m33", "rpi3", "rpi-zero2", "rpi4", "rpi5",
                                                 "rv32imc", "rv32imafc", "host"])
        for t in targets where t.kind != "host" {
            #expect(t.qemu != nil, "\(t.name)")
            #expect(t.flash_bytes > 0 && t.ram_bytes > 0, "\(t.name)")
        }
        #expect(throws: WhittleError.self) { _ = try Self.catalog?.target("cortex-m99") }
    }

    /// Each description's `features` agree with what its compiler and flags turn on: the kernels
    /// choose their variants from those macros.
    @Test func featuresMatchTheCompilersMacros() throws {
        guard Self.emulatorsInstalled else {
            if ProcessInfo.processInfo.environment["WHITTLE_REQUIRE_TOOLS"] != nil { Issue.record("the cross compilers are not installed") }
            return
        }
        let macros = ["dsp": "__ARM_FEATURE_DSP", "neon": "__ARM_NEON", "dotprod": "__ARM_FEATURE_DOTPROD"]
        for t in try #require(Self.catalog).all() where t.kind != "host" {
            let defined = try CommandLineTests.execute("/usr/bin/" + t.compiler, t.cflags + ["-dM", "-E", "-x", "c", "/dev/null"]).stdout
            for (feature, macro) in macros {
                #expect(t.features.contains(feature) == defined.contains("#define \(macro) "), "\(t.name): \(feature) vs \(macro)")
            }
            #expect((t.fpu != "none") == defined.contains("#define __FP_FAST_FMAF "), "\(t.name): fpu \(t.fpu)")
        }
    }

    @Test func overBudgetModelsFailWithTheReason() throws {
        let catalog = try #require(Self.catalog)
        let compiled = try ModelCompiler.compile(ModelLoader.load(path: TestPaths.model("kws_dscnn.onnx")))
        let error = expectWhittleError { try TargetBudget.check(compiled, target: try catalog.target("cortex-m0plus"), ram: nil, flash: nil) }
        #expect(error?.reason.contains("does not fit cortex-m0plus: the arena needs 65,024 B of RAM but the budget is 15,360 B "
                + "(16,384 B of RAM less 1,024 B kept for the rest of the program) (over by 49,664 B") == true,
                "\(String(describing: error))")
        #expect(error?.reason.contains("largest activations: /net/net.0/net.0.1/Conv 32,000 B") == true)
        // A larger budget lets it through; a tiny flash budget names the weights.
        try TargetBudget.check(compiled, target: try catalog.target("cortex-m0plus"), ram: 65536, flash: nil)
        let flash = expectWhittleError { try TargetBudget.check(compiled, target: try catalog.target("cortex-m4f"), ram: nil, flash: 1024) }
        #expect(flash?.reason.contains("the weights need 90,416 B of flash but the budget is 1,024 B") == true)
        #expect(try TargetBudget.parse("256K") == 262_144)
        #expect(try TargetBudget.parse("1M") == 1_048_576)
        #expect(throws: WhittleError.self) { try TargetBudget.parse("lots") }
    }

    @Test func commandLineCompileForATarget() throws {
        let out = CBackendTests.workDirectory("target-cli")
        let result = try CommandLineTests.run(["compile", TestPaths.model("kws_dscnn.onnx"), "--target", "cortex-m4f", "-o", out,
                                               "--targets-dir", TestPaths.root.appendingPathComponent("Targets").path])
        #expect(result.status == 0, "\(result.stderr)")
        let make = try String(contentsOfFile: out + "/kws_dscnn.mk", encoding: .utf8)
        #expect(make.contains("KWS_DSCNN_CC ?= arm-none-eabi-gcc"))
        #expect(make.contains("-mfpu=fpv4-sp-d16"))
        #expect(FileManager.default.fileExists(atPath: out + "/kws_dscnn.cmake"))
        let over = try CommandLineTests.run(["compile", TestPaths.model("kws_dscnn.onnx"), "--target", "cortex-m0plus", "-o", out,
                                             "--targets-dir", TestPaths.root.appendingPathComponent("Targets").path])
        #expect(over.status == 1)
        #expect(over.stderr.contains("does not fit cortex-m0plus"))
        let list = try CommandLineTests.run(["targets", "--targets-dir", TestPaths.root.appendingPathComponent("Targets").path])
        #expect(list.stdout.contains("mps2-an386"))
    }

    /// Which models verify on which target: digits everywhere; the MLPerf Tiny models on the larger cores.
    static let matrix: [(String, String)] = {
        var cases: [(String, String)] = []
        for target in ["cortex-m0plus", "cortex-m4f", "cortex-m7", "cortex-m33", "rpi3", "rpi-zero2", "rpi4", "rpi5", "rv32imc", "rv32imafc"] {
            for model in ["digits_mlp", "digits_cnn"] { cases.append((model, target)) }
        }
        for target in ["cortex-m4f", "cortex-m7", "rpi4", "rpi5"] {
            for model in ["kws_dscnn", "vww_mobilenet_v1_025", "ic_resnet8", "ad_autoencoder"] { cases.append((model, target)) }
        }
        // Int8 models run as integer kernels (fuse-qdq); they must match the interpreter exactly. The larger
        // ones need more RAM than the 16 KiB micro:bit, so their Cortex-M0+ runs use the RP2040 description.
        for target in ["cortex-m4f", "cortex-m0plus", "rv32imafc"] { cases.append(("digits_cnn_int8_qdq", target)) }
        // RISC-V without an FPU: integer requantization, soft-float only at the model's float edges.
        for model in ["kws_dscnn_int8_qdq", "ic_resnet8_int8_qdq"] { cases.append((model, "rv32imc")) }
        // rpi4 and rpi5 run the tiles (SMLAL; SDOT on the rpi5's dot-product instructions).
        for target in ["cortex-m4f", "cortex-m7", "rp2040", "rpi4", "rpi5"] {
            for model in ["kws_dscnn_int8_qdq", "ic_resnet8_int8_qdq"] { cases.append((model, target)) }
        }
        return cases
    }()

    @Test(arguments: matrix)
    func verifiesUnderQEMU(model: String, target name: String) throws {
        guard Self.emulatorsInstalled, let catalog = Self.catalog else {
            if ProcessInfo.processInfo.environment["WHITTLE_REQUIRE_TOOLS"] != nil { Issue.record("QEMU or a cross compiler is missing") }
            return
        }
        let target = try catalog.target(name)
        let analyzed = try ModelLoader.load(path: TestPaths.model("\(model).onnx"))
        let inputs = try ModelRunner.inputs(fromArchive: TestPaths.model("\(model).refs.npz"), for: analyzed.graph, case: 0)
        // The MLPerf Tiny parts with 1 MiB of flash hold ad_autoencoder's 1 MiB of weights only on the M7.
        let flash = model == "ad_autoencoder" ? 2 << 20 : nil
        let result = try TargetVerifier.verify(analyzed, target: target, catalog: catalog, inputs: inputs, tolerance: 1e-4,
                                               budgets: (nil, flash), workDirectory: CBackendTests.workDirectory("\(model)-\(name)"))
        for c in result.comparisons {
            #expect(c.passed, "\(model) on \(name): \(c.name) max abs error \(c.maxAbsError)")
            // Against the compiled graph (integer kernels) the device is exact; the QDQ model as given is the
            // float reference path, which the integer kernels match within a step (0 differing on these inputs).
            if model.hasSuffix("_qdq") { #expect(c.maxAbsError == 0, "\(model) on \(name): \(c.name) is not bit-exact") }
        }
        #expect((result.instructions ?? 0) > 0)
        print("target \(name) \(model): text \(result.text) data \(result.data) bss \(result.bss) insns \(result.instructions ?? -1)")
    }
}

/// The device examples run with the one command their READMEs give.
struct ExampleTests {
    /// `make -s run` in `Examples/FOLDER` after removing its build folder: exit status and output.
    static func runExample(_ folder: String) throws -> (Int32, String) {
        let directory = TestPaths.root.appendingPathComponent("Examples/\(folder)").path
        try? FileManager.default.removeItem(atPath: directory + "/build")
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["make", "-s", "run"]
        process.currentDirectoryURL = URL(fileURLWithPath: directory)
        process.standardInput = FileHandle.nullDevice
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        return (process.terminationStatus, output)
    }

    @Test(arguments: ["cortex-m4", "raspberry-pi"])
    func exampleRuns(folder: String) throws {
        guard TargetTests.emulatorsInstalled else {
            if ProcessInfo.processInfo.environment["WHITTLE_REQUIRE_TOOLS"] != nil { Issue.record("QEMU or a cross compiler is missing") }
            return
        }
        let (status, output) = try Self.runExample(folder)
        #expect(status == 0, "\(output.suffix(800))")
        #expect(output.contains("top class: 4"), "\(output.suffix(800))")
    }
}

/// The binary carries the targets: a copy of it compiles for a device from any folder.
struct InstalledBinaryTests {
    @Test func embeddedTargetsMatchTheFolder() throws {
        let folder = TestPaths.root.appendingPathComponent("Targets")
        let onDisk = try FileManager.default.subpathsOfDirectory(atPath: folder.path).filter { path in
            var isFolder: ObjCBool = false
            _ = FileManager.default.fileExists(atPath: folder.appendingPathComponent(path).path, isDirectory: &isFolder)
            return !isFolder.boolValue && path != "README.md"
        }
        let catalog = try TargetCatalog(explicit: folder.path)
        let builtIn = TargetCatalog.embeddedOnly()
        #expect(try catalog.all().map(\.name) == builtIn.all().map(\.name))
        for name in try builtIn.all().map(\.name) {
            let a = try catalog.target(name), b = try builtIn.target(name)
            #expect(a.cflags == b.cflags && a.compiler == b.compiler && a.ram_bytes == b.ram_bytes, "\(name) differs from the embedded copy the build made")
        }
        let directory = CBackendTests.workDirectory("embedded-targets")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        _ = try TargetCatalog.embeddedOnly().boardsRoot(in: directory)
        // Written out, the built-in board support is the folder's, file for file.
        for path in onDisk where path.hasPrefix("boards/") {
            let written = try String(contentsOf: URL(fileURLWithPath: directory).appendingPathComponent("targets").appendingPathComponent(path),
                                     encoding: .utf8)
            let original = try String(contentsOf: folder.appendingPathComponent(path), encoding: .utf8)
            #expect(written.trimmingCharacters(in: .newlines) == original.trimmingCharacters(in: .newlines),
                    "\(path) differs from the embedded copy the build made")
        }
    }

    @Test func aCopiedBinaryCompilesForADeviceFromAnyFolder() throws {
        guard let whittle = TestPaths.whittle else { Issue.record("the whittle executable is not built"); return }
        let directory = CBackendTests.workDirectory("installed")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try FileManager.default.createDirectory(atPath: directory + "/bin", withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: whittle.path, toPath: directory + "/bin/whittle")
        let process = Process()
        process.executableURL = URL(fileURLWithPath: directory + "/bin/whittle")
        process.arguments = ["compile", TestPaths.model("kws_dscnn.onnx"), "--target", "cortex-m4f", "-o", "out"]
        process.currentDirectoryURL = URL(fileURLWithPath: directory)
        var environment = ProcessInfo.processInfo.environment
        environment["WHITTLE_TARGETS"] = nil
        process.environment = environment
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        #expect(process.terminationStatus == 0, "\(output)")
        #expect(FileManager.default.fileExists(atPath: directory + "/out/kws_dscnn.mk"))
    }
}
