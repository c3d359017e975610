import Foundation
import WhittleIR

/// Reference kernels of the element-wise operators. Floats are computed in
/// Float (as float32 hardware does), doubles in Double, integers in Int64 and
/// wrapped to their type.
extension ElementwiseOperators {
    static var kernels: [String: Kernel] {
        var table: [String: Kernel] = [:]
        for (name, makeFunction) in unaryFunctions {
            table[name] = { ctx in
                let x = try ctx.input(0)
                let f = try makeFunction(ctx.node)
                return [x.mapped(float: { Float(f(Double($0))) }, double: f, int: { NDArray.integer(from: f(Double($0)), as: .int64) })]
            }
        }
        // Exact float32 forms of the common activations, so results match float32 hardware bit for bit.
        // NaN stays NaN (as in ONNX Runtime and the C): only values below 0 become 0.
        table["Relu"] = { ctx in [try ctx.input(0).mapped(float: { $0 < 0 ? 0 : $0 }, double: { $0 < 0 ? 0 : $0 }, int: { Swift.max($0, 0) })] }
        table["Neg"] = { ctx in [try ctx.input(0).mapped(float: { -$0 }, double: { -$0 }, int: { 0 &- $0 })] }
        table["Abs"] = { ctx in [try ctx.input(0).mapped(float: { Swift.abs($0) }, double: { Swift.abs($0) }, int: { $0 < 0 ? 0 &- $0 : $0 })] }
        table["Identity"] = { ctx in [try ctx.input(0)] }
        table["Sign"] = { ctx in
            [try ctx.input(0).mapped(float: { $0 > 0 ? 1 : ($0 < 0 ? -1 : 0) }, double: { $0 > 0 ? 1 : ($0 < 0 ? -1 : 0) },
                                     int: { $0 > 0 ? 1 : ($0 < 0 ? -1 : 0) })]
        }
        // Integers only (shape inference checks); the result wraps to the type.
        table["BitwiseNot"] = { ctx in [try ctx.input(0).mapped(float: { $0 }, double: { $0 }, int: { ~$0 })] }
        table["Not"] = { ctx in [try ctx.input(0).mapped(float: { $0 == 0 ? 1 : 0 }, double: { $0 == 0 ? 1 : 0 }, int: { $0 == 0 ? 1 : 0 })] }
        for (name, f) in binaryFunctions { table[name] = binaryKernel(f) }
        for (name, (compare, compareInts)) in comparisonFunctions {
            table[name] = { ctx in
                let a = try ctx.input(0), b = try ctx.input(1)
                let shape = try ctx.outputShape()
                let ia = Indexing.broadcast(from: a.shape, to: shape), ib = Indexing.broadcast(from: b.shape, to: shape)
                let out: [Int64]
                switch (a.storage, b.storage) {
                case (.int(let x), .int(let y)): out = (0..<ia.count).map { compareInts(x[ia[$0]], y[ib[$0]]) ? 1 : 0 }
                default:
                    let x = a.doubles, y = b.doubles
                    out = (0..<ia.count).map { compare(x[ia[$0]], y[ib[$0]]) ? 1 : 0 }
                }
                return [NDArray(.bool, shape: shape, ints: out)]
            }
        }
        table["Min"] = variadicKernel(float: { Swift.min($0, $1) }, int: { Swift.min($0, $1) }, propagateNaN: true)
        table["Max"] = variadicKernel(float: { Swift.max($0, $1) }, int: { Swift.max($0, $1) }, propagateNaN: true)
        table["Sum"] = variadicKernel(float: { $0 + $1 }, int: { $0 &+ $1 }, propagateNaN: false)
        table["Mean"] = { ctx in
            let sum = try variadicKernel(float: { $0 + $1 }, int: { $0 &+ $1 }, propagateNaN: false)(ctx)[0]
            let n = Double(ctx.inputs.count)
            return [sum.mapped(float: { $0 / Float(n) }, double: { $0 / n }, int: { $0 / Int64(n) })]
        }
        table["Mod"] = { ctx in
            // fmod = 1: C fmod (sign of the dividend); fmod = 0: integer modulo with the divisor's sign.
            let fmod = try ctx.node.int("fmod", default: 0) != 0
            let function: BinaryFunction = (
                { a, b in let r = Foundation.fmodf(a, b); return fmod || r == 0 || (r < 0) == (b < 0) ? r : r + b },
                { a, b in let r = Foundation.fmod(a, b); return fmod || r == 0 || (r < 0) == (b < 0) ? r : r + b },
                { a, b in
                    guard b != 0 else { throw WhittleError(.shapeMismatch, "integer modulo by zero") }
                    if a == .min && b == -1 { return 0 }
                    let r = a % b
                    return fmod || r == 0 || (r < 0) == (b < 0) ? r : r + b
                })
            return try binaryKernel(function)(ctx)
        }
        table["Clip"] = clipKernel
        table["Where"] = whereKernel
        table["PRelu"] = { ctx in
            let x = try ctx.input(0), slope = try ctx.input(1)
            let index = Indexing.broadcast(from: slope.shape, to: x.shape)
            let s = slope.doubles
            switch x.storage {
            case .float(let v):
                let sf = slope.floats
                return [NDArray(x.elementType, shape: x.shape, floats: v.indices.map { v[$0] < 0 ? v[$0] * sf[index[$0]] : v[$0] })]
            default:
                let v = x.doubles
                return [NDArray(x.elementType, shape: x.shape, values: v.indices.map { v[$0] < 0 ? v[$0] * s[index[$0]] : v[$0] })]
            }
        }
        table["Softmax"] = softmaxKernel(log: false)
        table["LogSoftmax"] = softmaxKernel(log: true)
        table["Cast"] = { ctx in [try cast(ctx.input(0), ctx)] }
        table["CastLike"] = { ctx in [try cast(ctx.input(0), ctx)] }
        return table
    }

