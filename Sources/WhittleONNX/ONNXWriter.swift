import Foundation
import ONNXProto
import WhittleIR

/// Writes Whittle's IR as an ONNX model file (protobuf, through protobuf-c).
///
/// The protobuf-c messages are built in C memory that one `Allocations` owns and
/// frees after packing; tensors are written with `raw_data` (little-endian).
public enum ONNXWriter {
    /// The serialized model.
    public static func serialize(_ model: Model) throws -> [UInt8] {
        let model = contribForms(model)
        let memory = Allocations()
        defer { memory.free() }
        var proto = Onnx__ModelProto()
        onnx__model_proto__init(&proto)
        proto.has_ir_version = 1
        proto.ir_version = Int64(model.irVersion == 0 ? 8 : model.irVersion)
        proto.producer_name = memory.string(model.producerName.isEmpty ? "whittle" : model.producerName)
        proto.producer_version = memory.string(model.producerVersion)
        proto.domain = memory.string(model.domain)
        proto.doc_string = memory.string(model.docString)
        let opsets = model.opsets.keys.sorted().map { domain -> UnsafeMutablePointer<Onnx__OperatorSetIdProto> in
            let p = memory.message(Onnx__OperatorSetIdProto.self, onnx__operator_set_id_proto__init)
            p.pointee.domain = memory.string(domain)
            p.pointee.has_version = 1
            p.pointee.version = Int64(model.opsets[domain] ?? 1)
            return p
        }
        (proto.n_opset_import, proto.opset_import) = memory.array(opsets)
        proto.graph = try graph(model.graph, memory)
        let size = onnx__model_proto__get_packed_size(&proto)
        var bytes = [UInt8](repeating: 0, count: size)
        let written = bytes.withUnsafeMutableBufferPointer { onnx__model_proto__pack(&proto, $0.baseAddress) }
        guard written == size else { throw WhittleError(.io, "protobuf packing wrote \(written) of \(size) bytes") }
        return bytes
    }

    /// The model with QuantizeLinear/DequantizeLinear on other than 8-bit integers written in ONNX
    /// Runtime's `com.microsoft` form when the model's opset is below 21 (the standard operators take
    /// 4- and 16-bit integers from opset 21): the reader turns that form into the standard operators,
    /// and this turns it back, so that ONNX Runtime loads what Whittle writes.
    static func contribForms(_ model: Model) -> Model {
        guard (model.opsets[""] ?? 0) < 21 else { return model }
        let graph = model.graph
        func narrowOrWide(_ value: String) -> Bool {
            guard let type = graph.initializers[value]?.elementType ?? graph.type(of: value)?.elementType else { return false }
            return [.int4, .uint4, .int16, .uint16].contains(type)
        }
        var result = model
        for (i, node) in graph.nodes.enumerated() where Node.isDefaultDomain(node.domain) {
            let typed = node.opType == "QuantizeLinear" ? node.inputs.dropFirst(2).prefix(1) : node.opType == "DequantizeLinear" ? node.inputs.prefix(1) : []
            guard typed.contains(where: narrowOrWide) else { continue }
            result.graph.nodes[i].domain = "com.microsoft"
            result.opsets["com.microsoft"] = max(result.opsets["com.microsoft"] ?? 1, 1)
        }
        return result
    }

    /// A serialized `TensorProto` (the `.pb` files of ONNX test data), its data as `raw_data`.
    public static func serializeTensor(_ t: Tensor, name: String) throws -> [UInt8] {
        let memory = Allocations()
        defer { memory.free() }
        let proto = tensor(t, name: name, memory)
        let size = onnx__tensor_proto__get_packed_size(proto)
        var bytes = [UInt8](repeating: 0, count: size)
        let written = bytes.withUnsafeMutableBufferPointer { onnx__tensor_proto__pack(proto, $0.baseAddress) }
        guard written == size else { throw WhittleError(.io, "protobuf packing wrote \(written) of \(size) bytes") }
        return bytes
    }

    /// Writes the model to `path`.
    public static func write(_ model: Model, to path: String) throws {
        let bytes = try serialize(model)
        try FileOutput.write(bytes, to: path)
    }

