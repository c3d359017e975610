import Foundation
import WhittleIR

/// Element-wise operators: unary math and activations, broadcasting arithmetic,
/// comparisons, logic, `Where`, `Clip`.
enum ElementwiseOperators {
    static var all: [OperatorDefinition] {
        unary + binary + comparisons + variadic + [clip, whereOp, prelu, softmax("Softmax"), softmax("LogSoftmax"), cast, castLike]
    }

    // MARK: Unary

    /// Operators whose output has the input's type and shape; the fold function is given where shape arithmetic uses it.
    static let unary: [OperatorDefinition] = {
        typealias Spec = (name: String, double: (@Sendable (Double) -> Double)?, int: (@Sendable (Int64) -> Int64)?)
        let plain = ["Relu", "Sigmoid", "Tanh", "Exp", "Log", "Erf", "LeakyRelu", "HardSigmoid", "HardSwish", "Gelu",
                     "Reciprocal", "Sign", "Sin", "Cos", "Elu", "Selu", "Softplus", "Softsign", "Not",
                     "Tan", "Asin", "Acos", "Atan", "Sinh", "Cosh", "Asinh", "Acosh", "Atanh", "Mish", "Celu", "ThresholdedRelu",
                     "Shrink", "Swish", "BitwiseNot"]
        var math: [Spec] = plain.map { (name: $0, double: nil, int: nil) }
        // These also fold, because exporters use them in shape arithmetic.
        math.append((name: "Identity", double: { $0 }, int: { $0 }))
        math.append((name: "Neg", double: { -$0 }, int: { 0 &- $0 }))
        math.append((name: "Abs", double: { Swift.abs($0) }, int: { $0 < 0 ? 0 &- $0 : $0 }))
        math.append((name: "Sqrt", double: { $0.squareRoot() }, int: nil))
        math.append((name: "Floor", double: { $0.rounded(.down) }, int: { $0 }))
        math.append((name: "Ceil", double: { $0.rounded(.up) }, int: { $0 }))
        math.append((name: "Round", double: { $0.rounded(.toNearestOrEven) }, int: { $0 }))
        return math.map { spec in
            let name = spec.name
            var fold: OperatorDefinition.Fold?
            if let double = spec.double {
                let int = spec.int
                fold = { ctx in
                    guard let x = ctx.value(0) else { return nil }
                    return try ConstantFolding.unary(x, int: int, double: double).map { [$0] }
                }
            }
            return OperatorDefinition(name, infer: { ctx in
                try ctx.expectInputs(1, 1)
                let x = try ctx.type(0)
                if name == "Not" && x.elementType != .bool {
                    throw WhittleError(.shapeMismatch, "Not takes bool, found \(x.elementType.name)")
                }
                if name == "BitwiseNot" && (x.elementType.isFloatingPoint || x.elementType == .bool) {
                    throw WhittleError(.shapeMismatch, "BitwiseNot takes integer tensors, not \(x.elementType.name)")
                }
                return [x]
            }, fold: fold)
        }
    }()

    // MARK: Binary

    static let binary: [OperatorDefinition] = {
        let ops: [(String, @Sendable (Int64, Int64) -> Int64?, @Sendable (Double, Double) -> Double)] = [
            ("Add", { $0 &+ $1 }, { $0 + $1 }),
            ("Sub", { $0 &- $1 }, { $0 - $1 }),
            ("Mul", { $0 &* $1 }, { $0 * $1 }),
            // Integer division truncates, as ONNX Runtime's does; division by zero is not folded.
            ("Div", { $1 == 0 || ($0 == .min && $1 == -1) ? nil : $0 / $1 }, { $0 / $1 }),
            ("Pow", { b, e in e < 0 || e > 62 ? nil : (0..<e).reduce(Int64(1)) { acc, _ in acc &* b } }, { Foundation.pow($0, $1) }),
            ("Mod", { a, b in
                guard b != 0, !(a == .min && b == -1) else { return nil }
                let r = a % b
                return r != 0 && (r < 0) != (b < 0) ? r + b : r
            },
                { $0.truncatingRemainder(dividingBy: $1) }),
            ("And", { ($0 != 0 && $1 != 0) ? 1 : 0 }, { ($0 != 0 && $1 != 0) ? 1 : 0 }),
            ("Or", { ($0 != 0 || $1 != 0) ? 1 : 0 }, { ($0 != 0 || $1 != 0) ? 1 : 0 }),
            ("Xor", { ($0 != 0) != ($1 != 0) ? 1 : 0 }, { ($0 != 0) != ($1 != 0) ? 1 : 0 }),
            // Integer types only (checked below): the float forms are never used.
            ("BitwiseAnd", { $0 & $1 }, { _, _ in .nan }),
            ("BitwiseOr", { $0 | $1 }, { _, _ in .nan }),
            ("BitwiseXor", { $0 ^ $1 }, { _, _ in .nan }),
        ]
        return ops.map { name, int, double in
            OperatorDefinition(name, infer: { ctx in
                try ctx.expectInputs(2, 2)
                let a = try ctx.type(0), b = try ctx.type(1)
                // Pow's exponent may have another numeric type than its base.
                if name != "Pow" && a.elementType != b.elementType {
                    throw WhittleError(.shapeMismatch, "input types differ: \(a.elementType.name) and \(b.elementType.name)")
                }
                if name.hasPrefix("Bitwise") && (a.elementType.isFloatingPoint || a.elementType == .bool) {
                    throw WhittleError(.shapeMismatch, "\(name) takes integer tensors, not \(a.elementType.name)")
                }
                return [TensorType(a.elementType, try broadcastShape(ctx.shape(0), ctx.shape(1)))]
            }, fold: { ctx in
                guard let a = ctx.value(0), let b = ctx.value(1) else { return nil }
                return try ConstantFolding.binary(a, b, resultType: a.elementType, int: int, double: double).map { [$0] }
            })
        }
    }()

