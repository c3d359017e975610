import ArgumentParser
import Foundation
import WhittleKit

/// The binarization choices shared by `binarize` (as --layers/--activations) and `compile` (as --binarize-...).
struct BinarizationChoice {
    var layers: [String]
    var activations: String

    /// Refuses an unknown activation kind, naming the command's `flag`.
    func validate(flag: String) throws {
        guard BinarizationOptions.Activations(rawValue: activations) != nil else {
            throw ValidationError("\(flag) must be binary or float, not \"\(activations)\"")
        }
    }

    /// The options (after `validate`).
    var options: BinarizationOptions {
        let names = layers.flatMap { $0.split(separator: ",").map(String.init) }
        return BinarizationOptions(layers: names.isEmpty ? nil : Set(names), activations: BinarizationOptions.Activations(rawValue: activations) ?? .binary)
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

    func validate() throws {
        try BinarizationChoice(layers: layers, activations: activations).validate(flag: "--activations")
    }

    func run() throws {
        try reportingErrors(flags: [.binarizedLayers: "--layers", .binarizedActivations: "--activations"]) {
            let analyzed = try model.load()
            let (samples, labelValues) = try comparison.load(for: analyzed)
            let calibrationSet: SampleSet?
            do {
                calibrationSet = try calibration.map { try SampleSet(path: $0, graph: analyzed.graph, explicit: try ModelQuantizer.parseMap(comparison.map)) } ?? samples
            } catch let error as WhittleError {
                throw error.inFile(analyzed.path)
            }
            let request = BinarizationRequest(options: BinarizationChoice(layers: layers, activations: activations).options)
            let (binarized, layerTable) = try CompressionPipeline.binarize(analyzed, request, samples: calibrationSet)
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
