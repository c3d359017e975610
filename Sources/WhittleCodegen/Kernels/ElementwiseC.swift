import WhittleIR
import WhittleOps

/// C for the element-wise operators: one strided loop nest per node.
enum ElementwiseC {
    static var kernels: [String: CKernel] {
        var table: [String: CKernel] = [:]
        for (name, expression) in unary { table[name] = unaryKernel(expression) }
        for (name, expression) in binary { table[name] = binaryKernel(expression) }
        for (name, op) in comparisons { table[name] = comparisonKernel(op) }
        table["Sum"] = variadic { "\($0) + \($1)" }
        table["Max"] = variadic { a, b in "(\(a) > \(b) ? \(a) : \(b))" }
        table["Min"] = variadic { a, b in "(\(a) < \(b) ? \(a) : \(b))" }
        table["Mean"] = meanKernel
        table["Clip"] = clipKernel
        table["Where"] = whereKernel
        table["PRelu"] = binaryKernel { a, b, _ in "(\(a) < 0 ? \(a) * \(b) : \(a))" }
        table["Cast"] = castKernel
        table["CastLike"] = castKernel
        return table
    }

    typealias Unary = @Sendable (String, NodeEmission) throws -> String

    /// Expressions of one value `v`; float and double use the C math of their type.
    static let unary: [String: Unary] = [
        "Relu": { v, e in "(\(v) < \(e.literal(0)) ? \(e.literal(0)) : \(v))" },
        "Neg": { v, _ in "-\(v)" },
        "Abs": { v, e in e.elementType.isFloatingPoint ? "\(e.math("fabs"))(\(v))" : "(\(v) < 0 ? -\(v) : \(v))" },
        "Identity": { v, _ in v },
        "Sign": { v, e in "(\(v) > \(e.literal(0)) ? \(e.literal(1)) : (\(v) < \(e.literal(0)) ? \(e.literal(-1)) : \(e.literal(0))))" },
        "Not": { v, _ in "(uint8_t)!\(v)" },
        "BitwiseNot": { v, e in "(\(try e.cType(output: 0)))~\(v)" },
        "Sigmoid": { v, e in "\(e.literal(1)) / (\(e.literal(1)) + \(e.math("exp"))(-\(v)))" },
        "Tanh": { v, e in "\(e.math("tanh"))(\(v))" },
        "Sqrt": { v, e in "\(e.math("sqrt"))(\(v))" },
        "Exp": { v, e in "\(e.math("exp"))(\(v))" },
        "Log": { v, e in "\(e.math("log"))(\(v))" },
        "Erf": { v, e in "\(e.math("erf"))(\(v))" },
        "Floor": { v, e in "\(e.math("floor"))(\(v))" },
        "Ceil": { v, e in "\(e.math("ceil"))(\(v))" },
        // rint rounds half to even in the default rounding mode, as ONNX Round does.
        "Round": { v, e in "\(e.math("rint"))(\(v))" },
        "Reciprocal": { v, e in "\(e.literal(1)) / \(v)" },
        "Sin": { v, e in "\(e.math("sin"))(\(v))" },
        "Cos": { v, e in "\(e.math("cos"))(\(v))" },
        "Softsign": { v, e in "\(v) / (\(e.literal(1)) + \(e.math("fabs"))(\(v)))" },
        // Written to stay finite for large |v|: v + log1p(exp(-v)) for positive v.
        "Softplus": { v, e in "(\(v) > \(e.literal(0)) ? \(v) + \(e.math("log1p"))(\(e.math("exp"))(-\(v))) : \(e.math("log1p"))(\(e.math("exp"))(\(v))))" },
        "Tan": { v, e in "\(e.math("tan"))(\(v))" },
        "Asin": { v, e in "\(e.math("asin"))(\(v))" },
        "Acos": { v, e in "\(e.math("acos"))(\(v))" },
        "Atan": { v, e in "\(e.math("atan"))(\(v))" },
        "Sinh": { v, e in "\(e.math("sinh"))(\(v))" },
        "Cosh": { v, e in "\(e.math("cosh"))(\(v))" },
        "Asinh": { v, e in "\(e.math("asinh"))(\(v))" },
        "Acosh": { v, e in "\(e.math("acosh"))(\(v))" },
        "Atanh": { v, e in "\(e.math("atanh"))(\(v))" },
        // x·tanh(softplus(x)), with the softplus written to stay finite for large |x|.
        "Mish": { v, e in
            "\(v) * \(e.math("tanh"))(\(v) > \(e.literal(0)) ? \(v) + \(e.math("log1p"))(\(e.math("exp"))(-\(v))) : \(e.math("log1p"))(\(e.math("exp"))(\(v))))"
        },
        "Celu": { v, e in
            let a = e.literal(Double(try e.context.float("alpha", default: 1)))
            return "(\(v) > \(e.literal(0)) ? \(v) : \(a) * (\(e.math("exp"))(\(v) / \(a)) - \(e.literal(1))))"
        },
        "ThresholdedRelu": { v, e in
            "(\(v) > \(e.literal(Double(try e.context.float("alpha", default: 1)))) ? \(v) : \(e.literal(0)))"
        },
        "Shrink": { v, e in
            let bias = e.literal(Double(try e.context.float("bias", default: 0))), lambd = Double(try e.context.float("lambd", default: 0.5))
            return "(\(v) < \(e.literal(-lambd)) ? \(v) + \(bias) : (\(v) > \(e.literal(lambd)) ? \(v) - \(bias) : \(e.literal(0))))"
        },
        "Swish": { v, e in
            "\(v) / (\(e.literal(1)) + \(e.math("exp"))(-\(e.literal(Double(try e.context.float("alpha", default: 1)))) * \(v)))"
        },
        "LeakyRelu": { v, e in
            let a = e.literal(Double(try e.context.float("alpha", default: 0.01)))
            return "(\(v) < \(e.literal(0)) ? \(a) * \(v) : \(v))"
        },
        "Elu": { v, e in
            let a = e.literal(Double(try e.context.float("alpha", default: 1)))
            return "(\(v) < \(e.literal(0)) ? \(a) * (\(e.math("exp"))(\(v)) - \(e.literal(1))) : \(v))"
        },
        "Selu": { v, e in
            let a = e.literal(Double(try e.context.float("alpha", default: 1.67326319217681884765625)))
            let g = e.literal(Double(try e.context.float("gamma", default: 1.05070102214813232421875)))
            return "(\(v) <= \(e.literal(0)) ? \(g) * (\(a) * \(e.math("exp"))(\(v)) - \(a)) : \(g) * \(v))"
        },
        "HardSigmoid": { v, e in
            let a = e.literal(Double(try e.context.float("alpha", default: 0.2)))
            let b = e.literal(Double(try e.context.float("beta", default: 0.5)))
            return "\(e.math("fmax"))(\(e.literal(0)), \(e.math("fmin"))(\(e.literal(1)), \(a) * \(v) + \(b)))"
        },
        "HardSwish": { v, e in
            "\(v) * \(e.math("fmax"))(\(e.literal(0)), \(e.math("fmin"))(\(e.literal(1)), \(v) / \(e.literal(6)) + \(e.literal(0.5))))"
        },
        "Gelu": { v, e in
            if try e.context.string("approximate", default: "none") == "tanh" {
                return "\(e.literal(0.5)) * \(v) * (\(e.literal(1)) + \(e.math("tanh"))(\(e.literal(0.7978845608028654)) * (\(v) + \(e.literal(0.044715)) * \(v) * \(v) * \(v))))"
            }
            return "\(e.literal(0.5)) * \(v) * (\(e.literal(1)) + \(e.math("erf"))(\(v) * \(e.literal(0.7071067811865476))))"
        },
    ]

