import Foundation
import WhittleIR

/// Reference kernels of the quantization operators: round half to even, then saturate.
extension QuantizationOperators {
    static var kernels: [String: Kernel] {
        ["QuantizeLinear": quantizeKernel, "DequantizeLinear": dequantizeKernel, "DynamicQuantizeLinear": dynamicQuantizeKernel]
    }

    /// The range of an integer type used for saturation.
    static func range(_ type: ElementType) -> (Double, Double) { type.integerRange }

    /// `value` (already rounded) clamped to `type`'s range.
    static func saturate(_ value: Double, _ type: ElementType) -> Int64 {
        let (low, high) = range(type)
        guard !value.isNaN else { return 0 }
        let clamped = Swift.min(Swift.max(value, low), high)
        // Int64 cannot hold every uint64; such values wrap like the stored bits.
        if clamped >= 9.223372036854775807e18 { return Int64(bitPattern: UInt64(Swift.min(clamped, 1.8446744073709550e19))) }
        return Int64(clamped)
    }

    /// `value` (already rounded) saturated to `type` and then to the node's fused activation bounds.
    static func saturate(_ value: Double, _ type: ElementType, clampedBy node: Node) -> Int64 {
        let (low, high) = node.quantizedOutputBounds(type)
        return Swift.min(Swift.max(saturate(value, type), low), high)
    }

    /// For each element, the index of its scale/zero point: 0 per tensor, the `axis` coordinate per axis.
    static func parameterIndex(_ ctx: EvaluationContext, shape: [Int], scaleShape: [Int]) throws -> (Int) -> Int {
        guard scaleShape.reduce(1, *) > 1 else { return { _ in 0 } }
        let axis = try Shape.normalizeAxis(ctx.node.int("axis", default: 1), rank: shape.count)
        let block = try ctx.node.int("block_size", default: 0)
        if block > 0 {
            // Blocked (opset 21): the scale has the input's rank; along `axis` one scale covers `block` elements.
            guard scaleShape.count == shape.count else {
                throw WhittleError(.shapeMismatch, "blocked scale \(Shape.describe(scaleShape)) must have the input's rank")
            }
            let strides = Shape.strides(shape), scaleStrides = Shape.strides(scaleShape)
            return { flat in
                shape.indices.reduce(0) { acc, d in
                    let coordinate = (flat / strides[d]) % shape[d]
                    return acc + (d == axis ? coordinate / block : coordinate) * scaleStrides[d]
                }
            }
        }
        let (_, size, inner) = Indexing.split(shape, at: axis)
        return { ($0 / inner) % size }
    }

    static let quantizeKernel: Kernel = { ctx in
        let x = try ctx.input(0), scale = try ctx.input(1)
        let zero = ctx.optionalInput(2)
        let type = ctx.outputType()
        guard type.isInteger || type.isMiniFloat else { throw WhittleError(.unsupported, "QuantizeLinear to \(type.name) is not supported") }
        let index = try parameterIndex(ctx, shape: x.shape, scaleShape: scale.shape)
        if type.isMiniFloat {
            // To a float type: x / scale + zero point, rounded to the type (saturating unless saturate = 0).
            let scales = try ctx.parameters(1, what: "y_scale", count: scale.count), zeros = zero?.floats ?? [0]
            let saturate = try ctx.node.int("saturate", default: 1) != 0 || type == .float4e2m1
            let xv = x.floats
            let out = xv.indices.map { i -> Float in
                let k = index(i)
                let v = xv[i] / scales[k] + zeros[zeros.count == 1 ? 0 : k]
                return MiniFloat.decode(MiniFloat.encode(v, type, saturate: saturate), type)
            }
            return [NDArray(type, shape: x.shape, floats: out)]
        }
        let scales = try ctx.parameters(1, what: "y_scale", count: scale.count), zeros = zero?.ints ?? [0]
        guard zeros.count == 1 || zeros.count == scales.count else {
            throw WhittleError(.shapeMismatch, "y_zero_point has \(zeros.count) values; 1 or \(scales.count) expected")
        }
        let xv = x.floats
        let out = xv.indices.map { i -> Int64 in
            let k = index(i)
            // Division in float32, as ONNX Runtime does, then round half to even.
            let q = (xv[i] / scales[k]).rounded(.toNearestOrEven)
            return saturate(Double(q) + Double(zeros[zeros.count == 1 ? 0 : k]), type)
        }
        return [NDArray(type, shape: x.shape, ints: out)]
    }

    static let dequantizeKernel: Kernel = { ctx in
        let x = try ctx.input(0), scale = try ctx.input(1)
        let index = try parameterIndex(ctx, shape: x.shape, scaleShape: scale.shape)
        let scales = try ctx.parameters(1, what: "x_scale", count: scale.count), zeros = ctx.optionalInput(2)?.ints ?? [0]
        guard zeros.count == 1 || zeros.count == scales.count else {
            throw WhittleError(.shapeMismatch, "x_zero_point has \(zeros.count) values; 1 or \(scales.count) expected")
        }
        if x.elementType.isMiniFloat {
            let xv = x.floats, floatZeros = ctx.optionalInput(2)?.floats ?? [0]
            let out = xv.indices.map { i -> Float in
                let k = index(i)
                return (xv[i] - floatZeros[floatZeros.count == 1 ? 0 : k]) * scales[k]
            }
            return [NDArray(ctx.outputType(), shape: x.shape, floats: out)]
        }
        let xv = x.ints
        let out = xv.indices.map { i -> Float in
            let k = index(i)
            // In Double: exact for every integer type the operator takes, and no overflow on any a file declares.
            return Float(Double(xv[i]) - Double(zeros[zeros.count == 1 ? 0 : k])) * scales[k]
        }
        return [NDArray(ctx.outputType(), shape: x.shape, floats: out)]
    }

    static let dynamicQuantizeKernel: Kernel = { ctx in
        let x = try ctx.input(0)
        let v = x.floats
        let low = Swift.min(0, v.min() ?? 0), high = Swift.max(0, v.max() ?? 0)
        let scale = (high - low) / 255
        guard scale > 0 else {
            return [NDArray(.uint8, shape: x.shape, ints: Array(repeating: 0, count: v.count)),
                    NDArray(.float, shape: [], floats: [0]), NDArray(.uint8, shape: [], ints: [0])]
        }
        let zero = saturate(Double((0 - low / scale).rounded(.toNearestOrEven)), .uint8)
        let out = v.map { saturate(Double(($0 / scale).rounded(.toNearestOrEven)) + Double(zero), .uint8) }
        return [NDArray(.uint8, shape: x.shape, ints: out), NDArray(.float, shape: [], floats: [scale]),
                NDArray(.uint8, shape: [], ints: [zero])]
    }
}
