import WhittleIR
import WhittleOps

/// A named graph rewrite. Passes run in a ``PassPipeline``, which re-verifies
/// the graph and re-infers its types after each one.
public protocol GraphPass: Sendable {
    /// The name used by `--disable-pass` and `--dump-ir-after`.
    var name: String { get }
    /// One line for `--list-passes`.
    var summary: String { get }
    /// Rewrites `model`; returns whether anything changed. `types` are the current inferred types.
    func run(_ model: inout Model, types: InferenceResult) throws -> Bool
}

/// The standard optimization pipeline and the machinery to run part of it.
public struct PassPipeline: Sendable {
    public var passes: [any GraphPass]

    public init(passes: [any GraphPass]) {
        self.passes = passes
    }

    /// The passes `whittle compile` runs, in order.
    public static let standard = PassPipeline(passes: [
        // Fusion comes first: constant folding would turn the weights' DequantizeLinear into float constants.
        FuseQuantized(), FoldConstants(), RemoveIdentities(), FoldBatchNormalization(), FuseBinary(), FuseActivations(),
        PretransposeGemmWeights(), AliasReshapes(), RemoveDeadNodes(),
    ])

    /// Runs the passes not named in `disabled`; `after` sees the model after each pass that ran.
    public func run(_ model: Model, disabled: Set<String> = [],
                    after: (String, Model, InferenceResult) throws -> Void = { _, _, _ in }) throws -> (Model, InferenceResult) {
        let known = Set(passes.map(\.name))
        for name in disabled.sorted() where !known.contains(name) {
            throw WhittleError(.usage, "unknown pass \"\(name)\" (passes: \(passes.map(\.name).joined(separator: ", ")))")
        }
        var model = model
        var types = try ShapeInference.run(model)
        for pass in passes where !disabled.contains(pass.name) {
            do {
                model.graph.valueTypes = types.graph.valueTypes
                _ = try pass.run(&model, types: types)
                try Verifier.sortTopologically(&model.graph)
                try Verifier.verify(model.graph)
                types = try ShapeInference.run(model)
            } catch var error as WhittleError {
                error.reason += " [after pass \(pass.name)]"
                throw error
            }
            try after(pass.name, model, types)
        }
        return (model, types)
    }
}

/// Who produces and how many nodes read each value, built once for a pass (linear in the graph),
/// so a pass checks a pattern in constant time instead of scanning the graph at every node.
public struct ValueIndex {
    /// The index of the node that produces each value.
    public var producer: [String: Int] = [:]
    /// How many nodes read each value (a node reading it twice counts once; subgraphs count).
    public var readers: [String: Int] = [:]

    public init(_ graph: Graph) {
        for (index, node) in graph.nodes.enumerated() {
            for output in node.outputs where !output.isEmpty { producer[output] = index }
            for input in Set(node.inputs) where !input.isEmpty { readers[input, default: 0] += 1 }
            for name in Verifier.subgraphFreeNames(node) { readers[name, default: 0] += 1 }
        }
    }
}

extension Graph {
    /// The nodes (by index) that read each value.
    public func consumers() -> [String: [Int]] {
        var result: [String: [Int]] = [:]
        for (index, node) in nodes.enumerated() {
            for input in Set(node.inputs) where !input.isEmpty { result[input, default: []].append(index) }
            for name in Verifier.subgraphFreeNames(node) { result[name, default: []].append(index) }
        }
        return result
    }

    /// Whether `value` is one of the graph's outputs.
    public func isOutput(_ value: String) -> Bool { outputs.contains { $0.name == value } }

    /// Replaces every read of `old` by `new`.
    public mutating func replaceUses(of old: String, with new: String) {
        for i in nodes.indices {
            nodes[i].inputs = nodes[i].inputs.map { $0 == old ? new : $0 }
        }
    }
}