    static func unaryKernel(_ expression: @escaping Unary) -> CKernel {
        { e, w in
            let shape = try e.outputShape()
            let floating: Set<String> = ["Relu", "Neg", "Abs", "Identity", "Sign", "Not", "BitwiseNot"]
            if !e.elementType.isFloatingPoint && !floating.contains(e.node.opType) {
                throw WhittleError(.unsupported, "\(e.node.opType) on \(e.elementType.name) is not supported by the C back end")
            }
            let template = try expression("\u{1}", e)
            w.loopNest(shape, [StridedOperand(name: "", strides: Shape.strides(shape))]) { idx in
                ["\(e.y(0))[\(idx[0])] = \(template.replacingOccurrences(of: "\u{1}", with: "\(e.x(0))[\(idx[0])]"));"]
            }
        }
    }

    typealias Binary = @Sendable (String, String, NodeEmission) throws -> String

    static let binary: [String: Binary] = [
        "Add": { a, b, e in try wrapping(a, "+", b, e) },
        "Sub": { a, b, e in try wrapping(a, "-", b, e) },
        "Mul": { a, b, e in try wrapping(a, "*", b, e) },
        "Div": { a, b, _ in "\(a) / \(b)" },
        "Pow": { a, b, e in
            guard e.elementType.isFloatingPoint else {
                return "(\(try e.cType(output: 0)))pow((double)\(a), (double)\(b))"
            }
            return "\(e.math("pow"))(\(a), \(b))"
        },
        // fmod = 0 takes the divisor's sign (Python's %), fmod = 1 the dividend's (C's fmod and %).
        "Mod": { a, b, e in
            let fmod = try e.context.int("fmod", default: 0) != 0
            let r = e.elementType.isFloatingPoint ? "\(e.math("fmod"))(\(a), \(b))" : "(\(a) % \(b))"
            let unsigned = [.uint8, .uint16, .uint32, .uint64].contains(e.elementType)
            if fmod || unsigned { return r }
            return "\(r) + ((\(r) != 0 && ((\(r) < 0) != (\(b) < 0))) ? \(b) : 0)"
        },
        "And": { a, b, _ in "(uint8_t)(\(a) && \(b))" },
        "BitwiseAnd": { a, b, e in "(\(try e.cType(output: 0)))(\(a) & \(b))" },
        "BitwiseOr": { a, b, e in "(\(try e.cType(output: 0)))(\(a) | \(b))" },
        "BitwiseXor": { a, b, e in "(\(try e.cType(output: 0)))(\(a) ^ \(b))" },
        "Or": { a, b, _ in "(uint8_t)(\(a) || \(b))" },
        "Xor": { a, b, _ in "(uint8_t)(!\(a) != !\(b))" },
    ]

