import Foundation
import WhittleInterpreter
import WhittleIR
import WhittleNumPy
import WhittlePasses

/// `distill.json`: what a training script needs to distill a compressed student from its teacher,
/// and the compression `compile --recipe` re-applies to the retrained student.
public struct DistillationManifest: Codable, Sendable {
    public struct Feature: Codable, Sendable {
        public var teacher: String
        public var student: String
        public var file: String
    }
    public struct LayerError: Codable, Sendable {
        public var value: String
        public var op: String
        public var sqnrDecibels: Double?
        public var maxAbsError: Double
    }

    public var temperature: Double
    public var alpha: Double
    /// The loss, in words a training script implements.
    public var loss: String
    public var transferData: String
    public var samples: Int
    public var student: String
    /// Value names in student.onnx: the pre-softmax outputs, and the graph input.
    public var studentLogits: String
    public var studentInput: String
    public var teacherLogits: String
    public var teacherLogitsFile: String
    public var softTargetsFile: String
    public var features: [Feature]
    public var recipe: CompressionRecipe
    /// Student (training form) against teacher, value by value, on up to 100 transfer samples.
    public var layers: [LayerError]
}

/// `whittle distill-export`: the student in training form, the teacher's soft targets and
/// features on the transfer set (computed by the reference interpreter), and `distill.json`.
public enum DistillationExport {
    public struct Options: Sendable {
        public var temperature = 4.0
        public var alpha = 0.9
        /// (teacher value or node, student value or node) pairs for hint learning.
        public var matches: [(String, String)] = []
        public init() {}
    }

    /// The pre-softmax outputs: the first graph output, or the input of the Softmax that makes it.
    public static func logits(_ graph: Graph) -> String {
        guard let output = graph.outputs.first?.name else { return "" }
        var value = output
        // Through a trailing QDQ pair (quantized students) to the Softmax, if there is one.
        for _ in 0..<4 {
            guard let node = graph.nodes.first(where: { $0.outputs.first == value }) else { break }
            if node.opType == "Softmax" || node.opType == "LogSoftmax" { return node.inputs[0] }
            guard node.opType == "DequantizeLinear" || node.opType == "QuantizeLinear" else { break }
            value = node.inputs[0]
        }
        return output
    }

    /// For each student value that stands for a teacher value, that teacher value's name. A name
    /// alone does not say it: a quantizer may drop a ReLU and give its output's name to the Conv before
    /// it (whose values are still pre-activation). A student value pairs with the teacher's value of the
    /// same name when the same operator makes both; else, when the student rounds such a value through
    /// QuantizeLinear → DequantizeLinear, the dequantized value is the one to compare.
    static func teacherCounterparts(teacher: Graph, student: Graph, teacherOps: [String: String]) -> [String: String] {
        var studentOps: [String: String] = [:], producer: [String: Node] = [:]
        for node in student.nodes {
            for o in node.outputs where !o.isEmpty {
                studentOps[o] = node.opType
                producer[o] = node
            }
        }
        var result: [String: String] = [:]
        for (name, op) in studentOps where teacherOps[name] == op { result[name] = name }
        for node in student.nodes where node.opType == "DequantizeLinear" {
            guard let output = node.outputs.first, let q = producer[node.inputs[0]], q.opType == "QuantizeLinear",
                  let original = q.inputs.first, let teacherOp = teacherOps[original], studentOps[original] != teacherOp else { continue }
            result[output] = original
        }
        return result
    }

    /// A value by its name, or the first output of the node with that name.
    static func value(_ name: String, in graph: Graph) throws -> String {
        if graph.nodes.contains(where: { $0.outputs.contains(name) }) || graph.inputs.contains(where: { $0.name == name }) { return name }
        if let node = graph.nodes.first(where: { $0.name == name }), let first = node.outputs.first { return first }
        throw WhittleError(.usage, "layer pair: \"\(name)\" is neither a value nor a node of the model", setting: .layerMatch)
    }

