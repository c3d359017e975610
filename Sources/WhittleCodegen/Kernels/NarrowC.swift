import WhittleIR
import WhittleOps

/// Element access for the narrow types in C: float8 and E8M0 codes (uint8_t), and 4- and 2-bit types
/// packed into bytes low bits first (int4, uint4, float4 E2M1: two to a byte; int2, uint2: four),
/// decoded and encoded by `minifloat.c`. Cast converts between them and every other type.
enum NarrowC {
    /// The library's number of a float8/float4 format (see whittle_kernels.h).
    static func format(_ type: ElementType) -> Int? {
        [.float8e4m3fn: 0, .float8e4m3fnuz: 1, .float8e5m2: 2, .float8e5m2fnuz: 3, .float4e2m1: 4, .float8e8m0: 5][type]
    }

    static func isNarrow(_ type: ElementType) -> Bool { type.isPacked || type.isMiniFloat }

    /// The code of element `i` of a packed array (an unsigned expression).
    static func code(_ array: String, _ i: String, bits: Int) -> String {
        let perByte = 8 / bits, shift = perByte == 2 ? 1 : 2
        return "((\(array)[(\(i)) >> \(shift)] >> (((\(i)) & \(perByte - 1)) * \(bits))) & \((1 << bits) - 1)u)"
    }

    /// Element `i` of `array` of `type` as a C value: float for the float types, long long for integers.
    static func read(_ array: String, _ i: String, _ type: ElementType) -> String {
        switch type {
        case .float16: return "whittle_f16_to_f32(\(array)[\(i)])"
        case .bfloat16: return "whittle_bf16_to_f32(\(array)[\(i)])"
        case .float4e2m1: return "whittle_minifloat_to_f32((uint8_t)\(code(array, i, bits: 4)), 4)"
        case .int4: return "((long long)(\(code(array, i, bits: 4)) ^ 8u) - 8)"
        case .int2: return "((long long)(\(code(array, i, bits: 2)) ^ 2u) - 2)"
        case .uint4: return "(long long)\(code(array, i, bits: 4))"
        case .uint2: return "(long long)\(code(array, i, bits: 2))"
        default:
            if let f = format(type) { return "whittle_minifloat_to_f32(\(array)[\(i)], \(f))" }
            return "\(array)[\(i)]"
        }
    }

    /// A statement storing `value` (the element's code or integer) as element `i`; packed arrays must
    /// be zeroed first.
    static func write(_ array: String, _ i: String, _ type: ElementType, _ value: String) -> String {
        guard type.isPacked, let bits = type.bitWidth else { return "\(array)[\(i)] = \(value);" }
        let perByte = 8 / bits, shift = perByte == 2 ? 1 : 2
        return "\(array)[(\(i)) >> \(shift)] |= (uint8_t)(((unsigned)(\(value)) & \((1 << bits) - 1)u) << (((\(i)) & \(perByte - 1)) * \(bits)));"
    }

    /// Zeroes a packed output before elements are or-ed in.
    static func clear(_ e: NodeEmission, _ w: inout CWriter, output: Int = 0) throws {
        let type = e.outputTypes[output]
        guard type.elementType.isPacked, let bytes = type.storageBytes, bytes > 0 else { return }
        w.line("memset(\(e.y(output)), 0, \(bytes));")
    }

    /// The code of float `value` in narrow float `type` (saturating by the node's `saturate`).
    static func encode(_ value: String, _ type: ElementType, _ e: NodeEmission) throws -> String {
        guard let f = format(type) else { return value }
        let saturate = try e.context.int("saturate", default: 1) != 0 || type == .float4e2m1
        let mode = ["up": 0, "down": 1, "nearest": 2][try e.context.string("round_mode", default: "up")] ?? 0
        return "whittle_f32_to_minifloat((float)(\(value)), \(f), \(saturate ? 1 : 0), \(mode))"
    }

    /// Cast where either side is a narrow type: element by element, through float or long long.
    static let castKernel: CKernel = { e, w in
        let to = e.elementType, from = try e.inputType(0).elementType
        let count = try e.outputShape().reduce(1, *)
        _ = try e.cType(output: 0)
        _ = try e.cType(input: 0)
        guard count > 0 else { return }
        try clear(e, &w)
        let t = try e.cType(output: 0)
        let floatSource = from.isFloatingPoint
        let value = floatSource ? (from == .double ? "double" : "float") : "long long"
        let target: String
        if format(to) != nil {
            target = try encode("v", to, e)
        } else if to == .float16 {
            target = "whittle_f32_to_f16((float)v)"
        } else if to == .bfloat16 {
            target = "whittle_f32_to_bf16((float)v)"
        } else if to == .bool {
            target = "(uint8_t)(v != 0)"
        } else if to.isFloatingPoint {
            target = "(\(t))v"
        } else if floatSource {
            // Out of int64's range (or NaN) has no defined C conversion: saturate to int64, then narrow.
            target = "(\(t))(v != v ? 0 : v <= (\(value))-9.2233720368547758e18 ? INT64_MIN : v >= (\(value))9.2233720368547758e18 ? INT64_MAX : (long long)v)"
        } else {
            target = to.isPacked ? "v" : "(\(t))v"
        }
        w.block("for (int i = 0; i < \(count); ++i)") { w in
            w.line("const \(value) v = \(read(e.x(0), "i", from));")
            w.line(write(e.y(0), "i", to, target))
        }
    }
}
