import ONNXProto
import WhittleIR

/// An attribute as read from a node: a value, or (inside a function body) a
/// reference to an attribute of the calling node.
enum DecodedAttribute {
    case value(Attribute)
    case reference(String)
}

extension GraphDecoder {
    func decodeAttribute(_ proto: Onnx__AttributeProto) throws -> DecodedAttribute {
        let name = text(proto.name)
        let ref = text(proto.ref_attr_name)
        if !ref.isEmpty { return .reference(ref) }
        var kind = proto.type
        if proto.has_type == 0 || kind == ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__UNDEFINED {
            kind = inferredKind(proto)
        }
        do {
            return .value(try decodeValue(proto, kind: kind))
        } catch var error as WhittleError {
            error.reason = "attribute \"\(name)\": \(error.reason)"
            throw error
        }
    }

    /// Very old models leave `type` unset; the filled field tells the kind.
    private func inferredKind(_ p: Onnx__AttributeProto) -> Onnx__AttributeProto__AttributeType {
        if p.has_f != 0 { return ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT }
        if p.has_i != 0 { return ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT }
        if p.has_s != 0 { return ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRING }
        if p.t != nil { return ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__TENSOR }
        if p.g != nil { return ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__GRAPH }
        if p.n_floats > 0 { return ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOATS }
        if p.n_ints > 0 { return ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS }
        if p.n_strings > 0 { return ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRINGS }
        if p.n_tensors > 0 { return ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__TENSORS }
        if p.n_graphs > 0 { return ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__GRAPHS }
        return ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__UNDEFINED
    }

    private func decodeValue(_ p: Onnx__AttributeProto, kind: Onnx__AttributeProto__AttributeType) throws -> Attribute {
        switch kind {
        case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT: return .float(p.f)
        case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT: return .int(Int(p.i))
        case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRING: return .string(bytesText(p.s))
        case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__TENSOR:
            guard let t = p.t?.pointee else { throw WhittleError(.malformedModel, "TENSOR attribute has no tensor") }
            return .tensor(try tensors.decode(t, what: "tensor"))
        case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__GRAPH:
            guard let g = p.g?.pointee else { throw WhittleError(.malformedModel, "GRAPH attribute has no graph") }
            return .graph(try decodeGraph(g, isMain: false))
        case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOATS: return .floats(scalars(p.floats, p.n_floats))
        case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS: return .ints(scalars(p.ints, p.n_ints).map { Int($0) })
        case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRINGS:
            return .strings(scalars(p.strings, p.n_strings).map(bytesText))
        case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__TENSORS:
            return .tensors(try messages(p.tensors, p.n_tensors).map { try tensors.decode($0, what: "tensor") })
        case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__GRAPHS:
            return .graphs(try messages(p.graphs, p.n_graphs).map { try decodeGraph($0, isMain: false) })
        case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__SPARSE_TENSOR: return .opaque("SPARSE_TENSOR")
        case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__SPARSE_TENSORS: return .opaque("SPARSE_TENSORS")
        case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__TYPE_PROTO: return .opaque("TYPE_PROTO")
        case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__TYPE_PROTOS: return .opaque("TYPE_PROTOS")
        default:
            throw WhittleError(.malformedModel, "attribute has no value (unknown type \(kind.rawValue))")
        }
    }
}