    static let comparisons: [OperatorDefinition] = {
        let ops: [(String, @Sendable (Double, Double) -> Bool)] = [
            ("Equal", { $0 == $1 }), ("Greater", { $0 > $1 }), ("Less", { $0 < $1 }),
            ("GreaterOrEqual", { $0 >= $1 }), ("LessOrEqual", { $0 <= $1 }),
        ]
        return ops.map { name, compare in
            OperatorDefinition(name, infer: { ctx in
                try ctx.expectInputs(2, 2)
                let a = try ctx.type(0), b = try ctx.type(1)
                guard a.elementType == b.elementType else {
                    throw WhittleError(.shapeMismatch, "input types differ: \(a.elementType.name) and \(b.elementType.name)")
                }
                return [TensorType(.bool, try broadcastShape(ctx.shape(0), ctx.shape(1)))]
            }, fold: { ctx in
                guard let a = ctx.value(0), let b = ctx.value(1) else { return nil }
                return try ConstantFolding.binary(a, b, resultType: .bool,
                    int: { compare(Double($0), Double($1)) ? 1 : 0 }, double: { compare($0, $1) ? 1 : 0 }).map { [$0] }
            })
        }
    }()

    /// Min, Max, Sum, Mean: any number of inputs, broadcast together.
    static let variadic: [OperatorDefinition] = ["Min", "Max", "Sum", "Mean"].map { name in
        OperatorDefinition(name, infer: { ctx in
            try ctx.expectInputs(1, Int.max)
            let first = try ctx.type(0)
            var shape = try ctx.shape(0)
            for i in 1..<ctx.node.inputs.count {
                guard try ctx.type(i).elementType == first.elementType else {
                    throw WhittleError(.shapeMismatch, "input types differ: \(first.elementType.name) and \(try ctx.type(i).elementType.name)")
                }
                shape = try broadcastShape(shape, ctx.shape(i))
            }
            return [TensorType(first.elementType, shape)]
        }, fold: { ctx in
            guard name == "Min" || name == "Max" else { return nil }
            guard var acc = ctx.value(0) else { return nil }
            for i in 1..<ctx.node.inputs.count {
                guard let next = ctx.value(i) else { return nil }
                let pick: (Double, Double) -> Double = name == "Min" ? { Swift.min($0, $1) } : { Swift.max($0, $1) }
                guard let r = try ConstantFolding.binary(acc, next, resultType: acc.elementType,
                    int: { name == "Min" ? Swift.min($0, $1) : Swift.max($0, $1) }, double: pick) else { return nil }
                acc = r
            }
            return [acc]
        })
    }

    // MARK: Others

    static let clip = OperatorDefinition("Clip", infer: { ctx in
        // Before opset 11 the bounds are attributes; from 11 they are optional scalar inputs.
        try ctx.expectInputs(1, ctx.opset < 11 ? 1 : 3)
        let x = try ctx.type(0)
        for i in 1..<max(ctx.node.inputs.count, 1) where ctx.has(i) {
            let bound = try ctx.type(i)
            guard bound.elementType == x.elementType, (bound.shape ?? []).reduce(1, *) == 1 else {
                throw WhittleError(.shapeMismatch, "Clip bound \(i) must be a \(x.elementType.name) scalar, found \(bound)")
            }
        }
        return [x]
    })

