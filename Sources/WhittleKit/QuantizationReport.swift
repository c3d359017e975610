import Foundation
import WhittleIR
import WhittleInterpreter
import WhittleOps
import WhittlePasses
import WhittleQuantization

/// How a quantized model compares with its float original on a data set: what `whittle quantize` prints.
public struct QuantizationReport: Codable, Sendable {
    /// Signal-to-quantization-noise of one tensor over all samples: 10·log10(Σ ref² / Σ (q − ref)²).
    public struct Error: Codable, Sendable {
        /// nil when the quantized tensor equals the float one exactly.
        public var sqnrDecibels: Double?
        public var maxAbsError: Double
    }

    public struct Output: Codable, Sendable {
        public var name: String
        public var error: Error
    }

    /// One quantized activation: the layer that writes it and how much precision it kept.
    public struct Layer: Codable, Sendable {
        public var node: String
        public var op: String
        public var value: String
        public var scale: Float
        public var zeroPoint: Int64
        public var error: Error
    }

    public struct Accuracy: Codable, Sendable {
        public var samples: Int
        public var floatTop1: Double
        public var quantizedTop1: Double
    }

    public var dataset: String
    public var samples: Int
    public var outputs: [Output]
    public var accuracy: Accuracy?
    public var layers: [Layer]
    public var floatWeightBytes: Int
    public var quantizedWeightBytes: Int
    public var leftInFloat: [String]
    /// Multiply-accumulates per inference on integer kernels, and in all, as compiled.
    public var integerMACs = 0
    public var totalMACs = 0
}

/// Accumulates squared signal, squared error and the largest error of one tensor.
struct ErrorAccumulator {
    var signal = 0.0, noise = 0.0, maxError = 0.0

    mutating func add(reference: [Float], actual: [Double]) {
        for (r, a) in zip(reference, actual) {
            let d = a - Double(r)
            signal += Double(r) * Double(r)
            noise += d * d
            maxError = max(maxError, abs(d))
        }
    }

    var result: QuantizationReport.Error {
        QuantizationReport.Error(sqnrDecibels: noise > 0 ? 10 * log10(max(signal, .leastNonzeroMagnitude) / noise) : nil, maxAbsError: maxError)
    }
}

extension QuantizationReport {
    /// Runs the float model and the quantized one (as compiled: integer kernels after fuse-qdq) on
    /// every sample, tracing both, and compares outputs, quantized activations and (with labels) top-1.
    public static func evaluate(_ result: QuantizationResult, samples: SampleSet, labels: [Int]?,
                                progress: (String, Int, Int) -> Void = { _, _, _ in }) throws -> QuantizationReport {
        let floatTypes = try ShapeInference.run(result.floatModel)
        let floatRun = try Interpreter(model: result.floatModel, inference: floatTypes)
        let (deployed, deployedTypes) = try PassPipeline.standard.run(result.model)
        let quantizedRun = try Interpreter(model: deployed, inference: deployedTypes)
        let byInteger = Dictionary(result.values.map { ($0.integer, $0) }, uniquingKeysWith: { a, _ in a })
        let watched = Set(result.values.map(\.value))
        var layerErrors: [String: ErrorAccumulator] = [:]
        var outputErrors: [String: ErrorAccumulator] = [:]
        var floatCorrect = 0, quantizedCorrect = 0
        let outputs = result.floatModel.graph.outputs.map(\.name)
        for i in 0..<samples.count {
            let inputs = try samples.sample(i)
            var floatValues: [String: [Float]] = [:]
            for (name, value) in inputs where watched.contains(name) { floatValues[name] = value.floats }
            let floatOut = try floatRun.run(inputs) { name, value in
                if watched.contains(name) { floatValues[name] = value.floats }
            }
            let quantizedOut = try quantizedRun.run(inputs) { name, value in
                guard let q = byInteger[name], let reference = floatValues[q.value] else { return }
                layerErrors[q.value, default: ErrorAccumulator()].add(reference: reference, actual: value.ints.map(q.parameters.dequantize))
            }
            for name in outputs {
                guard let f = floatOut[name], let q = quantizedOut[name] else { continue }
                outputErrors[name, default: ErrorAccumulator()].add(reference: f.floats, actual: q.doubles)
            }
            if let labels, let first = outputs.first, let f = floatOut[first], let q = quantizedOut[first] {
                if argmax(f.doubles) == labels[i] { floatCorrect += 1 }
                if argmax(q.doubles) == labels[i] { quantizedCorrect += 1 }
            }
            progress("evaluating", i + 1, samples.count)
        }
        let weightBytes = { (graph: Graph) in graph.initializers.values.reduce(0) { $0 + $1.bytes.count } }
        return QuantizationReport(
            dataset: samples.path, samples: samples.count,
            outputs: outputs.map { Output(name: $0, error: (outputErrors[$0] ?? ErrorAccumulator()).result) },
            accuracy: labels.map { _ in
                Accuracy(samples: samples.count, floatTop1: Double(floatCorrect) / Double(max(samples.count, 1)),
                         quantizedTop1: Double(quantizedCorrect) / Double(max(samples.count, 1)))
            },
            layers: result.values.map { v in
                Layer(node: v.producer, op: v.op, value: v.value, scale: v.parameters.scale, zeroPoint: v.parameters.zeroPoint,
                      error: (layerErrors[v.value] ?? ErrorAccumulator()).result)
            },
            floatWeightBytes: weightBytes(result.floatModel.graph), quantizedWeightBytes: weightBytes(deployed.graph),
            leftInFloat: result.leftInFloat)
            .countingMACs(deployed, deployedTypes)
    }

