import WhittleInterpreter
import WhittleIR
import WhittleOps

/// What `Binarizer` does.
public struct BinarizationOptions: Sendable {
    /// Whether the layers' inputs are binarized too (XNOR-Net) or stay float (binary weights only).
    public enum Activations: String, Sendable, CaseIterable {
        case binary
        case float
    }

    /// Layers (node names) to binarize; nil: every binarizable layer but the first and the last.
    public var layers: Set<String>?
    public var activations: Activations

    public init(layers: Set<String>? = nil, activations: Activations = .binary) {
        self.layers = layers
        self.activations = activations
    }
}

/// One binarized layer.
public struct BinarizedLayer: Sendable, Codable {
    public var node: String
    public var op: String
    public var weights: Int
    /// The input's scale β (mean |x| on the calibration samples, 1 without them), nil for float inputs.
    public var inputScale: Float?
    /// Why binary inputs will not work well here, if they will not (for example, inputs that come
    /// out of a ReLU are never negative, so their signs are all +1).
    public var warning: String?
}

/// XNOR-Net-style binarization as a standard ONNX rewrite that ONNX Runtime still runs in float:
/// the weights of each chosen Conv (group 1, 2-D) or Gemm become α·sign(W) per output channel
/// (α = mean |W| of the channel, sign(0) = +1), and with binary activations its input x becomes
/// β·sign(x), written Where(GreaterOrEqual(x, 0), β, −β) (Not(Less(x, 0)) before opset 12), with
/// β = mean |x| over calibration samples. The compiler's fuse-binary pass turns exactly these
/// layers into XNOR/popcount kernels.
public enum Binarizer {
    public static func binarizable(_ model: Model) -> [Node] {
        model.graph.nodes.filter { node in
            guard Node.isDefaultDomain(node.domain), node.inputs.count >= 2, let w = model.graph.initializers[node.inputs[1]],
                  w.elementType == .float else { return false }
            switch node.opType {
            case "Conv": return w.rank == 4 && (node.attributes["group"] == nil || node.attributes["group"] == .int(1))
            case "Gemm": return w.rank == 2 && node.attributes["transA"] != .int(1)
            default: return false
            }
        }
    }

    /// `samples` (graph inputs by name, one dictionary per sample) give β; without them β = 1.
    public static func binarize(_ model: Model, options: BinarizationOptions,
                                samples: [[String: NDArray]] = []) throws -> (model: Model, layers: [BinarizedLayer]) {
        if let quantized = model.graph.quantizationSummary {
            throw WhittleError(.usage, "binarization works on float models and this one is quantized (\(quantized)); "
                + "binarize the float model, then quantize what stays float")
        }
        let candidates = binarizable(model)
        let names = Set(candidates.map(\.name))
        for name in options.layers ?? [] where !names.contains(name) {
            throw WhittleError(.usage, "\"\(name)\" cannot be binarized (a Conv with group 1 or a Gemm with constant weights); those are: \(candidates.map(\.name).joined(separator: ", "))")
        }
        let chosen = options.layers ?? Set(candidates.dropFirst().dropLast().map(\.name))
        guard !chosen.isEmpty else {
            let names = candidates.map { "\"\($0.name)\"" }.joined(separator: ", ")
            throw WhittleError(.usage, candidates.isEmpty
                ? "the model has no layer that can be binarized (a Conv with group 1 or a Gemm with constant weights)"
                : "no layer to binarize: the first and the last binarizable layers stay float unless named; the model has only \(names); name the layers to binarize", setting: .binarizedLayers)
        }
        var graph = model.graph
        let binaryInputs = options.activations == .binary
            ? Set(candidates.filter { chosen.contains($0.name) }.map { $0.inputs[0] }) : []
        let scales = try inputScales(model, values: binaryInputs, samples: samples)
        var binarizedValue: [String: String] = [:], report: [BinarizedLayer] = []
        let opset = model.opset(for: "")
        for index in graph.nodes.indices where chosen.contains(graph.nodes[index].name) {
            var node = graph.nodes[index]
            guard let w = graph.initializers[node.inputs[1]] else { continue }
            let transposed = node.opType == "Gemm" && node.attributes["transB"] != .int(1)
            graph.initializers[node.inputs[1]] = try signs(w, channelAxis: transposed ? 1 : 0)
            var scale: Float?
            if options.activations == .binary {
                let x = node.inputs[0], beta = scales[x] ?? 1
                if binarizedValue[x] == nil {
                    let base = "\(x)_binarized"
                    graph.initializers[base + "_zero"] = try Tensor(floats: [0], shape: [])
                    graph.initializers[base + "_high"] = try Tensor(floats: [beta], shape: [])
                    graph.initializers[base + "_low"] = try Tensor(floats: [-beta], shape: [])
                    var nodes: [Node] = []
                    if opset >= 12 {
                        nodes.append(Node(name: base + "/GreaterOrEqual", opType: "GreaterOrEqual", inputs: [x, base + "_zero"], outputs: [base + "_sign"]))
                    } else {
                        nodes.append(Node(name: base + "/Less", opType: "Less", inputs: [x, base + "_zero"], outputs: [base + "_negative"]))
                        nodes.append(Node(name: base + "/Not", opType: "Not", inputs: [base + "_negative"], outputs: [base + "_sign"]))
                    }
                    nodes.append(Node(name: base + "/Where", opType: "Where", inputs: [base + "_sign", base + "_high", base + "_low"], outputs: [base]))
                    graph.nodes.append(contentsOf: nodes)
                    binarizedValue[x] = base
                }
                node.inputs[0] = binarizedValue[x] ?? x
                graph.nodes[index] = node
                scale = beta
            }
            var warning: String?
            if options.activations == .binary, let source = nonNegativeSource(model.graph, value: model.graph.nodes[index].inputs[0]) {
                warning = "its input comes out of \(source) and is never negative, so every sign is +1; binary inputs need a model trained for them (float activations keep them)"
            }
            report.append(BinarizedLayer(node: node.name, op: node.opType, weights: w.count, inputScale: scale, warning: warning))
        }
        try Verifier.sortTopologically(&graph)
        var result = model
        result.graph = graph
        return (result, report)
    }

