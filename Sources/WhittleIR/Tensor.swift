/// A dense tensor with a static shape, stored as little-endian bytes in row-major order.
///
/// Bytes are the canonical form because they are what ONNX stores and what the
/// C back end writes out; typed views (``int64s()``, ``doubles()``, ``floats()``)
/// decode on demand.
public struct Tensor: Sendable, Hashable {
    public let elementType: ElementType
    public let shape: [Int]
    public let bytes: [UInt8]

    /// Wraps `bytes`; throws when the type is not stored by Whittle or the byte count does not match the shape.
    public init(elementType: ElementType, shape: [Int], bytes: [UInt8]) throws {
        guard elementType.isSupported else {
            throw WhittleError(.unsupported, "element type \(elementType.name) is not supported")
        }
        let expected = try elementType.storageBytes(count: Shape.elementCount(shape))
        guard bytes.count == expected else {
            throw WhittleError(.malformedModel,
                "tensor of type \(elementType.name) and shape \(Shape.describe(shape)) needs \(expected) bytes, found \(bytes.count)")
        }
        self.elementType = elementType
        self.shape = shape
        self.bytes = bytes
    }

    public var count: Int { shape.reduce(1, *) }

    /// The rank of the tensor (0 for a scalar).
    public var rank: Int { shape.count }

    /// The tensor as the static type of a value.
    public var type: TensorType { TensorType(elementType, shape) }
}

// MARK: - Building tensors from Swift values

extension Tensor {
    /// An integer tensor of `type` (any integer type or bool) holding `values`, truncated to the type's width.
    public init(int64s values: [Int64], shape: [Int], as type: ElementType = .int64) throws {
        guard type.isInteger || type == .bool, let width = type.byteWidth else {
            if type.isPacked && type.isInteger {
                try self.init(elementType: type, shape: shape, bytes: Self.pack(values.map { UInt8(truncatingIfNeeded: $0) }, bits: type.bitWidth ?? 8))
                return
            }
            throw WhittleError(.unsupported, "cannot build a \(type.name) tensor from integers")
        }
        var bytes = [UInt8]()
        bytes.reserveCapacity(values.count * width)
        for value in values {
            let bits = UInt64(bitPattern: type == .bool ? (value != 0 ? 1 : 0) : value)
            for byte in 0..<width { bytes.append(UInt8(truncatingIfNeeded: bits >> (8 * UInt64(byte)))) }
        }
        try self.init(elementType: type, shape: shape, bytes: bytes)
    }

    /// A floating-point tensor of `type` (float32, float64, float16 or bfloat16) holding `values`.
    public init(doubles values: [Double], shape: [Int], as type: ElementType = .float) throws {
        var bytes = [UInt8]()
        func append<T: FixedWidthInteger>(_ bits: T) {
            for byte in 0..<(T.bitWidth / 8) { bytes.append(UInt8(truncatingIfNeeded: bits >> (8 * byte))) }
        }
        for value in values {
            switch type {
            case .float: append(Float(value).bitPattern)
            case .double: append(value.bitPattern)
            case .float16: append(HalfFloat.bits(fromFloat: Float(value)))
            case .bfloat16: append(UInt16(truncatingIfNeeded: Float(value).bitPattern >> 16))
            case _ where type.isMiniFloat: bytes.append(MiniFloat.encode(Float(value), type, saturate: true))
            default: throw WhittleError(.unsupported, "cannot build a \(type.name) tensor from floating-point values")
            }
        }
        if type.isPacked { bytes = Self.pack(bytes, bits: type.bitWidth ?? 8) }
        try self.init(elementType: type, shape: shape, bytes: bytes)
    }

    /// A float32 tensor.
    public init(floats values: [Float], shape: [Int]) throws {
        try self.init(doubles: values.map(Double.init), shape: shape, as: .float)
    }
}

// MARK: - Reading tensors as Swift values

extension Tensor {
    /// Codes of `bits` bits each (the low bits of each byte of `codes`), packed low bits first.
    static func pack(_ codes: [UInt8], bits: Int) -> [UInt8] {
        guard bits < 8 else { return codes }
        let perByte = 8 / bits, mask = UInt8((1 << bits) - 1)
        var out = [UInt8](repeating: 0, count: (codes.count + perByte - 1) / perByte)
        for (i, code) in codes.enumerated() { out[i / perByte] |= (code & mask) << UInt8((i % perByte) * bits) }
        return out
    }

    /// The code of element `index` of a packed type.
    private func code(at index: Int, bits: Int) -> UInt8 {
        let perByte = 8 / bits
        return (bytes[index / perByte] >> UInt8((index % perByte) * bits)) & UInt8((1 << bits) - 1)
    }

