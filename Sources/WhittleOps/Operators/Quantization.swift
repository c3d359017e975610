import WhittleIR

/// QuantizeLinear, DequantizeLinear and DynamicQuantizeLinear.
enum QuantizationOperators {
    static var all: [OperatorDefinition] { [quantizeLinear, dequantizeLinear, dynamicQuantizeLinear] }

    /// Scale and zero point are scalars or (per axis) 1-D tensors of the axis' size.
    static func checkQuantParameters(_ ctx: InferenceContext, x: [Int]) throws {
        let scale = try ctx.shape(1)
        let zeroPoint = ctx.has(2) ? try ctx.shape(2) : scale
        // One scale and one zero point, whatever their ranks ([] or [1]), are per tensor.
        if scale.reduce(1, *) == 1 && zeroPoint.reduce(1, *) == 1 && scale.count <= 1 && zeroPoint.count <= 1 { return }
        if scale.count > 1 || zeroPoint != scale {
            // Blocked quantization (opset 21) uses same-rank scales; the zero point must still match the scale.
            if !(scale.count == x.count && zeroPoint == scale) {
                throw WhittleError(.shapeMismatch, "scale \(Shape.describe(scale)) and zero point do not fit input \(Shape.describe(x))")
            }
            return
        }
        if scale.count == 1 && scale[0] != 1 {
            let axis = try Shape.normalizeAxis(ctx.int("axis", default: 1), rank: x.count)
            guard x[axis] == scale[0] else {
                throw WhittleError(.shapeMismatch, "per-axis scale has \(scale[0]) values but axis \(axis) of \(Shape.describe(x)) has \(x[axis])")
            }
        }
    }

    static let quantizeLinear = OperatorDefinition("QuantizeLinear", infer: { ctx in
        try ctx.expectInputs(2, 3)
        let x = try ctx.shape(0)
        try checkQuantParameters(ctx, x: x)
        // The zero point fixes the output type; without one it is uint8 (or output_dtype from opset 21).
        let type = ctx.has(2) ? try ctx.type(2).elementType : (try ctx.elementType("output_dtype") ?? .uint8)
        return [TensorType(type, x)]
    })

    static let dequantizeLinear = OperatorDefinition("DequantizeLinear", infer: { ctx in
        try ctx.expectInputs(2, 3)
        let x = try ctx.shape(0)
        try checkQuantParameters(ctx, x: x)
        // The integer types the operator takes; the kernels rely on them (no int64 arithmetic can overflow).
        let xType = try ctx.type(0).elementType
        guard [.int8, .uint8, .int16, .uint16, .int32, .int4, .uint4, .int2, .uint2].contains(xType) || xType.isMiniFloat else {
            throw WhittleError(.shapeMismatch, "DequantizeLinear takes 2- to 32-bit integers or 8- and 4-bit floats, not \(xType.name)")
        }
        if ctx.has(2), try ctx.type(2).elementType != xType {
            throw WhittleError(.shapeMismatch, "x_zero_point is \(try ctx.type(2).elementType.name) but x is \(xType.name)")
        }
        guard try ctx.type(1).elementType.isFloatingPoint else { throw WhittleError(.shapeMismatch, "x_scale must be a floating-point tensor") }
        // The output takes the scale's type (float32 before opset 19 allowed others).
        return [TensorType(try ctx.type(1).elementType, x)]
    })

    static let dynamicQuantizeLinear = OperatorDefinition("DynamicQuantizeLinear", infer: { ctx in
        try ctx.expectInputs(1, 1)
        return [TensorType(.uint8, try ctx.shape(0)), TensorType(.float, []), TensorType(.uint8, [])]
    })
}