    static func graph(_ g: Graph, _ memory: Allocations) throws -> UnsafeMutablePointer<Onnx__GraphProto> {
        let p = memory.message(Onnx__GraphProto.self, onnx__graph_proto__init)
        p.pointee.name = memory.string(g.name)
        (p.pointee.n_node, p.pointee.node) = memory.array(try g.nodes.map { try node($0, memory) })
        (p.pointee.n_initializer, p.pointee.initializer) = memory.array(g.initializerNames.compactMap { name in
            g.initializers[name].map { tensor($0, name: name, memory) }
        })
        (p.pointee.n_input, p.pointee.input) = memory.array(g.inputs.map { valueInfo($0.name, $0.type, memory) })
        (p.pointee.n_output, p.pointee.output) = memory.array(g.outputs.map { valueInfo($0.name, $0.type ?? g.type(of: $0.name), memory) })
        return p
    }

    static func node(_ n: Node, _ memory: Allocations) throws -> UnsafeMutablePointer<Onnx__NodeProto> {
        let p = memory.message(Onnx__NodeProto.self, onnx__node_proto__init)
        p.pointee.name = memory.string(n.name)
        p.pointee.op_type = memory.string(n.opType)
        p.pointee.domain = memory.string(n.domain)
        if !n.overload.isEmpty { p.pointee.overload = memory.string(n.overload) }
        (p.pointee.n_input, p.pointee.input) = memory.strings(n.inputs)
        (p.pointee.n_output, p.pointee.output) = memory.strings(n.outputs)
        // Whittle's own annotations are not ONNX: a view marker can go, a fused activation cannot.
        if n.attributes.keys.contains(where: { $0.hasPrefix("whittle_activation") }) {
            throw WhittleError(.unsupported, "node \"\(n.name)\" has a fused activation, which ONNX cannot express")
        }
        let keys = n.attributes.keys.sorted().filter { !$0.hasPrefix("whittle_") }
        (p.pointee.n_attribute, p.pointee.attribute) = memory.array(try keys.compactMap { key in
            try n.attributes[key].map { try attribute(key, $0, memory) }
        })
        return p
    }

    static func attribute(_ name: String, _ value: Attribute, _ memory: Allocations) throws -> UnsafeMutablePointer<Onnx__AttributeProto> {
        let p = memory.message(Onnx__AttributeProto.self, onnx__attribute_proto__init)
        p.pointee.name = memory.string(name)
        p.pointee.has_type = 1
        switch value {
        case .int(let v):
            p.pointee.type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT
            p.pointee.has_i = 1
            p.pointee.i = Int64(v)
        case .float(let v):
            p.pointee.type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT
            p.pointee.has_f = 1
            p.pointee.f = v
        case .string(let v):
            p.pointee.type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRING
            p.pointee.has_s = 1
            p.pointee.s = memory.bytes(Array(v.utf8))
        case .tensor(let t):
            p.pointee.type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__TENSOR
            p.pointee.t = tensor(t, name: "", memory)
        case .graph(let g):
            p.pointee.type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__GRAPH
            p.pointee.g = try graph(g, memory)
        case .ints(let v):
            p.pointee.type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS
            (p.pointee.n_ints, p.pointee.ints) = memory.scalars(v.map { Int64($0) })
        case .floats(let v):
            p.pointee.type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOATS
            (p.pointee.n_floats, p.pointee.floats) = memory.scalars(v)
        case .strings(let v):
            p.pointee.type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRINGS
            (p.pointee.n_strings, p.pointee.strings) = memory.scalars(v.map { memory.bytes(Array($0.utf8)) })
        case .tensors(let v):
            p.pointee.type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__TENSORS
            (p.pointee.n_tensors, p.pointee.tensors) = memory.array(v.map { tensor($0, name: "", memory) })
        case .graphs(let v):
            p.pointee.type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__GRAPHS
            (p.pointee.n_graphs, p.pointee.graphs) = memory.array(try v.map { try graph($0, memory) })
        case .opaque(let kind):
            throw WhittleError(.unsupported, "attribute \(name) of kind \(kind) cannot be written")
        }
        return p
    }

