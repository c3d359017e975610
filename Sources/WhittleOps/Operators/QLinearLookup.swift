import Foundation
import WhittleIR

/// ONNX Runtime's table-driven quantized operators (domain `com.microsoft`), as its QOperator
/// quantizer writes them: QLinearLeakyRelu, QLinearSigmoid, QLinearConcat and QLinearWhere. Each maps every
/// possible input byte through a 256-entry table built the way ONNX Runtime builds it, so outputs
/// agree bit for bit: dequantize in float (X_scale · (x − X_zero_point)), apply the function,
/// quantize (round half to even of value / Y_scale, plus Y_zero_point, saturated). The sigmoid is
/// ONNX Runtime's rational approximation as its portable kernel computes it (its x86 kernels with
/// fused multiply-adds can differ in the last float bit, rarely enough to move a quantized value).
public enum QLinearLookupOperators {
    static let domain = "com.microsoft"
    static var all: [OperatorDefinition] {
        [leakyRelu.requiringEightBitIntegers([[0, 2, 4]]), sigmoid.requiringEightBitIntegers([[0, 2, 4]]), concat,
         whereOp.requiringEightBitIntegers([[1, 3, 4, 6, 8]])]
    }
    static var kernels: [String: Kernel] {
        ["QLinearLeakyRelu": leakyReluKernel, "QLinearSigmoid": sigmoidKernel, "QLinearConcat": concatKernel, "QLinearWhere": whereKernel]
    }

    /// The output for each input byte (index: the byte, so int8 −1 is entry 255) of `type` data.
    public static func table(xScale: Float, xZero: Int64, yScale: Float, yZero: Int64, type: ElementType,
                             _ function: (Float) -> Float = { $0 }) -> [Int64] {
        let (low, high) = type.integerRange
        return (0..<256).map { byte -> Int64 in
            let x = type == .int8 ? Int64(Int8(truncatingIfNeeded: byte)) : Int64(byte)
            let value = function(xScale * Float(x - xZero))
            let q = Double((value / yScale).rounded(.toNearestOrEven)) + Double(yZero)
            return Int64(Swift.min(Swift.max(q.isNaN ? Double(yZero) : q, low), high))
        }
    }

    /// The byte of a value of `type` (its table index).
    static func byte(_ value: Int64) -> Int { Int(UInt8(truncatingIfNeeded: value)) }

    // MARK: QLinearLeakyRelu

    /// (X, X_scale, X_zero_point?, Y_scale, Y_zero_point?) → Y, attribute alpha (default 0.01).
    static let leakyRelu = OperatorDefinition("QLinearLeakyRelu", domain: domain, infer: { ctx in
        try ctx.expectInputs(4, 5)
        return [TensorType(try ctx.type(0).elementType, try ctx.shape(0))]
    })

    /// The table of a QLinearLeakyRelu.
    public static func leakyReluTable(alpha: Float, xScale: Float, xZero: Int64, yScale: Float, yZero: Int64, type: ElementType) -> [Int64] {
        table(xScale: xScale, xZero: xZero, yScale: yScale, yZero: yZero, type: type) { $0 >= 0 ? $0 : alpha * $0 }
    }

    static let leakyReluKernel: Kernel = { ctx in
        let x = try ctx.input(0)
        let xScale = try ctx.parameters(1, what: "X_scale", count: 1)[0], yScale = try ctx.parameters(3, what: "Y_scale", count: 1)[0]
        let xZero = ctx.optionalInput(2)?.ints.first ?? 0, yZero = ctx.optionalInput(4)?.ints.first ?? 0
        let alpha = try ctx.node.float("alpha", default: 0.01)
        let table = leakyReluTable(alpha: alpha, xScale: xScale, xZero: xZero, yScale: yScale, yZero: yZero, type: x.elementType)
        return [NDArray(x.elementType, shape: x.shape, ints: x.ints.map { table[byte($0)] })]
    }

    // MARK: QLinearSigmoid

    /// (X, X_scale, X_zero_point?, Y_scale, Y_zero_point?) → Y.
    static let sigmoid = OperatorDefinition("QLinearSigmoid", domain: domain, infer: { ctx in
        try ctx.expectInputs(4, 5)
        return [TensorType(try ctx.type(0).elementType, try ctx.shape(0))]
    })