    /// Unary functions in Double, built from the node's attributes.
    static let unaryFunctions: [String: @Sendable (InferenceContext) throws -> @Sendable (Double) -> Double] = [
        "Sigmoid": { _ in { 1 / (1 + Foundation.exp(-$0)) } },
        "Tanh": { _ in { Foundation.tanh($0) } },
        "Sqrt": { _ in { $0.squareRoot() } },
        "Exp": { _ in { Foundation.exp($0) } },
        "Log": { _ in { Foundation.log($0) } },
        "Erf": { _ in { Foundation.erf($0) } },
        "Floor": { _ in { $0.rounded(.down) } },
        "Ceil": { _ in { $0.rounded(.up) } },
        "Round": { _ in { $0.rounded(.toNearestOrEven) } },
        "Reciprocal": { _ in { 1 / $0 } },
        "Sin": { _ in { Foundation.sin($0) } },
        "Cos": { _ in { Foundation.cos($0) } },
        "Softsign": { _ in { $0 / (1 + Swift.abs($0)) } },
        "Softplus": { _ in { Foundation.log(1 + Foundation.exp($0)) } },
        "Tan": { _ in { Foundation.tan($0) } },
        "Asin": { _ in { Foundation.asin($0) } },
        "Acos": { _ in { Foundation.acos($0) } },
        "Atan": { _ in { Foundation.atan($0) } },
        "Sinh": { _ in { Foundation.sinh($0) } },
        "Cosh": { _ in { Foundation.cosh($0) } },
        "Asinh": { _ in { Foundation.asinh($0) } },
        "Acosh": { _ in { Foundation.acosh($0) } },
        "Atanh": { _ in { Foundation.atanh($0) } },
        "Mish": { _ in { $0 * Foundation.tanh(Foundation.log(1 + Foundation.exp($0))) } },
        "Celu": { n in
            let a = Double(try n.float("alpha", default: 1))
            return { Swift.max(0, $0) + Swift.min(0, a * (Foundation.exp($0 / a) - 1)) }
        },
        "ThresholdedRelu": { n in let a = Double(try n.float("alpha", default: 1)); return { $0 > a ? $0 : 0 } },
        "Shrink": { n in
            let bias = Double(try n.float("bias", default: 0)), lambd = Double(try n.float("lambd", default: 0.5))
            return { $0 < -lambd ? $0 + bias : ($0 > lambd ? $0 - bias : 0) }
        },
        "Swish": { n in let a = Double(try n.float("alpha", default: 1)); return { $0 / (1 + Foundation.exp(-a * $0)) } },
        "LeakyRelu": { n in let a = Double(try n.float("alpha", default: 0.01)); return { $0 < 0 ? a * $0 : $0 } },
        "Elu": { n in let a = Double(try n.float("alpha", default: 1)); return { $0 < 0 ? a * (Foundation.exp($0) - 1) : $0 } },
        "Selu": { n in
            let a = Double(try n.float("alpha", default: 1.67326319217681884765625))
            let g = Double(try n.float("gamma", default: 1.05070102214813232421875))
            return { $0 <= 0 ? g * (a * Foundation.exp($0) - a) : g * $0 }
        },
        "HardSigmoid": { n in
            let a = Double(try n.float("alpha", default: 0.2)), b = Double(try n.float("beta", default: 0.5))
            return { Swift.max(0, Swift.min(1, a * $0 + b)) }
        },
        "HardSwish": { _ in { $0 * Swift.max(0, Swift.min(1, $0 / 6 + 0.5)) } },
        "Gelu": { n in
            let approximate = try n.string("approximate", default: "none")
            guard approximate == "none" || approximate == "tanh" else {
                throw WhittleError(.invalidAttribute, "approximate \"\(approximate)\" is not none or tanh")
            }
            if approximate == "tanh" {
                return { 0.5 * $0 * (1 + Foundation.tanh((2 / Double.pi).squareRoot() * ($0 + 0.044715 * $0 * $0 * $0))) }
            }
            return { 0.5 * $0 * (1 + Foundation.erf($0 / 2.0.squareRoot())) }
        },
    ]

