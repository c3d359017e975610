import Foundation
import WhittleIR
import WhittleCodegen
import WhittleInterpreter

/// `whittle verify --target`: cross-compiles the model with a harness that has the inputs
/// linked in, runs it under QEMU, reads the outputs back and compares them with the interpreter;
/// also reports the section sizes and the instructions one inference takes.
public enum TargetVerifier {
    public struct Result: Sendable {
        public var comparisons: [ModelVerifier.Comparison]
        public var text: Int
        public var data: Int
        public var bss: Int
        /// Guest instructions executed by one call of the run function (QEMU plugin count).
        public var instructions: Int?
        /// Bytes of the model's own code (its functions and the library kernels it uses, without
        /// the C library, start-up code and harness) and of its weights, from the symbol table.
        public var modelCode = 0
        public var modelWeights = 0
        /// With `profile`: the instructions each function of the program executed (the model's layer
        /// functions and library kernels, and the harness around them), most first.
        public var profile: [(function: String, instructions: Int)] = []
        /// The compiled layers (function names and MACs), to read the profile against.
        public var layers: [CSourceBundle.Layer] = []
        /// The worst-case stack of `model_run` (targets built by GCC), from its call-graph files, or
        /// why it has no bound.
        public var stack: Swift.Result<StackUsage, WhittleError>?
        /// Cortex-M targets: the inference's cycles estimated from its instruction mix on the core's
        /// timing table; with `profile`, per layer too.
        public var cycles: CycleEstimate?
    }