    static let whereOp = OperatorDefinition("Where", infer: { ctx in
        try ctx.expectInputs(3, 3)
        guard try ctx.type(0).elementType == .bool else {
            throw WhittleError(.shapeMismatch, "condition must be bool, found \(try ctx.type(0).elementType.name)")
        }
        let x = try ctx.type(1), y = try ctx.type(2)
        guard x.elementType == y.elementType else {
            throw WhittleError(.shapeMismatch, "X and Y types differ: \(x.elementType.name) and \(y.elementType.name)")
        }
        let shape = try broadcastShape(broadcastShape(ctx.shape(0), ctx.shape(1)), ctx.shape(2))
        return [TensorType(x.elementType, shape)]
    }, fold: { ctx in
        guard let c = ctx.value(0), let x = ctx.value(1), let y = ctx.value(2),
              let shape = Shape.broadcast(Shape.broadcast(c.shape, x.shape) ?? [], y.shape),
              let cv = c.int64s() else { return nil }
        let ic = ConstantFolding.broadcastIndices(from: c.shape, to: shape)
        let ix = ConstantFolding.broadcastIndices(from: x.shape, to: shape)
        let iy = ConstantFolding.broadcastIndices(from: y.shape, to: shape)
        if let xv = x.int64s(), let yv = y.int64s() {
            let out = (0..<ic.count).map { cv[ic[$0]] != 0 ? xv[ix[$0]] : yv[iy[$0]] }
            return try ConstantFolding.make(x.elementType, shape: shape, ints: out).map { [$0] }
        }
        let xv = x.doubles(), yv = y.doubles()
        let out = (0..<ic.count).map { cv[ic[$0]] != 0 ? xv[ix[$0]] : yv[iy[$0]] }
        return try ConstantFolding.make(x.elementType, shape: shape, doubles: out).map { [$0] }
    })

    static let prelu = OperatorDefinition("PRelu", infer: { ctx in
        try ctx.expectInputs(2, 2)
        let x = try ctx.type(0)
        let slope = try ctx.shape(1)
        // The slope broadcasts to X (unidirectionally).
        guard let shape = Shape.broadcast(try ctx.shape(0), slope), shape == (try ctx.shape(0)) else {
            throw WhittleError(.shapeMismatch, "slope \(Shape.describe(slope)) does not broadcast to X \(x)")
        }
        return [x]
    })

    static func softmax(_ name: String) -> OperatorDefinition {
        OperatorDefinition(name, infer: { ctx in
            try ctx.expectInputs(1, 1)
            let x = try ctx.type(0)
            // The default axis changed from 1 to -1 in opset 13.
            let axis = try ctx.int("axis", default: ctx.opset < 13 ? 1 : -1)
            let rank = try ctx.shape(0).count
            if rank > 0 { _ = try Shape.normalizeAxis(axis, rank: rank) }
            return [x]
        })
    }

    static let cast = OperatorDefinition("Cast", infer: { ctx in
        try ctx.expectInputs(1, 1)
        guard let to = try ctx.elementType("to") else {
            throw WhittleError(.invalidAttribute, "attribute to is required")
        }
        return [TensorType(to, try ctx.shape(0))]
    }, fold: { ctx in
        // The 8- and 4-bit types round and saturate by attributes: their kernel computes them.
        guard let x = ctx.value(0), let to = try ctx.elementType("to"), to.isSupported, !to.isMiniFloat, !to.isPacked,
              !x.elementType.isMiniFloat, !x.elementType.isPacked else { return nil }
        if let ints = x.int64s() { return try ConstantFolding.make(to, shape: x.shape, ints: ints).map { [$0] } }
        return try ConstantFolding.make(to, shape: x.shape, doubles: x.doubles()).map { [$0] }
    })

    static let castLike = OperatorDefinition("CastLike", infer: { ctx in
        try ctx.expectInputs(2, 2)
        return [TensorType(try ctx.type(1).elementType, try ctx.shape(0))]
    })

    /// Broadcast two shapes or throw a message naming both.
    static func broadcastShape(_ a: [Int], _ b: [Int]) throws -> [Int] {
        guard let shape = Shape.broadcast(a, b) else {
            throw WhittleError(.shapeMismatch, "shapes \(Shape.describe(a)) and \(Shape.describe(b)) do not broadcast")
        }
        return shape
    }
}
