import Foundation
import WhittleBinarization
import WhittleIR

/// What `whittle binarize` did: the layers, the weight bytes of the emitted C before and after
/// (bit-packed where the layers run as XNOR/popcount kernels), and with data the binarized model
/// against the original.
public struct BinarizationReport: Codable, Sendable {
    public var layers: [BinarizedLayer]
    public var floatWeightBytes: Int
    public var binaryWeightBytes: Int
    /// Layers that compile to XNOR/popcount kernels, and to float-input kernels with 1-bit weights.
    public var binaryKernels: Int
    public var binaryWeightKernels = 0
    public var dataset: String?
    public var samples: Int?
    public var outputs: [QuantizationReport.Output]?
    public var originalTop1: Double?
    public var binarizedTop1: Double?

    public static func evaluate(original: AnalyzedModel, binarized: Model, layers: [BinarizedLayer], samples: SampleSet?, labels: [Int]?,
                                progress: (String, Int, Int) -> Void = { _, _, _ in }) throws -> BinarizationReport {
        let changed = try ModelLoader.analyze(binarized, path: original.path)
        let before = try ModelCompiler.compile(original).bundle, after = try ModelCompiler.compile(changed).bundle
        var report = BinarizationReport(layers: layers, floatWeightBytes: before.weightBytes, binaryWeightBytes: after.weightBytes,
                                        binaryKernels: after.layers.filter { $0.op == "BinaryConv" }.count)
        report.binaryWeightKernels = after.layers.filter { $0.op == "BinaryWeightConv" }.count
        guard let samples else { return report }
        let comparison = try ModelComparison.compare(original, changed, samples: samples, labels: labels, progress: progress)
        report.dataset = samples.path
        report.samples = samples.count
        report.outputs = comparison.outputs
        report.originalTop1 = comparison.top1?.original
        report.binarizedTop1 = comparison.top1?.changed
        return report
    }

    public var text: String {
        var lines = ["weights in C: \(floatWeightBytes) B -> \(binaryWeightBytes) B (\(binaryKernels) layers as XNOR/popcount kernels, "
                     + "\(binaryWeightKernels) with 1-bit weights and float inputs)", ""]
        lines += QuantizationReport.table(["node", "op", "weights", "input"], layers.map {
            [$0.node, $0.op, String($0.weights), $0.inputScale.map { String(format: "binary, scale %.4g", $0) } ?? "float"]
        })
        for layer in layers { if let warning = layer.warning { lines.append("warning: \(layer.node): \(warning)") } }
        if let outputs, let dataset, let samples {
            lines += ["", "evaluated on \(dataset) (\(samples) samples), binarized vs original:"]
            lines += QuantizationReport.table(["output", "SQNR (dB)", "max abs error"], outputs.map {
                [$0.name, $0.error.sqnrDecibels.map { String(format: "%.1f", $0) } ?? "exact", String(format: "%.6g", $0.error.maxAbsError)]
            })
        }
        if let a = originalTop1, let b = binarizedTop1 {
            lines += ["", String(format: "top-1 accuracy: original %.2f %%, binarized %.2f %% (%+.2f pp)", a * 100, b * 100, (b - a) * 100)]
        }
        return lines.joined(separator: "\n") + "\n"
    }
}