    /// A broadcasting binary operator; the fused activation (for Add) is applied as each result is stored.
    static func binaryKernel(_ expression: @escaping Binary) -> CKernel {
        { e, w in
            let shape = try e.outputShape()
            let a = try e.inputShape(0), b = try e.inputShape(1)
            let operands = [StridedOperand(name: "y", strides: Shape.strides(shape)),
                            StridedOperand.broadcast("a", shape: a, to: shape), StridedOperand.broadcast("b", shape: b, to: shape)]
            // Pow's exponent may have another type than the base: it is converted.
            let cast = try e.inputType(1).elementType == e.inputType(0).elementType ? "" : "(\(try e.cType(output: 0)))"
            let activation = FusedActivation(e.node)
            let template = try expression("\u{1}", "\(cast)\u{2}", e)
            w.loopNest(shape, operands) { idx in
                let value = template.replacingOccurrences(of: "\u{1}", with: "\(e.x(0))[\(idx[1])]")
                    .replacingOccurrences(of: "\u{2}", with: "\(e.x(1))[\(idx[2])]")
                return ActivationC.store("\(e.y(0))[\(idx[0])]", value, activation, e)
            }
        }
    }

    /// Signed integer overflow is undefined in C; ONNX integers wrap. The operation runs on the
    /// unsigned type of the same width and converts back.
    static func wrapping(_ a: String, _ op: String, _ b: String, _ e: NodeEmission) throws -> String {
        let unsigned: [ElementType: String] = [.int8: "uint8_t", .int16: "uint16_t", .int32: "uint32_t", .int64: "uint64_t"]
        guard let u = unsigned[e.elementType] else { return "\(a) \(op) \(b)" }
        return "(\(try e.cType(output: 0)))((\(u))\(a) \(op) (\(u))\(b))"
    }

