/// The 8- and 4-bit floating-point types of ONNX: float8 (E4M3FN, E4M3FNUZ, E5M2, E5M2FNUZ, E8M0)
/// and float4 (E2M1). Decoding is exact; encoding rounds to nearest, ties to even, as NumPy's
/// ml_dtypes (which ONNX's reference uses) converts, except E8M0, which has its own rounding modes.
public enum MiniFloat {
    /// A format's layout and its special values.
    struct Format {
        var exponentBits: Int, mantissaBits: Int, bias: Int
        /// E5M2 has infinities; the FN and FNUZ types saturate or give NaN instead.
        var infinities: Bool
        /// FNUZ types have no negative zero: 0x80 is their only NaN.
        var unsignedZero: Bool
        /// The code of NaN (with the sign bit clear; FNUZ: 0x80), nil when the format has none (E2M1).
        var nan: UInt8?
        var bits: Int { 1 + exponentBits + mantissaBits }
    }

    static func format(_ type: ElementType) -> Format? {
        switch type {
        case .float8e4m3fn: Format(exponentBits: 4, mantissaBits: 3, bias: 7, infinities: false, unsignedZero: false, nan: 0x7F)
        case .float8e4m3fnuz: Format(exponentBits: 4, mantissaBits: 3, bias: 8, infinities: false, unsignedZero: true, nan: 0x80)
        case .float8e5m2: Format(exponentBits: 5, mantissaBits: 2, bias: 15, infinities: true, unsignedZero: false, nan: 0x7E)
        case .float8e5m2fnuz: Format(exponentBits: 5, mantissaBits: 2, bias: 16, infinities: false, unsignedZero: true, nan: 0x80)
        case .float4e2m1: Format(exponentBits: 2, mantissaBits: 1, bias: 1, infinities: false, unsignedZero: false, nan: nil)
        default: nil
        }
    }

    /// The value of `code` in `type` (one of the float8 or float4 types).
    public static func decode(_ code: UInt8, _ type: ElementType) -> Float {
        if type == .float8e8m0 {
            return code == 0xFF ? .nan : Float(sign: .plus, exponent: Int(code) - 127, significand: 1)
        }
        guard let f = format(type) else { return .nan }
        let signBit = UInt8(1) << (f.bits - 1)
        let magnitude = code & (signBit - 1)
        if f.unsignedZero, code == 0x80 { return .nan }
        if let nan = f.nan, !f.unsignedZero {
            if f.infinities {
                // E5M2: an all-ones exponent is infinity (mantissa 0) or NaN.
                let exponentMask = UInt8((1 << f.exponentBits) - 1) << f.mantissaBits
                if magnitude & exponentMask == exponentMask {
                    if magnitude & ~exponentMask != 0 { return .nan }
                    return code & signBit != 0 ? -.infinity : .infinity
                }
            } else if magnitude == nan {
                return .nan
            }
        }
        let value = magnitudeValue(Int(magnitude), f)
        return code & signBit != 0 ? -value : value
    }

    /// The non-negative value of magnitude code `m`.
    static func magnitudeValue(_ m: Int, _ f: Format) -> Float {
        let exponent = m >> f.mantissaBits, mantissa = m & ((1 << f.mantissaBits) - 1)
        if exponent == 0 { return Float(mantissa) * Float(sign: .plus, exponent: 1 - f.bias - f.mantissaBits, significand: 1) }
        return Float((1 << f.mantissaBits) + mantissa) * Float(sign: .plus, exponent: exponent - f.bias - f.mantissaBits, significand: 1)
    }

    /// The largest finite magnitude code.
    static func largestCode(_ f: Format) -> Int {
        let top = (1 << (f.bits - 1)) - 1
        if f.infinities { return top - (1 << f.mantissaBits) }        // E5M2: below the all-ones exponent
        if let nan = f.nan, !f.unsignedZero { return Int(nan) - 1 }    // FN: below the NaN code
        return top
    }

    /// The largest finite value of `type`.
    public static func largest(_ type: ElementType) -> Float {
        if type == .float8e8m0 { return Float(sign: .plus, exponent: 127, significand: 1) }
        guard let f = format(type) else { return .nan }
        return magnitudeValue(largestCode(f), f)
    }

    /// `value` as a code of `type`, rounded to nearest, ties to even. Beyond the largest value:
    /// with `saturate`, the largest; without, infinity where the type has one, else NaN. float4 E2M1,
    /// which has neither, always saturates (and stores NaN as −0, as ml_dtypes does).
    public static func encode(_ value: Float, _ type: ElementType, saturate: Bool = false, roundMode: String = "up") -> UInt8 {
        if type == .float8e8m0 { return encodeE8M0(value, saturate: saturate, roundMode: roundMode) }
        guard let f = format(type) else { return 0 }
        let signBit = UInt8(1) << (f.bits - 1)
        let negative = value.sign == .minus
        let sign: UInt8 = negative ? signBit : 0
        if value.isNaN { return f.nan.map { f.unsignedZero ? $0 : $0 | sign } ?? signBit }
        let top = largestCode(f), largestValue = magnitudeValue(top, f)
        let magnitude = value.magnitude
        var code: Int
        if magnitude > largestValue {
            // Halfway to the next value the format would have rounds to the largest when that is even.
            let next = magnitudeValue(top, f) + (magnitudeValue(top, f) - magnitudeValue(top - 1, f))
            let middle = (largestValue + next) / 2
            if saturate || f.nan == nil || magnitude < middle || (magnitude == middle && top % 2 == 0) {
                code = top
            } else if f.infinities {
                return sign | UInt8(top + 1)
            } else {
                return f.unsignedZero ? f.nan! : (f.nan! | sign)
            }
        } else {
            // Binary search for the nearest code: the codes' values increase with the code.
            var low = 0, high = top
            while low < high {
                let mid = (low + high + 1) / 2
                if magnitudeValue(mid, f) <= magnitude { low = mid } else { high = mid - 1 }
            }
            code = low
            if code < top {
                let below = magnitudeValue(code, f), above = magnitudeValue(code + 1, f)
                let up = magnitude - below, down = above - magnitude
                if down < up || (down == up && code % 2 == 1) { code += 1 }
            }
        }
        if code == 0 && f.unsignedZero { return 0 }
        return sign | UInt8(code)
    }

    /// E8M0 (a power of two, no sign): the float's exponent, rounded up, down or to nearest as ONNX's
    /// reference does; NaN and infinity give 0xFF.
    static func encodeE8M0(_ value: Float, saturate: Bool, roundMode: String) -> UInt8 {
        let bits = value.bitPattern
        var exponent = Int((bits >> 23) & 0xFF)
        if exponent == 0xFF { return 0xFF }
        var roundUp = false
        switch roundMode {
        case "nearest":
            let g = bits & 0x40_0000 != 0, r = bits & 0x20_0000 != 0, s = bits & 0x1F_FFFF != 0
            roundUp = g && (r || s || exponent > 0)
        case "down": roundUp = false
        default: roundUp = bits & 0x7F_FFFF != 0
        }
        if roundUp && !(saturate && exponent == 0xFE) { exponent += 1 }
        return UInt8(truncatingIfNeeded: exponent)
    }
}