    typealias BinaryFunction = (float: @Sendable (Float, Float) -> Float, double: @Sendable (Double, Double) -> Double,
                                int: @Sendable (Int64, Int64) throws -> Int64)

    /// Cast and CastLike. To the 8- and 4-bit float types: `saturate` (default 1) clamps values beyond
    /// the type to its largest (float4 always does); float8e8m0 rounds by `round_mode` (default up).
    static func cast(_ x: NDArray, _ ctx: EvaluationContext) throws -> NDArray {
        let type = ctx.outputType()
        guard type.isMiniFloat, type != x.elementType else { return x.converted(to: type) }
        let saturate = try ctx.node.int("saturate", default: 1) != 0 || type == .float4e2m1
        let mode = try ctx.node.string("round_mode", default: "up")
        let values = x.floats.map { MiniFloat.decode(MiniFloat.encode($0, type, saturate: saturate, roundMode: mode), type) }
        return NDArray(type, shape: x.shape, floats: values)
    }

    static let binaryFunctions: [String: BinaryFunction] = [
        // Integer types only (shape inference checks).
        "BitwiseAnd": ({ _, _ in .nan }, { _, _ in .nan }, { $0 & $1 }),
        "BitwiseOr": ({ _, _ in .nan }, { _, _ in .nan }, { $0 | $1 }),
        "BitwiseXor": ({ _, _ in .nan }, { _, _ in .nan }, { $0 ^ $1 }),
        "Add": ({ $0 + $1 }, { $0 + $1 }, { $0 &+ $1 }),
        "Sub": ({ $0 - $1 }, { $0 - $1 }, { $0 &- $1 }),
        "Mul": ({ $0 * $1 }, { $0 * $1 }, { $0 &* $1 }),
        "Div": ({ $0 / $1 }, { $0 / $1 }, { a, b in
            guard b != 0 else { throw WhittleError(.shapeMismatch, "integer division by zero") }
            return a == .min && b == -1 ? .min : a / b
        }),
        "Pow": ({ Foundation.powf($0, $1) }, { Foundation.pow($0, $1) }, { b, e in
            e < 0 ? (b == 1 ? 1 : (b == -1 ? (e % 2 == 0 ? 1 : -1) : 0)) : (0..<Swift.min(e, 64)).reduce(Int64(1)) { acc, _ in acc &* b }
        }),
        "And": ({ ($0 != 0 && $1 != 0) ? 1 : 0 }, { ($0 != 0 && $1 != 0) ? 1 : 0 }, { ($0 != 0 && $1 != 0) ? 1 : 0 }),
        "Or": ({ ($0 != 0 || $1 != 0) ? 1 : 0 }, { ($0 != 0 || $1 != 0) ? 1 : 0 }, { ($0 != 0 || $1 != 0) ? 1 : 0 }),
        "Xor": ({ ($0 != 0) != ($1 != 0) ? 1 : 0 }, { ($0 != 0) != ($1 != 0) ? 1 : 0 }, { ($0 != 0) != ($1 != 0) ? 1 : 0 }),
    ]