    static let comparisons: [String: String] = [
        "Equal": "==", "Greater": ">", "Less": "<", "GreaterOrEqual": ">=", "LessOrEqual": "<=",
    ]

    static func comparisonKernel(_ op: String) -> CKernel {
        { e, w in
            let shape = try e.outputShape()
            let operands = [StridedOperand(name: "y", strides: Shape.strides(shape)),
                            StridedOperand.broadcast("a", shape: try e.inputShape(0), to: shape),
                            StridedOperand.broadcast("b", shape: try e.inputShape(1), to: shape)]
            w.loopNest(shape, operands) { idx in
                ["\(e.y(0))[\(idx[0])] = (uint8_t)(\(e.x(0))[\(idx[1])] \(op) \(e.x(1))[\(idx[2])]);"]
            }
        }
    }

    /// Sum/Max/Min over any number of broadcast inputs, folded left to right.
    static func variadic(_ combine: @escaping @Sendable (String, String) -> String) -> CKernel {
        { e, w in
            let shape = try e.outputShape()
            let count = e.node.inputs.count
            var operands = [StridedOperand(name: "y", strides: Shape.strides(shape))]
            for i in 0..<count { operands.append(StridedOperand.broadcast("x\(i)", shape: try e.inputShape(i), to: shape)) }
            w.loopNest(shape, operands) { idx in
                var value = "\(e.x(0))[\(idx[1])]"
                for i in 1..<max(count, 1) { value = combine(value, "\(e.x(i))[\(idx[i + 1])]") }
                return ["\(e.y(0))[\(idx[0])] = \(value);"]
            }
        }
    }

    static let meanKernel: CKernel = { e, w in
        try variadic { "\($0) + \($1)" }(e, &w)
        let shape = try e.outputShape()
        let n = e.literal(Double(e.node.inputs.count))
        w.loopNest(shape, [StridedOperand(name: "y", strides: Shape.strides(shape))]) { idx in
            ["\(e.y(0))[\(idx[0])] /= \(n);"]
        }
    }

    /// Clip with bounds from attributes (opset < 11) or constant inputs; run-time bounds are read once.
    static let clipKernel: CKernel = { e, w in
        let shape = try e.outputShape()
        let type = e.elementType
        var low: String?, high: String?
        if e.context.opset < 11 {
            low = try e.context.float("min").map { e.literal(Double($0)) }
            high = try e.context.float("max").map { e.literal(Double($0)) }
        } else {
            for (i, slot) in [(1, 0), (2, 1)] where e.has(i) {
                let text = e.constant(i).map { e.literal($0.double(at: 0), type) } ?? "\(e.x(i))[0]"
                if slot == 0 { low = text } else { high = text }
            }
        }
        let cType = try e.cType(output: 0)
        w.loopNest(shape, [StridedOperand(name: "y", strides: Shape.strides(shape))]) { idx in
            var lines = ["\(cType) v = \(e.x(0))[\(idx[0])];"]
            if let low { lines.append("if (v < \(low)) v = \(low);") }
            if let high { lines.append("if (v > \(high)) v = \(high);") }
            lines.append("\(e.y(0))[\(idx[0])] = v;")
            return lines
        }
    }

