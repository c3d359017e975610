import ArgumentParser
import Foundation
import WhittleKit

struct Report: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write a self-contained HTML report of a compiled model: memory against the target's budget, the arena, MACs and kernels per layer.",
        discussion: """
        One HTML file with inline SVG and CSS (no script, nothing fetched). With --data, a quantized model also gets \
        each layer's error: the compiled integer kernels against the model as given.
        """
    )

    @OptionGroup var options: ModelOptions

    @OptionGroup var targetOptions: TargetOptions

    @OptionGroup var passes: PassOptions

    @Option(help: ArgumentHelp("Samples for a quantized model's per-layer error (one array per input, first axis = samples).",
                               valueName: "DATA.npz"))
    var data: String?

    @Option(name: .customLong("map"), help: ArgumentHelp("Which array of the .npz feeds an input (repeatable).", valueName: "INPUT=KEY"))
    var map: [String] = []

    @Option(name: .shortAndLong, help: ArgumentHelp("The HTML file to write.", valueName: "report.html"))
    var output: String

    func run() throws {
        if passes.listIfAsked() { return }
        try reportingErrors {
            let analyzed = try options.load()
            let target = try targetOptions.resolve()
            let samples: SampleSet?
            do {
                samples = try data.map { try SampleSet(path: $0, graph: analyzed.graph, explicit: try ModelQuantizer.parseMap(map)) }
            } catch let error as WhittleError {
                throw error.inFile(analyzed.path)
            }
            var report = HTMLReport(title: "\(URL(fileURLWithPath: options.model).lastPathComponent) on \(target.name)")
            let compiled = try HTMLReporting.addCompiled(analyzed, to: &report, passes: passes, target: target,
                                                         ram: try targetOptions.ram(), flash: try targetOptions.flash())
            if let samples {
                report.addLayerErrors(try LayerErrors.quantized(analyzed, compiled: compiled, samples: samples), samples: samples.count,
                                      dataset: samples.path)
            }
            try HTMLReporting.write(report, to: output)
        }
    }
}

/// `--report-html` on the commands that change or compile a model.
enum HTMLReporting {
    /// Compiles `analyzed` for `target` (without writing weights) and adds the memory, arena and layer sections.
    @discardableResult
    static func addCompiled(_ analyzed: AnalyzedModel, to report: inout HTMLReport, passes: PassOptions? = nil, target: TargetDescription? = nil,
                            ram: Int? = nil, flash: Int? = nil) throws -> CompiledModel {
        var options = passes?.compileOptions() ?? CompileOptions()
        if let target { options.adopt(target) }
        options.withWeights = false
        var compiled = try ModelCompiler.compile(analyzed, options: options)
        // The stack beside the arena, as compile reports it (bare-metal targets built by GCC).
        if let target { compiled.stack = CompileStack.measure(compiled, target: target) }
        report.addCompiled(compiled, target: target, ram: ram, flash: flash, weightFormat: options.weightFormat)
        return compiled
    }

    /// Writes the page; the error names the file.
    static func write(_ report: HTMLReport, to path: String) throws {
        do {
            try report.write(to: path)
        } catch let error as WhittleError {
            throw error.inFile(path)
        }
        print("wrote \(path)")
    }

    /// The compiled model's sections, written with `configure`'s sections before them, when `path` is given.
    static func writeIfAsked(_ path: String?, title: String, model: Model, source: String, target: TargetDescription? = nil,
                             configure: (inout HTMLReport) -> Void) throws {
        guard let path else { return }
        var report = HTMLReport(title: title)
        configure(&report)
        try addCompiled(try ModelLoader.analyze(model, path: source), to: &report, target: target)
        try write(report, to: path)
    }
}
