import ONNXProto
import WhittleIR

/// Decodes `TensorProto` messages into ``Tensor`` values.
///
/// ONNX stores elements either in `raw_data` (little-endian bytes, possibly
/// unaligned) or in a typed repeated field whose choice depends on the element
/// type; both are accepted, as is data kept in an external file.
struct TensorDecoder {
    /// Where external data files are looked up; nil when the model came from memory.
    var externalData: ExternalDataReader?

    func decode(_ proto: Onnx__TensorProto, what: String) throws -> Tensor {
        let name = text(proto.name)
        let label = name.isEmpty ? what : "\(what) \"\(name)\""
        do {
            return try decodeUnlabelled(proto)
        } catch var error as WhittleError {
            error.reason = "\(label): \(error.reason)"
            throw error
        }
    }

    private func decodeUnlabelled(_ proto: Onnx__TensorProto) throws -> Tensor {
        guard proto.has_data_type != 0, proto.data_type != 0 else {
            throw WhittleError(.malformedModel, "tensor has no element type")
        }
        guard let type = ElementType(onnx: proto.data_type) else {
            throw WhittleError(.malformedModel, "unknown element type number \(proto.data_type)")
        }
        guard type.isSupported else {
            throw WhittleError(.unsupported, "element type \(type.name) is not supported (supported: "
                + ElementType.allCases.filter(\.isSupported).map(\.name).joined(separator: ", ") + ")")
        }
        if proto.segment != nil {
            throw WhittleError(.unsupported, "segmented tensors are not supported")
        }
        var shape: [Int] = []
        for dim in scalars(proto.dims, proto.n_dims) {
            guard dim >= 0 else { throw WhittleError(.malformedModel, "negative dimension \(dim)") }
            shape.append(Int(dim))
        }
        let count = try Shape.elementCount(shape)
        let expectedBytes = try type.storageBytes(count: count)

        if proto.has_data_location != 0, proto.data_location == ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL {
            let entries = messages(proto.external_data, proto.n_external_data).map { (text($0.key), text($0.value)) }
            guard let externalData else {
                throw WhittleError(.io, "tensor data is stored in an external file, but the model was not loaded from a file")
            }
            let data = try externalData.read(entries: entries, expectedBytes: expectedBytes)
            return try Tensor(elementType: type, shape: shape, bytes: data)
        }
        if proto.has_raw_data != 0 {
            let raw = bytes(proto.raw_data)
            guard raw.count == expectedBytes else {
                throw WhittleError(.malformedModel,
                    "raw_data has \(raw.count) bytes but shape \(Shape.describe(shape)) of \(type.name) needs \(expectedBytes)")
            }
            return try Tensor(elementType: type, shape: shape, bytes: raw)
        }
        return try decodeTyped(proto, type: type, shape: shape, count: count)
    }

    /// Reads the typed repeated field that ONNX prescribes for `type`.
    private func decodeTyped(_ proto: Onnx__TensorProto, type: ElementType, shape: [Int], count: Int) throws -> Tensor {
        func check(_ found: Int, _ field: String) throws {
            guard found == count else {
                throw WhittleError(.malformedModel,
                    "\(field) has \(found) values but shape \(Shape.describe(shape)) needs \(count)")
            }
        }
        switch type {
        case .float:
            let values = scalars(proto.float_data, proto.n_float_data)
            try check(values.count, "float_data")
            return try Tensor(floats: values, shape: shape)
        case .double:
            let values = scalars(proto.double_data, proto.n_double_data)
            try check(values.count, "double_data")
            return try Tensor(doubles: values, shape: shape, as: .double)
        case .int64:
            let values = scalars(proto.int64_data, proto.n_int64_data)
            try check(values.count, "int64_data")
            return try Tensor(int64s: values, shape: shape, as: .int64)
        case .uint32, .uint64:
            let values = scalars(proto.uint64_data, proto.n_uint64_data)
            try check(values.count, "uint64_data")
            return try Tensor(int64s: values.map { Int64(bitPattern: $0) }, shape: shape, as: type)
        case .int32, .int16, .int8, .uint16, .uint8, .bool, .float16, .bfloat16:
            // 16-bit floats travel as their bit patterns in int32_data.
            let values = scalars(proto.int32_data, proto.n_int32_data)
            try check(values.count, "int32_data")
            if type == .float16 || type == .bfloat16 {
                var raw: [UInt8] = []
                raw.reserveCapacity(values.count * 2)
                for v in values {
                    raw.append(UInt8(truncatingIfNeeded: v))
                    raw.append(UInt8(truncatingIfNeeded: v >> 8))
                }
                return try Tensor(elementType: type, shape: shape, bytes: raw)
            }
            return try Tensor(int64s: values.map(Int64.init), shape: shape, as: type)
        case _ where type.isPacked:
            // Packed types travel as their bytes, one byte to each int32_data value.
            let values = scalars(proto.int32_data, proto.n_int32_data)
            guard values.count == (try type.storageBytes(count: count)) else {
                throw WhittleError(.malformedModel, "int32_data has \(values.count) values but shape \(Shape.describe(shape)) of \(type.name) packs into \(try type.storageBytes(count: count)) bytes")
            }
            return try Tensor(elementType: type, shape: shape, bytes: values.map { UInt8(truncatingIfNeeded: $0) })
        case _ where type.isMiniFloat:
            // float8 codes, one to each int32_data value.
            let values = scalars(proto.int32_data, proto.n_int32_data)
            try check(values.count, "int32_data")
            return try Tensor(elementType: type, shape: shape, bytes: values.map { UInt8(truncatingIfNeeded: $0) })
        default:
            throw WhittleError(.unsupported, "element type \(type.name) is not supported")
        }
    }
}