    static let whereKernel: CKernel = { e, w in
        let shape = try e.outputShape()
        let operands = [StridedOperand(name: "y", strides: Shape.strides(shape))]
            + (0..<3).map { StridedOperand.broadcast("x\($0)", shape: (try? e.inputShape($0)) ?? [], to: shape) }
        w.loopNest(shape, operands) { idx in
            ["\(e.y(0))[\(idx[0])] = \(e.x(0))[\(idx[1])] ? \(e.x(1))[\(idx[2])] : \(e.x(2))[\(idx[3])];"]
        }
    }

    /// Conversions between any two supported types. float16 and bfloat16 (stored as bits) are widened
    /// to float first and narrowed from float last, with the library's round-to-nearest-even.
    static let castKernel: CKernel = { e, w in
        if try NarrowC.isNarrow(e.elementType) || NarrowC.isNarrow(e.inputType(0).elementType) { return try NarrowC.castKernel(e, &w) }
        let shape = try e.outputShape()
        let to = e.elementType, source = try e.inputType(0).elementType
        let target = try e.cType(output: 0)
        _ = try e.cType(input: 0)
        let widen = [ElementType.float16: "whittle_f16_to_f32", .bfloat16: "whittle_bf16_to_f32"][source]
        let narrow = [ElementType.float16: "whittle_f32_to_f16", .bfloat16: "whittle_f32_to_bf16"][to]
        let from = widen == nil ? source : .float
        w.loopNest(shape, [StridedOperand(name: "y", strides: Shape.strides(shape))]) { idx in
            let v = widen.map { "\($0)(\(e.x(0))[\(idx[0])])" } ?? "\(e.x(0))[\(idx[0])]"
            let out = "\(e.y(0))[\(idx[0])]"
            if let narrow {
                if source == to { return ["\(out) = \(e.x(0))[\(idx[0])];"] }
                return ["\(out) = \(narrow)((float)\(v));"]
            }
            if to == .bool { return ["\(out) = (uint8_t)(\(v) != 0);"] }
            if from.isFloatingPoint && !to.isFloatingPoint {
                // A float out of int64's range (or NaN) has no defined C conversion: saturate to int64 first,
                // then narrow, as the reference interpreter does.
                let f = from == .float ? "float" : "double"
                return ["\(f) v = \(v);",
                        "int64_t i = v != v ? 0 : v <= (\(f))-9.2233720368547758e18 ? INT64_MIN : v >= (\(f))9.2233720368547758e18 ? INT64_MAX : (int64_t)v;",
                        "\(out) = (\(target))i;"]
            }
            return ["\(out) = (\(target))\(v);"]
        }
    }
}

/// Stores a value through a fused activation.
enum ActivationC {
    static func store(_ target: String, _ value: String, _ activation: FusedActivation?, _ e: NodeEmission) -> [String] {
        guard let activation else { return ["\(target) = \(value);"] }
        let f = { (x: Float) in e.literal(Double(x)) }
        let copy = value == target ? [] : ["\(target) = \(value);"]
        // Unconditional stores (a select, not a branch around the store): compilers vectorize those loops.
        switch activation.kind {
        case .relu: return copy + ["\(target) = \(target) < \(f(0)) ? \(f(0)) : \(target);"]
        case .clip:
            var lines = copy
            if activation.low.isFinite { lines.append("\(target) = \(target) < \(f(activation.low)) ? \(f(activation.low)) : \(target);") }
            if activation.high.isFinite { lines.append("\(target) = \(target) > \(f(activation.high)) ? \(f(activation.high)) : \(target);") }
            return lines
        case .leakyRelu: return copy + ["\(target) = \(target) < \(f(0)) ? \(f(activation.alpha)) * \(target) : \(target);"]
        case .sigmoid: return copy + ["\(target) = \(f(1)) / (\(f(1)) + \(e.math("exp"))(-\(target)));"]
        case .tanh: return copy + ["\(target) = \(e.math("tanh"))(\(target));"]
        case .hardSwish:
            return copy + ["\(target) = \(target) * \(e.math("fmax"))(\(f(0)), \(e.math("fmin"))(\(f(1)), \(target) / \(f(6)) + \(f(0.5))));"]
        }
    }
}