    /// ONNX Runtime's logistic function: x clamped to [−18, 18], an odd polynomial of degree 9 over an
    /// even one of degree 10 in x, plus 1/2, clamped to [0, 1]; float operations in its order.
    public static func logistic(_ input: Float) -> Float {
        let x = Swift.min(Swift.max(input, -18), 18), x2 = x * x
        var p: Float = x2 * 4.37031012579801e-11 + 1.15627324459942e-07
        p = p * x2 + 6.08574864600143e-05
        p = p * x2 + 8.51377133304701e-03
        p = p * x2 + 2.48287947061529e-01
        p = p * x
        var q: Float = x2 * 6.10247389755681e-13 + 5.76102136993427e-09
        q = q * x2 + 6.29106785017040e-06
        q = q * x2 + 1.70198817374094e-03
        q = q * x2 + 1.16817656904453e-01
        q = q * x2 + 9.93151921023180e-01
        return Swift.min(Swift.max(p / q + 0.5, 0), 1)
    }

    /// The table of a QLinearSigmoid.
    public static func sigmoidTable(xScale: Float, xZero: Int64, yScale: Float, yZero: Int64, type: ElementType) -> [Int64] {
        table(xScale: xScale, xZero: xZero, yScale: yScale, yZero: yZero, type: type, logistic)
    }

    static let sigmoidKernel: Kernel = { ctx in
        let x = try ctx.input(0)
        let xScale = try ctx.parameters(1, what: "X_scale", count: 1)[0], yScale = try ctx.parameters(3, what: "Y_scale", count: 1)[0]
        let table = sigmoidTable(xScale: xScale, xZero: ctx.optionalInput(2)?.ints.first ?? 0, yScale: yScale,
                                 yZero: ctx.optionalInput(4)?.ints.first ?? 0, type: x.elementType)
        return [NDArray(x.elementType, shape: x.shape, ints: x.ints.map { table[byte($0)] })]
    }

    // MARK: QLinearConcat

    /// (Y_scale, Y_zero_point, then X, X_scale, X_zero_point for each input) → Y, attribute axis.
    static let concat = OperatorDefinition("QLinearConcat", domain: domain, infer: { ctx in
        let count = ctx.node.inputs.count
        guard count >= 5, (count - 2) % 3 == 0 else {
            throw WhittleError(.invalidGraph, "QLinearConcat takes Y_scale, Y_zero_point and (X, X_scale, X_zero_point) for each input")
        }
        guard let axisAttribute = try ctx.int("axis") else { throw WhittleError(.invalidAttribute, "attribute axis is required") }
        let type = try ctx.type(1).elementType
        guard type == .int8 || type == .uint8 else {
            throw WhittleError(.shapeMismatch, "QLinearConcat takes int8 or uint8 data, not \(type.name) (input \"\(ctx.node.inputs[1])\")")
        }
        var out = try ctx.shape(2)
        let axis = try Shape.normalizeAxis(axisAttribute, rank: out.count)
        for i in stride(from: 2, to: count, by: 3) {
            let s = try ctx.shape(i)
            guard try ctx.type(i).elementType == type, try ctx.type(i + 2).elementType == type else {
                throw WhittleError(.shapeMismatch, "input \"\(ctx.node.inputs[i])\" and its zero point must be \(type.name), as Y_zero_point is")
            }
            guard s.count == out.count, s.indices.allSatisfy({ $0 == axis || s[$0] == out[$0] }) else {
                throw WhittleError(.shapeMismatch, "input \"\(ctx.node.inputs[i])\" \(Shape.describe(s)) does not concatenate on axis \(axis)")
            }
            if i > 2 { out[axis] += s[axis] }
        }
        return [TensorType(type, out)]
    })

    /// Each input's table, or nil where its scale and zero point are the output's (copied as it is).
    public static func concatTables(_ inputs: [(scale: Float, zero: Int64)], yScale: Float, yZero: Int64, type: ElementType) -> [[Int64]?] {
        inputs.map { $0.scale == yScale && $0.zero == yZero ? nil : table(xScale: $0.scale, xZero: $0.zero, yScale: yScale, yZero: yZero, type: type) }
    }

