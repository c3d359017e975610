import WhittleIR

/// Convolutions (float, integer and QLinear) and pooling, which share the window arithmetic.
enum ConvolutionOperators {
    static var all: [OperatorDefinition] {
        [conv("Conv", x: 0, w: 1, bias: 2, inputs: 2...3),
         conv("ConvInteger", x: 0, w: 1, bias: nil, inputs: 2...4).requiringEightBitIntegers([[0, 2], [1, 3]]),
         conv("QLinearConv", x: 0, w: 3, bias: 8, inputs: 8...9).requiringEightBitIntegers([[0, 2], [3, 5], [7]], wide: [[0, 2], [7]]),
         convTranspose, pool("MaxPool"), pool("AveragePool"), pool("LpPool"),
         globalPool("GlobalAveragePool"), globalPool("GlobalMaxPool")]
    }

    /// Window attributes larger than this are refused, which keeps the size arithmetic far from overflow.
    static let attributeLimit = 1 << 31

    /// The window geometry attributes common to Conv and the pools, with the spec's defaults.
    struct Window {
        var kernel: [Int]
        var strides: [Int]
        var dilations: [Int]
        /// Begin pads then end pads, as ONNX lists them.
        var pads: [Int]
        var autoPad: String
        var ceilMode: Bool

        init(_ ctx: InferenceContext, kernel: [Int], spatial: Int, allowCeil: Bool) throws {
            self.kernel = kernel
            strides = try ctx.ints("strides") ?? Array(repeating: 1, count: spatial)
            dilations = try ctx.ints("dilations") ?? Array(repeating: 1, count: spatial)
            pads = try ctx.ints("pads") ?? Array(repeating: 0, count: 2 * spatial)
            autoPad = try ctx.string("auto_pad", default: "NOTSET")
            ceilMode = allowCeil ? try ctx.int("ceil_mode", default: 0) != 0 : false
            guard kernel.count == spatial, strides.count == spatial, dilations.count == spatial, pads.count == 2 * spatial else {
                throw WhittleError(.invalidAttribute,
                    "kernel_shape, strides, dilations and pads must match the \(spatial) spatial dimensions "
                    + "(got \(kernel.count), \(strides.count), \(dilations.count), \(pads.count / 2))")
            }
            let limit = ConvolutionOperators.attributeLimit
            guard kernel.allSatisfy({ $0 > 0 && $0 <= limit }), strides.allSatisfy({ $0 > 0 && $0 <= limit }),
                  dilations.allSatisfy({ $0 > 0 && $0 <= limit }), pads.allSatisfy({ $0 >= 0 && $0 <= limit }) else {
                throw WhittleError(.invalidAttribute,
                    "kernel_shape, strides and dilations must be positive and pads non-negative (all at most \(limit))")
            }
            guard ["NOTSET", "SAME_UPPER", "SAME_LOWER", "VALID"].contains(autoPad) else {
                throw WhittleError(.invalidAttribute, "auto_pad \"\(autoPad)\" is not NOTSET, SAME_UPPER, SAME_LOWER or VALID")
            }
        }

        /// Output spatial sizes for the input spatial sizes.
        func outputSize(_ input: [Int]) throws -> [Int] {
            try input.indices.map { i in
                let span = (kernel[i] - 1) * dilations[i] + 1
                let size: Int
                switch autoPad {
                case "SAME_UPPER", "SAME_LOWER":
                    size = (input[i] + strides[i] - 1) / strides[i]
                case "VALID":
                    size = input[i] >= span ? (input[i] - span) / strides[i] + 1 : 0
                default:
                    let padded = input[i] + pads[i] + pads[i + kernel.count] - span
                    guard padded >= 0 else { size = 0; break }
                    if ceilMode {
                        var s = (padded + strides[i] - 1) / strides[i] + 1
                        // A window that would start in the end padding is dropped.
                        if (s - 1) * strides[i] >= input[i] + pads[i] { s -= 1 }
                        size = s
                    } else {
                        size = padded / strides[i] + 1
                    }
                }
                guard size > 0 else {
                    throw WhittleError(.shapeMismatch,
                        "window of \(Shape.describe(kernel)) (dilations \(Shape.describe(dilations))) does not fit input \(Shape.describe(input))")
                }
                return size
            }
        }
    }

