import Foundation
import WhittleIR

/// ONNX Runtime's QLinearSoftmax (domain `com.microsoft`), which its quantizer writes for a Softmax in
/// QOperator models: (X, X_scale, X_zero_point, Y_scale, Y_zero_point) with attributes `axis` and
/// `opset` (the Softmax semantics it stands for). The arithmetic is ONNX Runtime's, so that outputs
/// agree bit for bit: a 256-entry float table of exp((i − 255 + shift)·X_scale), indexed by each
/// value's distance below the row maximum, summed in float in element order; each output is
/// nearbyint(entry · ⌊1 / Y_scale⌋ / sum) + Y_zero_point, saturated to the type. The zero point of X
/// does not matter (a softmax ignores a common shift). Below opset 13 a row is everything from `axis` on.
public enum QLinearSoftmaxOperator {
    static let domain = "com.microsoft"
    static var all: [OperatorDefinition] { [definition] }
    static var kernels: [String: Kernel] { ["QLinearSoftmax": kernel] }

    static let definition = OperatorDefinition("QLinearSoftmax", domain: domain, infer: { ctx in
        try ctx.expectInputs(4, 5)
        guard try ctx.int("opset", default: -1) > 0 else { throw WhittleError(.invalidAttribute, "attribute opset is required") }
        let x = try ctx.shape(0)
        _ = try Shape.normalizeAxis(try axis(ctx.int("axis"), opset: ctx.int("opset", default: 13)), rank: max(x.count, 1))
        return [TensorType(try ctx.type(0).elementType, x)]
    }).requiringEightBitIntegers([[0, 2, 4]])

    /// The axis ONNX Runtime uses: as given, else 1 below opset 13 and −1 from it.
    static func axis(_ given: Int?, opset: Int) -> Int { given ?? (opset < 13 ? 1 : -1) }

    /// The rows a softmax of `shape` works on: (outer count, row length, stride between a row's elements).
    public static func rows(shape: [Int], axis given: Int?, opset: Int) throws -> (outer: Int, size: Int, inner: Int) {
        let axis = try Shape.normalizeAxis(Self.axis(given, opset: opset), rank: max(shape.count, 1))
        if opset < 13 { return (shape[..<axis].reduce(1, *), shape[axis...].reduce(1, *), 1) }
        return Indexing.split(shape, at: axis)
    }

    /// ONNX Runtime's table for rows of `length` values, in the order int8 or uint8 data index it
    /// (int8: the distance below the maximum is added to 127 and the sum's byte is the index).
    public static func table(xScale: Float, length: Int, signed: Bool) -> [Float] {
        // Every entry is at most FLT_MAX / length / e^5, so that a row's sum stays finite.
        let shift = Swift.max(0.0, log(Double(Float.greatestFiniteMagnitude) / Double(Swift.max(length, 1))) - 5) / Double(xScale)
        var table = [Float](repeating: 0, count: 256)
        for i in 0..<256 {
            let value = exp((Double(i) - 255 + shift) * Double(xScale))
            table[signed ? (i + 128) & 255 : i] = Float(value)
        }
        return table
    }

    static let kernel: Kernel = { ctx in
        let x = try ctx.input(0)
        let opset = try ctx.node.int("opset", default: 13)
        let (outer, size, inner) = try rows(shape: x.shape, axis: try ctx.node.int("axis"), opset: opset)
        let xScale = try ctx.parameters(1, what: "X_scale", count: 1)[0]
        let yScale = (1 / (try ctx.parameters(3, what: "Y_scale", count: 1)[0])).rounded(.down)
        let yZero = ctx.optionalInput(4)?.ints.first ?? 0
        let signed = x.elementType == .int8
        let table = Self.table(xScale: xScale, length: size, signed: signed)
        let v = x.ints
        var out = [Int64](repeating: 0, count: v.count)
        for o in 0..<outer {
            for i in 0..<inner {
                let base = o * size * inner + i
                let top = (0..<size).map { v[base + $0 * inner] }.max() ?? 0
                // The index of a value: its distance below the maximum, counted back from 255 (uint8) or 127 (int8).
                func entry(_ value: Int64) -> Float { table[signed ? Int((127 - top + value) & 255) : Int(255 - top + value)] }
                var sum: Float = 0
                for k in 0..<size { sum += entry(v[base + k * inner]) }
                for k in 0..<size {
                    let q = Int64((entry(v[base + k * inner]) * yScale / sum).rounded(.toNearestOrEven)) + yZero
                    out[base + k * inner] = Swift.min(Swift.max(q, signed ? -128 : 0), signed ? 127 : 255)
                }
            }
        }
        return [NDArray(x.elementType, shape: x.shape, ints: out)]
    }
}