    /// How much of the work the integer kernels do once compiled.
    func countingMACs(_ deployed: Model, _ types: InferenceResult) -> QuantizationReport {
        let integerOps: Set<String> = ["QLinearConv", "QGemm", "QLinearMatMul", "MatMulInteger", "ConvInteger"]
        var copy = self
        for (index, node) in deployed.graph.nodes.enumerated() where index < types.macs.count {
            copy.totalMACs += types.macs[index]
            if integerOps.contains(node.opType) { copy.integerMACs += types.macs[index] }
        }
        return copy
    }

    /// The report as aligned text.
    public var text: String {
        func db(_ e: Error) -> String { e.sqnrDecibels.map { String(format: "%.1f", $0) } ?? "exact" }
        var lines = ["evaluated on \(dataset) (\(samples) samples)",
                     "weights: \(floatWeightBytes) B float -> \(quantizedWeightBytes) B quantized",
                     String(format: "MACs on integer kernels: %d of %d (%.1f %%)", integerMACs, totalMACs,
                            Double(integerMACs) / Double(max(totalMACs, 1)) * 100), ""]
        lines.append(contentsOf: Self.table(["output", "SQNR (dB)", "max abs error"],
                                            outputs.map { [$0.name, db($0.error), String(format: "%.6g", $0.error.maxAbsError)] }))
        if let accuracy {
            let delta = (accuracy.quantizedTop1 - accuracy.floatTop1) * 100
            lines.append("")
            lines.append(String(format: "top-1 accuracy: float %.2f %%, quantized %.2f %% (%+.2f pp) on %d labelled samples",
                                accuracy.floatTop1 * 100, accuracy.quantizedTop1 * 100, delta, accuracy.samples))
        }
        lines.append("")
        lines.append("per-layer SQNR (quantized activation vs float):")
        lines.append(contentsOf: Self.table(["node", "op", "value", "scale", "zero point", "SQNR (dB)", "max abs error"], layers.map {
            [$0.node, $0.op, $0.value, String(format: "%.6g", $0.scale), String($0.zeroPoint), db($0.error), String(format: "%.6g", $0.error.maxAbsError)]
        }))
        if !leftInFloat.isEmpty {
            lines.append("")
            lines.append("left in float:")
            lines.append(contentsOf: leftInFloat.map { "  " + $0 })
        }
        if totalMACs > 0 && integerMACs * 2 < totalMACs {
            lines.append("")
            lines.append("warning: less than half of the multiply-accumulates run on integer kernels; the layers left in float are listed above")
        }
        return lines.joined(separator: "\n") + "\n"
    }

    static func table(_ header: [String], _ rows: [[String]]) -> [String] {
        let all = [header] + rows
        let widths = header.indices.map { c in all.map { $0[c].count }.max() ?? 0 }
        return all.map { row in
            row.enumerated().map { c, cell in c == row.count - 1 ? cell : cell.padding(toLength: widths[c], withPad: " ", startingAt: 0) }
                .joined(separator: "  ")
        }
    }
}
