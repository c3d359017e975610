import WhittleIR

/// Compile-time evaluation of small tensors, used to make shapes static.
///
/// Integers are computed in Int64 and floating-point values in Double, then
/// stored in the result's element type.
enum ConstantFolding {
    /// For each element of `output`, the flat index of the element of `input` it reads under broadcasting.
    static func broadcastIndices(from input: [Int], to output: [Int]) -> [Int] {
        let count = output.reduce(1, *)
        let rankOffset = output.count - input.count
        let inputStrides = Shape.strides(input)
        let outputStrides = Shape.strides(output)
        return (0..<count).map { flat in
            var index = 0
            for axis in 0..<output.count {
                let coordinate = (flat / outputStrides[axis]) % max(output[axis], 1)
                let inputAxis = axis - rankOffset
                if inputAxis >= 0 && input[inputAxis] != 1 { index += coordinate * inputStrides[inputAxis] }
            }
            return index
        }
    }

    /// Builds a tensor of `type` from Int64 or Double results.
    static func make(_ type: ElementType, shape: [Int], ints: [Int64]? = nil, doubles: [Double]? = nil) throws -> Tensor? {
        if type.isFloatingPoint {
            if let doubles { return try Tensor(doubles: doubles, shape: shape, as: type) }
            if let ints { return try Tensor(doubles: ints.map(Double.init), shape: shape, as: type) }
        } else if type.isInteger || type == .bool {
            if let ints { return try Tensor(int64s: ints, shape: shape, as: type) }
            if let doubles {
                // Float-to-integer conversion truncates toward zero; values out of range are not folded.
                var converted: [Int64] = []
                for d in doubles {
                    guard d.isFinite, abs(d) < 9.2e18 else { return nil }
                    converted.append(Int64(d.rounded(.towardZero)))
                }
                return try Tensor(int64s: converted, shape: shape, as: type)
            }
        }
        return nil
    }

    /// Element-wise binary operation with broadcasting; nil when an integer result is undefined.
    static func binary(_ a: Tensor, _ b: Tensor, resultType: ElementType,
                       int: (Int64, Int64) -> Int64?, double: (Double, Double) -> Double) throws -> Tensor? {
        guard let shape = Shape.broadcast(a.shape, b.shape) else { return nil }
        let ia = broadcastIndices(from: a.shape, to: shape)
        let ib = broadcastIndices(from: b.shape, to: shape)
        if let av = a.int64s(), let bv = b.int64s() {
            var out: [Int64] = []
            out.reserveCapacity(ia.count)
            for k in 0..<ia.count {
                guard let r = int(av[ia[k]], bv[ib[k]]) else { return nil }
                out.append(r)
            }
            return try make(resultType, shape: shape, ints: out)
        }
        let av = a.doubles(), bv = b.doubles()
        return try make(resultType, shape: shape, doubles: (0..<ia.count).map { double(av[ia[$0]], bv[ib[$0]]) })
    }

    /// Element-wise unary operation.
    static func unary(_ x: Tensor, int: ((Int64) -> Int64)?, double: (Double) -> Double) throws -> Tensor? {
        if let int, let values = x.int64s() {
            return try make(x.elementType, shape: x.shape, ints: values.map(int))
        }
        return try make(x.elementType, shape: x.shape, doubles: x.doubles().map(double))
    }

    /// The elements of `x` at `indices` (flat), as a tensor of `shape` and the same type.
    static func gather(_ x: Tensor, flatIndices: [Int], shape: [Int]) throws -> Tensor {
        guard let width = x.elementType.byteWidth else {
            throw WhittleError(.unsupported, "cannot fold \(x.elementType.name) tensors")
        }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(flatIndices.count * width)
        for i in flatIndices { bytes.append(contentsOf: x.bytes[(i * width)..<((i + 1) * width)]) }
        return try Tensor(elementType: x.elementType, shape: shape, bytes: bytes)
    }

    /// The same data under another shape.
    static func reshaped(_ x: Tensor, _ shape: [Int]) throws -> Tensor {
        try Tensor(elementType: x.elementType, shape: shape, bytes: x.bytes)
    }
}
