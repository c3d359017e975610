import Foundation
import WhittleIR
import WhittleOps
import WhittlePasses
import WhittleInterpreter

/// The outcome of post-training quantization.
public struct QuantizationResult: Sendable {
    /// The quantized model (ONNX QDQ form, float inputs and outputs).
    public var model: Model
    /// The float model the ranges were measured on: the input after BatchNormalization folding and clean-up.
    public var floatModel: Model
    /// Every activation stored as integers, in graph order.
    public var values: [QuantizedValue]
    /// Nodes that read quantized values or compute in float, as "name (op): why".
    public var leftInFloat: [String]
}

/// Static post-training quantization: calibration with the reference interpreter, then the QDQ rewrite.
public enum Quantizer {
    /// The clean-up run before calibration; every pass keeps the model standard ONNX.
    public static let preparation = PassPipeline(passes: [FoldConstants(), RemoveIdentities(), FoldBatchNormalization(), MatMulAsMatrix(),
                                                              RemoveDeadNodes()])

    /// Quantizes `model`. `sample(i)` gives the inputs of calibration sample `i` of `samples`;
    /// `progress(phase, done, total)` is called after each sample.
    public static func quantize(_ model: Model, samples: Int, sample: (Int) throws -> [String: NDArray],
                                options: QuantizationOptions = .init(),
                                progress: (String, Int, Int) -> Void = { _, _, _ in }) throws -> QuantizationResult {
        guard [.int8, .uint8, .int16].contains(options.activationType) else {
            throw WhittleError(.usage, "activations can be int8, uint8 or int16, not \(options.activationType.name)")
        }
        guard options.weightType == .int8 || options.weightType == .int4 else {
            throw WhittleError(.usage, "weights can be int8 or int4, not \(options.weightType.name)", setting: .weightType)
        }
        let layers = Set(model.graph.nodes.map(\.name))
        if let unknown = options.int16Layers.sorted().first(where: { !layers.contains($0) }) {
            throw WhittleError(.usage, "the model has no layer named \"\(unknown)\"", setting: .int16Layers)
        }
        guard samples > 0 else { throw WhittleError(.usage, "the calibration data has no samples") }
        if let quantized = model.graph.quantizationSummary {
            // Quantizing again would put new quantizers around the integer ones and call int8 weights float.
            throw WhittleError(.usage, "the model is already quantized (\(quantized)); quantize its float original instead")
        }
        let (prepared, types) = try preparation.run(model)
        let interpreter = try Interpreter(model: prepared, inference: types)
        let observed = Set(types.graph.inputs.map(\.name) + types.graph.nodes.flatMap(\.outputs)).filter {
            !$0.isEmpty && types.graph.type(of: $0)?.elementType == .float
        }
        var observer = RangeObserver()
        let passes = options.method.needsHistogram ? ["calibrating (ranges)", "calibrating (histograms)"] : ["calibrating"]
        for (pass, phase) in passes.enumerated() {
            for i in 0..<samples {
                let inputs = try sample(i)
                for input in types.graph.inputs where observed.contains(input.name) {
                    if let value = inputs[input.name] { record(&observer, pass: pass, input.name, value) }
                }
                _ = try interpreter.run(inputs) { name, value in
                    if observed.contains(name) { record(&observer, pass: pass, name, value) }
                }
                progress(phase, i + 1, samples)
            }
        }
        var ranges: [String: ValueRange] = [:]
        for name in observed { ranges[name] = observer.range(name, method: options.method) }
        var builder = QDQBuilder(model: prepared, types: types, ranges: ranges, options: options)
        let quantized = try builder.build(prepared)
        try Verifier.verify(quantized.graph)
        return QuantizationResult(model: quantized, floatModel: prepared, values: builder.order, leftInFloat: builder.leftInFloat)
    }

    private static func record(_ observer: inout RangeObserver, pass: Int, _ name: String, _ value: NDArray) {
        if pass == 0 { observer.observeExtremes(name, value.floats) } else { observer.observeHistogram(name, value.floats) }
    }
}
