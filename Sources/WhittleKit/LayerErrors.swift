import Foundation
import WhittleInterpreter
import WhittleIR

/// How far a quantized model's compiled integer kernels drift from the model as given, layer by layer.
public enum LayerErrors {
    /// For every QuantizeLinear of the model as given (per-tensor zero point): its integer output as the
    /// compiled graph computes it against the model's own QDQ arithmetic, over `samples`. Values are
    /// compared as q − zero point, which gives the SQNR of the dequantized tensor (the scale cancels)
    /// and the largest difference in quantization steps.
    public static func quantized(_ analyzed: AnalyzedModel, compiled: CompiledModel,
                                 samples: SampleSet) throws -> [(name: String, op: String, error: QuantizationReport.Error)] {
        var watched: [String: (source: String, zero: Int64)] = [:], order: [String] = [], producer: [String: String] = [:]
        for node in analyzed.graph.nodes { for output in node.outputs { producer[output] = node.opType } }
        for node in analyzed.graph.nodes where node.opType == "QuantizeLinear" && node.outputs.count == 1 {
            let zero = node.inputs.count > 2 && !node.inputs[2].isEmpty ? analyzed.graph.initializers[node.inputs[2]]?.int64s() : [0]
            guard let zero, zero.count == 1 else { continue }
            // Named after what it quantizes: the value and the operator that made it.
            watched[node.outputs[0]] = (node.inputs[0], zero[0])
            order.append(node.outputs[0])
        }
        guard !watched.isEmpty else {
            throw WhittleError(.usage, "the model has no QuantizeLinear with a per-tensor zero point: there is no integer layer to compare", file: analyzed.path)
        }
        let given = try Interpreter(model: analyzed.model, inference: analyzed.inference)
        let deployed = try Interpreter(model: compiled.optimized, inference: compiled.types)
        var errors: [String: ErrorAccumulator] = [:]
        for i in 0..<samples.count {
            let inputs = try samples.sample(i)
            var reference: [String: [Float]] = [:]
            _ = try given.run(inputs) { name, value in
                if let w = watched[name] { reference[name] = value.ints.map { Float($0 - w.zero) } }
            }
            _ = try deployed.run(inputs) { name, value in
                guard let w = watched[name], let r = reference[name], r.count == value.count else { return }
                errors[name, default: ErrorAccumulator()].add(reference: r, actual: value.ints.map { Double($0 - w.zero) })
            }
        }
        // Layers the compiled graph computes without materializing the tensor have nothing to compare.
        return order.compactMap { name in
            errors[name].map { (watched[name]?.source ?? name, producer[watched[name]?.source ?? ""] ?? "input", $0.result) }
        }
    }
}
