import Foundation
import WhittleIR
import WhittleOps
import WhittlePasses

/// One activation the quantized model stores as integers, for the report.
public struct QuantizedValue: Sendable {
    /// The value's name in the float model.
    public var value: String
    /// The name of its QuantizeLinear output in the quantized model (the integer tensor).
    public var integer: String
    /// The node that produces it ("input" for a graph input) and that node's operator.
    public var producer: String
    public var op: String
    public var parameters: QuantizationParameters
}

/// Rewrites a float model into an ONNX QDQ model in the TFLite int8 scheme, given calibrated ranges.
///
/// Conv, Gemm and MatMul get symmetric per-channel int8 weights and int32 biases; every activation
/// they read or write is wrapped in QuantizeLinear → DequantizeLinear with per-tensor parameters.
/// A Relu (or Clip from 0) that is the only reader of a Conv/Gemm/MatMul/Add output is folded into
/// it: the output's range then starts at 0, its zero point is the type's minimum, and saturation
/// does the clamping, exactly. MaxPool and the reshaping ops keep their input's parameters; Softmax
/// outputs use TFLite's fixed 1/256 grid. Operators outside this set stay in float.
struct QDQBuilder {
    let options: QuantizationOptions
    let ranges: [String: ValueRange]

    static let computeOps: Set<String> = ["Conv", "Gemm", "MatMul", "Add", "AveragePool", "GlobalAveragePool"]
    static let passThroughOps: Set<String> = ["MaxPool", "Flatten", "Reshape", "Squeeze", "Unsqueeze"]

    var graph: Graph
    var types: InferenceResult
    /// Values stored as integers, and their parameters.
    var parameters: [String: QuantizationParameters] = [:]
    var order: [QuantizedValue] = []
    /// The DequantizeLinear output that readers of a quantized value use.
    var dequantized: [String: String] = [:]
    var nodes: [Node] = []
    var taken: Set<String> = []
    /// Operators that stay in float, by node, for the report.
    var leftInFloat: [String] = []

    init(model: Model, types: InferenceResult, ranges: [String: ValueRange], options: QuantizationOptions) {
        self.options = options
        self.ranges = ranges
        self.graph = model.graph
        self.types = types
        taken = Set(graph.initializers.keys).union(graph.inputs.map(\.name))
        for node in graph.nodes { taken.formUnion(node.outputs); taken.insert(node.name) }
        for (index, node) in types.graph.nodes.enumerated() where index < types.macs.count && types.macs[index] > 0 {
            if let first = node.outputs.first { macsByOutput[first] = types.macs[index] }
        }
        sixteenBitInputs = Set(graph.nodes.filter { options.int16Layers.contains($0.name) }.compactMap(\.inputs.first))
        if options.weightType == .int4 {
            // Layers with constant weights of the prepared model, in graph order; all but the kept ones get 4-bit weights.
            let prepared = types.graph
            let layers = prepared.nodes.filter {
                ["Conv", "Gemm", "MatMul"].contains($0.opType) && $0.inputs.count > 1 && prepared.initializers[$0.inputs[1]] != nil
            }
            // By default the first and the last layer keep 8 bits (the most sensitive), and so do grouped
            // (depthwise) convolutions: few weights, sensitive, and the C stores them a byte each anyway.
            let grouped = layers.filter { if case .int(let g)? = $0.attributes["group"] { return g > 1 } else { return false } }
            let kept = options.int8Layers ?? Set(([layers.first, layers.last].compactMap { $0 } + grouped).map(\.name))
            fourBit = Set(layers.filter { !kept.contains($0.name) }.map(Self.layerKey))
        }
    }

    /// With int16 activations, the Relu/Clip after a layer (by the layer's index), kept as a node.
    var keptActivations: [Int: Node] = [:]
    /// The integer type of each quantized value.
    var integerTypes: [String: ElementType] = [:]

    /// Whether a layer's output takes int16 activations: all of them, or the layer is listed.
    func sixteenBit(_ node: Node) -> Bool { options.activationType == .int16 || options.int16Layers.contains(node.name) }

    /// Whether a listed 16-bit layer reads `value`.
    func readBySixteenBitLayer(_ value: String) -> Bool { options.activationType == .int16 || sixteenBitInputs.contains(value) }

    /// The activations the listed 16-bit layers read, found once (not per quantized value).
    var sixteenBitInputs: Set<String> = []

    /// The layers whose weights take 4 bits, by `layerKey`.
    var fourBit: Set<String> = []

    /// A layer's name, or for an unnamed one its weights' name (both survive the rewrite).
    static func layerKey(_ node: Node) -> String { node.name.isEmpty ? "weights:" + (node.inputs.dropFirst().first ?? "") : node.name }

