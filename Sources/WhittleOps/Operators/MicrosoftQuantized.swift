import Foundation
import WhittleIR

/// ONNX Runtime's quantized contrib operators (domain `com.microsoft`), as
/// `onnxruntime.quantization` writes them in QOperator models: QLinearAdd,
/// QLinearMul, QLinearAveragePool, QLinearGlobalAveragePool and QGemm.
/// The arithmetic follows ONNX Runtime's reference (scalar) kernels.
enum MicrosoftQuantizedOperators {
    static let domain = "com.microsoft"

    static var all: [OperatorDefinition] {
        [binary("QLinearAdd").requiringEightBitIntegers([[0, 2, 3, 5, 7]], wide: [[0, 2, 3, 5, 7]]), binary("QLinearMul").requiringEightBitIntegers([[0, 2, 3, 5, 7]]),
         averagePool.requiringEightBitIntegers([[0, 2, 4]], wide: [[0, 2, 4]]),
         globalAveragePool.requiringEightBitIntegers([[0, 2, 4]], wide: [[0, 2, 4]]),
         qgemm.requiringEightBitIntegers([[0, 2], [3, 5], [8]], wide: [[0, 2], [8]])]
    }

    static var kernels: [String: Kernel] {
        ["QLinearAdd": binaryKernel(add: true), "QLinearMul": binaryKernel(add: false), "QLinearAveragePool": averagePoolKernel,
         "QLinearGlobalAveragePool": globalAveragePoolKernel, "QGemm": qgemmKernel]
    }

    // MARK: Types

    /// (A, A_scale, A_zp, B, B_scale, B_zp, C_scale, C_zp) → C, broadcasting A and B.
    static func binary(_ name: String) -> OperatorDefinition {
        OperatorDefinition(name, domain: domain, infer: { ctx in
            try ctx.expectInputs(7, 8)
            // The types are checked by `requiringEightBitIntegers` (A, B and the zero points share one).
            return [TensorType(try ctx.type(0).elementType, try ElementwiseOperators.broadcastShape(ctx.shape(0), ctx.shape(3)))]
        })
    }

    static let averagePool = OperatorDefinition("QLinearAveragePool", domain: domain, infer: { ctx in
        try ctx.expectInputs(4, 5)
        if try ctx.int("channels_last", default: 0) != 0 { throw WhittleError(.unsupported, "channels_last is not supported") }
        guard let kernel = try ctx.ints("kernel_shape") else { throw WhittleError(.invalidAttribute, "attribute kernel_shape is required") }
        let xs = try ctx.shape(0)
        guard xs.count >= 3 else { throw WhittleError(.shapeMismatch, "X must have rank 3 or more") }
        let window = try ConvolutionOperators.Window(ctx, kernel: kernel, spatial: xs.count - 2, allowCeil: true)
        return [TensorType(try ctx.type(0).elementType, [xs[0], xs[1]] + (try window.outputSize(Array(xs[2...]))))]
    })

    static let globalAveragePool = OperatorDefinition("QLinearGlobalAveragePool", domain: domain, infer: { ctx in
        try ctx.expectInputs(5, 5)
        if try ctx.int("channels_last", default: 0) != 0 { throw WhittleError(.unsupported, "channels_last is not supported") }
        let xs = try ctx.shape(0)
        guard xs.count >= 3 else { throw WhittleError(.shapeMismatch, "X must have rank 3 or more") }
        return [TensorType(try ctx.type(0).elementType, [xs[0], xs[1]] + Array(repeating: 1, count: xs.count - 2))]
    })

    /// QGemm(A, a_scale, a_zp, B, b_scale, b_zp, C?, y_scale?, y_zp?): int32 bias; float output without y_scale.
    static let qgemm = OperatorDefinition("QGemm", domain: domain, infer: { ctx in
        try ctx.expectInputs(6, 9)
        let a = try ctx.shape(0), b = try ctx.shape(3)
        guard a.count == 2, b.count == 2 else { throw WhittleError(.shapeMismatch, "A and B must be matrices") }
        let transA = try ctx.int("transA", default: 0) != 0, transB = try ctx.int("transB", default: 0) != 0
        let (m, k) = transA ? (a[1], a[0]) : (a[0], a[1])
        let (kb, n) = transB ? (b[1], b[0]) : (b[0], b[1])
        guard k == kb else { throw WhittleError(.shapeMismatch, "inner dimensions differ: \(k) and \(kb)") }
        let type: ElementType = ctx.has(7) ? (ctx.has(8) ? try ctx.type(8).elementType : .uint8) : .float
        return [TensorType(type, [m, n])]
    }, macs: { ctx, outputs in
        guard let out = outputs.first?.shape, let a = try? ctx.shape(0) else { return 0 }
        let k = (try? ctx.int("transA", default: 0)) == 1 ? a[0] : a[1]
        return Shape.saturatingProduct(out + [k])
    })

    // MARK: Kernels

    static func scalar(_ ctx: EvaluationContext, _ index: Int) throws -> Float {
        try ctx.parameters(index, what: "scale", count: 1)[0]
    }

    static func zero(_ ctx: EvaluationContext, _ index: Int) -> Int64 {
        ctx.optionalInput(index)?.ints.first ?? 0
    }

