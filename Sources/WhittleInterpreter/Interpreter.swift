import WhittleIR
import WhittleOps

/// The reference interpreter: runs a model node by node with each operator's
/// reference kernel. It is the oracle that emitted C and compression passes are
/// checked against, so it favours plain, spec-shaped code over speed.
public struct Interpreter: Sendable {
    private let model: Model
    private let inference: InferenceResult
    private let constants: [String: NDArray]

    /// Prepares to run `model`, whose shapes `inference` has inferred.
    ///
    /// Throws when the graph has a node Whittle cannot run, naming it.
    public init(model: Model, inference: InferenceResult) throws {
        if let first = inference.unsupported.first {
            throw WhittleError(.unsupported, "cannot run this model: \(first.reason)").inNode(first.node)
        }
        self.model = model
        self.inference = inference
        var constants: [String: NDArray] = [:]
        for (name, tensor) in inference.graph.initializers { constants[name] = NDArray(tensor) }
        for (name, tensor) in inference.constants { constants[name] = NDArray(tensor) }
        self.constants = constants
    }

    /// The graph being run (with inferred types).
    public var graph: Graph { inference.graph }

    /// Runs the model. `inputs` are matched by name and must have the graph inputs' types and shapes.
    /// `trace`, when given, sees every value the run computes, in order.
    /// The most bytes one computed tensor may take; a model that would need more is refused before
    /// the allocation (a ConstantOfShape or Expand to a huge shape, for example).
    public var maxTensorBytes = 1 << 32
    /// The most bytes the values a run computes may take together (the run keeps them all, except
    /// what a loop body computed in an earlier iteration).
    public var maxTotalBytes = Int.max

    /// Refuses an output larger than `maxTensorBytes` (or whose size overflows), or one that would
    /// take the computed values past `maxTotalBytes`; returns its bytes.
    func checkSize(_ name: String, _ type: TensorType, computed: Int) throws -> Int {
        guard let shape = type.shape else { return 0 }
        let bytes = (try? Shape.byteCount(shape, width: type.elementType.byteWidth ?? 8)) ?? Int.max
        guard bytes <= maxTensorBytes else {
            throw WhittleError(.unsupported, "output \"\(name)\" of shape \(Shape.describe(shape)) would take \(bytes == Int.max ? "more than 2^63" : String(bytes)) bytes, "
                               + "more than the \(maxTensorBytes) bytes allowed for one tensor", setting: .maxTensorBytes)
        }
        guard bytes <= maxTotalBytes - min(computed, maxTotalBytes) else {
            throw WhittleError(.unsupported, "output \"\(name)\" of shape \(Shape.describe(shape)) would take \(bytes) bytes, and the values "
                               + "computed before it \(computed): more than the \(maxTotalBytes) bytes this process can allocate")
        }
        return bytes
    }