    /// The operator that makes `value` non-negative (a ReLU, a Clip from 0, a Sigmoid, a Softmax),
    /// looking back through pooling and reshaping; nil when the value can be negative.
    static func nonNegativeSource(_ graph: Graph, value: String) -> String? {
        var current = value
        for _ in 0..<graph.nodes.count {
            guard let node = graph.nodes.first(where: { $0.outputs.contains(current) }) else { return nil }
            switch node.opType {
            case "Relu", "Sigmoid", "Softmax", "Abs", "HardSigmoid", "Softplus", "Exp":
                return "\(node.opType) \"\(node.name)\""
            case "Clip":
                // The lower bound as an input (an initializer or a Constant node, opset 11 on) or an attribute (before).
                var low: Float?
                if case .float(let attribute)? = node.attributes["min"] { low = attribute }
                if node.inputs.count > 1, !node.inputs[1].isEmpty { low = constant(graph, node.inputs[1])?.floats().first }
                guard let low, low >= 0 else { return nil }
                var high: Float?
                if case .float(let attribute)? = node.attributes["max"] { high = attribute }
                if node.inputs.count > 2, !node.inputs[2].isEmpty { high = constant(graph, node.inputs[2])?.floats().first }
                return (high == 6 && low == 0 ? "ReLU6 (Clip) " : "Clip ") + "\"\(node.name)\""
            case "MaxPool", "AveragePool", "GlobalAveragePool", "GlobalMaxPool", "Flatten", "Reshape", "Identity", "Dropout", "Squeeze", "Unsqueeze":
                current = node.inputs[0]
            default:
                return nil
            }
        }
        return nil
    }

    /// The value of `name` when it is an initializer or the output of a Constant node.
    static func constant(_ graph: Graph, _ name: String) -> Tensor? {
        if let tensor = graph.initializers[name] { return tensor }
        guard let node = graph.nodes.first(where: { $0.opType == "Constant" && $0.outputs.first == name }),
              case .tensor(let tensor)? = node.attributes["value"] else { return nil }
        return tensor
    }

    /// α·sign(W) with α the mean magnitude of each slice along `channelAxis`; sign(0) = +1.
    public static func signs(_ w: Tensor, channelAxis: Int) throws -> Tensor {
        let values = w.floats()
        let inner = w.shape[(channelAxis + 1)...].reduce(1, *), channels = w.shape[channelAxis]
        var sums = [Double](repeating: 0, count: channels), counts = [Int](repeating: 0, count: channels)
        for (i, v) in values.enumerated() {
            let c = (i / inner) % channels
            sums[c] += Double(abs(v))
            counts[c] += 1
        }
        let alpha = (0..<channels).map { Float(sums[$0] / Double(max(counts[$0], 1))) }
        return try Tensor(floats: values.enumerated().map { i, v in
            let a = alpha[(i / inner) % channels]
            return v >= 0 ? a : -a
        }, shape: w.shape)
    }

    /// β = mean |x| of each value over the samples, from the interpreter's trace.
    static func inputScales(_ model: Model, values: Set<String>, samples: [[String: NDArray]]) throws -> [String: Float] {
        guard !values.isEmpty, !samples.isEmpty else { return [:] }
        let interpreter = try Interpreter(model: model, inference: try ShapeInference.run(model))
        var sums: [String: Double] = [:], counts: [String: Int] = [:]
        for sample in samples {
            for (name, value) in sample where values.contains(name) {
                sums[name, default: 0] += value.floats.reduce(0) { $0 + Double(abs($1)) }
                counts[name, default: 0] += value.floats.count
            }
            _ = try interpreter.run(sample) { name, value in
                guard values.contains(name) else { return }
                sums[name, default: 0] += value.floats.reduce(0) { $0 + Double(abs($1)) }
                counts[name, default: 0] += value.floats.count
            }
        }
        return sums.reduce(into: [:]) { result, entry in
            let mean = entry.value / Double(max(counts[entry.key] ?? 1, 1))
            if mean > 0 { result[entry.key] = Float(mean) }
        }
    }
}
