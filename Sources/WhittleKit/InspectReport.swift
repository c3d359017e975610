import WhittleIR
import WhittleOps
import WhittleCodegen

/// What `whittle inspect` reports about a model. Its JSON form is a stable,
/// documented interface (see docs/commands.md, "JSON format").
public struct InspectReport: Codable, Sendable, Equatable {
    public struct Opset: Codable, Sendable, Equatable {
        public var domain: String
        public var version: Int
    }

    /// A value with its type; `shape` is null when it could not be inferred.
    public struct Value: Codable, Sendable, Equatable {
        public var name: String
        public var dtype: String?
        public var shape: [Int]?
    }

    public struct NodeRow: Codable, Sendable, Equatable {
        public var index: Int
        public var name: String
        public var op: String
        public var domain: String
        public var outputs: [Value]
        /// Elements of the initializers this node reads.
        public var parameters: Int
        /// Multiply-accumulates (Conv, ConvTranspose, Gemm, MatMul, LSTM, GRU and their integer forms).
        public var macs: Int
        /// Bytes of this node's outputs.
        public var activationBytes: Int
        /// Whether the reference interpreter runs this node.
        public var supported: Bool
        /// Whether the C back end handles this node (a kernel of its own, or fused into another layer's).
        public var compiles: Bool = false
        /// How the compiled C computes it: a kernel-library function (with the variant the target's
        /// instructions select), "generated loops", "fused" into a neighbour, or "folded" at compile time.
        public var kernel: String?
    }

    public struct Totals: Codable, Sendable, Equatable {
        public var nodes: Int
        /// Elements of all initializers.
        public var parameters: Int
        /// Bytes of all initializers.
        public var weightBytes: Int
        public var macs: Int
        /// Largest single activation, in bytes.
        public var largestActivationBytes: Int
    }

    public struct Unsupported: Codable, Sendable, Equatable {
        public var index: Int
        public var name: String
        public var op: String
        public var domain: String
        public var reason: String

        /// The op, qualified with its domain unless that is the default one.
        public var qualifiedOp: String { domain.isEmpty || domain == "ai.onnx" ? op : "\(domain).\(op)" }
    }

    public var file: String
    public var producer: String
    public var producerVersion: String
    public var irVersion: Int
    public var opsets: [Opset]
    public var inputs: [Value]
    public var outputs: [Value]
    public var nodes: [NodeRow]
    public var totals: Totals
    public var unsupported: [Unsupported]
    public var notes: [String]
    /// Whether `whittle compile` turns the model into C (for `target`), found by compiling it.
    public var compilesToC: Bool = false
    /// The target the C support and kernels are given for.
    public var target: String = "host"
    /// Why it does not, with the node, when it does not.
    public var compileProblem: String?
}

