import ArgumentParser
import Foundation
import WhittleKit

struct DistillExport: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "distill-export",
        abstract: "Export a compressed student in trainable form with its teacher's soft targets, for knowledge distillation."
    )

    @OptionGroup var model: ModelOptions

    @Option(help: ArgumentHelp("Transfer samples the teacher is run on (.npz, first axis = samples).", valueName: "TRANSFER.npz"))
    var data: String

    @Option(help: ArgumentHelp("A compressed student made elsewhere (else the compression options below make one).", valueName: "STUDENT.onnx"))
    var student: String?

    @OptionGroup var pruning: PruningArguments

    @OptionGroup var binarization: BinarizeArguments

    @Option(help: ArgumentHelp("Quantize the student (needs --calibration).", valueName: "int8"))
    var quantize: String?

    @OptionGroup var calibration: CalibrationOptions

    @Option(help: ArgumentHelp("Softmax temperature T of the soft targets (default 4).", valueName: "T"))
    var temperature = 4.0

    @Option(help: ArgumentHelp("Weight α of the distillation term against the label term (default 0.9).", valueName: "A"))
    var alpha = 0.9

    @Option(help: ArgumentHelp("Teacher and student values (or nodes) whose features to export (repeatable).", valueName: "TEACHER:STUDENT"))
    var match: [String] = []

    @Option(name: .shortAndLong, help: ArgumentHelp("The folder to write.", valueName: "DIR"))
    var output: String

    func validate() throws {
        if student != nil && (pruning.sparsity != nil || binarization.binarize || quantize != nil) {
            throw ValidationError("give --student or compression options, not both")
        }
        if let quantize, quantize.lowercased() != "int8" { throw ValidationError("--quantize supports int8, not \"\(quantize)\"") }
        if quantize != nil && binarization.binarize { throw ValidationError("binarized layers are not quantized: choose --binarize or --quantize") }
        if quantize != nil && calibration.calibration == nil { throw ValidationError("--quantize int8 needs --calibration DATA.npz") }
        try pruning.requireSparsity()
        _ = try pairs()
    }

    /// `--match TEACHER:STUDENT` pairs.
    func pairs() throws -> [(String, String)] {
        try match.map { pair in
            let parts = pair.split(separator: ":", maxSplits: 1).map(String.init)
            guard parts.count == 2, !parts[0].isEmpty, !parts[1].isEmpty else { throw ValidationError("--match takes TEACHER:STUDENT, not \"\(pair)\"") }
            return (parts[0], parts[1])
        }
    }

    func run() throws {
        try reportingErrors {
            let teacher = try model.load()
            var options = DistillationExport.Options()
            options.temperature = temperature
            options.alpha = alpha
            options.matches = try pairs()
            let samples: SampleSet
            do {
                samples = try SampleSet(path: data, graph: teacher.graph, explicit: try ModelQuantizer.parseMap(calibration.map))
            } catch let error as WhittleError {
                throw error.inFile(teacher.path)
            }
            var compressed: AnalyzedModel, binarized = Set<String>(), masked: Set<String>?
            if let student {
                compressed = try ModelLoader.load(path: student)
                binarized = DistillationExport.binarizedLayers(compressed.model)
            } else {
                var pipeline = CompressionPipeline()
                pipeline.pruning = try pruning.request()
                pipeline.binarization = binarization.request(calibration: calibration.calibration)
                if quantize != nil { pipeline.quantization = try calibration.request() }
                let made = try pipeline.run(teacher, progress: ProgressBar.standardError())
                compressed = made.analyzed
                for line in made.lines { print(line) }
                binarized = Set(made.binarized.map(\.node))
                masked = made.pruning?.prunedLayers ?? []
            }
            let manifest: DistillationManifest
            do {
                manifest = try DistillationExport.export(teacher: teacher, student: compressed.model, binarized: binarized, masked: masked, samples: samples,
                                                         options: options, directory: output, progress: ProgressBar.standardError())
            } catch let error as WhittleError {
                throw error.inFile(teacher.path)
            }
            print("wrote \(output): student.onnx, teacher_logits.npy, \(manifest.softTargetsFile)\(manifest.recipe.masksFile == nil ? "" : ", masks.npz")"
                  + "\(manifest.features.isEmpty ? "" : ", features/"), distill.json (\(manifest.samples) transfer samples)")
            print("recipe: \(manifest.recipe.masks.count) masked weights, \(manifest.recipe.quantized.count) int8 weights, \(manifest.recipe.binarized.count) binarized layers")
            let rows = manifest.layers.map { [$0.value, $0.op, $0.sqnrDecibels.map { String(format: "%.1f", $0) } ?? "exact"] }
            print("student vs teacher on \(min(manifest.samples, 100)) samples:")
            for line in InspectReport.table([["value", "op", "SQNR (dB)"]] + rows, rightAligned: [2]) { print(line) }
        }
    }
}