    static let comparisonFunctions: [String: (@Sendable (Double, Double) -> Bool, @Sendable (Int64, Int64) -> Bool)] = [
        "Equal": ({ $0 == $1 }, { $0 == $1 }),
        "Greater": ({ $0 > $1 }, { $0 > $1 }), "Less": ({ $0 < $1 }, { $0 < $1 }),
        "GreaterOrEqual": ({ $0 >= $1 }, { $0 >= $1 }), "LessOrEqual": ({ $0 <= $1 }, { $0 <= $1 }),
    ]

    /// A broadcasting binary kernel; the result has the first input's type (Pow's exponent may differ).
    static func binaryKernel(_ f: BinaryFunction) -> Kernel {
        { ctx in
            let a = try ctx.input(0), b = try ctx.input(1)
            let shape = try ctx.outputShape()
            let count = shape.reduce(1, *)
            let sameShapes = a.shape == shape && b.shape == shape
            let ia = sameShapes ? [] : Indexing.broadcast(from: a.shape, to: shape)
            let ib = sameShapes ? [] : Indexing.broadcast(from: b.shape, to: shape)
            switch a.storage {
            case .float(let x):
                let y = b.floats
                var out = [Float](repeating: 0, count: count)
                if sameShapes {
                    for i in 0..<count { out[i] = f.float(x[i], y[i]) }
                } else {
                    for i in 0..<count { out[i] = f.float(x[ia[i]], y[ib[i]]) }
                }
                return [NDArray(a.elementType, shape: shape, floats: out)]
            case .double(let x):
                let y = b.doubles
                return [NDArray(shape: shape, doubles: (0..<count).map { f.double(x[sameShapes ? $0 : ia[$0]], y[sameShapes ? $0 : ib[$0]]) })]
            case .int(let x):
                if case .int(let y) = b.storage {
                    let out = try (0..<count).map { try f.int(x[sameShapes ? $0 : ia[$0]], y[sameShapes ? $0 : ib[$0]]) }
                    return [NDArray(a.elementType, shape: shape, ints: out)]
                }
                let xd = a.doubles, y = b.doubles
                return [NDArray(a.elementType, shape: shape,
                                values: (0..<count).map { f.double(xd[sameShapes ? $0 : ia[$0]], y[sameShapes ? $0 : ib[$0]]) })]
            }
        }
    }

    /// Min/Max/Sum over any number of broadcast inputs.
    static func variadicKernel(float: @escaping @Sendable (Double, Double) -> Double, int: @escaping @Sendable (Int64, Int64) -> Int64,
                               propagateNaN: Bool) -> Kernel {
        { ctx in
            let shape = try ctx.outputShape()
            var acc = try ctx.input(0)
            acc = acc.gathered(Indexing.broadcast(from: acc.shape, to: shape), shape: shape)
            for i in 1..<ctx.inputs.count {
                let next = try ctx.input(i)
                let index = Indexing.broadcast(from: next.shape, to: shape)
                switch (acc.storage, next.storage) {
                case (.int(let a), .int(let b)):
                    acc = NDArray(acc.elementType, shape: shape, ints: a.indices.map { int(a[$0], b[index[$0]]) })
                default:
                    let a = acc.doubles, b = next.doubles
                    acc = NDArray(acc.elementType, shape: shape, values: a.indices.map {
                        propagateNaN && (a[$0].isNaN || b[index[$0]].isNaN) ? .nan : float(a[$0], b[index[$0]])
                    })
                }
            }
            return [acc]
        }
    }