extension InspectReport {
    /// Builds the report of an analyzed model; C support and kernels are those of `target` (default: the host).
    public init(_ analyzed: AnalyzedModel, target: TargetDescription? = nil) {
        let model = analyzed.model
        let graph = analyzed.graph
        func value(_ name: String) -> Value {
            let type = graph.type(of: name)
            return Value(name: name, dtype: type?.elementType.name, shape: type?.shape)
        }
        func bytes(_ name: String) -> Int {
            graph.type(of: name)?.storageBytes ?? 0
        }
        let unsupportedIndices = Set(analyzed.inference.unsupported.map(\.node.index))
        var largest = 0
        nodes = graph.nodes.enumerated().map { index, node in
            let params = Set(node.inputs).compactMap { graph.initializers[$0]?.count }.reduce(0, +)
            let activation = node.outputs.filter { !$0.isEmpty }.map(bytes).reduce(0, +)
            largest = max(largest, node.outputs.map(bytes).max() ?? 0)
            return NodeRow(index: index, name: node.name, op: node.opType, domain: node.domain,
                           outputs: node.outputs.filter { !$0.isEmpty }.map(value), parameters: params,
                           macs: analyzed.inference.macs[index], activationBytes: activation,
                           supported: !unsupportedIndices.contains(index))
        }
        let initializers = graph.initializers.values
        file = analyzed.path
        producer = model.producerName
        producerVersion = model.producerVersion
        irVersion = model.irVersion
        opsets = model.opsets.keys.sorted().map { Opset(domain: $0.isEmpty ? "ai.onnx" : $0, version: model.opsets[$0] ?? 0) }
        inputs = graph.inputs.map { value($0.name) }
        outputs = graph.outputs.map { value($0.name) }
        totals = Totals(nodes: graph.nodes.count, parameters: initializers.map(\.count).reduce(0, +),
                        weightBytes: initializers.map(\.bytes.count).reduce(0, +),
                        macs: analyzed.inference.macs.reduce(0) { $0.addingReportingOverflow($1).overflow ? Int.max : $0 + $1 },
                        largestActivationBytes: largest)
        unsupported = analyzed.inference.unsupported.map {
            let node = graph.nodes[$0.node.index]
            return Unsupported(index: $0.node.index, name: node.name, op: node.opType, domain: node.domain, reason: $0.reason)
        }
        notes = model.notes
        // "Supported" means the interpreter runs it; whether the C back end does is answered by
        // compiling (without writing weights), so the summary never promises what compile refuses.
        self.target = target?.name ?? "host"
        let cKernels = Set(CEmitter.supportedOperators)
        for i in nodes.indices {
            let node = graph.nodes[i]
            nodes[i].compiles = nodes[i].supported && cKernels.contains(node.qualifiedOpType)
        }
        if analyzed.inference.unsupported.isEmpty {
            var options = CompileOptions()
            if let target { options.adopt(target) }
            options.withWeights = false
            do {
                let compiled = try ModelCompiler.compile(analyzed, options: options)
                compilesToC = true
                describeKernels(compiled, graph: graph, target: target)
            } catch let error as WhittleError {
                var copy = error
                copy.file = nil
                compileProblem = copy.description
                // The node compile stopped at has an operator the C back end knows but not in this form
                // (a 3-D pool, say): it does not compile.
                if let failed = error.node,
                   let i = graph.nodes.indices.first(where: { (!failed.name.isEmpty && graph.nodes[$0].name == failed.name)
                       || (failed.name.isEmpty && $0 == failed.index && graph.nodes[$0].qualifiedOpType == failed.opType) }) {
                    nodes[i].compiles = false
                }
            } catch {
                compileProblem = String(describing: error)
            }
        } else {
            compileProblem = "the interpreter does not support every operator"
        }
    }


    /// Each node's kernel in the compiled model: layers keep the ONNX name of the node they compute;
    /// a node without a layer was fused into a neighbour or computed at compile time.
    mutating func describeKernels(_ compiled: CompiledModel, graph: Graph, target: TargetDescription?) {
        var byName: [String: CSourceBundle.Layer] = [:]
        for layer in compiled.bundle.layers where !layer.name.isEmpty { byName[layer.name] = byName[layer.name] ?? layer }
        let constants = Set(compiled.types.graph.initializers.keys)
        let variant = Self.variant(target)
        for i in nodes.indices {
            nodes[i].compiles = true
            let node = graph.nodes[i]
            if let layer = byName[node.name], !node.name.isEmpty {
                nodes[i].kernel = layer.isView || layer.kernels.isEmpty ? CompileReport.kernelText(view: layer.isView, kernels: [])
                    : layer.kernels.joined(separator: ", ") + " (\(variant))"
            } else if node.outputs.allSatisfy({ $0.isEmpty || constants.contains($0) }) {
                nodes[i].kernel = "folded"
            } else {
                nodes[i].kernel = "fused"
            }
        }
    }

    /// Which variant of the library kernels the target's compiler flags select.
    static func variant(_ target: TargetDescription?) -> String {
        // The host's kernels use the compiler's vector extensions (SSE2/AVX2 with -march=native) where they
        // build with GCC or Clang, as its description's "simd" feature says.
        guard let target else { return "C vector extensions" }
        if target.features.contains("neon") { return "NEON" }
        if target.features.contains("dsp") { return "Arm DSP" }
        if target.features.contains("simd") { return "C vector extensions" }
        return "portable C"
    }
}