    /// Multiply-accumulates of each node of the prepared model, by its first output.
    var macsByOutput: [String: Int] = [:]

    mutating func name(_ base: String) -> String {
        var candidate = base, k = 1
        while taken.contains(candidate) { k += 1; candidate = "\(base)_\(k)" }
        taken.insert(candidate)
        return candidate
    }

    func isFloat(_ value: String) -> Bool { types.graph.type(of: value)?.elementType == .float }
    func isConstant(_ value: String) -> Bool { graph.initializers[value] != nil || types.constants[value] != nil }

    // MARK: Deciding

    /// Whether a compute node can be quantized: constant weights of the supported layouts, float activations.
    func quantizable(_ node: Node) -> Bool { refusal(node) == nil }

    /// Why `node` stays in float, or nil when it has an integer form.
    func refusal(_ node: Node) -> String? {
        guard Node.isDefaultDomain(node.domain), Self.computeOps.contains(node.opType) else {
            return "no integer kernel for \(node.opType)"
        }
        guard node.outputs.count == 1, isFloat(node.outputs[0]) else { return "its output is not float" }
        let activationInputs = node.inputs.prefix(node.opType == "Add" ? 2 : 1)
        guard activationInputs.allSatisfy({ !$0.isEmpty && isFloat($0) && !isConstant($0) }) else {
            return node.opType == "Add" ? "adds a constant (an integer Add takes two activations)" : "its input is not a float activation"
        }
        switch node.opType {
        case "Conv":
            guard let w = graph.initializers[node.inputs[1]], w.elementType == .float, w.rank >= 3 else { return "its weights are not a float constant" }
            guard node.inputs.count < 3 || node.inputs[2].isEmpty || graph.initializers[node.inputs[2]]?.count == w.shape[0] else {
                return "its bias is not a constant per output channel"
            }
            return nil
        case "Gemm":
            guard let b = graph.initializers[node.inputs[1]], b.elementType == .float, b.rank == 2 else { return "its weights are not a float constant matrix" }
            guard int(node, "transA") == 0, float(node, "alpha") == 1 else { return "transA or alpha is set" }
            let n = int(node, "transB") != 0 ? b.shape[0] : b.shape[1]
            if node.inputs.count > 2 && !node.inputs[2].isEmpty {
                guard float(node, "beta") == 1, let c = graph.initializers[node.inputs[2]], c.elementType == .float,
                      c.count == n, c.rank == 1 || (c.rank == 2 && c.shape[0] == 1) else { return "its C input is not one constant bias row" }
            }
            return nil
        case "MatMul":
            guard let b = graph.initializers[node.inputs[1]], b.elementType == .float, b.rank == 2 else {
                return "its second input is not a constant matrix (a product of two activations)"
            }
            guard types.graph.type(of: node.inputs[0])?.shape?.count == 2 else { return "its input's shape is not static" }
            return nil
        default:
            return nil
        }
    }

    func int(_ node: Node, _ name: String) -> Int {
        if case .int(let v)? = node.attributes[name] { return v }
        return 0
    }

    func float(_ node: Node, _ name: String) -> Float {
        if case .float(let v)? = node.attributes[name] { return v }
        return 1
    }

    /// A Relu, or a Clip whose lower bound is the constant 0, reading only `value`.
    func foldableActivation(after value: String, consumers: [String: [Int]]) -> Int? {
        guard !graph.isOutput(value), let readers = consumers[value], readers.count == 1 else { return nil }
        let node = graph.nodes[readers[0]]
        guard Node.isDefaultDomain(node.domain), node.outputs.count == 1 else { return nil }
        switch node.opType {
        case "Relu": return readers[0]
        case "Clip":
            let low: Float? = {
                if case .float(let v)? = node.attributes["min"] { return v }
                guard node.inputs.count > 1, !node.inputs[1].isEmpty else { return nil }
                return (graph.initializers[node.inputs[1]] ?? types.constants[node.inputs[1]])?.floats().first
            }()
            return low == 0 ? readers[0] : nil
        default: return nil
        }
    }

    // MARK: Building

