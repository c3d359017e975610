/// A tensor as the interpreter computes with it: a shape and a flat row-major array.
///
/// Three storage kinds cover every supported element type: `float32`, `float16`
/// and `bfloat16` are held as `Float` (16-bit values are rounded to their type
/// whenever an array is made, so results match a device storing them), `float64`
/// as `Double`, and every integer type and bool as `Int64` (wrapped to the
/// type's range when an array is made).
public struct NDArray: Sendable, Equatable {
    public enum Storage: Sendable, Equatable {
        case float([Float])
        case double([Double])
        case int([Int64])
    }

    public let elementType: ElementType
    public let shape: [Int]
    public let storage: Storage

    public var count: Int { shape.reduce(1, *) }
    public var rank: Int { shape.count }

    /// A float32/float16/bfloat16 array; 16-bit types are rounded. Other types convert as a C cast would.
    public init(_ type: ElementType = .float, shape: [Int], floats: [Float]) {
        switch type {
        case .float16:
            self.init(type, shape, .float(floats.map { HalfFloat.float(fromBits: HalfFloat.bits(fromFloat: $0)) }))
        case .bfloat16: self.init(type, shape, .float(floats.map(NDArray.roundToBFloat16)))
        case _ where type.isMiniFloat:
            // Rounded to the type as a plain conversion does (no saturation: Cast and QuantizeLinear clamp first).
            self.init(type, shape, .float(floats.map { MiniFloat.decode(MiniFloat.encode($0, type), type) }))
        case .double: self.init(type, shape, .double(floats.map(Double.init)))
        case .float: self.init(type, shape, .float(floats))
        default: self.init(type, shape, .int(floats.map { NDArray.integer(from: Double($0), as: type) }))
        }
    }

    public init(shape: [Int], doubles: [Double]) {
        self.init(.double, shape, .double(doubles))
    }

    /// An integer or bool array; values are wrapped to `type`'s range. Floating-point types convert.
    public init(_ type: ElementType, shape: [Int], ints: [Int64]) {
        switch type {
        case _ where type.isFloatingPoint && type != .double: self.init(type, shape: shape, floats: ints.map(Float.init))
        case .double: self.init(shape: shape, doubles: ints.map(Double.init))
        default: self.init(type, shape, .int(ints.map { NDArray.wrap($0, to: type) }))
        }
    }

    /// Any element type from Double values (converted as a C cast would; integers saturate, then wrap).
    public init(_ type: ElementType, shape: [Int], values: [Double]) {
        switch type {
        case .double: self.init(shape: shape, doubles: values)
        case _ where type.isFloatingPoint: self.init(type, shape: shape, floats: values.map { Float($0) })
        default: self.init(type, shape, .int(values.map { NDArray.integer(from: $0, as: type) }))
        }
    }

    private init(_ elementType: ElementType, _ shape: [Int], _ storage: Storage) {
        self.elementType = elementType
        self.shape = shape
        self.storage = storage
    }

    /// The same data with another shape (same element count).
    public func reshaped(_ newShape: [Int]) -> NDArray {
        NDArray(elementType, newShape, storage)
    }

    // MARK: Views

    /// Elements as Float (any type).
    public var floats: [Float] {
        switch storage {
        case .float(let v): v
        case .double(let v): v.map { Float($0) }
        case .int(let v): v.map { Float($0) }
        }
    }

    /// Elements as Double (any type).
    public var doubles: [Double] {
        switch storage {
        case .float(let v): v.map(Double.init)
        case .double(let v): v
        case .int(let v): v.map { Double($0) }
        }
    }

    /// Elements as Int64 (floating-point values truncated toward zero).
    public var ints: [Int64] {
        switch storage {
        case .int(let v): v
        case .float(let v): v.map { NDArray.integer(from: Double($0), as: .int64) }
        case .double(let v): v.map { NDArray.integer(from: $0, as: .int64) }
        }
    }

    // MARK: Conversions

    /// Wraps an integer to the range of `type` (two's complement), as a C cast to that type would.
    public static func wrap(_ value: Int64, to type: ElementType) -> Int64 {
        switch type {
        case .bool: value != 0 ? 1 : 0
        case .int8: Int64(Int8(truncatingIfNeeded: value))
        case .uint8: Int64(UInt8(truncatingIfNeeded: value))
        case .int16: Int64(Int16(truncatingIfNeeded: value))
        case .uint16: Int64(UInt16(truncatingIfNeeded: value))
        case .int32: Int64(Int32(truncatingIfNeeded: value))
        case .uint32: Int64(UInt32(truncatingIfNeeded: value))
        case .int4: ((value & 0xF) ^ 0x8) - 0x8
        case .uint4: value & 0xF
        case .int2: ((value & 0x3) ^ 0x2) - 0x2
        case .uint2: value & 0x3
        default: value
        }
    }

    /// A floating-point value converted to an integer type: truncated toward zero, NaN to 0,
    /// out-of-range values saturated to Int64 and then wrapped to `type`.
    public static func integer(from value: Double, as type: ElementType) -> Int64 {
        if type == .bool { return value != 0 ? 1 : 0 }
        guard value.isFinite else { return value.isNaN ? 0 : (value > 0 ? Int64.max : Int64.min) }
        let t = value.rounded(.towardZero)
        let clamped: Int64 = t >= 9.223372036854775807e18 ? .max : (t <= -9.223372036854775808e18 ? .min : Int64(t))
        return wrap(clamped, to: type)
    }

    /// Round-to-nearest-even conversion of a Float to bfloat16 precision.
    public static func roundToBFloat16(_ f: Float) -> Float {
        if f.isNaN { return f }
        let bits = f.bitPattern
        let rounded = bits &+ 0x7FFF &+ ((bits >> 16) & 1)
        return Float(bitPattern: rounded & 0xFFFF_0000)
    }
}

extension NDArray {
    /// The IR tensor's values as an array.
    public init(_ tensor: Tensor) {
        switch tensor.elementType {
        case _ where tensor.elementType.isFloatingPoint && tensor.elementType != .double:
            self.init(tensor.elementType, shape: tensor.shape, floats: tensor.floats())
        case .double: self.init(shape: tensor.shape, doubles: tensor.doubles())
        default: self.init(tensor.elementType, shape: tensor.shape, ints: tensor.int64s() ?? [])
        }
    }

    /// The array as an IR tensor (little-endian bytes of its element type).
    public func tensor() throws -> Tensor {
        switch elementType {
        case _ where elementType.isFloatingPoint: try Tensor(doubles: doubles, shape: shape, as: elementType)
        default: try Tensor(int64s: ints, shape: shape, as: elementType)
        }
    }
}