    /// Conv and its integer forms: `x`, `w` and `bias` are the positions of X, W and B.
    static func conv(_ name: String, x: Int, w: Int, bias: Int?, inputs: ClosedRange<Int>) -> OperatorDefinition {
        OperatorDefinition(name, infer: { ctx in
            try ctx.expectInputs(inputs.lowerBound, inputs.upperBound)
            let xs = try ctx.shape(x), ws = try ctx.shape(w)
            guard xs.count >= 3, ws.count == xs.count else {
                throw WhittleError(.shapeMismatch, "X \(Shape.describe(xs)) and W \(Shape.describe(ws)) must have the same rank, at least 3")
            }
            let group = try ctx.int("group", default: 1)
            let spatial = xs.count - 2
            guard group >= 1, group <= xs[1], xs[1] == ws[1] * group, ws[0] % group == 0 else {
                throw WhittleError(.shapeMismatch,
                    "X has \(xs[1]) channels but W \(Shape.describe(ws)) with group \(group) expects \(ws[1] * group)")
            }
            let kernel = try ctx.ints("kernel_shape") ?? Array(ws[2...])
            guard kernel == Array(ws[2...]) else {
                throw WhittleError(.shapeMismatch, "kernel_shape \(Shape.describe(kernel)) does not match W \(Shape.describe(ws))")
            }
            if let bias, ctx.has(bias) {
                let bs = try ctx.shape(bias)
                guard bs == [ws[0]] else {
                    throw WhittleError(.shapeMismatch, "B \(Shape.describe(bs)) must have \(ws[0]) elements, one per output channel")
                }
            }
            let window = try Window(ctx, kernel: kernel, spatial: spatial, allowCeil: false)
            let out = [xs[0], ws[0]] + (try window.outputSize(Array(xs[2...])))
            let type: ElementType = switch name {
            case "ConvInteger": .int32
            case "QLinearConv": try ctx.type(7).elementType
            default: try ctx.type(x).elementType
            }
            return [TensorType(type, out)]
        }, macs: { ctx, outputs in
            guard let out = outputs.first?.shape, let ws = try? ctx.shape(w) else { return 0 }
            // Each output element sums (C_in / group) * prod(kernel) products.
            return Shape.saturatingProduct(out + Array(ws[1...]))
        })
    }

