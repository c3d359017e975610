import WhittleIR
import WhittleONNX
import WhittleOps

/// A model read from disk with its shapes inferred: the starting point of every command.
public struct AnalyzedModel: Sendable {
    /// The path the model was read from, as given.
    public let path: String
    public let model: Model
    public let inference: InferenceResult
    /// The model before its control flow was expanded (nil when it had none to expand): the C back end
    /// keeps Loop and Scan as loops (`ControlFlowExpansion.expand(_:rolling:)`) where it can.
    public var unexpanded: Model?

    /// The main graph with inferred value types.
    public var graph: Graph { inference.graph }

    /// Whether analysis stopped at an operator Whittle has, used with a value only known at run time
    /// (a Reshape shape or Expand size computed from an input): the model runs once the inputs are bound.
    public var needsInputValues: Bool {
        inference.unsupported.contains { item in
            guard item.node.index < graph.nodes.count else { return false }
            let node = graph.nodes[item.node.index]
            return Registry.definition(domain: node.domain, name: node.opType) != nil || ControlFlowExpansion.isControlFlow(node)
        }
    }
}

/// Entry points for programs that embed Whittle.
public enum ModelLoader {
    /// Reads `path`, pins input shapes, and infers every shape it can.
    ///
    /// Errors carry the file and, where it applies, the node.
    /// `constantInputs` turns graph inputs into constants known at compile time (shape-like parameters,
    /// as a deployed model has them); their values must have the declared type.
    /// With `specializing` (the most bytes one value may take), every value computable from the constants
    /// is computed during analysis, so shapes that depend on the bound inputs' data come out static.
    public static func load(path: String, inputShapes: [String: [Int]] = [:],
                            constantInputs: [String: Tensor] = [:], specializing: Int? = nil) throws -> AnalyzedModel {
        let model = try ONNXReader.read(path: path, options: ONNXImportOptions(inputShapes: inputShapes))
        return try analyze(bind(constantInputs, in: model, path: path), path: path, specializing: specializing)
    }

    /// `model` with the graph inputs named in `constants` turned into initializers; values must have
    /// the inputs' declared types and shapes.
    public static func bind(_ constants: [String: Tensor], in model: Model, path: String) throws -> Model {
        var model = model
        for (name, value) in constants.sorted(by: { $0.key < $1.key }) {
            guard let index = model.graph.inputs.firstIndex(where: { $0.name == name }) else {
                throw WhittleError(.usage, "\"\(name)\" is not a graph input").inFile(path)
            }
            if let type = model.graph.inputs[index].type, type.elementType != value.elementType {
                throw WhittleError(.usage, "constant for input \"\(name)\" is \(value.elementType.name), not \(type.elementType.name)").inFile(path)
            }
            if let shape = model.graph.inputs[index].type?.shape, shape != value.shape {
                throw WhittleError(.usage, "constant for input \"\(name)\" has shape \(Shape.describe(value.shape)), "
                                   + "not \(Shape.describe(shape))").inFile(path)
            }
            model.graph.inputs.remove(at: index)
            model.graph.initializers[name] = value
        }
        return model
    }

    /// Verifies an already-read model and infers its shapes; `path` is used in errors and reports.
    public static func analyze(_ model: Model, path: String, specializing: Int? = nil) throws -> AnalyzedModel {
        do {
            try Verifier.verify(model.graph)
            let original = model
            let (model, reasons) = try ControlFlowExpansion.expand(model, specializing: specializing)
            var inference = try ShapeInference.run(model, specializing: specializing)
            for i in inference.unsupported.indices {
                if let reason = reasons[inference.unsupported[i].node.index] { inference.unsupported[i].reason = reason }
            }
            let expanded = original.graph.nodes.contains(where: ControlFlowExpansion.isControlFlow)
            return AnalyzedModel(path: path, model: model, inference: inference, unexpanded: expanded ? original : nil)
        } catch let error as WhittleError {
            throw error.inFile(path)
        }
    }

    /// Reads `path` with input shapes written `NAME=D0,D1,...` and bindings written `NAME=V0,V1,...`
    /// or `NAME=FILE.npy` (see ``InputBinding``), as a command line or a config file gives them.
    public static func load(path: String, shapes: [String], bindings: [String]) throws -> AnalyzedModel {
        let pinned = try parseInputShapes(shapes)
        let analyzed = try load(path: path, inputShapes: pinned)
        guard !bindings.isEmpty else { return analyzed }
        let constants: [String: Tensor]
        do {
            constants = try InputBinding.constants(bindings, for: analyzed.graph)
        } catch let error as WhittleError {
            throw error.inFile(path)
        }
        return try load(path: path, inputShapes: pinned, constantInputs: constants)
    }

    /// Input shapes written `NAME=D0,D1,...`, by input name; a name given twice is refused.
    public static func parseInputShapes(_ texts: [String]) throws -> [String: [Int]] {
        var pinned: [String: [Int]] = [:]
        for text in texts {
            let (name, dims) = try parseInputShape(text)
            guard pinned[name] == nil else { throw WhittleError(.usage, "a shape is given twice for \"\(name)\"", setting: .inputShape) }
            pinned[name] = dims
        }
        return pinned
    }

    /// Parses one input shape written `NAME=1,3,96,96`.
    public static func parseInputShape(_ text: String) throws -> (String, [Int]) {
        guard let equals = text.lastIndex(of: "=") else {
            throw WhittleError(.usage, "input shape \"\(text)\" must look like NAME=1,3,96,96", setting: .inputShape)
        }
        let name = String(text[..<equals])
        let dimsText = text[text.index(after: equals)...]
        let dims = dimsText.split(separator: ",", omittingEmptySubsequences: false).map { Int($0.trimmingCharacters()) }
        guard !name.isEmpty, !dimsText.isEmpty, dims.allSatisfy({ $0 != nil && $0! >= 0 }) else {
            throw WhittleError(.usage, "input shape \"\(text)\" must look like NAME=1,3,96,96 (non-negative integers)", setting: .inputShape)
        }
        return (name, dims.compactMap { $0 })
    }
}

extension Substring {
    fileprivate func trimmingCharacters() -> Substring {
        var s = self
        while s.first == " " { s.removeFirst() }
        while s.last == " " { s.removeLast() }
        return s
    }
}