    /// `masked` names the layers whose zeros are pruning (nil: any layer with exact zeros in float
    /// weights, or with at least 30 % zero-point entries in int8 weights).
    public static func export(teacher: AnalyzedModel, student compressed: Model, binarized: Set<String>, masked: Set<String>? = nil,
                              samples: SampleSet,
                              options: Options, directory: String,
                              progress: (String, Int, Int) -> Void = { _, _, _ in }) throws -> DistillationManifest {
        guard options.temperature > 0, options.alpha >= 0, options.alpha <= 1 else {
            throw WhittleError(.usage, "the distillation temperature must be positive and the mixing weight alpha in [0, 1]", setting: .distillationLoss)
        }
        var masters: [String: Tensor] = [:]
        for node in teacher.graph.nodes where node.inputs.count > 1 { masters[node.name] = teacher.graph.initializers[node.inputs[1]] }
        let (training, recipe, masks) = try TrainingForm.make(compressed, masters: masters, binarizedLayers: binarized, maskedLayers: masked)
        let student = try ModelLoader.analyze(training, path: teacher.path)
        try ModelRunner.makeDirectory(directory)
        let base = URL(fileURLWithPath: directory)
        try ModelWriter.write(training, to: base.appendingPathComponent("student.onnx").path)
        if !masks.isEmpty { try NPZArchive.write(masks, to: base.appendingPathComponent("masks.npz").path) }

        let teacherLogits = logits(teacher.graph), studentLogits = logits(student.graph)
        let pairs = try options.matches.map { (try value($0.0, in: teacher.graph), try value($0.1, in: student.graph)) }
        let teacherRun = try Interpreter(model: teacher.model, inference: teacher.inference)
        let studentRun = try Interpreter(model: student.model, inference: student.inference)
        var logitRows: [[Float]] = [], featureRows = [[[Float]]](repeating: [], count: pairs.count)
        var logitShape: [Int] = [], featureShapes = [[Int]](repeating: [], count: pairs.count)
        var errors: [String: ErrorAccumulator] = [:], order: [String] = [], ops: [String: String] = [:]
        for node in teacher.graph.nodes { for o in node.outputs where !o.isEmpty { ops[o] = node.opType } }
        let counterpart = teacherCounterparts(teacher: teacher.graph, student: student.graph, teacherOps: ops)
        let watched = Set([teacherLogits] + pairs.map(\.0))
        for i in 0..<samples.count {
            let inputs = try samples.sample(i)
            var traced: [String: NDArray] = [:]
            let compare = i < 100
            _ = try teacherRun.run(inputs) { name, value in
                if watched.contains(name) || (compare && value.elementType == .float) { traced[name] = value }
            }
            if compare {
                _ = try studentRun.run(inputs) { studentName, value in
                    guard let name = counterpart[studentName], let reference = traced[name], reference.count == value.count,
                          value.elementType == .float else { return }
                    if errors[name] == nil { order.append(name) }
                    errors[name, default: ErrorAccumulator()].add(reference: reference.floats, actual: value.doubles)
                }
            }
            guard let logit = traced[teacherLogits] else { throw WhittleError(.invalidGraph, "the teacher did not compute \"\(teacherLogits)\"") }
            logitRows.append(logit.floats)
            logitShape = logit.shape.first == 1 ? Array(logit.shape.dropFirst()) : logit.shape
            for (k, pair) in pairs.enumerated() {
                guard let feature = traced[pair.0] else { continue }
                featureRows[k].append(feature.floats)
                featureShapes[k] = feature.shape.first == 1 ? Array(feature.shape.dropFirst()) : feature.shape
            }
            progress("teacher", i + 1, samples.count)
        }
        let flat = logitRows.flatMap { $0 }
        try write(flat, shape: [logitRows.count] + logitShape, to: base.appendingPathComponent("teacher_logits.npy").path)
        let t = options.temperature
        let temperatureName = t == t.rounded() ? String(Int(t)) : String(t)
        let softName = "soft_targets_T\(temperatureName).npy"
        let classes = logitShape.last ?? 1
        var soft: [Float] = []
        for row in stride(from: 0, to: flat.count, by: max(classes, 1)) {
            let slice = flat[row..<min(row + classes, flat.count)].map { Double($0) / t }
            let top = slice.max() ?? 0
            let e = slice.map { Foundation.exp($0 - top) }
            let sum = e.reduce(0, +)
            soft += e.map { Float($0 / sum) }
        }
        try write(soft, shape: [logitRows.count] + logitShape, to: base.appendingPathComponent(softName).path)
        var features: [DistillationManifest.Feature] = []
        if !pairs.isEmpty { try ModelRunner.makeDirectory(base.appendingPathComponent("features").path) }
        var taken = Set<String>()
        for (k, pair) in pairs.enumerated() {
            let file = "features/" + ModelRunner.fileName(for: pair.0 + "__" + pair.1, taken: &taken)
            try write(featureRows[k].flatMap { $0 }, shape: [featureRows[k].count] + featureShapes[k], to: base.appendingPathComponent(file).path)
            features.append(.init(teacher: pair.0, student: pair.1, file: file))
        }
        let manifest = DistillationManifest(
            temperature: t, alpha: options.alpha,
            loss: "alpha * T^2 * KL(softmax(teacher_logits / T) || softmax(student_logits / T)) + (1 - alpha) * cross_entropy(student_logits, labels)",
            transferData: samples.path, samples: samples.count, student: "student.onnx", studentLogits: studentLogits,
            studentInput: student.graph.inputs.first?.name ?? "", teacherLogits: teacherLogits, teacherLogitsFile: "teacher_logits.npy",
            softTargetsFile: softName, features: features, recipe: recipe,
            layers: order.map { name in
                let e = errors[name]?.result
                return .init(value: name, op: ops[name] ?? "", sqnrDecibels: e?.sqnrDecibels, maxAbsError: e?.maxAbsError ?? 0)
            })
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        let path = base.appendingPathComponent("distill.json").path
        try FileOutput.write(try encoder.encode(manifest) + Data("\n".utf8), to: path)
        return manifest
    }

