import ArgumentParser
import Foundation
import WhittleIR
import WhittleKit
import WhittlePasses

struct Verify: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Compile a model to C, build it with a test harness (ASan/UBSan by default), run it and compare with the reference interpreter."
    )

    @OptionGroup var options: ModelOptions

    @Option(help: ArgumentHelp("Inputs as an .npz archive (default: seeded random inputs).", valueName: "FILE.npz"))
    var inputs: String?

    @Option(help: ArgumentHelp("The C compiler.", valueName: "CC"))
    var cc = "cc"

    // Unconditional parsing reads "-1" as this option's value, so the check below can say what is wrong with it.
    @Option(parsing: .unconditional, help: "An element passes when |C - reference| <= tolerance * max(1, |reference|); integer outputs must be equal.")
    var tolerance = 1e-4

    func validate() throws {
        guard tolerance >= 0, tolerance.isFinite else { throw ValidationError("--tolerance must be a number of at least 0, not \(tolerance)") }
    }

    @Flag(help: "Build without -fsanitize=address,undefined.")
    var noSanitize = false

    @Option(help: ArgumentHelp("Keep the generated files and the test program in this folder.", valueName: "DIR"))
    var workDir: String?

    @OptionGroup var targetOptions: TargetOptions

    @OptionGroup var passes: PassOptions

    @Flag(help: "Hold quantized outputs to one quantization step of the model as given (otherwise reported only).")
    var strict = false

    @Option(help: ArgumentHelp("Verify a retrained student with the compression recorded by whittle distill-export.", valueName: "DIR/distill.json"))
    var recipe: String?

    func run() throws {
        var failed = false
        try reportingErrors {
            var analyzed = try options.load()
            if let recipe { analyzed = try Compile.applyRecipe(recipe, to: analyzed, recalibrate: nil) }
            let given = try inputs.map { try ModelRunner.inputs(fromArchive: $0, for: analyzed.graph) }
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
                    let compile = try passes.compileOptions()
                    result = try TargetVerifier.verify(analyzed, target: target, catalog: catalog, inputs: given, tolerance: tolerance,
                                                       budgets: (try targetOptions.ram(), try targetOptions.flash()), workDirectory: directory,
                                                       compile: compile, strict: strict, progress: ProgressBar.standardError())
                } catch let error as WhittleError {
                    throw error.inFile(options.model)
                }
                failed = Self.report(result.comparisons) || failed
                print("\(target.name): text \(result.text) B, data \(result.data) B, bss \(result.bss) B, "
                    + "model code \(result.modelCode) B, weights \(result.modelWeights) B, "
                    + "instructions per inference \(result.instructions.map(String.init) ?? "?")")
                return
            }
            var settings = ModelVerifier.Options()
            settings.compiler = cc
            settings.tolerance = tolerance
            settings.sanitize = !noSanitize
            settings.compile = try passes.compileOptions()
            settings.strict = strict
            let directory = workDir ?? FileManager.default.temporaryDirectory
                .appendingPathComponent("whittle-verify-\(ProcessInfo.processInfo.processIdentifier)").path
            defer { if workDir == nil { try? FileManager.default.removeItem(atPath: directory) } }
            let results = try ModelVerifier.verify(analyzed, inputs: given, options: settings, workDirectory: directory,
                                                   progress: ProgressBar.standardError())
            failed = Self.report(results) || failed
        }
        if failed { throw ExitCode(1) }
    }

    /// Prints one line per comparison; returns whether a deciding one failed. A quantized output's
    /// fidelity to the model as given is reported (INFO) unless --strict makes it decide.
    static func report(_ comparisons: [ModelVerifier.Comparison]) -> Bool {
        var failed = false
        for r in comparisons {
            let verdict = r.decides ? (r.passed ? "PASS" : "FAIL") : "INFO"
            let detail = r.detail.map { " (\($0))" } ?? ""
            print("\(r.name): max abs error \(String(format: "%.3g", r.maxAbsError)), max ULP \(r.maxULP)\(detail)  \(verdict)")
            if r.decides && !r.passed { failed = true }
        }
        return failed
    }
}
