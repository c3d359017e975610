import Foundation
import Testing
import WhittleIR
import WhittleKit

/// The stack `compile --target` reports for bare-metal parts, checked against a second reading of
/// the same build: GCC's `.su` frame sizes and the calls in the object's disassembly.
struct CompileStackTests {
    /// Every model of `Examples/models` (those the C back end compiles).
    static let models: [String] = {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: TestPaths.models.path)) ?? []
        return names.filter { $0.hasSuffix(".onnx") }.map { String($0.dropLast(5)) }.sorted()
    }()

    static var crossCompilerInstalled: Bool {
        ["/usr/bin/arm-none-eabi-gcc", "/usr/bin/arm-none-eabi-objdump"].allSatisfy { FileManager.default.isExecutableFile(atPath: $0) }
    }

    /// The deepest path from `entry` by the `.su` file (one line per function, in the order the
    /// object holds them) and the `bl`/`b` instructions of `objdump -dr` that reach another function.
    static func stackFromFrameFiles(su: String, disassembly: String, entry: String) throws -> Int {
        let frames = su.split(separator: "\n").map { line -> (String, Int) in
            let fields = line.split(separator: "\t")
            return (String(fields[0].split(separator: ":").last ?? ""), Int(fields[1]) ?? -1)
        }
        var functions: [String] = [], calls: [String: Set<String>] = [:], current: String?
        for line in disassembly.split(separator: "\n") {
            if line.hasSuffix(">:"), let open = line.firstIndex(of: "<") {
                current = String(line[line.index(after: open)..<line.index(line.endIndex, offsetBy: -2)])
                functions.append(current ?? "")
            } else if let current, line.contains("\tbl\t") || line.contains("\tb.w\t") || line.contains("\tb\t") || line.contains("R_ARM_THM_CALL") || line.contains("R_ARM_THM_JUMP24") {
                let target: Substring?
                if line.contains("R_ARM_") {
                    target = line.split(separator: "\t").last
                } else if let open = line.lastIndex(of: "<"), let close = line.lastIndex(of: ">"), open < close {
                    target = line[line.index(after: open)..<close]
                } else { target = nil }
                if let target, !target.contains("+"), String(target) != current { calls[current, default: []].insert(String(target)) }
            }
        }
        // The i-th frame is the i-th function; GCC drops the clone number (`.0`) from the `.su` name.
        try #require(functions.count == frames.count, "\(functions) against \(frames)")
        var size: [String: Int] = [:]
        for (function, frame) in zip(functions, frames) {
            let stripped = function.split(separator: ".").last.map { $0.allSatisfy(\.isNumber) } == true
                ? String(function[..<(function.lastIndex(of: ".") ?? function.endIndex)]) : function
            try #require(stripped == frame.0, "\(function) against \(frame.0)")
            size[function] = frame.1
        }
        var memo: [String: Int] = [:]
        func deepest(_ function: String, _ depth: Int) -> Int {
            if let known = memo[function] { return known }
            guard depth < 64, let own = size[function] else { return 0 }  // C library: no frame in the file
            let total = own + ((calls[function] ?? []).map { deepest($0, depth + 1) }.max() ?? 0)
            memo[function] = total
            return total
        }
        return deepest(entry, 0)
    }

    /// `compile --target cortex-m4f`'s stack of `NAME_run` for every shared model equals the deepest
    /// path by the `.su` file and the disassembly, and the report says it.
    @Test(arguments: models)
    func theCompileReportGivesTheStackOfEveryModel(model: String) throws {
        guard Self.crossCompilerInstalled else {
            if ProcessInfo.processInfo.environment["WHITTLE_REQUIRE_TOOLS"] != nil { Issue.record("arm-none-eabi-gcc is not installed") }
            return
        }
        let catalog = try #require(TargetTests.catalog)
        let target = try catalog.target("cortex-m4f")
        var options = CompileOptions(name: model)
        options.adopt(target)
        var compiled = try ModelCompiler.compile(try ModelLoader.load(path: TestPaths.model("\(model).onnx")), options: options)
        compiled.stack = CompileStack.measure(compiled, target: target)
        let stack = try #require(try compiled.stack?.get())
        let report = CompileReport(compiled)
        #expect(report.stackBytes == stack.bytes && report.stackPath?.first == "\(model)_run")
        #expect(report.markdown().contains("| stack of `\(model)_run` (worst case) | \(stack.bytes) |"))

        let directory = CBackendTests.workDirectory("stack-\(model)")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        _ = try compiled.write(to: directory)
        try ModelVerifier.run(target.compiler, CompileStack.arguments(target: target, source: "\(model).c", object: "m.o"),
                              in: directory, what: "compiling")
        let objdump = Process()
        objdump.executableURL = URL(fileURLWithPath: "/usr/bin/arm-none-eabi-objdump")
        objdump.arguments = ["-dr", directory + "/m.o"]
        let pipe = Pipe()
        objdump.standardOutput = pipe
        try objdump.run()
        let disassembly = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        objdump.waitUntilExit()
        let su = try String(contentsOfFile: directory + "/m.su", encoding: .utf8)
        let expected = try Self.stackFromFrameFiles(su: su, disassembly: disassembly, entry: "\(model)_run")
        #expect(stack.bytes == expected, "\(stack) against \(expected) from the .su file")
        #expect(stack.bytes > 0 && stack.bytes < 4096)
    }

    /// The RAM budget counts the arena and the stack: a budget the arena fits but the two do not is
    /// refused with both numbers; the CLI says the same and exits 1.
    @Test func aBudgetTheArenaFitsButNotTheStackIsRefused() throws {
        guard Self.crossCompilerInstalled else {
            if ProcessInfo.processInfo.environment["WHITTLE_REQUIRE_TOOLS"] != nil { Issue.record("arm-none-eabi-gcc is not installed") }
            return
        }
        let catalog = try #require(TargetTests.catalog)
        let target = try catalog.target("cortex-m4f")
        var options = CompileOptions(name: "kws")
        options.adopt(target)
        var compiled = try ModelCompiler.compile(try ModelLoader.load(path: TestPaths.model("kws_dscnn_int8_qdq.onnx")), options: options)
        compiled.stack = CompileStack.measure(compiled, target: target)
        let stack = try #require(try compiled.stack?.get()).bytes, arena = compiled.bundle.plan.arenaBytes
        try TargetBudget.check(compiled, target: target, ram: arena + stack, flash: nil)
        let error = expectWhittleError { try TargetBudget.check(compiled, target: target, ram: arena + stack - 1, flash: nil) }
        let grouped = { (n: Int) in InspectReport.grouped(n) }
        #expect(error?.reason.contains("the arena (\(grouped(arena)) B) and the worst-case stack of kws_run (\(grouped(stack)) B) need "
            + "\(grouped(arena + stack)) B of RAM but the budget is \(grouped(arena + stack - 1)) B (over by 1 B") == true, "\(String(describing: error))")

        // The command line: the same refusal, naming the file.
        guard let whittle = TestPaths.whittle else { return }
        let directory = CBackendTests.workDirectory("stack-budget")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let process = Process()
        process.executableURL = whittle
        process.arguments = ["compile", TestPaths.model("kws_dscnn_int8_qdq.onnx"), "--name", "kws", "--target", "cortex-m4f",
                             "--ram-budget", String(arena + stack - 1), "-o", directory]
        let pipe = Pipe()
        process.standardError = pipe
        process.standardOutput = Pipe()
        try process.run()
        let text = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        #expect(process.terminationStatus == 1 && text.contains("error: ") && text.contains("kws_dscnn_int8_qdq.onnx")
                && text.contains("worst-case stack of kws_run"), "\(text)")
        #expect(!FileManager.default.fileExists(atPath: directory + "/kws.c"))
    }
}
