import ArgumentParser
import Foundation
import WhittleKit

struct Verify: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Compile a model to C, build it with a test harness (ASan/UBSan by default), run it and compare with the reference interpreter."
    )

    @OptionGroup var options: ModelOptions

    @Option(help: ArgumentHelp("Inputs as an .npz archive (default: seeded random inputs).", valueName: "FILE.npz"))
    var inputs: String?

    @OptionGroup var tensors: TensorInputs

    @Option(help: ArgumentHelp("The C compiler.", valueName: "CC"))
    var cc = "cc"

    // Unconditional parsing reads "-1" as this option's value, so the check below can say what is wrong with it.
    @Option(parsing: .unconditional, help: ArgumentHelp(
        "An element passes when |C - reference| <= tolerance * max(1, |reference|); integer outputs must be equal. "
        + "Default: 1e-4, or per output the float32 rounding its accumulation depth and magnitude allow, whichever is larger (printed).",
        valueName: "T"))
    var tolerance: Double?

    func validate() throws {
        if let tolerance, !(tolerance >= 0 && tolerance.isFinite) {
            throw ValidationError("--tolerance must be a number of at least 0, not \(tolerance)")
        }
        try tensors.check(archive: inputs)
    }

    @Flag(help: "Build without -fsanitize=address,undefined.")
    var noSanitize = false

    @Option(help: ArgumentHelp("Keep the generated files and the test program in this folder.", valueName: "DIR"))
    var workDir: String?

    @OptionGroup var targetOptions: TargetOptions

    @OptionGroup var passes: PassOptions

    @Flag(help: "Hold quantized outputs to one quantization step of the model as given (otherwise reported only).")
    var strict = false

    @Flag(help: "With --target: also print the instructions each layer and kernel function executed, with instructions per MAC; on Cortex-M, each layer's estimated cycles, loads and taken branches.")
    var profile = false

    @Option(help: ArgumentHelp("Verify a retrained student with the compression recorded by whittle distill-export.", valueName: "DIR/distill.json"))
    var recipe: String?

    func run() throws {
        var failed = false
        try reportingErrors {
            var analyzed = try options.load()
            if let recipe {
                let (student, line) = try CompressionPipeline.apply(RecipeRequest(path: recipe), to: analyzed)
                analyzed = student
                print(line)
            }
            let (given, outputs) = try tensors.load(archive: inputs, for: analyzed.graph)
            let expected = Dictionary(outputs.map { ($0.name, $0.value) }) { first, _ in first }
            if given == nil && !analyzed.graph.inputs.isEmpty {
                print("inputs: generated with seed 1 (floats uniform in [-1, 1), integers 0 to 9); --inputs FILE.npz gives your own")
            }
            if targetOptions.target != "host" {
                let catalog = try targetOptions.catalog()
                let target = try catalog.target(targetOptions.target)
                let directory = workDir ?? FileManager.default.temporaryDirectory
                    .appendingPathComponent("whittle-verify-\(target.name)-\(ProcessInfo.processInfo.processIdentifier)").path
                try ModelRunner.makeDirectory(directory)
                // The temporary folder goes whether the verification passes, fails or stops with an error.
                defer { if workDir == nil { try? FileManager.default.removeItem(atPath: directory) } }
                let result: TargetVerifier.Result
                do {
                    let compile = passes.compileOptions()
                    result = try TargetVerifier.verify(analyzed, target: target, catalog: catalog, inputs: given, tolerance: tolerance,
                                                       budgets: (try targetOptions.ram(), try targetOptions.flash()), workDirectory: directory,
                                                       compile: compile, strict: strict, profile: profile, expected: expected,
                                                       progress: ProgressBar.standardError())
                } catch let error as WhittleError {
                    throw error.inFile(options.model)
                }
                failed = Self.report(result.comparisons) || failed
                print("\(target.name): text \(result.text) B, data \(result.data) B, bss \(result.bss) B, "
                    + "model code \(result.modelCode) B, weights \(result.modelWeights) B, "
                    + "instructions per inference \(result.instructions.map(String.init) ?? "?")")
                if let cycles = result.cycles { print(cycles.summary) }
                switch result.stack {
                case .success(let stack): print(stack.summary(entry: "model_run"))
                case .failure(let error): print("stack: unknown: \(error.reason)")
                case nil: break
                }
                if profile { Self.printProfile(result) }
                return
            }
            var settings = ModelVerifier.Options()
            settings.compiler = cc
            settings.tolerance = tolerance
            settings.sanitize = !noSanitize
            settings.compile = passes.compileOptions()
            settings.strict = strict
            settings.expected = expected
            let directory = workDir ?? FileManager.default.temporaryDirectory
                .appendingPathComponent("whittle-verify-\(ProcessInfo.processInfo.processIdentifier)").path
            defer { if workDir == nil { try? FileManager.default.removeItem(atPath: directory) } }
            let results = try ModelVerifier.verify(analyzed, inputs: given, options: settings, workDirectory: directory,
                                                   progress: ProgressBar.standardError())
            failed = Self.report(results) || failed
        }
        if failed { throw ExitCode(1) }
    }

    /// The per-function instruction counts of a profiled run, with each layer's MACs.
    static func printProfile(_ result: TargetVerifier.Result) {
        let macs = Dictionary(result.layers.map { ($0.function, ($0.op, $0.macs)) }) { first, _ in first }
        let total = result.profile.reduce(0) { $0 + $1.instructions }
        func pad(_ text: String, _ width: Int) -> String { text.count >= width ? text : text + String(repeating: " ", count: width - text.count) }
        print("\n" + pad("function", 52) + pad("op", 18) + "instructions   share   insn/MAC")
        for (function, count) in result.profile where count * 1000 >= total {
            let (op, mac) = macs[function] ?? ("", 0)
            let perMAC = mac > 0 ? String(format: "%.2f", Double(count) / Double(mac)) : ""
            print(pad(function, 52) + pad(op, 18) + String(format: "%12d  %5.1f %%  %9@", count, 100 * Double(count) / Double(max(total, 1)),
                                                           perMAC as NSString))
        }
        print("(whole run, harness included; functions under 0.1 % left out; library kernels are counted apart from the layers that call them,"
              + " and layer functions the compiler inlined count in the function they were inlined into)")
        if let cycles = result.cycles { printCycles(cycles) }
    }

    /// Per layer: instructions, estimated cycles, loads and taken branches, the library kernels a
    /// layer called counted in it.
    static func printCycles(_ estimate: CycleEstimate) {
        func pad(_ text: String, _ width: Int) -> String { text.count >= width ? text : text + String(repeating: " ", count: width - text.count) }
        func right(_ text: String, _ width: Int) -> String { text.count >= width ? text : String(repeating: " ", count: width - text.count) + text }
        print("\n" + pad("layer (with the kernels it calls)", 52) + pad("op", 18) + right("MACs", 10) + right("instructions", 14) + right("est. cycles", 14)
              + right("loads", 11) + right("taken br.", 11) + right("cycles/MAC", 12))
        func line(_ name: String, _ op: String, _ macs: Int, _ cost: CycleModel.Cost, _ cycles: Double) {
            let perMAC = macs > 0 ? String(format: "%.2f", cycles / Double(macs)) : ""
            print(pad(name, 52) + pad(op, 18) + right(macs > 0 ? String(macs) : "", 10) + right(String(cost.instructions), 14)
                  + right(String(Int(cycles.rounded())), 14) + right(String(cost.loads), 11) + right(String(cost.takenBranches), 11) + right(perMAC, 12))
        }
        for row in estimate.rows { line(row.name, row.op, row.macs, row.cost, row.cycles) }
        line("total", "", estimate.macs, estimate.total, estimate.cycles)
        print("(the inference only, library kernels in the layer that called them; \(estimate.core) timing table, zero-wait-state memory, docs/cycles.md; "
              + "layers told apart by the debug information of a -g build, whose code is the same)")
    }

    /// Prints one line per comparison; returns whether a deciding one failed. A quantized output's
    /// fidelity to the model as given is reported (INFO) unless --strict makes it decide.
    static func report(_ comparisons: [ModelVerifier.Comparison]) -> Bool {
        var failed = false
        for r in comparisons {
            var verdict = r.decides ? (r.passed ? "PASS" : "FAIL") : "INFO"
            if r.allNaN { verdict = "UNCHECKED: every value is NaN in the C and the reference; give other --inputs" }
            let detail = r.detail.map { " (\($0))" } ?? ""
            print("\(r.name): max abs error \(String(format: "%.3g", r.maxAbsError)), max ULP \(r.maxULP)\(detail)  \(verdict)")
            if let used = r.toleranceUsed, r.decides { print("  \(used)") }
            if let advice = r.advice, r.decides { print("  try: \(advice)") }
            if r.decides && !r.passed { failed = true }
        }
        return failed
    }
}
