import Foundation
import WhittleIR

/// Integer operators of Whittle's own domain (`whittle`), made by the fuse-qdq pass for patterns
/// ONNX has no quantized operator for. They exist only inside the compiler and are never written.
public enum WhittleQuantizedOperators {
    public static let domain = "whittle"

    static var all: [OperatorDefinition] { [softmax] }
    static var kernels: [String: Kernel] { ["QSoftmax": softmaxKernel] }

    /// QSoftmax(X, x_scale, x_zero_point, y_scale, y_zero_point): Q(Softmax(DQ(X))) in integers.
    /// `axis` is absolute; `coerce` = 1 reduces over every axis from `axis` on (Softmax before opset 13).
    static let softmax = OperatorDefinition("QSoftmax", domain: domain, infer: { ctx in
        try ctx.expectInputs(5, 5)
        let x = try ctx.type(0), y = try ctx.type(4)
        guard x.elementType == .int8 || x.elementType == .uint8 else {
            throw WhittleError(.shapeMismatch, "X must be int8 or uint8, found \(x.elementType.name)")
        }
        let rank = try ctx.shape(0).count
        _ = try Shape.normalizeAxis(try ctx.int("axis", default: rank - 1), rank: Swift.max(rank, 1))
        return [TensorType(y.elementType, try ctx.shape(0))]
    })

    /// exp(−scale·d) for d = 0…255 in Q30, rounded: the whole run-time exponential. d is the distance
    /// of an input below the row maximum, so every entry is at most 2^30 and a row of up to 2^33
    /// entries sums without overflow in 64 bits.
    public static func softmaxTable(inputScale: Float) -> [UInt32] {
        (0..<256).map { d in UInt32((exp(-Double(inputScale) * Double(d)) * 1073741824).rounded(.toNearestOrEven)) }
    }

    /// 1/y_scale as mantissa · 2^exponent (float32's 24-bit mantissa), or nil when it is not a normal number.
    public static func reciprocal(_ scale: Float) -> (mantissa: UInt64, exponent: Int)? {
        let m = Float(1 / Double(scale))
        guard m.isNormal, m > 0 else { return nil }
        let bits = m.bitPattern
        return (UInt64(bits & 0x7F_FFFF | 0x80_0000), Int((bits >> 23) & 0xFF) - 127 - 23)
    }

    /// The quantized probability of one entry: p = table[d] / sum in Q32 (truncated), times 1/y_scale,
    /// rounded half to even; the zero point and saturation are the caller's.
    public static func softmaxLevel(_ entry: UInt32, sum: UInt64, mantissa: UInt64, exponent: Int) -> Int64 {
        let p = (UInt64(entry) << 32) / sum
        let n = p * mantissa  // < 2^57
        let shift = 32 - exponent
        if shift <= 0 { return n == 0 ? 0 : Int64.max }
        if shift >= 58 { return 0 }
        var r = n >> UInt64(shift)
        let rest = n & ((1 << UInt64(shift)) - 1), half = UInt64(1) << UInt64(shift - 1)
        if rest > half || (rest == half && r & 1 == 1) { r += 1 }
        return Int64(r)
    }

    static let softmaxKernel: Kernel = { ctx in
        let x = try ctx.input(0)
        let sx = try MicrosoftQuantizedOperators.scalar(ctx, 1), sy = try MicrosoftQuantizedOperators.scalar(ctx, 3)
        let zy = MicrosoftQuantizedOperators.zero(ctx, 4)
        guard let (mantissa, exponent) = reciprocal(sy) else { throw WhittleError(.invalidAttribute, "y_scale must be a positive normal number") }
        let table = softmaxTable(inputScale: sx)
        let axis = try Shape.normalizeAxis(try ctx.node.int("axis", default: x.rank - 1), rank: Swift.max(x.rank, 1))
        let (outer, size, inner) = try ctx.node.int("coerce", default: 0) != 0
            ? (x.shape[..<axis].reduce(1, *), x.shape[axis...].reduce(1, *), 1)
            : Indexing.split(x.shape, at: axis)
        let v = x.ints
        let type = ctx.outputType()
        var out = [Int64](repeating: 0, count: v.count)
        for o in 0..<outer {
            for i in 0..<inner {
                let base = o * size * inner + i
                var m = Int64.min
                for k in 0..<size { m = Swift.max(m, v[base + k * inner]) }
                var sum: UInt64 = 0
                for k in 0..<size { sum += UInt64(table[Int(m - v[base + k * inner])]) }
                for k in 0..<size {
                    let level = softmaxLevel(table[Int(m - v[base + k * inner])], sum: sum, mantissa: mantissa, exponent: exponent)
                    out[base + k * inner] = QuantizationOperators.saturate(Double(Swift.min(level, 1 << 40) + zy), type)
                }
            }
        }
        return [NDArray(type, shape: x.shape, ints: out)]
    }
}