    static func binaryKernel(add: Bool) -> Kernel {
        { ctx in
            let a = try ctx.input(0), b = try ctx.input(3)
            let shape = try ctx.outputShape()
            let ia = Indexing.broadcast(from: a.shape, to: shape), ib = Indexing.broadcast(from: b.shape, to: shape)
            let (sa, sb, sc) = (try scalar(ctx, 1), try scalar(ctx, 4), try scalar(ctx, 6))
            let (za, zb, zc) = (zero(ctx, 2), zero(ctx, 5), zero(ctx, 7))
            let type = ctx.outputType()
            let av = a.ints, bv = b.ints
            let out: [Int64]
            if add {
                // ONNX Runtime: (a − za)·(sa/sc) + (b − zb)·(sb/sc), rounded half to even, + zc, saturated.
                let ra = sa / sc, rb = sb / sc
                out = (0..<ia.count).map { i in
                    let v = Float(av[ia[i]] - za) * ra + Float(bv[ib[i]] - zb) * rb
                    return QuantizationOperators.saturate(Double(v.rounded(.toNearestOrEven)) + Double(zc), type, clampedBy: ctx.node.node)
                }
            } else {
                let r = sa * sb / sc
                out = (0..<ia.count).map { i in
                    let v = Float((av[ia[i]] - za) * (bv[ib[i]] - zb)) * r
                    return QuantizationOperators.saturate(Double(v.rounded(.toNearestOrEven)) + Double(zc), type, clampedBy: ctx.node.node)
                }
            }
            return [NDArray(type, shape: shape, ints: out)]
        }
    }

    /// Dequantize, average (float32, window order, count_include_pad as AveragePool), quantize.
    static let averagePoolKernel: Kernel = { ctx in
        let x = try ctx.input(0)
        let (sx, sy) = (try scalar(ctx, 1), try scalar(ctx, 3))
        let (zx, zy) = (zero(ctx, 2), zero(ctx, 4))
        let dequantized = NDArray(.float, shape: x.shape, floats: x.ints.map { Float($0 - zx) * sx })
        let floatContext = EvaluationContext(node: ctx.node, inputs: [dequantized], outputTypes: [TensorType(.float, try ctx.outputShape())])
        guard let pooled = try ConvolutionOperators.averagePoolKernel(floatContext).first else { return [] }
        let type = ctx.outputType()
        let out = pooled.floats.map { QuantizationOperators.saturate(Double(($0 / sy).rounded(.toNearestOrEven)) + Double(zy), type) }
        return [NDArray(type, shape: pooled.shape, ints: out)]
    }

    /// Integer sum per channel, then (sum − zx·count) · sx / (sy·count), rounded, + zy.
    static let globalAveragePoolKernel: Kernel = { ctx in
        let x = try ctx.input(0)
        let (sx, sy) = (try scalar(ctx, 1), try scalar(ctx, 3))
        let (zx, zy) = (zero(ctx, 2), zero(ctx, 4))
        let planes = x.shape[0] * x.shape[1], size = x.shape[2...].reduce(1, *)
        let v = x.ints
        let scale = sx / (sy * Float(max(size, 1)))
        let type = ctx.outputType()
        let out = (0..<planes).map { p -> Int64 in
            let sum = v[(p * size)..<((p + 1) * size)].reduce(0, +) - zx * Int64(size)
            return QuantizationOperators.saturate(Double((Float(sum) * scale).rounded(.toNearestOrEven)) + Double(zy), type)
        }
        return [NDArray(type, shape: try ctx.outputShape(), ints: out)]
    }

    /// Exact int32 accumulation of (a − za)(b − zb) plus the int32 bias, then scaled by alpha·sa·sb[/sy].
    static let qgemmKernel: Kernel = { ctx in
        let a = try ctx.input(0), b = try ctx.input(3)
        let transA = try ctx.node.int("transA", default: 0) != 0, transB = try ctx.node.int("transB", default: 0) != 0
        let alpha = try ctx.node.float("alpha", default: 1)
        let shape = try ctx.outputShape()
        let (m, n) = (shape[0], shape[1]), k = transA ? a.shape[0] : a.shape[1]
        let za = zero(ctx, 2)
        let bScales = try ctx.parameters(4, what: "b_scale", count: n)
        let bZeros = ctx.optionalInput(5)?.ints ?? [0]
        let sa = try scalar(ctx, 1)
        let av = a.ints, bv = b.ints, bias = ctx.optionalInput(6)?.ints
        var out: [Int64] = [], outFloat: [Float] = []
        let type = ctx.outputType()
        for i in 0..<m {
            for j in 0..<n {
                var acc: Int64 = 0
                let zb = bZeros[bZeros.count == 1 ? 0 : j]
                for p in 0..<k {
                    let x = av[transA ? p * m + i : i * k + p] - za
                    let y = bv[transB ? j * k + p : p * n + j] - zb
                    acc += x * y
                }
                if let bias { acc += bias[bias.count == 1 ? 0 : j] }
                let multiplier = alpha * sa * bScales[bScales.count == 1 ? 0 : j]
                if ctx.optionalInput(7) != nil {
                    let sy = try scalar(ctx, 7)
                    let v = (Float(acc) * (multiplier / sy)).rounded(.toNearestOrEven)
                    out.append(QuantizationOperators.saturate(Double(v) + Double(zero(ctx, 8)), type, clampedBy: ctx.node.node))
                } else {
                    outFloat.append(Float(acc) * multiplier)
                }
            }
        }
        return [type == .float ? NDArray(.float, shape: shape, floats: outFloat) : NDArray(type, shape: shape, ints: out)]
    }
}