    public static func verify(_ analyzed: AnalyzedModel, target: TargetDescription, catalog: TargetCatalog,
                              inputs given: [String: NDArray]?, tolerance: Double?, budgets: (ram: Int?, flash: Int?),
                              workDirectory: String, compile: CompileOptions = .init(), strict: Bool = false, profile: Bool = false,
                              expected: [String: NDArray] = [:], progress: (String, Int, Int) -> Void = { _, _, _ in }) throws -> Result {
        // The build steps run in other folders (the board support's); a relative folder means the caller's.
        let workDirectory = ModelRunner.absolute(workDirectory)
        guard target.kind != "host", let emulator = target.qemu else {
            throw WhittleError(.usage, "target \(target.name) has no emulator to run the program on; verify it on the host instead")
        }
        var options = compile
        options.name = "model"
        options.adopt(target)
        var compiled = try ModelCompiler.compile(analyzed, options: options, progress: progress)
        compiled.stack = CompileStack.measure(compiled, target: target)
        try TargetBudget.check(compiled, target: target, ram: budgets.ram, flash: budgets.flash)
        _ = try compiled.write(to: workDirectory)
        let inputs = given ?? ModelVerifier.randomInputs(for: analyzed.graph, seed: 1)
        let graph = analyzed.graph
        let bare = target.kind == "bare-metal"
        try harness(graph: graph, inputs: inputs, bareMetal: bare).write(toFile: workDirectory + "/harness.c", atomically: true, encoding: .utf8)

        let root = try catalog.boardsRoot(in: workDirectory)
        let boards = root.appendingPathComponent("boards").path
        let program = workDirectory + "/model.elf"
        // GCC writes each source's call graph with its frame sizes (model.elf-SOURCE.ci), for the stack.
        let gcc = target.compiler.hasSuffix("gcc")
        let timing = CycleModel(target: target)
        // A profile on a timed core tells layers apart by the debug information's inline chains (GCC
        // inlines layer functions called once); -g does not change the code.
        let separate = profile && timing != nil && gcc ? ["-g"] : []
        let arguments = try TargetProgram.buildArguments(target: target, root: root, sources: ["harness.c"] + compiled.bundle.compiledSources,
                                                         program: program,
                                                         extra: compiled.bundle.buildFlags(folder: ".") + (gcc ? ["-fcallgraph-info=su"] : []) + separate)
        progress("building and running", 0, 2)
        try ModelVerifier.run(target.compiler, arguments, in: workDirectory, what: "building for \(target.name)")
        progress("building and running", 1, 2)
        let sizes = try sectionSizes(program, compiler: target.compiler, in: workDirectory)

        // The instruction counter is built from source the first time.
        let plugin = workDirectory + "/libinsncount.so"
        try ModelVerifier.run("cc", ["-O2", "-shared", "-fPIC", "-I", boards + "/qemu-plugin", "-o", plugin, boards + "/qemu-plugin/insncount.c"],
                              in: workDirectory, what: "building the QEMU instruction counter")
        let begin = try symbol("whittle_bench_begin", in: program, compiler: target.compiler, directory: workDirectory)
        let end = try symbol("whittle_bench_end", in: program, compiler: target.compiler, directory: workDirectory)
        var qemu = try TargetProgram.emulatorCommand(target: target, program: program, console: workDirectory + "/console.txt")
        qemu += ["-plugin", "\(plugin),start=\(begin),end=\(end)\(profile ? ",profile=1" : "")"]
        var mixProgram: CycleEstimate.Program?
        if timing != nil {
            // The instruction mix for the cycle estimate, per layer function (and the run function between them).
            let mix = workDirectory + "/libinsnmix.so"
            try ModelVerifier.run("cc", ["-O2", "-shared", "-fPIC", "-I", boards + "/qemu-plugin", "-o", mix, boards + "/qemu-plugin/insnmix.c"],
                                  in: workDirectory, what: "building the QEMU instruction-mix counter")
            let disassembled = try CycleEstimate.program(program, compiler: target.compiler, directory: workDirectory,
                                                         functions: compiled.bundle.layers.map(\.function) + [CycleEstimate.runFunction])
            mixProgram = disassembled
            try disassembled.ranges.map { String(format: "%llx %llx\n", $0.low, $0.high) }.joined()
                .write(toFile: workDirectory + "/segments.txt", atomically: true, encoding: .utf8)
            qemu += ["-plugin", "\(mix),start=\(begin),end=\(end),segments=\(workDirectory)/segments.txt"]
        }
        qemu += ["-d", "plugin", "-D", "\(workDirectory)/counts.txt"]
        if !bare { qemu.append(program) }
        let console = try capture(qemu, in: workDirectory, what: "running under \(emulator.program)")
        progress("building and running", 2, 2)
        let output = bare ? ((try? String(contentsOfFile: workDirectory + "/console.txt", encoding: .utf8)) ?? "") : console
        let counts = (try? String(contentsOfFile: workDirectory + "/counts.txt", encoding: .utf8)) ?? ""
        let values = try parseOutputs(output, graph: graph)
        guard values.count >= graph.outputs.count else { throw WhittleError(.io, "the device printed \(values.count) of \(graph.outputs.count) outputs") }
        let comparisons = try ModelVerifier.comparisons(values, analyzed: analyzed, compiled: compiled, inputs: inputs, tolerance: tolerance, strict: strict,
                                                        expected: expected)
        let instructions = counts.split(separator: "\n").first { $0.hasPrefix("region:") }
            .flatMap { line in line.split(separator: " ").first { $0.hasPrefix("last=") }.flatMap { Int($0.dropFirst(5)) } }
        let footprint = try modelFootprint(program, compiler: target.compiler, in: workDirectory)
        var result = Result(comparisons: comparisons, text: sizes.0, data: sizes.1, bss: sizes.2, instructions: instructions,
                            modelCode: footprint.code, modelWeights: footprint.weights)
        if gcc {
            let files = ((try? FileManager.default.contentsOfDirectory(atPath: workDirectory)) ?? []).filter { $0.hasPrefix("model.elf-") && $0.hasSuffix(".ci") }
            // A file that cannot be read leaves its functions out: the stack is then reported unknown.
            let texts = files.sorted().compactMap { try? String(contentsOfFile: workDirectory + "/" + $0, encoding: .utf8) }
            do { result.stack = .success(try StackUsage.worst(from: "model_run", callGraphs: texts)) } catch let error as WhittleError {
                result.stack = .failure(error)
            }
        }
        if let timing, let mixProgram {
            result.cycles = CycleEstimate.measure(counts, model: timing, program: mixProgram, layers: compiled.bundle.layers)
        }
        if profile {
            result.profile = try functionProfile(counts, program: program, compiler: target.compiler, directory: workDirectory)
            result.layers = compiled.bundle.layers
        }
        return result
    }

