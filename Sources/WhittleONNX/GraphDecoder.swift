import ONNXProto
import WhittleIR

/// A node as read from the file, with the attribute references it makes (function bodies only).
struct DecodedNode {
    var node: Node
    /// Attribute name on this node → attribute name on the calling node.
    var references: [String: String]
}

/// One dimension of a declared shape.
enum DeclaredDim: Equatable {
    case fixed(Int)
    /// `dim_param` (a name) or a dimension with neither value nor name (nil).
    case symbolic(String?)
}

/// Converts `GraphProto` messages (and their nodes, attributes, value infos) into the IR.
final class GraphDecoder {
    let tensors: TensorDecoder
    let options: ONNXImportOptions
    var notes: [String] = []

    init(tensors: TensorDecoder, options: ONNXImportOptions) {
        self.tensors = tensors
        self.options = options
    }

    func decodeGraph(_ proto: Onnx__GraphProto, isMain: Bool) throws -> Graph {
        var graph = Graph(name: text(proto.name))
        // Sparse initializers (as some pruning tools write them) become dense ones; the C back end
        // chooses its own sparse form from the zeros.
        for sparse in messages(proto.sparse_initializer, proto.n_sparse_initializer) {
            let (name, tensor) = try tensors.decodeSparse(sparse)
            graph.initializers[name] = tensor
        }
        for (index, t) in messages(proto.initializer, proto.n_initializer).enumerated() {
            let name = text(t.name)
            guard !name.isEmpty else {
                throw WhittleError(.malformedModel, "initializer \(index) of graph \"\(graph.name)\" has no name")
            }
            graph.initializers[name] = try tensors.decode(t, what: "initializer")
        }
        var inputs: [ValueInfo] = []
        for info in messages(proto.input, proto.n_input) {
            let name = text(info.name)
            // Before IR version 4 every initializer was also listed as an input; it stays a constant.
            if graph.initializers[name] != nil { continue }
            inputs.append(try decodeInput(info, isMain: isMain))
        }
        graph.inputs = inputs  // assigned once: each assignment re-indexes the inputs
        for info in messages(proto.output, proto.n_output) {
            let name = text(info.name)
            // Outputs may leave their type to inference; a declared type is checked against it.
            let declared = try declaredType(info, what: "graph output \"\(name)\"", allowUndefined: true)
            graph.outputs.append(ValueInfo(name: name, type: declared.map { TensorType($0.0, staticShape($0.1)) }))
        }
        for info in messages(proto.value_info, proto.n_value_info) {
            let name = text(info.name)
            // value_info is only a hint; a kind Whittle does not model is skipped rather than refused.
            if let declared = try? declaredType(info, what: "value \"\(name)\"", allowUndefined: true),
               let shape = staticShape(declared.1) {
                graph.valueTypes[name] = TensorType(declared.0, shape)
            }
        }
        for (index, nodeProto) in messages(proto.node, proto.n_node).enumerated() {
            let decoded = try decodeNode(nodeProto, index: index)
            if !decoded.references.isEmpty {
                throw WhittleError(.malformedModel,
                    "attribute \"\(decoded.references.keys.sorted()[0])\" refers to a function attribute outside a function")
                    .inNode(NodeContext(index: index, name: decoded.node.name, opType: decoded.node.qualifiedOpType))
            }
            graph.nodes.append(decoded.node)
        }
        return graph
    }

    /// ONNX Runtime's contrib forms of standard operators (domain `com.microsoft`, same inputs,
    /// attributes and arithmetic): its quantizer writes QuantizeLinear/DequantizeLinear there for
    /// 4- and 16-bit types in models below opset 21, where the standard operators do not take them.
    static let standardForms: Set<String> = ["QuantizeLinear", "DequantizeLinear"]

    func decodeNode(_ proto: Onnx__NodeProto, index: Int) throws -> DecodedNode {
        var domain = text(proto.domain)
        let opType = text(proto.op_type)
        if domain == "com.microsoft" && Self.standardForms.contains(opType) { domain = "" }
        var node = Node(name: text(proto.name), opType: opType, domain: domain,
                        inputs: texts(proto.input, proto.n_input), outputs: texts(proto.output, proto.n_output),
                        overload: text(proto.overload))
        let context = NodeContext(index: index, name: node.name, opType: node.qualifiedOpType)
        guard !node.opType.isEmpty else {
            throw WhittleError(.malformedModel, "node has no op_type").inNode(context)
        }
        var references: [String: String] = [:]
        try WhittleError.attaching(context) {
            for attribute in messages(proto.attribute, proto.n_attribute) {
                let name = text(attribute.name)
                guard !name.isEmpty else { throw WhittleError(.malformedModel, "an attribute has no name") }
                guard node.attributes[name] == nil, references[name] == nil else {
                    throw WhittleError(.malformedModel, "attribute \"\(name)\" is given twice")
                }
                switch try decodeAttribute(attribute) {
                case .value(let value): node.attributes[name] = value
                case .reference(let target): references[name] = target
                }
            }
        }
        return DecodedNode(node: node, references: references)
    }