    public func run(_ inputs: [String: NDArray], trace: ((String, NDArray) throws -> Void)? = nil) throws -> [String: NDArray] {
        let graph = inference.graph
        var values = constants
        // Bytes of the values computed so far, by name.
        var computed = 0, sizes: [String: Int] = [:]
        for input in graph.inputs {
            guard let value = inputs[input.name] else {
                throw WhittleError(.usage, "no value given for input \"\(input.name)\"")
            }
            if let type = input.type {
                guard value.elementType == type.elementType, type.shape == nil || value.shape == type.shape else {
                    throw WhittleError(.usage, "input \"\(input.name)\" must be \(type), got \(TensorType(value.elementType, value.shape))")
                }
            }
            values[input.name] = value
        }
        // Loop regions (LoopBegin … LoopEnd): the nodes between run once per iteration.
        let regions = try LoopRegion.regions(graph)
        let endOf = Dictionary(uniqueKeysWithValues: regions.map { ($0.begin, $0.end) })
        var frames: [LoopFrame] = []
        var index = 0
        while index < graph.nodes.count {
            let node = graph.nodes[index]
            defer { index += 1 }
            if LoopRegion.isBegin(node), let end = endOf[index] {
                let frame = try LoopFrame(begin: index, end: end, graph: graph, values: values)
                if frame.attributes.trips == 0 {
                    // No iteration: the final carried values are the initial ones.
                    for (k, name) in graph.nodes[end].outputs.prefix(frame.attributes.carried).enumerated() where !name.isEmpty {
                        values[name] = frame.state[k]
                        try trace?(name, frame.state[k])
                    }
                    index = end
                    continue
                }
                frames.append(frame)
                try frame.start(into: &values, trace: trace)
                continue
            }
            if LoopRegion.isEnd(node), var frame = frames.popLast() {
                let results = node.inputs.map { name -> NDArray? in name.isEmpty ? nil : values[name] }
                if try frame.finish(results, node: node, into: &values, trace: trace) {
                    // Another iteration: forget what the body computed, then run it again.
                    for step in (frame.begin + 1)..<frame.end {
                        for name in graph.nodes[step].outputs where !name.isEmpty && constants[name] == nil {
                            values[name] = nil
                            computed -= sizes.removeValue(forKey: name) ?? 0
                        }
                    }
                    try frame.start(into: &values, trace: trace)
                    frames.append(frame)
                    index = frame.begin
                }
                continue
            }
            if node.outputs.allSatisfy({ $0.isEmpty || values[$0] != nil }) { continue }
            let context = graph.context(ofNode: index)
            let outputs = try WhittleError.attaching(context) { () throws -> [NDArray] in
                guard let definition = Registry.definition(domain: node.domain, name: node.opType),
                      let kernel = definition.evaluate else {
                    throw WhittleError(.unsupported, "operator \(node.qualifiedOpType) has no reference kernel")
                }
                let inputTypes = node.inputs.map { $0.isEmpty ? nil : graph.type(of: $0) }
                let inputValues = node.inputs.map { $0.isEmpty ? nil : inference.constants[$0] ?? graph.initializers[$0] }
                let nodeContext = InferenceContext(node: node, opset: model.opset(for: node.domain),
                                                   inputTypes: inputTypes, inputValues: inputValues)
                let outputTypes = node.outputs.map { graph.type(of: $0) ?? TensorType(.float, nil) }
                for (name, type) in zip(node.outputs, outputTypes) where !name.isEmpty {
                    let bytes = try checkSize(name, type, computed: computed)
                    computed += bytes - (sizes.updateValue(bytes, forKey: name) ?? 0)
                }
                let arguments = try node.inputs.map { name -> NDArray? in
                    if name.isEmpty { return nil }
                    guard let value = values[name] else { throw WhittleError(.invalidGraph, "value \"\(name)\" is not computed") }
                    return value
                }
                var results = try kernel(EvaluationContext(node: nodeContext, inputs: arguments, outputTypes: outputTypes))
                if let activation = FusedActivation(node), let first = results.first {
                    results[0] = first.mapped(float: activation.apply, double: { Double(activation.apply(Float($0))) }, int: { $0 })
                }
                for (k, name) in node.outputs.enumerated() where !name.isEmpty {
                    guard k < results.count, let expected = outputTypes[k].shape, results[k].shape == expected else {
                        throw WhittleError(.shapeMismatch, "the kernel produced a different shape than inferred for \"\(name)\"")
                    }
                }
                return results
            }
            for (name, value) in zip(node.outputs, outputs) where !name.isEmpty {
                values[name] = value
                try trace?(name, value)
            }
        }
        var results: [String: NDArray] = [:]
        for output in graph.outputs {
            guard let value = values[output.name] else {
                throw WhittleError(.invalidGraph, "graph output \"\(output.name)\" was not computed")
            }
            results[output.name] = value
        }
        return results
    }
}

/// One loop region being run: its attributes, the carried values of the current iteration, the
/// scan inputs, and the scan results gathered so far.
struct LoopFrame {
    let begin: Int, end: Int
    let attributes: LoopRegion.Attributes
    /// LoopEnd's: the scan outputs' axes and directions.
    let endAttributes: LoopRegion.Attributes
    let beginNode: Node
    var step = 0
    var state: [NDArray]
    let sequences: [NDArray]
    var scans: [[NDArray]]