    static let concatKernel: Kernel = { ctx in
        let count = (ctx.inputs.count - 2) / 3
        let yScale = try ctx.parameters(0, what: "Y_scale", count: 1)[0], yZero = ctx.optionalInput(1)?.ints.first ?? 0
        let shape = try ctx.outputShape(), type = ctx.outputType()
        let axis = try Shape.normalizeAxis(try ctx.node.int("axis", default: 0), rank: shape.count)
        let inner = shape[(axis + 1)...].reduce(1, *), outer = shape[..<axis].reduce(1, *)
        var parameters: [(scale: Float, zero: Int64)] = [], values: [[Int64]] = [], pitches: [Int] = []
        for k in 0..<count {
            let x = try ctx.input(2 + 3 * k)
            parameters.append((try ctx.parameters(3 + 3 * k, what: "X_scale", count: 1)[0], ctx.optionalInput(4 + 3 * k)?.ints.first ?? 0))
            values.append(x.ints)
            pitches.append(x.shape[axis] * inner)
        }
        let tables = concatTables(parameters, yScale: yScale, yZero: yZero, type: type)
        var out: [Int64] = []
        out.reserveCapacity(shape.reduce(1, *))
        for o in 0..<outer {
            for k in 0..<count {
                let slice = values[k][(o * pitches[k])..<((o + 1) * pitches[k])]
                if let table = tables[k] { out += slice.map { table[byte($0)] } } else { out += slice }
            }
        }
        return [NDArray(type, shape: shape, ints: out)]
    }

    // MARK: QLinearWhere

    /// (condition, X, X_scale, X_zero_point, Y, Y_scale, Y_zero_point, Z_scale, Z_zero_point) → Z: Where with
    /// X and Y requantized to Z's scale and zero point through tables (copied where they already have them),
    /// the three inputs broadcast together.
    static let whereOp = OperatorDefinition("QLinearWhere", domain: domain, infer: { ctx in
        try ctx.expectInputs(9, 9)
        guard try ctx.type(0).elementType == .bool else {
            throw WhittleError(.shapeMismatch, "condition must be bool, not \(try ctx.type(0).elementType.name) (input \"\(ctx.node.inputs[0])\")")
        }
        let type = try ctx.type(1).elementType
        guard try ctx.type(4).elementType == type else {
            throw WhittleError(.shapeMismatch, "X and Y types differ: \(type.name) and \(try ctx.type(4).elementType.name)")
        }
        guard let shape = Shape.broadcast(Shape.broadcast(try ctx.shape(0), try ctx.shape(1)) ?? [], try ctx.shape(4)),
              Shape.broadcast(try ctx.shape(0), try ctx.shape(1)) != nil else {
            throw WhittleError(.shapeMismatch, "condition \(Shape.describe(try ctx.shape(0))), X \(Shape.describe(try ctx.shape(1))) "
                                   + "and Y \(Shape.describe(try ctx.shape(4))) do not broadcast")
        }
        return [TensorType(type, shape)]
    })

    /// The tables of X and Y into Z's quantization, nil for an input with Z's scale and zero point.
    public static func whereTables(x: (scale: Float, zero: Int64), y: (scale: Float, zero: Int64), zScale: Float, zZero: Int64,
                                   type: ElementType) -> (x: [Int64]?, y: [Int64]?) {
        let tables = concatTables([x, y], yScale: zScale, yZero: zZero, type: type)
        return (tables[0], tables[1])
    }

    static let whereKernel: Kernel = { ctx in
        let c = try ctx.input(0), x = try ctx.input(1), y = try ctx.input(4)
        let shape = try ctx.outputShape()
        let (tx, ty) = whereTables(x: (try ctx.parameters(2, what: "X_scale", count: 1)[0], try ctx.input(3).ints.first ?? 0),
                                   y: (try ctx.parameters(5, what: "Y_scale", count: 1)[0], try ctx.input(6).ints.first ?? 0),
                                   zScale: try ctx.parameters(7, what: "Z_scale", count: 1)[0], zZero: try ctx.input(8).ints.first ?? 0,
                                   type: x.elementType)
        let ic = Indexing.broadcast(from: c.shape, to: shape), ix = Indexing.broadcast(from: x.shape, to: shape)
        let iy = Indexing.broadcast(from: y.shape, to: shape)
        let cv = c.ints, xv = x.ints, yv = y.ints
        let out = (0..<shape.reduce(1, *)).map { i -> Int64 in
            if cv[ic[i]] != 0 { return tx.map { $0[byte(xv[ix[i]])] } ?? xv[ix[i]] }
            return ty.map { $0[byte(yv[iy[i]])] } ?? yv[iy[i]]
        }
        return [NDArray(x.elementType, shape: shape, ints: out)]
    }
}