    /// The quantized model.
    mutating func build(_ model: Model) throws -> Model {
        guard model.opset(for: "") >= 13 else {
            throw WhittleError(.unsupported, "the model imports ONNX opset \(model.opset(for: "")); per-channel quantization needs opset 13 or "
                + "later (convert it with onnx.version_converter first)")
        }
        // Fold activations: the compute node writes the activation's output.
        let consumers = graph.consumers()
        var removed = Set<Int>()
        var folded: [Int: String] = [:]
        for (index, node) in graph.nodes.enumerated() where ["Conv", "Gemm", "MatMul", "Add"].contains(node.opType) && quantizable(node) {
            if let activation = foldableActivation(after: node.outputs[0], consumers: consumers) {
                removed.insert(activation)
                folded[index] = graph.nodes[activation].outputs[0]
                // Symmetric int16 activations have no zero point at the bottom of the grid to clamp at: the
                // activation stays between the layer and its quantizer, and the compiler fuses it as a clamp.
                if sixteenBit(node) { keptActivations[index] = graph.nodes[activation] }
            }
        }
        for input in graph.inputs where consumers[input.name]?.contains(where: { !removed.contains($0) && quantizable(graph.nodes[$0]) }) == true {
            try quantize(input.name, producer: "input", op: "input", parameters: nil)
        }
        for (index, original) in graph.nodes.enumerated() where !removed.contains(index) {
            var node = original
            if let output = folded[index] { node.outputs[0] = output }
            try emit(node, original: original, activation: keptActivations[index])
        }
        var result = model
        result.graph.nodes = nodes
        // The float weights are no longer read.
        var read = Set(nodes.flatMap(\.inputs)).union(graph.outputs.map(\.name))
        for node in nodes { read.formUnion(Verifier.subgraphFreeNames(node)) }
        result.graph.initializers = graph.initializers.filter { read.contains($0.key) }
        result.graph.valueTypes = [:]
        result.producerName = "whittle"
        return result
    }

    /// How a node is treated: quantized with its own output range, keeping its input's parameters
    /// (MaxPool, reshapes), with Softmax's fixed grid, or left in float.
    enum Treatment { case compute, passThrough, softmax, float }

    func treatment(_ node: Node, original: Node) -> Treatment {
        guard Node.isDefaultDomain(node.domain) else { return .float }
        if quantizable(original) { return .compute }
        // The integer softmax is a 256-entry table: with int16 activations Softmax stays in float.
        if node.opType == "Softmax", let input = node.inputs.first, integerTypes[input] == .int16 { return .float }
        guard Self.passThroughOps.contains(node.opType) || node.opType == "Softmax", node.outputs.count == 1,
              let input = node.inputs.first, parameters[input] != nil, isFloat(node.outputs[0]) else { return .float }
        return node.opType == "Softmax" ? .softmax : .passThrough
    }

    /// Emits `node` (quantized when it can be) followed by the QDQ pairs of its quantized outputs.
    mutating func emit(_ node: Node, original: Node, activation: Node? = nil) throws {
        var node = node
        let kind = treatment(node, original: original)
        if kind == .float {
            // Readers of quantized values read the dequantized tensor (a folded ReLU lives only there).
            // Listed: readers of integer values, and every layer that does multiply-accumulates in float.
            let macs = original.outputs.first.flatMap { macsByOutput[$0] } ?? 0
            if node.inputs.contains(where: { parameters[$0] != nil }) || Self.computeOps.contains(node.opType) || macs > 0 {
                leftInFloat.append("\(node.name.isEmpty ? "(unnamed)" : node.name) (\(node.opType)): \(refusal(original) ?? "no calibrated range")")
            }
            node.inputs = node.inputs.map { dequantized[$0] ?? $0 }
            nodes.append(node)
            return
        }
        let output = node.outputs[0]
        switch kind {
        case .compute:
            for input in node.inputs.prefix(node.opType == "Add" ? 2 : 1) where parameters[input] == nil {
                // A value produced in float (or by an unquantized op) is quantized where it is read.
                try quantize(input, producer: input, op: "float", parameters: nil)
            }
            let activations = node.inputs.prefix(node.opType == "Add" ? 2 : 1).map { dequantized[$0] ?? $0 }
            if node.opType == "Conv" || node.opType == "Gemm" || node.opType == "MatMul" {
                node = try quantizeWeights(node, inputScale: parameters[node.inputs[0]]?.scale ?? 1)
            }
            for (k, name) in activations.enumerated() { node.inputs[k] = name }
        default:
            node.inputs[0] = dequantized[node.inputs[0]] ?? node.inputs[0]
        }
        // A layer's output takes its own type; MaxPool, reshapes and Softmax keep their input's.
        let type = kind == .compute ? (sixteenBit(original) ? .int16 : options.activationType)
                                    : (integerTypes[original.inputs[0]] ?? options.activationType)
        let fixed: QuantizationParameters? = switch kind {
        case .passThrough: parameters[original.inputs[0]]
        case .softmax: .softmaxOutput(type: integerTypes[original.inputs[0]] ?? options.activationType)
        case .compute, .float: nil
        }
        if graph.isOutput(output) { node.outputs[0] = name(output + "_QuantizeLinear_Input") }
        let producer = node
        if var activation {
            // layer → activation → QuantizeLinear: the activation writes what the layer wrote.
            activation.inputs[0] = name(original.outputs[0] + "_before_" + activation.opType)
            activation.outputs[0] = node.outputs[0]
            node.outputs[0] = activation.inputs[0]
            nodes.append(node)
            nodes.append(activation)
        } else {
            nodes.append(node)
        }
        try quantize(output, producer: producer.name, op: producer.opType, parameters: fixed, source: producer.outputs[0], type: type)
    }