    // MARK: - Types

    /// Element type and declared dimensions (nil when the shape is not given). With `allowUndefined`,
    /// a missing type or element type gives nil instead of an error.
    func declaredType(_ info: Onnx__ValueInfoProto, what: String, allowUndefined: Bool) throws -> (ElementType, [DeclaredDim]?)? {
        guard let type = info.type?.pointee else {
            if allowUndefined { return nil }
            throw WhittleError(.malformedModel, "\(what) has no type")
        }
        guard type.value_case == ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE, let tensorType = type.tensor_type?.pointee else {
            let kind: String = switch type.value_case {
            case ONNX__TYPE_PROTO__VALUE_SEQUENCE_TYPE: "a sequence"
            case ONNX__TYPE_PROTO__VALUE_MAP_TYPE: "a map"
            case ONNX__TYPE_PROTO__VALUE_OPTIONAL_TYPE: "an optional"
            case ONNX__TYPE_PROTO__VALUE_SPARSE_TENSOR_TYPE: "a sparse tensor"
            default: "a non-tensor"
            }
            throw WhittleError(.unsupported, "\(what) has \(kind) type; only dense tensors are supported")
        }
        if allowUndefined && (tensorType.has_elem_type == 0 || tensorType.elem_type == 0) { return nil }
        guard tensorType.has_elem_type != 0, let element = ElementType(onnx: tensorType.elem_type) else {
            throw WhittleError(.malformedModel, "\(what) has no valid element type (\(tensorType.elem_type))")
        }
        guard let shape = tensorType.shape?.pointee else { return (element, nil) }
        let dims: [DeclaredDim] = messages(shape.dim, shape.n_dim).map { dim in
            switch dim.value_case {
            case ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE where dim.dim_value >= 0: .fixed(Int(dim.dim_value))
            case ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM: .symbolic(text(dim.dim_param))
            default: .symbolic(nil)
            }
        }
        return (element, dims)
    }

    private func staticShape(_ dims: [DeclaredDim]?) -> [Int]? {
        guard let dims else { return nil }
        var shape: [Int] = []
        for dim in dims {
            guard case .fixed(let v) = dim else { return nil }
            shape.append(v)
        }
        return shape
    }

    /// A graph input's type. For the main graph, symbolic dimensions are pinned by
    /// `--input-shape` or else set to 1 (with a note), so that every shape is static.
    private func decodeInput(_ info: Onnx__ValueInfoProto, isMain: Bool) throws -> ValueInfo {
        let name = text(info.name)
        guard let (element, declared) = try declaredType(info, what: "graph input \"\(name)\"", allowUndefined: !isMain) else {
            return ValueInfo(name: name, type: nil)
        }
        guard isMain else { return ValueInfo(name: name, type: TensorType(element, staticShape(declared))) }
        if !element.isSupported {
            throw WhittleError(.unsupported, "graph input \"\(name)\" has element type \(element.name), which is not supported")
        }
        if let pinned = options.inputShapes[name] {
            if let declared {
                guard declared.count == pinned.count else {
                    throw WhittleError(.usage,
                        "the shape given for \(name) has rank \(pinned.count) but the model declares rank \(declared.count)", setting: .inputShape)
                }
                for (axis, (dim, value)) in zip(declared, pinned).enumerated() {
                    if case .fixed(let fixed) = dim, fixed != value {
                        throw WhittleError(.usage,
                            "the shape given for \(name): dimension \(axis) is fixed to \(fixed) by the model, not \(value)", setting: .inputShape)
                    }
                }
            }
            _ = try Shape.elementCount(pinned)
            return ValueInfo(name: name, type: TensorType(element, pinned))
        }
        guard let declared else {
            throw WhittleError(.usage, "graph input \"\(name)\" has no declared shape; give one as \(name)=D0,D1,...", setting: .inputShape)
        }
        var shape: [Int] = []
        for (axis, dim) in declared.enumerated() {
            switch dim {
            case .fixed(let v): shape.append(v)
            case .symbolic(let symbol):
                shape.append(1)
                let label = symbol.map { "\"\($0)\"" } ?? "(unnamed)"
                notes.append("input \"\(name)\" dimension \(axis) \(label) set to 1; give the input a shape to choose another size")
            }
        }
        _ = try Shape.elementCount(shape)
        return ValueInfo(name: name, type: TensorType(element, shape))
    }
}
