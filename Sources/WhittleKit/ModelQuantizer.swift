import Foundation
import WhittleIR
import WhittleONNX
import WhittleQuantization

/// `whittle quantize` and `whittle compile --quantize int8`: calibrate on NumPy samples, rewrite to QDQ.
public enum ModelQuantizer {
    /// Quantizes `analyzed` on the samples of `calibration` (an `.npz` archive); `map` names archive keys per input.
    public static func quantize(_ analyzed: AnalyzedModel, calibration: String, map: [String: String] = [:],
                                options: QuantizationOptions = .init(),
                                progress: (String, Int, Int) -> Void = { _, _, _ in }) throws -> (QuantizationResult, SampleSet) {
        do {
            let samples = try SampleSet(path: calibration, graph: analyzed.graph, explicit: map)
            var model = analyzed.model
            model.graph = analyzed.graph
            let result = try Quantizer.quantize(model, samples: samples.count, sample: samples.sample, options: options, progress: progress)
            return (result, samples)
        } catch let error as WhittleError {
            throw error.inFile(analyzed.path)
        }
    }

    /// Parses `--map NAME=KEY` arguments.
    public static func parseMap(_ arguments: [String]) throws -> [String: String] {
        var map: [String: String] = [:]
        for argument in arguments {
            let parts = argument.split(separator: "=", maxSplits: 1).map(String.init)
            guard parts.count == 2, !parts[0].isEmpty, !parts[1].isEmpty else {
                throw WhittleError(.usage, "an input's array must be named as INPUT=KEY, not \"\(argument)\"", setting: .sampleMap)
            }
            map[parts[0]] = parts[1]
        }
        return map
    }

    /// Parses `--activations int8|uint8|int16`.
    public static func activationType(_ text: String) throws -> ElementType {
        switch text.lowercased() {
        case "int8": return .int8
        case "uint8": return .uint8
        case "int16": return .int16
        default: throw WhittleError(.usage, "quantized activations are int8, uint8 or int16, not \"\(text)\"", setting: .activationType)
        }
    }
}