    /// Adds QuantizeLinear → DequantizeLinear for float `value` (read from `source`).
    mutating func quantize(_ value: String, producer: String, op: String, parameters fixed: QuantizationParameters?,
                           source: String? = nil, type given: ElementType? = nil) throws {
        // Values quantized where they are read (graph inputs, float results) are int16 when a 16-bit layer reads them.
        let type = given ?? (readBySixteenBitLayer(value) ? .int16 : options.activationType)
        let p: QuantizationParameters
        if let fixed {
            p = fixed
        } else {
            guard let range = ranges[value] else {
                throw WhittleError(.invalidGraph, "calibration saw no values of \"\(value)\"")
            }
            p = .activation(range, type: type)
        }
        let scale = name(value + "_scale"), zero = name(value + "_zero_point")
        graph.initializers[scale] = try Tensor(floats: [p.scale], shape: [])
        graph.initializers[zero] = try Tensor(int64s: [p.zeroPoint], shape: [], as: type)
        integerTypes[value] = type
        let integer = name(value + "_QuantizeLinear_Output")
        let isOutput = graph.isOutput(value) && source != nil
        let readable = isOutput ? value : name(value + "_DequantizeLinear_Output")
        nodes.append(Node(name: name(value + "_QuantizeLinear"), opType: "QuantizeLinear", inputs: [source ?? value, scale, zero], outputs: [integer]))
        nodes.append(Node(name: name(value + "_DequantizeLinear"), opType: "DequantizeLinear", inputs: [integer, scale, zero], outputs: [readable]))
        parameters[value] = p
        dequantized[value] = readable
        order.append(QuantizedValue(value: value, integer: integer, producer: producer, op: op, parameters: p))
    }

    /// Replaces the weight (and bias) inputs of a Conv/Gemm/MatMul by dequantized int8 (int32) constants.
    /// MatMul becomes the equivalent Gemm, so it fuses into an integer matrix product.
    mutating func quantizeWeights(_ node: Node, inputScale: Float) throws -> Node {
        var node = node
        if node.opType == "MatMul" {
            node.opType = "Gemm"
            node.attributes = [:]
        }
        guard let w = graph.initializers[node.inputs[1]] else { return node }
        let axis = node.opType == "Gemm" && int(node, "transB") == 0 ? 1 : 0
        let type: ElementType = fourBit.contains(Self.layerKey(node)) ? .int4 : .int8
        let weights = ChannelWeights(w.floats(), shape: w.shape, axis: axis, bits: type == .int4 ? 4 : 8)
        let base = node.inputs[1]
        let values = name(base + "_quantized"), scale = name(base + "_scale"), zero = name(base + "_zero_point")
        graph.initializers[values] = try Tensor(int64s: weights.values, shape: w.shape, as: type)
        graph.initializers[scale] = try Tensor(floats: weights.scales, shape: [weights.scales.count])
        graph.initializers[zero] = try Tensor(int64s: Array(repeating: 0, count: weights.scales.count), shape: [weights.scales.count], as: type)
        let dq = name(base + "_DequantizeLinear_Output")
        nodes.append(Node(name: name(base + "_DequantizeLinear"), opType: "DequantizeLinear", inputs: [values, scale, zero],
                          outputs: [dq], attributes: ["axis": .int(axis)]))
        node.inputs[1] = dq
        if node.inputs.count > 2, !node.inputs[2].isEmpty, let b = graph.initializers[node.inputs[2]] {
            let bias = quantizedBias(b.floats(), inputScale: inputScale, weightScales: weights.scales)
            let base = node.inputs[2]
            let bValues = name(base + "_quantized"), bScale = name(base + "_scale"), bZero = name(base + "_zero_point")
            graph.initializers[bValues] = try Tensor(int64s: bias.values, shape: [bias.values.count], as: .int32)
            graph.initializers[bScale] = try Tensor(floats: bias.scales, shape: [bias.scales.count])
            graph.initializers[bZero] = try Tensor(int64s: Array(repeating: 0, count: bias.scales.count), shape: [bias.scales.count], as: .int32)
            let bdq = name(base + "_DequantizeLinear_Output")
            nodes.append(Node(name: name(base + "_DequantizeLinear"), opType: "DequantizeLinear", inputs: [bValues, bScale, bZero],
                              outputs: [bdq], attributes: ["axis": .int(0)]))
            node.inputs[2] = bdq
        }
        return node
    }
}