    private func word(at index: Int, width: Int) -> UInt64 {
        var bits: UInt64 = 0
        let base = index * width
        for byte in 0..<width { bits |= UInt64(bytes[base + byte]) << (8 * UInt64(byte)) }
        return bits
    }

    /// Element `index` as Int64 (integer and bool types); nil for other types.
    public func int64(at index: Int) -> Int64? {
        if elementType.isPacked, elementType.isInteger, let bits = elementType.bitWidth {
            let c = Int64(code(at: index, bits: bits))
            let signed = elementType == .int4 || elementType == .int2
            return signed && c >= Int64(1 << (bits - 1)) ? c - Int64(1 << bits) : c
        }
        guard let width = elementType.byteWidth else { return nil }
        let bits = word(at: index, width: width)
        switch elementType {
        case .bool: return bits != 0 ? 1 : 0
        case .uint8, .uint16, .uint32: return Int64(bits)
        case .uint64: return Int64(bitPattern: bits)
        case .int8: return Int64(Int8(truncatingIfNeeded: bits))
        case .int16: return Int64(Int16(truncatingIfNeeded: bits))
        case .int32: return Int64(Int32(truncatingIfNeeded: bits))
        case .int64: return Int64(bitPattern: bits)
        default: return nil
        }
    }

    /// Element `index` as Double (every stored type).
    public func double(at index: Int) -> Double {
        switch elementType {
        case .float: return Double(Float(bitPattern: UInt32(word(at: index, width: 4))))
        case .double: return Double(bitPattern: word(at: index, width: 8))
        case .float16: return Double(HalfFloat.float(fromBits: UInt16(word(at: index, width: 2))))
        case .bfloat16: return Double(Float(bitPattern: UInt32(word(at: index, width: 2)) << 16))
        case .float4e2m1: return Double(MiniFloat.decode(code(at: index, bits: 4), elementType))
        case _ where elementType.isMiniFloat: return Double(MiniFloat.decode(bytes[index], elementType))
        default: return Double(int64(at: index) ?? 0)
        }
    }

    /// All elements as Int64; nil unless the type is an integer type or bool.
    public func int64s() -> [Int64]? {
        guard elementType.isInteger || elementType == .bool else { return nil }
        return (0..<count).map { int64(at: $0) ?? 0 }
    }

    /// All elements as Double.
    public func doubles() -> [Double] { (0..<count).map(double(at:)) }

    /// All elements as Float.
    public func floats() -> [Float] { (0..<count).map { Float(double(at: $0)) } }
}

/// IEEE 754 binary16 conversions, written out so they behave the same on every host.
public enum HalfFloat {
    public static func float(fromBits h: UInt16) -> Float {
        let sign = UInt32(h & 0x8000) << 16
        let exponent = Int((h >> 10) & 0x1F)
        let mantissa = UInt32(h & 0x3FF)
        if exponent == 0 {
            // Zero or subnormal: mantissa * 2^-24.
            let magnitude = Float(mantissa) * Float(sign: .plus, exponent: -24, significand: 1)
            return sign != 0 ? -magnitude : magnitude
        }
        if exponent == 31 {
            return Float(bitPattern: sign | 0x7F80_0000 | (mantissa << 13))
        }
        return Float(bitPattern: sign | UInt32(exponent - 15 + 127) << 23 | (mantissa << 13))
    }

    /// Round-to-nearest-even conversion to binary16.
    public static func bits(fromFloat f: Float) -> UInt16 {
        let x = f.bitPattern
        let sign = UInt16((x >> 16) & 0x8000)
        let exponent = Int((x >> 23) & 0xFF)
        var mantissa = x & 0x7F_FFFF
        if exponent == 0xFF { return sign | 0x7C00 | (mantissa != 0 ? 0x200 : 0) }
        let e = exponent - 127 + 15
        if e >= 31 { return sign | 0x7C00 }
        if e <= 0 {
            if e < -10 { return sign }
            mantissa |= 0x80_0000
            let shift = UInt32(14 - e)
            let half = UInt32(1) << (shift - 1)
            var result = mantissa >> shift
            let rest = mantissa & ((UInt32(1) << shift) - 1)
            if rest > half || (rest == half && (result & 1) != 0) { result += 1 }
            return sign | UInt16(result)
        }
        var result = UInt32(e) << 10 | (mantissa >> 13)
        let rest = mantissa & 0x1FFF
        if rest > 0x1000 || (rest == 0x1000 && (result & 1) != 0) { result += 1 }
        return sign | UInt16(result)
    }
}
