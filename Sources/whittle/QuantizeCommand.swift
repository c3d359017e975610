import ArgumentParser
import Foundation
import WhittleKit

/// Calibration options shared by `quantize` and `compile --quantize int8`.
struct CalibrationOptions: ParsableArguments {
    @Option(help: ArgumentHelp("Calibration samples: .npz with one array per input, first axis = samples.", valueName: "DATA.npz"))
    var calibration: String?

    @Option(help: ArgumentHelp("Range choice: minmax (default), percentile:P (e.g. percentile:99.99) or entropy.", valueName: "METHOD"))
    var calibrate = "minmax"

    @Option(help: ArgumentHelp("Activation type: int8 (TFLite scheme, default), uint8 (ONNX Runtime's default) or int16 "
                               + "(TFLite's 16×8 scheme: symmetric, zero point 0, int8 weights; Softmax stays float).", valueName: "TYPE"))
    var activations = "int8"

    @Option(name: .customLong("map"), help: ArgumentHelp("Which array of the .npz feeds an input (repeatable).", valueName: "INPUT=KEY"))
    var map: [String] = []

    @Option(name: .customLong("weight-type"), help: ArgumentHelp("Convolution and matrix weights: int8 (default) or int4 "
                                                                  + "(symmetric per channel, [-7, 7], each channel's clipping chosen for the least rounding error; "
                                                                  + "the C stores them two per byte).", valueName: "int8|int4"))
    var weightType = "int8"

    @Option(name: .customLong("int8-layers"), help: ArgumentHelp("With --weight-type int4: layers kept at int8, or none "
                                                                  + "(default: the first and the last layer with weights, and grouped convolutions).", valueName: "NAME,...|none"))
    var int8Layers: [String] = []

    @Option(name: .customLong("int16-layers"), help: ArgumentHelp("Layers whose outputs take int16 activations (16×8) while the rest "
                                                                   + "keeps --activations (mixed precision).", valueName: "NAME,..."))
    var int16Layers: [String] = []

    func validate() throws {
        guard weightType == "int8" || weightType == "int4" else { throw ValidationError("--weight-type must be int8 or int4, not \"\(weightType)\"") }
        if !int8Layers.isEmpty && weightType != "int4" { throw ValidationError("--int8-layers is used with --weight-type int4") }
        do {
            _ = try options()
            _ = try ModelQuantizer.parseMap(map)
        } catch let error as WhittleError {
            throw ValidationError(describe(error))
        }
    }

    func options() throws -> QuantizationOptions {
        let names = int8Layers.flatMap { $0.split(separator: ",").map(String.init) }
        return QuantizationOptions(method: try CalibrationMethod(parsing: calibrate), activationType: try ModelQuantizer.activationType(activations),
                                   weightType: weightType == "int4" ? .int4 : .int8,
                                   int8Layers: names.isEmpty ? nil : names == ["none"] ? [] : Set(names),
                                   int16Layers: Set(int16Layers.flatMap { $0.split(separator: ",").map(String.init) }))
    }

    /// The quantization request (needs --calibration).
    func request() throws -> QuantizationRequest {
        guard let calibration else { throw ValidationError("quantization needs --calibration DATA.npz") }
        return QuantizationRequest(calibration: calibration, map: try ModelQuantizer.parseMap(map), options: try options())
    }
}

struct Quantize: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Quantize a float model to int8, or int4 weights (static, calibrated), and write it as an ONNX QDQ model.",
        // --calibration is optional to the parser only because compile shares it (with --quantize int8).
        usage: "whittle quantize <model> --calibration <DATA.npz> --output <OUT.onnx> [<options>]",
        discussion: """
        Weights become int8, symmetric per output channel; activations int8 (or uint8, or int16 in the \
        16×8 scheme) per tensor with calibrated ranges; biases int32. The report compares the quantized model, run as Whittle compiles it \
        (integer kernels), with the float model on --eval data (default: the calibration data).
        """
    )

    @OptionGroup var model: ModelOptions

    @OptionGroup var calibration: CalibrationOptions

    @Option(name: .shortAndLong, help: ArgumentHelp("The quantized model to write.", valueName: "OUT.onnx"))
    var output: String

    @Option(help: ArgumentHelp("Samples for the report (default: the calibration data).", valueName: "DATA.npz"))
    var eval: String?

    @Option(help: ArgumentHelp("Class labels for top-1 accuracy: an array of the eval .npz or a .npy file.", valueName: "KEY|FILE.npy"))
    var labels: String?

    @Option(help: ArgumentHelp("Also write the report as JSON.", valueName: "FILE.json"))
    var report: String?

    @Option(name: .customLong("report-html"), help: ArgumentHelp("Also write an HTML report (per-layer error, arena, layers).", valueName: "FILE.html"))
    var reportHTML: String?

    func validate() throws {
        guard calibration.calibration != nil else { throw ValidationError("quantization needs --calibration DATA.npz") }
    }

    func run() throws {
        try reportingErrors {
            let analyzed = try model.load()
            // Everything the report needs is checked before the (possibly long) calibration starts.
            let request = try calibration.request()
            let options = request.options, map = request.map, calibrationPath = request.calibration
            let evaluation: SampleSet, labelValues: [Int]?
            do {
                evaluation = try SampleSet(path: eval ?? calibrationPath, graph: analyzed.graph, explicit: map)
                labelValues = try labels.map { try evaluation.labels($0) }
            } catch let error as WhittleError {
                throw error.inFile(analyzed.path)
            }
            let (result, calibrationSet) = try ModelQuantizer.quantize(analyzed, calibration: calibrationPath, map: map, options: options,
                                                                       progress: ProgressBar.standardError())
            do {
                try ModelWriter.write(result.model, to: output)
            } catch let error as WhittleError {
                throw error.inFile(output)
            }
            let graph = result.model.graph
            let fourBit = graph.nodes.filter { $0.opType == "DequantizeLinear" && graph.initializers[$0.inputs[0]]?.elementType == .int4 }.count
            print("wrote \(output): \(result.values.count) \(options.activationType.name) tensors\(fourBit > 0 ? ", int4 weights in \(fourBit) layers" : "") (\(options.activationType.name) activations, "
                  + "\(options.method) calibration on \(calibrationSet.count) samples of \(calibrationSet.path))")
            let summary = try QuantizationReport.evaluate(result, samples: evaluation, labels: labelValues, progress: ProgressBar.standardError())
            print(summary.text, terminator: "")
            try writeReport(summary, to: report)
            try HTMLReporting.writeIfAsked(reportHTML, title: "\(URL(fileURLWithPath: output).lastPathComponent): quantized",
                                           model: result.model, source: output) { $0.addQuantization(summary) }
        }
    }
}
