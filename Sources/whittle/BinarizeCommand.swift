import ArgumentParser
import Foundation
import WhittleBinarization
import WhittleIR
import WhittleKit
import WhittleONNX

/// The binarization choices shared by `binarize` (as --layers/--activations) and `compile` (as --binarize-...).
struct BinarizationChoice {
    var layers: [String]
    var activations: String

    func options() throws -> BinarizationOptions {
        guard let kind = BinarizationOptions.Activations(rawValue: activations) else {
            throw WhittleError(.usage, "activations must be binary or float, not \"\(activations)\"")
        }
        let names = layers.flatMap { $0.split(separator: ",").map(String.init) }
        return BinarizationOptions(layers: names.isEmpty ? nil : Set(names), activations: kind)
    }

    /// Binarizes `analyzed`; β comes from up to 100 samples of `calibration` when given.
    func apply(_ analyzed: AnalyzedModel, calibration: SampleSet?) throws -> (AnalyzedModel, [BinarizedLayer]) {
        do {
            let samples = try calibration.map { set in try (0..<min(set.count, 100)).map { try set.sample($0) } } ?? []
            let (model, layers) = try Binarizer.binarize(analyzed.model, options: try options(), samples: samples)
            return (try ModelLoader.analyze(model, path: analyzed.path), layers)
        } catch let error as WhittleError {
            throw error.inFile(analyzed.path)
        }
    }
}

struct Binarize: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Binarize Conv/Gemm layers (±α weights, ±β inputs, XNOR-Net style); writes a standard ONNX model and a report."
    )

    @OptionGroup var model: ModelOptions

    @Option(name: .shortAndLong, help: ArgumentHelp("The binarized model to write.", valueName: "OUT.onnx"))
    var output: String

    @Option(help: ArgumentHelp("Layers to binarize, by node name (default: every Conv/Gemm but the first and the last).", valueName: "NAME,..."))
    var layers: [String] = []

    @Option(help: ArgumentHelp("binary (inputs binarized too, XNOR/popcount kernels) or float (weights only).", valueName: "binary|float"))
    var activations = "binary"

    @Option(help: ArgumentHelp("Samples for the input scales β = mean |x| (default: --data, else β = 1).", valueName: "DATA.npz"))
    var calibration: String?

    @OptionGroup var comparison: ComparisonData

    func run() throws {
        try reportingErrors {
            let analyzed = try model.load()
            let (samples, labelValues) = try comparison.load(for: analyzed)
            let calibrationSet: SampleSet?
            do {
                calibrationSet = try calibration.map { try SampleSet(path: $0, graph: analyzed.graph, explicit: try ModelQuantizer.parseMap(comparison.map)) } ?? samples
            } catch let error as WhittleError {
                throw error.inFile(analyzed.path)
            }
            let choice = BinarizationChoice(layers: layers, activations: activations)
            let (binarized, layerTable) = try choice.apply(analyzed, calibration: calibrationSet)
            do {
                try ModelWriter.write(binarized.model, to: output)
            } catch let error as WhittleError {
                throw error.inFile(output)
            }
            print("wrote \(output): \(layerTable.count) layers binarized")
            let summary = try BinarizationReport.evaluate(original: analyzed, binarized: binarized.model, layers: layerTable, samples: samples,
                                                          labels: labelValues, progress: ProgressBar.standardError())
            print(summary.text, terminator: "")
            try writeReport(summary, to: comparison.report)
            try HTMLReporting.writeIfAsked(comparison.reportHTML, title: "\(URL(fileURLWithPath: output).lastPathComponent): binarized",
                                           model: binarized.model, source: output) { $0.addBinarization(summary) }
        }
    }
}
