import Foundation
import Testing
import WhittleCodegen
import WhittleKit

/// The C kernel library: the copy inside the binary equals the files, every kernel the header
/// names is defined, a copied selection compiles on its own, and `Tests/Kernels/kernel_tests.c`
/// (each kernel against plain dense loops, and the integer requantization against float32
/// arithmetic) passes with every compiler Whittle targets.
struct KernelLibraryTests {
    static let folder = TestPaths.root.appendingPathComponent("Sources/WhittleCodegen/CKernels")

    @Test func embeddedCopyMatchesTheFiles() throws {
        let onDisk = try FileManager.default.contentsOfDirectory(atPath: Self.folder.path).filter { $0.hasSuffix(".c") || $0.hasSuffix(".h") }
        #expect(Set(onDisk) == Set(KernelLibrary.files.map(\.name)), "a kernel file is missing from the EmbedFiles plugin's list")
        for file in KernelLibrary.files {
            let text = try String(contentsOf: Self.folder.appendingPathComponent(file.name), encoding: .utf8)
            #expect(text.trimmingCharacters(in: .newlines) == file.text, "\(file.name) differs from the embedded copy the build made")
        }
    }

    @Test func everyDeclaredKernelIsDefinedAndStandsAlone() throws {
        let header = try #require(KernelLibrary.files.first { $0.name == "whittle_kernels.h" }).text
        let declared = header.components(separatedBy: "\n").filter { $0.hasPrefix("WHITTLE_KERNEL") }.compactMap { line -> String? in
            line.split(separator: "(").first?.split(separator: " ").last.map(String.init)
        }
        #expect(declared.count >= 7)
        #expect(Set(declared).isSubset(of: Set(KernelLibrary.names)), "\(declared) vs \(KernelLibrary.names)")
        // One kernel pulls in its helpers and types, and nothing else.
        let conv = KernelLibrary.source(for: "whittle_sparse_conv_row_s8(&g, 0, 0, d, v, x, 0, acc);")
        #expect(conv.contains("static void whittle_conv_window") && conv.contains("} whittle_conv_geometry;"))
        #expect(!conv.contains("whittle_sparse_gemv_f32") && !conv.contains("whittle_requantize"))
        #expect(KernelLibrary.source(for: "no kernels here").isEmpty)
        // Each kernel copied alone into a file compiles without a warning (no unused helpers).
        let directory = CBackendTests.workDirectory("kernel-units")
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        for name in declared {
            let use = "void (*volatile keep)(void) = (void (*)(void))0;\nvoid *use_\(name)(void) { (void)keep; return (void *)(uintptr_t)&\(name); }\n"
            let text = "#include <stdint.h>\n" + KernelLibrary.source(for: name) + "\n" + use
            try text.write(toFile: directory + "/\(name).c", atomically: true, encoding: .utf8)
            for compiler in ["gcc", "clang"] {
                try ModelVerifier.run(compiler, ModelVerifier.strictFlags + ["-O2", "-c", "\(name).c", "-o", "\(name).o"],
                                      in: directory, what: "\(compiler) on \(name) alone")
            }
        }
    }

    static var sources: [String] {
        [TestPaths.root.appendingPathComponent("Tests/Kernels/kernel_tests.c").path]
            + KernelLibrary.files.filter { $0.name.hasSuffix(".c") }.map { folder.appendingPathComponent($0.name).path }
    }

    /// Each compiler with its default variants (SSE2 on x86-64), with the host's whole instruction set
    /// (AVX2 and beyond where the machine has them), and with WHITTLE_PORTABLE (the plain loops).
    @Test(arguments: [("gcc", "-O2"), ("clang", "-O2"), ("gcc", "-O3 -march=native"), ("clang", "-O3 -march=native"), ("gcc", "-O2 -DWHITTLE_PORTABLE")])
    func kernelTestsPassOnTheHost(compiler: String, flags: String) throws {
        let directory = CBackendTests.workDirectory("kernels-\(compiler)-\(flags.filter(\.isLetter))")
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try ModelVerifier.run(compiler, ModelVerifier.strictFlags + flags.split(separator: " ").map(String.init)
                                  + ["-fsanitize=address,undefined", "-fno-sanitize-recover=all", "-I", Self.folder.path, "-o", "kernel_tests"]
                                  + Self.sources + ["-lm"],
                              in: directory, what: "building the kernel tests")
        try ModelVerifier.run("./kernel_tests", [], in: directory, what: "the kernel tests")
    }

    /// The same tests built by each target's compiler with its flags, run under QEMU (fewer random requantizations).
    @Test(arguments: ["cortex-m4f", "rp2040", "cortex-m7", "rpi3", "rpi4", "rpi5", "rv32imc", "rv32imafc"])
    func kernelTestsPassOnTheDevices(target name: String) throws {
        guard TargetTests.emulatorsInstalled else {
            if ProcessInfo.processInfo.environment["WHITTLE_REQUIRE_TOOLS"] != nil { Issue.record("the cross compilers and QEMU are not installed") }
            return
        }
        let catalog = try #require(TargetTests.catalog)
        let directory = CBackendTests.workDirectory("kernels-\(name)")
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let printed = try TargetProgram.buildAndRun(target: catalog.target(name), catalog: catalog, sources: Self.sources,
                                                    extra: ["-Werror", "-I", Self.folder.path, "-DREQUANTIZE_CASES=20000L"], in: directory)
        #expect(printed.contains(" passed, 0 failed"), "\(name): \(printed)")
    }
}