    /// A program with the inputs as constant bytes; it runs the model once between two marker
    /// functions and prints each output as hex bytes (`OUT j <hex>`).
    static func harness(graph: Graph, inputs: [String: NDArray], bareMetal: Bool) throws -> String {
        var lines = ["/* Device test harness generated by whittle verify --target. */", "#include <stdint.h>"]
        lines += bareMetal ? ["#include \"semihost.h\""] : ["#include <stdio.h>"]
        lines += ["#include \"model.h\"", ""]
        var arguments: [String] = []
        for (i, input) in graph.inputs.enumerated() {
            guard let value = inputs[input.name] else { throw WhittleError(.usage, "no value for input \"\(input.name)\"") }
            let bytes = try value.tensor().bytes
            lines.append("static const uint8_t input\(i)[\(max(bytes.count, 1))] __attribute__((aligned(16))) = {")
            for start in stride(from: 0, to: bytes.count, by: 24) {
                lines.append("    " + bytes[start..<min(start + 24, bytes.count)].map { String($0) }.joined(separator: ", ") + ",")
            }
            if bytes.isEmpty { lines.append("    0,") }
            lines.append("};")
            guard let type = graph.type(of: input.name), let c = CEmitter.cType(type.elementType) else {
                throw WhittleError(.unsupported, "input type not supported")
            }
            arguments.append("(const \(c) *)(const void *)input\(i)")
        }
        for (j, output) in graph.outputs.enumerated() {
            guard let type = graph.type(of: output.name), let c = CEmitter.cType(type.elementType) else {
                throw WhittleError(.unsupported, "output type not supported")
            }
            let count = type.elementType.isPacked ? "MODEL_OUTPUT_\(j)_BYTES" : "MODEL_OUTPUT_\(j)_SIZE"
            lines.append("static \(c) output\(j)[\(count) > 0 ? \(count) : 1];")
            arguments.append("output\(j)")
        }
        lines += ["", "/* The instruction counter measures between the entries of these two functions. */",
                  "__attribute__((noinline, used)) void whittle_bench_begin(void) { __asm__ volatile(\"\" ::: \"memory\"); }",
                  "__attribute__((noinline, used)) void whittle_bench_end(void) { __asm__ volatile(\"\" ::: \"memory\"); }", "",
                  "static void put(const char *s) { \(bareMetal ? "sh_puts(s);" : "fputs(s, stdout);") }", "",
                  "static void dump(int index, const void *data, unsigned long bytes) {",
                  "    static const char digits[] = \"0123456789abcdef\";",
                  "    char line[66];",
                  "    const uint8_t *p = (const uint8_t *)data;",
                  "    unsigned long i = 0;",
                  "    line[0] = 'O'; line[1] = 'U'; line[2] = 'T'; line[3] = ' '; line[4] = (char)('0' + index); line[5] = ' '; line[6] = 0;",
                  "    put(line);",
                  "    while (i < bytes) {",
                  "        int k = 0;",
                  "        for (; k < 32 && i < bytes; ++k, ++i) { line[2 * k] = digits[p[i] >> 4]; line[2 * k + 1] = digits[p[i] & 15]; }",
                  "        line[2 * k] = 0;",
                  "        put(line);",
                  "    }",
                  "    put(\"\\n\");",
                  "}", "",
                  "int main(void) {",
                  "    whittle_bench_begin();",
                  "    if (model_run(\(arguments.joined(separator: ", "))) != 0) return 1;",
                  "    whittle_bench_end();"]
        for (j, output) in graph.outputs.enumerated() {
            let type = graph.type(of: output.name)?.elementType
            let count = type?.isPacked == true ? "MODEL_OUTPUT_\(j)_BYTES" : "MODEL_OUTPUT_\(j)_SIZE"
            lines.append("    dump(\(j), output\(j), (unsigned long)\(count) * \(type?.byteWidth ?? 1)u);")
        }
        lines += ["    return 0;", "}"]
        return lines.joined(separator: "\n") + "\n"
    }

    static func parseOutputs(_ text: String, graph: Graph) throws -> [[UInt8]] {
        var result: [[UInt8]] = []
        for j in graph.outputs.indices {
            guard let line = text.split(separator: "\n").first(where: { $0.hasPrefix("OUT \(j) ") }) else {
                throw WhittleError(.io, "the device did not print output \(j): \(text.prefix(300))")
            }
            let hex = Array(line.dropFirst("OUT \(j) ".count).utf8)
            var bytes: [UInt8] = []
            var k = 0
            while k + 1 < hex.count {
                guard let byte = UInt8(String(decoding: hex[k...(k + 1)], as: UTF8.self), radix: 16) else {
                    throw WhittleError(.io, "unreadable output line from the device")
                }
                bytes.append(byte)
                k += 2
            }
            result.append(bytes)
        }
        return result
    }

    /// text, data and bss of the program, from the target's `size`.
    static func sectionSizes(_ program: String, compiler: String, in directory: String) throws -> (Int, Int, Int) {
        let size = compiler.hasSuffix("gcc") ? String(compiler.dropLast(3)) + "size" : "size"
        let text = try capture([size, program], in: directory, what: "reading section sizes")
        guard let line = text.split(separator: "\n").dropFirst().first else { return (0, 0, 0) }
        let fields = line.split(whereSeparator: { $0 == " " || $0 == "\t" }).prefix(3).compactMap { Int($0) }
        guard fields.count == 3 else { return (0, 0, 0) }
        return (fields[0], fields[1], fields[2])
    }

