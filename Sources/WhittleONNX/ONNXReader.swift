import Foundation
import ONNXProto
import WhittleIR

/// Options that change how a model is read.
public struct ONNXImportOptions: Sendable {
    /// Static shapes for graph inputs by name; they replace symbolic dimensions.
    public var inputShapes: [String: [Int]]

    public init(inputShapes: [String: [Int]] = [:]) {
        self.inputShapes = inputShapes
    }
}

/// Reads ONNX model files into Whittle's IR. This is the only place that touches protobuf-c types.
public enum ONNXReader {
    /// Reads the model at `path`; external data files are looked up in its folder.
    public static func read(path: String, options: ONNXImportOptions = .init()) throws -> Model {
        do {
            let url = URL(fileURLWithPath: path)
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
                throw WhittleError(.io, "no such file")
            }
            guard !isDirectory.boolValue else { throw WhittleError(.io, "is a directory, not an ONNX file") }
            guard let data = FileManager.default.contents(atPath: path) else {
                throw WhittleError(.io, "cannot be read (permissions?)")
            }
            return try read(bytes: [UInt8](data), baseDirectory: url.deletingLastPathComponent(), options: options)
        } catch let error as WhittleError {
            throw error.inFile(path)
        }
    }

    /// Reads a model from memory. Without `baseDirectory`, external data cannot be resolved.
    public static func read(bytes: [UInt8], baseDirectory: URL? = nil, options: ONNXImportOptions = .init()) throws -> Model {
        guard !bytes.isEmpty else {
            throw WhittleError(.malformedModel, "the file is empty (0 bytes), not an ONNX model")
        }
        try NestingCheck.check(bytes)
        guard let proto = bytes.withUnsafeBufferPointer({ onnx__model_proto__unpack(nil, $0.count, $0.baseAddress) }) else {
            throw WhittleError(.malformedModel,
                "not a valid ONNX model: protobuf decoding failed (the file is truncated, corrupt, or not ONNX)")
        }
        defer { onnx__model_proto__free_unpacked(proto, nil) }
        return try convert(proto.pointee, baseDirectory: baseDirectory, options: options)
    }

    private static func convert(_ proto: Onnx__ModelProto, baseDirectory: URL?, options: ONNXImportOptions) throws -> Model {
        guard proto.has_ir_version != 0, let graphProto = proto.graph?.pointee else {
            throw WhittleError(.malformedModel, "not an ONNX model: it has no IR version or no graph")
        }
        var opsets: [String: Int] = [:]
        for opset in messages(proto.opset_import, proto.n_opset_import) {
            let domain = text(opset.domain)
            opsets[Node.isDefaultDomain(domain) ? "" : domain] = Int(opset.version)
        }
        let decoder = GraphDecoder(
            tensors: TensorDecoder(externalData: baseDirectory.map { ExternalDataReader(baseDirectory: $0) }),
            options: options)
        var graph = try decoder.decodeGraph(graphProto, isMain: true)
        let known = Set(graph.inputs.map(\.name))
        for name in options.inputShapes.keys.sorted() where !known.contains(name) {
            throw WhittleError(.usage, "a shape is given for \"\(name)\", which is not a graph input (inputs: "
                + graph.inputs.map(\.name).joined(separator: ", ") + ")", setting: .inputShape)
        }
        var notes = decoder.notes
        let functions = try decodeFunctions(proto, decoder: decoder)
        let inlined = try FunctionInliner(functions: functions).inline(&graph)
        if inlined > 0 { notes.append("inlined \(inlined) call(s) of \(functions.count) model-local function(s)") }
        try sortAll(&graph, outerScope: [])
        return Model(irVersion: Int(proto.ir_version), producerName: text(proto.producer_name),
                     producerVersion: text(proto.producer_version), domain: text(proto.domain),
                     modelVersion: proto.has_model_version != 0 ? Int(proto.model_version) : 0,
                     docString: text(proto.doc_string), opsets: opsets, graph: graph, notes: notes)
    }

    private static func decodeFunctions(_ proto: Onnx__ModelProto, decoder: GraphDecoder) throws -> [String: FunctionTemplate] {
        var functions: [String: FunctionTemplate] = [:]
        for function in messages(proto.functions, proto.n_functions) {
            let name = text(function.name)
            let domain = text(function.domain)
            do {
                var defaults: [String: Attribute] = [:]
                for attribute in messages(function.attribute_proto, function.n_attribute_proto) {
                    if case .value(let value) = try decoder.decodeAttribute(attribute) {
                        defaults[text(attribute.name)] = value
                    }
                }
                let body = try messages(function.node, function.n_node).enumerated().map {
                    try decoder.decodeNode($0.element, index: $0.offset)
                }
                functions[FunctionInliner.key(domain, name, text(function.overload))] = FunctionTemplate(
                    domain: domain, name: name, inputs: texts(function.input, function.n_input),
                    outputs: texts(function.output, function.n_output), defaults: defaults, body: body)
            } catch var error as WhittleError {
                error.reason = "in function \(domain.isEmpty ? "" : domain + ".")\(name): \(error.reason)"
                throw error
            }
        }
        return functions
    }

    /// Sorts the graph and, recursively, its subgraphs; subgraphs see the enclosing names.
    private static func sortAll(_ graph: inout Graph, outerScope: Set<String>) throws {
        try Verifier.sortTopologically(&graph, outerScope: outerScope)
        var scope = outerScope.union(graph.inputs.map(\.name)).union(graph.initializers.keys)
        for index in graph.nodes.indices {
            let context = graph.context(ofNode: index)
            for (key, attribute) in graph.nodes[index].attributes {
                switch attribute {
                case .graph(var g):
                    try WhittleError.attaching(context) { try sortAll(&g, outerScope: scope) }
                    graph.nodes[index].attributes[key] = .graph(g)
                case .graphs(var gs):
                    for i in gs.indices { try WhittleError.attaching(context) { try sortAll(&gs[i], outerScope: scope) } }
                    graph.nodes[index].attributes[key] = .graphs(gs)
                default: break
                }
            }
            scope.formUnion(graph.nodes[index].outputs)
        }
    }
}

extension ONNXReader {
    /// Reads a serialized `TensorProto` (the `.pb` files of ONNX test data).
    public static func readTensor(path: String) throws -> Tensor {
        try readNamedTensor(path: path).tensor
    }

    /// Reads a serialized `TensorProto` and the name it carries (empty when it has none).
    public static func readNamedTensor(path: String) throws -> (tensor: Tensor, name: String) {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw WhittleError(.io, "cannot read \(path)")
        }
        let bytes = [UInt8](data)
        guard let proto = bytes.withUnsafeBufferPointer({ onnx__tensor_proto__unpack(nil, $0.count, $0.baseAddress) }) else {
            throw WhittleError(.malformedModel, "\(path): not a serialized ONNX TensorProto")
        }
        defer { onnx__tensor_proto__free_unpacked(proto, nil) }
        let decoder = TensorDecoder(externalData: ExternalDataReader(baseDirectory: URL(fileURLWithPath: path).deletingLastPathComponent()))
        let name = proto.pointee.name.map { String(cString: $0) } ?? ""
        do {
            return (try decoder.decode(proto.pointee, what: "tensor"), name)
        } catch let error as WhittleError {
            throw error.inFile(path)
        }
    }
}