    /// Layers of a model made elsewhere that are binarized: ±α weights per output channel, behind a
    /// binarized input (Where(x ≥ 0, s, −s), Sign or BipolarQuant) or with a word of them per channel.
    public static func binarizedLayers(_ model: Model) -> Set<String> {
        let graph = model.graph
        var producers: [String: String] = [:]
        for node in graph.nodes { for output in node.outputs where !output.isEmpty { producers[output] = node.opType } }
        var result = Set<String>()
        for node in graph.nodes where (node.opType == "Conv" || node.opType == "Gemm") && node.inputs.count > 1 {
            guard let w = graph.initializers[node.inputs[1]], w.elementType == .float, w.rank >= 2 else { continue }
            let axis = node.opType == "Gemm" && node.attributes["transB"] != .int(1) ? 1 : 0
            // Behind a binarized input, or with at least a word of weights per channel (where the weights alone are binary).
            let binaryInput = ["Where", "Sign", "BipolarQuant"].contains(producers[node.inputs[0]] ?? "")
            guard binaryInput || w.count / max(w.shape[axis], 1) >= 32 else { continue }
            if FuseBinary.binaryMagnitudes(w, channelAxis: axis) != nil { result.insert(node.name) }
        }
        return result
    }

    static func write(_ values: [Float], shape: [Int], to path: String) throws {
        let bytes = try NPYFormat.encode(try Tensor(floats: values, shape: shape))
        try FileOutput.write(bytes, to: path)
    }

    /// Reads `distill.json` and its masks, for `compile --recipe`.
    public static func loadRecipe(_ path: String) throws -> (CompressionRecipe, [String: Tensor]) {
        guard let data = FileManager.default.contents(atPath: path) else { throw WhittleError(.io, "\(path): cannot read the recipe") }
        let manifest: DistillationManifest
        do {
            manifest = try JSONDecoder().decode(DistillationManifest.self, from: data)
        } catch {
            throw WhittleError(.usage, "\(path): not a distill.json written by whittle distill-export")
        }
        var masks: [String: Tensor] = [:]
        if let file = manifest.recipe.masksFile {
            let archive = try NPZArchive(path: URL(fileURLWithPath: path).deletingLastPathComponent().appendingPathComponent(file).path)
            for name in archive.names { masks[name] = try archive.array(name) }
        }
        return (manifest.recipe, masks)
    }
}
