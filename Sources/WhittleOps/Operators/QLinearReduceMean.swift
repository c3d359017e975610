import Foundation
import WhittleIR

/// ONNX Runtime's `com.microsoft` QLinearReduceMean(data, data_scale, data_zero_point?, reduced_scale,
/// reduced_zero_point?) with attributes `axes` and `keepdims`: the quantized mean over the axes,
/// Q(ReduceMean(DQ(data))). The sum of data − zero point is exact (integers), the mean is
/// data_scale · sum / count in float32 and quantized by rounding half to even, so the result does
/// not depend on the order of the sum (ONNX Runtime's QDQ equivalent, which sums the dequantized
/// floats, is within one step of it).
enum QLinearReduceMeanOperator {
    static var all: [OperatorDefinition] { [definition.requiringEightBitIntegers([[0, 2, 4]])] }
    static var kernels: [String: Kernel] { ["QLinearReduceMean": kernel] }

    static let definition = OperatorDefinition("QLinearReduceMean", domain: "com.microsoft", infer: { ctx in
        try ctx.expectInputs(4, 5)
        let x = try ctx.shape(0)
        let reduced = try axes(ctx, rank: x.count)
        let keep = try ctx.int("keepdims", default: 1) != 0
        return [TensorType(try ctx.type(0).elementType, x.indices.compactMap { reduced.contains($0) ? (keep ? 1 : nil) : x[$0] })]
    })

    /// The reduced axes (`axes` is required: there is no "every axis" default).
    static func axes(_ ctx: InferenceContext, rank: Int) throws -> Set<Int> {
        guard let axes = try ctx.ints("axes"), !axes.isEmpty else { throw WhittleError(.invalidAttribute, "attribute axes is required") }
        return Set(try axes.map { try Shape.normalizeAxis($0, rank: rank, name: "axes entry") })
    }

    /// The requantized mean of an exact integer `sum` of `count` values.
    static func quantizedMean(sum: Int64, count: Int, dataScale: Float, reducedScale: Float, zero: Int64, type: ElementType) -> Int64 {
        let mean = Float(sum) * dataScale / Float(max(count, 1))
        return QuantizationOperators.saturate(Double((mean / reducedScale).rounded(.toNearestOrEven)) + Double(zero), type)
    }

    static let kernel: Kernel = { ctx in
        let x = try ctx.input(0)
        let reduced = try axes(ctx.node, rank: x.rank)
        let dataScale = try ctx.parameters(1, what: "data_scale", count: 1)[0], reducedScale = try ctx.parameters(3, what: "reduced_scale", count: 1)[0]
        let zero = ctx.optionalInput(2)?.ints.first ?? 0, outZero = ctx.optionalInput(4)?.ints.first ?? 0
        let kept = x.shape.indices.filter { !reduced.contains($0) }
        let keptShape = kept.map { x.shape[$0] }, count = reduced.map { x.shape[$0] }.reduce(1, *)
        let strides = Shape.strides(x.shape), keptStrides = Shape.strides(keptShape)
        var sums = [Int64](repeating: 0, count: keptShape.reduce(1, *))
        let values = x.ints
        for i in values.indices {
            var at = 0
            for (k, axis) in kept.enumerated() { at += (i / strides[axis]) % x.shape[axis] * keptStrides[k] }
            sums[at] += values[i] - zero
        }
        let type = ctx.outputType()
        let out = sums.map { quantizedMean(sum: $0, count: count, dataScale: dataScale, reducedScale: reducedScale, zero: outZero, type: type) }
        return [NDArray(type, shape: try ctx.outputShape(), ints: out)]
    }
}