    init(begin: Int, end: Int, graph: Graph, values: [String: NDArray]) throws {
        self.begin = begin
        self.end = end
        beginNode = graph.nodes[begin]
        attributes = try LoopRegion.Attributes(beginNode)
        let inputs = try beginNode.inputs.map { name -> NDArray in
            guard let value = values[name] else { throw WhittleError(.invalidGraph, "value \"\(name)\" is not computed") }
            return value
        }
        state = Array(inputs.prefix(attributes.carried))
        sequences = Array(inputs.dropFirst(attributes.carried))
        endAttributes = try LoopRegion.Attributes(graph.nodes[end])
        scans = Array(repeating: [], count: endAttributes.axes.count)
    }

    /// The elements of `pieces` (all of one type) one after the other, flat.
    static func concatenated(_ pieces: [NDArray]) -> NDArray {
        let type = pieces[0].elementType, total = pieces.reduce(0) { $0 + $1.count }
        switch pieces[0].storage {
        case .float: return NDArray(type, shape: [total], floats: pieces.flatMap(\.floats))
        case .double: return NDArray(shape: [total], doubles: pieces.flatMap(\.doubles))
        case .int: return NDArray(type, shape: [total], ints: pieces.flatMap(\.ints))
        }
    }

    /// Slice `position` of `array` along `axis`.
    static func slice(_ array: NDArray, axis: Int, at position: Int) -> NDArray {
        let (outer, size, inner) = Indexing.split(array.shape, at: axis)
        var flat: [Int] = []
        flat.reserveCapacity(outer * inner)
        for o in 0..<outer { for i in 0..<inner { flat.append((o * size + position) * inner + i) } }
        var shape = array.shape
        shape.remove(at: axis)
        return array.gathered(flat, shape: shape)
    }

    /// Gives LoopBegin's outputs for the current step.
    func start(into values: inout [String: NDArray], trace: ((String, NDArray) throws -> Void)?) throws {
        var outputs = [NDArray(.int64, shape: [], ints: [Int64(step)])] + state
        for (s, sequence) in sequences.enumerated() {
            let axis = try Shape.normalizeAxis(attributes.axes[s], rank: sequence.rank)
            let position = attributes.directions[s] == 1 ? attributes.trips - 1 - step : step
            outputs.append(Self.slice(sequence, axis: axis, at: position))
        }
        for (name, value) in zip(beginNode.outputs, outputs) where !name.isEmpty {
            values[name] = value
            try trace?(name, value)
        }
    }

    /// Takes LoopEnd's inputs for the current step; returns true when another iteration follows, else
    /// gives LoopEnd's outputs.
    mutating func finish(_ inputs: [NDArray?], node: Node, into values: inout [String: NDArray],
                         trace: ((String, NDArray) throws -> Void)?) throws -> Bool {
        let carried = attributes.carried, end = endAttributes
        func input(_ i: Int) throws -> NDArray {
            guard i < inputs.count, let value = inputs[i] else { throw WhittleError(.invalidGraph, "LoopEnd input \(i) is not computed") }
            return value
        }
        state = try (0..<carried).map { try input($0) }
        for m in scans.indices { scans[m].append(try input(carried + m)) }
        step += 1
        if step < attributes.trips { return true }
        var outputs = state
        for (m, pieces) in scans.enumerated() {
            // Stacked along the axis in step order (reversed for a backward scan output).
            let ordered = end.directions[m] == 1 ? pieces.reversed() : pieces
            guard let first = ordered.first else { continue }
            let axis = try Shape.normalizeAxis(end.axes[m], rank: first.rank + 1)
            var shape = first.shape
            shape.insert(ordered.count, at: axis)
            let outer = first.shape[..<axis].reduce(1, *), inner = first.shape[axis...].reduce(1, *)
            var flat: [Int] = []
            let count = first.count
            for o in 0..<outer { for p in 0..<ordered.count { for i in 0..<inner { flat.append(p * count + o * inner + i) } } }
            outputs.append(Self.concatenated(ordered).gathered(flat, shape: shape))
        }
        for (name, value) in zip(node.outputs, outputs) where !name.isEmpty {
            values[name] = value
            try trace?(name, value)
        }
        return false
    }
}
