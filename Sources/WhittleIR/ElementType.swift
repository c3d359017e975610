/// A tensor element type, numbered as in ONNX's `TensorProto.DataType`.
///
/// Every ONNX type has a case so that a model using one can be described
/// (`inspect` names it); ``isSupported`` tells which ones Whittle can hold
/// as tensor data.
public enum ElementType: Int32, Sendable, Hashable, CaseIterable, Codable {
    case float = 1, uint8 = 2, int8 = 3, uint16 = 4, int16 = 5, int32 = 6, int64 = 7
    case string = 8, bool = 9, float16 = 10, double = 11, uint32 = 12, uint64 = 13
    case complex64 = 14, complex128 = 15, bfloat16 = 16
    case float8e4m3fn = 17, float8e4m3fnuz = 18, float8e5m2 = 19, float8e5m2fnuz = 20
    case uint4 = 21, int4 = 22, float4e2m1 = 23, float8e8m0 = 24, uint2 = 25, int2 = 26
    case float6e2m3 = 27, float6e3m2 = 28

    /// The lower-case name used in messages and JSON (`float32`, `int8`, ...), as NumPy spells it where it can.
    public var name: String {
        switch self {
        case .float: "float32"
        case .double: "float64"
        default: String(describing: self)
        }
    }

    /// Bytes one element takes in Whittle's dense little-endian storage; nil for types it does not store.
    public var byteWidth: Int? {
        switch self {
        case .bool, .int8, .uint8, .float8e4m3fn, .float8e4m3fnuz, .float8e5m2, .float8e5m2fnuz, .float8e8m0: 1
        case .int16, .uint16, .float16, .bfloat16: 2
        case .float, .int32, .uint32: 4
        case .double, .int64, .uint64: 8
        default: nil
        }
    }

    /// Bits one element takes: 4 for int4, uint4 and float4e2m1 (two to a byte, as ONNX packs them),
    /// 2 for int2 and uint2 (four to a byte); nil for types Whittle does not store.
    public var bitWidth: Int? {
        switch self {
        case .int4, .uint4, .float4e2m1: 4
        case .int2, .uint2: 2
        default: byteWidth.map { $0 * 8 }
        }
    }

    /// Whether elements are packed several to a byte (low bits first).
    public var isPacked: Bool { (bitWidth ?? 8) < 8 }

    /// Whether Whittle can hold tensors of this type (decode initializers, infer shapes).
    public var isSupported: Bool { bitWidth != nil }

    /// The 8- and 4-bit floating-point types (see ``MiniFloat``).
    public var isMiniFloat: Bool {
        switch self {
        case .float8e4m3fn, .float8e4m3fnuz, .float8e5m2, .float8e5m2fnuz, .float8e8m0, .float4e2m1: true
        default: false
        }
    }

    /// Bytes `count` elements take in storage (packed types round up to whole bytes).
    public func storageBytes(count: Int) throws -> Int {
        guard let bits = bitWidth else { throw WhittleError(.unsupported, "element type \(name) is not supported") }
        if bits >= 8 { return try Shape.checked(count, times: bits / 8, what: "tensor bytes") }
        let total = try Shape.checked(count, times: bits, plus: 7, what: "tensor bits")
        return total / 8
    }

    public var isFloatingPoint: Bool {
        switch self {
        case .float, .double, .float16, .bfloat16, .float8e4m3fn, .float8e4m3fnuz, .float8e5m2, .float8e5m2fnuz, .float8e8m0,
             .float4e2m1: true
        default: false
        }
    }

    public var isInteger: Bool {
        switch self {
        case .int8, .uint8, .int16, .uint16, .int32, .uint32, .int64, .uint64, .int4, .uint4, .int2, .uint2: true
        default: false
        }
    }

    /// The smallest and largest value of an integer type (as Double), used to saturate.
    public var integerRange: (Double, Double) {
        switch self {
        case .bool: (0, 1)
        case .int8: (-128, 127)
        case .uint8: (0, 255)
        case .int16: (-32768, 32767)
        case .uint16: (0, 65535)
        case .int32: (-2_147_483_648, 2_147_483_647)
        case .uint32: (0, 4_294_967_295)
        case .int4: (-8, 7)
        case .uint4: (0, 15)
        case .int2: (-2, 1)
        case .uint2: (0, 3)
        case .uint64: (0, 1.8446744073709552e19)
        default: (-9.223372036854775808e18, 9.223372036854775807e18)
        }
    }

    /// Creates the type from its ONNX number; nil for an unknown number.
    public init?(onnx value: Int32) { self.init(rawValue: value) }
}