    /// The model's code (functions `node_*`, `whittle_*`, `model_run*`) and weights (the other
    /// read-only `model_*` symbols) in the program, summed from the symbol sizes `nm -S` lists.
    static func modelFootprint(_ program: String, compiler: String, in directory: String) throws -> (code: Int, weights: Int) {
        let nm = compiler.hasSuffix("gcc") ? String(compiler.dropLast(3)) + "nm" : "nm"
        let table = try capture([nm, "-S", program], in: directory, what: "reading symbol sizes")
        var code = 0, weights = 0
        for line in table.split(separator: "\n") {
            let fields = line.split(separator: " ")
            guard fields.count == 4, let size = Int(fields[1], radix: 16) else { continue }
            // Bare-metal linker scripts put read-only data in .text, so names decide, not symbol types.
            let kind = fields[2].lowercased(), name = fields[3]
            if kind == "t", name.hasPrefix("node_") || name.hasPrefix("whittle_") || name.hasPrefix("model_run") {
                code += size
            } else if kind == "t" || kind == "r", name.hasPrefix("model_") {
                weights += size
            }
        }
        return (code, weights)
    }

    /// The address of a function in the program, as QEMU sees it (hex).
    /// Instructions per function from the plugin's per-address counts ("pc: ADDR COUNT"): each address
    /// goes to the nearest function symbol at or below it.
    static func functionProfile(_ counts: String, program: String, compiler: String, directory: String) throws -> [(function: String, instructions: Int)] {
        let nm = compiler.hasSuffix("gcc") ? String(compiler.dropLast(3)) + "nm" : "nm"
        let table = try capture([nm, "-n", "--defined-only", program], in: directory, what: "reading symbols")
        var functions: [(address: UInt64, name: String)] = []
        for line in table.split(separator: "\n") {
            let fields = line.split(separator: " ")
            guard fields.count == 3, "tTwW".contains(fields[1]), let address = UInt64(fields[0], radix: 16) else { continue }
            // Thumb function symbols have bit 0 set.
            functions.append((address & ~1, String(fields[2])))
        }
        functions.sort { $0.address < $1.address }
        var totals: [String: Int] = [:]
        for line in counts.split(separator: "\n") where line.hasPrefix("pc: ") {
            let fields = line.split(separator: " ")
            guard fields.count == 3, let pc = UInt64(fields[1].dropFirst(2), radix: 16), let count = Int(fields[2]) else { continue }
            // The last function starting at or before pc (binary search).
            var low = 0, high = functions.count
            while low < high {
                let middle = (low + high) / 2
                if functions[middle].address <= pc { low = middle + 1 } else { high = middle }
            }
            totals[low > 0 ? functions[low - 1].name : "(unknown)", default: 0] += count
        }
        return totals.map { ($0.key, $0.value) }.sorted { $0.1 != $1.1 ? $0.1 > $1.1 : $0.0 < $1.0 }
    }

    static func symbol(_ name: String, in program: String, compiler: String, directory: String) throws -> String {
        let nm = compiler.hasSuffix("gcc") ? String(compiler.dropLast(3)) + "nm" : "nm"
        let table = try capture([nm, program], in: directory, what: "reading symbols")
        guard let line = table.split(separator: "\n").first(where: { $0.hasSuffix(" \(name)") }),
              let address = line.split(separator: " ").first else {
            throw WhittleError(.io, "the program has no symbol \(name)")
        }
        return "0x" + address
    }

    /// Runs a command and returns its standard output (failing with its output on a non-zero exit).
    static func capture(_ command: [String], in directory: String, what: String) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = command
        process.currentDirectoryURL = URL(fileURLWithPath: directory)
        process.standardInput = FileHandle.nullDevice
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        do { try process.run() } catch {
            throw WhittleError(.io, "\(what): cannot start \(command[0]): \(error.localizedDescription)")
        }
        let stdout = out.fileHandleForReading.readDataToEndOfFile()
        let stderr = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            let text = (String(decoding: stderr, as: UTF8.self) + String(decoding: stdout, as: UTF8.self)).prefix(600)
            throw WhittleError(.io, "\(what) failed (exit \(process.terminationStatus)): \(text.replacingOccurrences(of: "\n", with: " | "))")
        }
        return String(decoding: stdout, as: UTF8.self)
    }
}

