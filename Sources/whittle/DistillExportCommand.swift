import ArgumentParser
import Foundation
import WhittleIR
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

    func run() throws {
        try reportingErrors {
            let teacher = try model.load()
            var options = DistillationExport.Options()
            options.temperature = temperature
            options.alpha = alpha
            options.matches = try match.map { pair in
                let parts = pair.split(separator: ":", maxSplits: 1).map(String.init)
                guard parts.count == 2, !parts[0].isEmpty, !parts[1].isEmpty else { throw WhittleError(.usage, "--match takes TEACHER:STUDENT, not \"\(pair)\"") }
                return (parts[0], parts[1])
            }
            let samples: SampleSet
            do {
                samples = try SampleSet(path: data, graph: teacher.graph, explicit: try ModelQuantizer.parseMap(calibration.map))
            } catch let error as WhittleError {
                throw error.inFile(teacher.path)
            }
            var compressed: AnalyzedModel, binarized = Set<String>(), masked: Set<String>?
            if let student {
                guard try pruning.options() == nil, !binarization.binarize, quantize == nil else {
                    throw WhittleError(.usage, "give --student or compression options, not both")
                }
                compressed = try ModelOptions.load(student, [])
                binarized = DistillationExport.binarizedLayers(compressed.model)
            } else {
                let made = try Compile.compress(teacher, pruning: pruning, binarization: binarization, calibration: calibration.calibration)
                compressed = made.analyzed
                for line in made.lines { print(line) }
                binarized = made.binarized
                masked = made.pruned
                if let quantize {
                    guard quantize.lowercased() == "int8" else { throw WhittleError(.usage, "--quantize supports int8, not \"\(quantize)\"") }
                    guard !binarization.binarize else { throw WhittleError(.usage, "binarized layers are not quantized: choose --binarize or --quantize") }
                    let (result, _) = try calibration.quantize(compressed)
                    compressed = try ModelLoader.analyze(result.model, path: teacher.path)
                    print("quantized \(result.values.count) tensors to int8")
                }
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