    static func tensor(_ t: Tensor, name: String, _ memory: Allocations) -> UnsafeMutablePointer<Onnx__TensorProto> {
        let p = memory.message(Onnx__TensorProto.self, onnx__tensor_proto__init)
        p.pointee.name = memory.string(name)
        p.pointee.has_data_type = 1
        p.pointee.data_type = t.elementType.rawValue
        (p.pointee.n_dims, p.pointee.dims) = memory.scalars(t.shape.map { Int64($0) })
        p.pointee.has_raw_data = 1
        p.pointee.raw_data = memory.bytes(t.bytes)
        return p
    }

    static func valueInfo(_ name: String, _ type: TensorType?, _ memory: Allocations) -> UnsafeMutablePointer<Onnx__ValueInfoProto> {
        let p = memory.message(Onnx__ValueInfoProto.self, onnx__value_info_proto__init)
        p.pointee.name = memory.string(name)
        guard let type else { return p }
        let typeProto = memory.message(Onnx__TypeProto.self, onnx__type_proto__init)
        let tensorType = memory.message(Onnx__TypeProto__Tensor.self, onnx__type_proto__tensor__init)
        tensorType.pointee.has_elem_type = 1
        tensorType.pointee.elem_type = type.elementType.rawValue
        if let shape = type.shape {
            let shapeProto = memory.message(Onnx__TensorShapeProto.self, onnx__tensor_shape_proto__init)
            (shapeProto.pointee.n_dim, shapeProto.pointee.dim) = memory.array(shape.map { d -> UnsafeMutablePointer<Onnx__TensorShapeProto__Dimension> in
                let dim = memory.message(Onnx__TensorShapeProto__Dimension.self, onnx__tensor_shape_proto__dimension__init)
                dim.pointee.value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE
                dim.pointee.dim_value = Int64(d)
                return dim
            })
            tensorType.pointee.shape = shapeProto
        }
        typeProto.pointee.value_case = ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE
        typeProto.pointee.tensor_type = tensorType
        p.pointee.type = typeProto
        return p
    }
}

/// C memory for one serialization, freed together.
final class Allocations {
    private var pointers: [UnsafeMutableRawPointer] = []

    func message<T>(_ type: T.Type, _ initialize: (UnsafeMutablePointer<T>?) -> Void) -> UnsafeMutablePointer<T> {
        let p = UnsafeMutablePointer<T>.allocate(capacity: 1)
        initialize(p)
        pointers.append(UnsafeMutableRawPointer(p))
        return p
    }

    func string(_ text: String) -> UnsafeMutablePointer<CChar> {
        let utf8 = Array(text.utf8CString)
        let p = UnsafeMutablePointer<CChar>.allocate(capacity: utf8.count)
        p.initialize(from: utf8, count: utf8.count)
        pointers.append(UnsafeMutableRawPointer(p))
        return p
    }

    func strings(_ texts: [String]) -> (Int, UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) {
        scalars(texts.map { Optional(string($0)) })
    }

    func array<T>(_ items: [UnsafeMutablePointer<T>]) -> (Int, UnsafeMutablePointer<UnsafeMutablePointer<T>?>?) {
        scalars(items.map { Optional($0) })
    }

    func scalars<T>(_ items: [T]) -> (Int, UnsafeMutablePointer<T>?) {
        guard !items.isEmpty else { return (0, nil) }
        let p = UnsafeMutablePointer<T>.allocate(capacity: items.count)
        p.initialize(from: items, count: items.count)
        pointers.append(UnsafeMutableRawPointer(p))
        return (items.count, p)
    }

    func bytes(_ data: [UInt8]) -> ProtobufCBinaryData {
        let p = UnsafeMutablePointer<UInt8>.allocate(capacity: max(data.count, 1))
        p.initialize(from: data, count: data.count)
        pointers.append(UnsafeMutableRawPointer(p))
        return ProtobufCBinaryData(len: data.count, data: p)
    }

    func free() {
        for p in pointers { p.deallocate() }
        pointers.removeAll()
    }
}