    static let clipKernel: Kernel = { ctx in
        let x = try ctx.input(0)
        var low = -Double.infinity, high = Double.infinity
        if ctx.node.opset < 11 {
            low = Double(try ctx.node.float("min", default: -Float.greatestFiniteMagnitude))
            high = Double(try ctx.node.float("max", default: Float.greatestFiniteMagnitude))
        } else {
            if let m = ctx.optionalInput(1) { low = m.doubles.first ?? low }
            if let m = ctx.optionalInput(2) { high = m.doubles.first ?? high }
        }
        switch x.storage {
        case .int(let v):
            let lo = low.isFinite ? Int64(low) : Int64.min, hi = high.isFinite ? Int64(high) : Int64.max
            return [NDArray(x.elementType, shape: x.shape, ints: v.map { Swift.min(Swift.max($0, lo), hi) })]
        case .float(let v):
            let lo = Float(low), hi = Float(high)
            return [NDArray(x.elementType, shape: x.shape, floats: v.map { $0.isNaN ? $0 : Swift.min(Swift.max($0, lo), hi) })]
        case .double(let v):
            return [NDArray(shape: x.shape, doubles: v.map { $0.isNaN ? $0 : Swift.min(Swift.max($0, low), high) })]
        }
    }

    static let whereKernel: Kernel = { ctx in
        let c = try ctx.input(0), x = try ctx.input(1), y = try ctx.input(2)
        let shape = try ctx.outputShape()
        let ic = Indexing.broadcast(from: c.shape, to: shape)
        let ix = Indexing.broadcast(from: x.shape, to: shape), iy = Indexing.broadcast(from: y.shape, to: shape)
        let cv = c.ints
        switch (x.storage, y.storage) {
        case (.float(let a), .float(let b)):
            return [NDArray(x.elementType, shape: shape, floats: ic.indices.map { cv[ic[$0]] != 0 ? a[ix[$0]] : b[iy[$0]] })]
        case (.int(let a), .int(let b)):
            return [NDArray(x.elementType, shape: shape, ints: ic.indices.map { cv[ic[$0]] != 0 ? a[ix[$0]] : b[iy[$0]] })]
        default:
            let a = x.doubles, b = y.doubles
            return [NDArray(x.elementType, shape: shape, values: ic.indices.map { cv[ic[$0]] != 0 ? a[ix[$0]] : b[iy[$0]] })]
        }
    }

    /// Softmax/LogSoftmax: along `axis` from opset 13; before, over the input flattened to 2-D at `axis`.
    static func softmaxKernel(log: Bool) -> Kernel {
        { ctx in
            let x = try ctx.input(0)
            let rank = x.rank
            let axis = try Shape.normalizeAxis(ctx.node.int("axis", default: ctx.node.opset < 13 ? 1 : -1), rank: Swift.max(rank, 1))
            let (outer, size, inner) = ctx.node.opset < 13
                ? (x.shape[..<axis].reduce(1, *), x.shape[axis...].reduce(1, *), 1)
                : Indexing.split(x.shape, at: axis)
            let v = x.doubles
            var out = [Double](repeating: 0, count: v.count)
            for o in 0..<outer {
                for i in 0..<inner {
                    let base = o * size * inner + i
                    if !log && SixteenBitSteps.isSixteenBit(x.elementType) {
                        let row = SixteenBitSteps.softmax((0..<size).map { v[base + $0 * inner] }, x.elementType)
                        for k in 0..<size { out[base + k * inner] = row[k] }
                        continue
                    }
                    var m = -Double.infinity
                    for k in 0..<size { m = Swift.max(m, v[base + k * inner]) }
                    var sum = 0.0
                    for k in 0..<size { sum += Foundation.exp(v[base + k * inner] - m) }
                    for k in 0..<size {
                        let d = v[base + k * inner] - m
                        out[base + k * inner] = log ? d - Foundation.log(sum) : Foundation.exp(d) / sum
                    }
                }
            }
            return [NDArray(x.elementType, shape: x.shape, values: out)]
        }
    }
}
