import ONNXProto
import WhittleIR

extension TensorDecoder {
    /// The largest dense tensor a sparse initializer may expand to (it is stored dense).
    static let maximumSparseBytes = 1 << 32

    /// A `sparse_initializer` made dense: values at their indices (linear [NNZ], or [NNZ, rank]
    /// coordinates), zeros elsewhere. Every size and index is checked before memory is taken.
    func decodeSparse(_ proto: Onnx__SparseTensorProto) throws -> (name: String, tensor: Tensor) {
        guard let valuesProto = proto.values?.pointee, let indicesProto = proto.indices?.pointee else {
            throw WhittleError(.malformedModel, "sparse initializer without values or indices")
        }
        let name = text(valuesProto.name)
        guard !name.isEmpty else { throw WhittleError(.malformedModel, "sparse initializer whose values have no name") }
        do {
            let values = try decode(valuesProto, what: "values"), indices = try decode(indicesProto, what: "indices")
            let shape = (0..<proto.n_dims).map { Int(proto.dims[$0]) }
            guard let width = values.elementType.byteWidth else { throw WhittleError(.unsupported, "\(values.elementType.name) values are not supported") }
            let bytes = try Shape.byteCount(shape, width: width), count = try Shape.elementCount(shape)
            guard bytes <= Self.maximumSparseBytes else {
                throw WhittleError(.unsupported, "the dense form of shape \(Shape.describe(shape)) would take \(bytes) bytes, more than \(Self.maximumSparseBytes)")
            }
            guard values.rank == 1, let positions = indices.int64s() else {
                throw WhittleError(.malformedModel, "values must be 1-D and indices integers")
            }
            let nnz = values.count
            let linear: [Int]
            if indices.shape == [nnz] {
                linear = positions.map { Int($0) }
            } else if indices.shape == [nnz, shape.count] {
                let strides = Shape.strides(shape)
                linear = try (0..<nnz).map { i in
                    try (0..<shape.count).reduce(0) { total, axis in
                        let k = Int(positions[i * shape.count + axis])
                        guard k >= 0, k < shape[axis] else { throw WhittleError(.malformedModel, "index \(k) out of range on axis \(axis)") }
                        return total + k * strides[axis]
                    }
                }
            } else {
                throw WhittleError(.malformedModel, "indices of shape \(Shape.describe(indices.shape)) fit neither [\(nnz)] nor [\(nnz), \(shape.count)]")
            }
            var dense = [UInt8](repeating: 0, count: bytes)
            for (i, at) in linear.enumerated() {
                guard at >= 0, at < count else { throw WhittleError(.malformedModel, "linear index \(at) out of range for \(count) elements") }
                dense.replaceSubrange((at * width)..<((at + 1) * width), with: values.bytes[(i * width)..<((i + 1) * width)])
            }
            return (name, try Tensor(elementType: values.elementType, shape: shape, bytes: dense))
        } catch var error as WhittleError {
            error.reason = "sparse initializer \"\(name)\": \(error.reason)"
            throw error
        }
    }
}