    static let convTranspose = OperatorDefinition("ConvTranspose", infer: { ctx in
        try ctx.expectInputs(2, 3)
        let xs = try ctx.shape(0), ws = try ctx.shape(1)
        guard xs.count >= 3, ws.count == xs.count else {
            throw WhittleError(.shapeMismatch, "X \(Shape.describe(xs)) and W \(Shape.describe(ws)) must have the same rank, at least 3")
        }
        let group = try ctx.int("group", default: 1)
        let spatial = xs.count - 2
        guard group >= 1, group <= Self.attributeLimit, xs[1] == ws[0] else {
            throw WhittleError(.shapeMismatch, "X has \(xs[1]) channels but W \(Shape.describe(ws)) expects \(ws[0])")
        }
        let kernel = try ctx.ints("kernel_shape") ?? Array(ws[2...])
        let window = try Window(ctx, kernel: kernel, spatial: spatial, allowCeil: false)
        let outputPadding = try ctx.ints("output_padding") ?? Array(repeating: 0, count: spatial)
        let channels = try Shape.checked(ws[1], times: group, what: "output channels")
        if ctx.has(2), try ctx.shape(2) != [channels] {
            throw WhittleError(.shapeMismatch, "B must have \(channels) elements, one per output channel")
        }
        if let explicit = try ctx.ints("output_shape") {
            let sizes = explicit.count == spatial ? explicit : Array(explicit.suffix(spatial))
            return [TensorType(try ctx.type(0).elementType, [xs[0], channels] + sizes)]
        }
        guard outputPadding.count == spatial, outputPadding.allSatisfy({ $0 >= 0 && $0 <= Self.attributeLimit }) else {
            throw WhittleError(.invalidAttribute, "output_padding must give \(spatial) non-negative values")
        }
        let sizes = try (0..<spatial).map { i -> Int in
            let span = (kernel[i] - 1) * window.dilations[i] + 1
            let full = try Shape.checked(window.strides[i], times: xs[i + 2] - 1, plus: outputPadding[i] + span, what: "output size")
            switch window.autoPad {
            case "SAME_UPPER", "SAME_LOWER": return try Shape.checked(xs[i + 2], times: window.strides[i], what: "output size")
            case "VALID": return full
            default: return full - window.pads[i] - window.pads[i + spatial]
            }
        }
        guard sizes.allSatisfy({ $0 > 0 }) else {
            throw WhittleError(.shapeMismatch, "output size \(Shape.describe(sizes)) is not positive")
        }
        return [TensorType(try ctx.type(0).elementType, [xs[0], channels] + sizes)]
    }, macs: { ctx, _ in
        guard let xs = try? ctx.shape(0), let ws = try? ctx.shape(1) else { return 0 }
        // Every input element is scattered through (C_out / group) * prod(kernel) products.
        return Shape.saturatingProduct(xs + Array(ws[1...]))
    })

    static func pool(_ name: String) -> OperatorDefinition {
        OperatorDefinition(name, infer: { ctx in
            try ctx.expectInputs(1, 1)
            let xs = try ctx.shape(0)
            guard xs.count >= 3 else {
                throw WhittleError(.shapeMismatch, "X \(Shape.describe(xs)) must have rank 3 or more (N, C, spatial...)")
            }
            guard let kernel = try ctx.ints("kernel_shape") else {
                throw WhittleError(.invalidAttribute, "attribute kernel_shape is required")
            }
            // ceil_mode exists from opset 10; dilations for AveragePool from 19.
            let window = try Window(ctx, kernel: kernel, spatial: xs.count - 2, allowCeil: name != "LpPool")
            // A pad as wide as the window makes windows that see only padding, whose value ONNX does
            // not define (ONNX Runtime refuses such pools).
            for (i, k) in kernel.enumerated() where window.pads[i] >= k || window.pads[i + kernel.count] >= k {
                throw WhittleError(.invalidAttribute, "pads \(window.pads) must be smaller than kernel_shape \(kernel) (axis \(i))")
            }
            let out = [xs[0], xs[1]] + (try window.outputSize(Array(xs[2...])))
            let type = try ctx.type(0).elementType
            var outputs = [TensorType(type, out)]
            if name == "MaxPool" && ctx.node.outputs.count > 1 { outputs.append(TensorType(.int64, out)) }
            return outputs
        })
    }

    static func globalPool(_ name: String) -> OperatorDefinition {
        OperatorDefinition(name, infer: { ctx in
            try ctx.expectInputs(1, 1)
            let xs = try ctx.shape(0)
            guard xs.count >= 3 else {
                throw WhittleError(.shapeMismatch, "X \(Shape.describe(xs)) must have rank 3 or more (N, C, spatial...)")
            }
            guard xs[2...].allSatisfy({ $0 > 0 }) else {
                throw WhittleError(.shapeMismatch, "\(name) over an empty map \(Shape.describe(xs)) has no value to take")
            }
            return [TensorType(try ctx.type(0).elementType, [xs[0], xs[1]] + Array(repeating: 1, count: xs.count - 2))]
        })
    }
}
