import Foundation
import WhittleIR

/// Reference kernels of the generators and of Resize/Upsample.
extension GeneratorOperators {
    static var kernels: [String: Kernel] {
        /// These outputs depend only on attributes, input shapes or constant inputs: evaluate them as folding does.
        let folded: Kernel = { ctx in
            let definition = Registry.definition(domain: ctx.node.node.domain, name: ctx.node.node.opType)
            guard let fold = definition?.fold, let tensors = try fold(ctx.node) else {
                throw WhittleError(.unsupported, "\(ctx.node.node.opType) needs constant inputs")
            }
            return tensors.map(NDArray.init)
        }
        return [
            "Constant": folded, "Shape": folded, "Size": folded, "Range": folded,
            "ConstantOfShape": { ctx in
                let shape = try ctx.outputShape()
                let fill = NDArray(try ctx.node.tensor("value") ?? Tensor(floats: [0], shape: [1]))
                return [fill.gathered(Array(repeating: 0, count: shape.reduce(1, *)), shape: shape)]
            },
            "Resize": resizeKernel, "Upsample": resizeKernel,
        ]
    }

    /// How one output coordinate reads the input along one axis: input indices and their weights.
    typealias Taps = [(index: Int, weight: Double)]

    static let resizeKernel: Kernel = { ctx in
        let x = try ctx.input(0)
        let outShape = try ctx.outputShape()
        let extrapolation = Double(try ctx.node.float("extrapolation_value", default: 0))
        let taps = try resizeTaps(ctx.node, input: x.shape, output: outShape, values: { ctx.optionalInput($0)?.doubles })
        let v = x.doubles
        let inStrides = Shape.strides(x.shape), outStrides = Shape.strides(outShape)
        var out = [Double](repeating: 0, count: outShape.reduce(1, *))
        for f in out.indices {
            // Sum over the product of the per-axis taps.
            var terms: [(Int, Double)] = [(0, 1)]
            for d in 0..<x.rank {
                let axisTaps = taps[d][(f / outStrides[d]) % outShape[d]]
                var next: [(Int, Double)] = []
                for (offset, weight) in terms {
                    for tap in axisTaps {
                        next.append((tap.index < 0 ? -1 : (offset < 0 ? -1 : offset + tap.index * inStrides[d]), weight * tap.weight))
                    }
                }
                terms = next
            }
            out[f] = terms.reduce(0) { $0 + ($1.0 < 0 ? extrapolation * $1.1 : v[$1.0] * $1.1) }
        }
        return [NDArray(x.elementType, shape: outShape, values: out)]
    }

    /// The taps of every output coordinate of a Resize/Upsample along each axis (input index and weight;
    /// index -1 where tf_crop_and_resize extrapolates), from the node's attributes and the values of its
    /// scales and roi inputs (`values(i)`, nil when absent or unknown). The C back end bakes the same tables.
    static func resizeTaps(_ ctx: InferenceContext, input: [Int], output outShape: [Int],
                                  values: (Int) -> [Double]?) throws -> [[Taps]] {
        let rank = input.count
        let legacy = ctx.node.opType == "Upsample" || ctx.opset < 11
        let mode = try ctx.string("mode", default: "nearest")
        // Opset 10 Resize and Upsample map x_out to x_out / scale and take the floor for nearest.
        let transform = legacy ? "asymmetric" : try ctx.string("coordinate_transformation_mode", default: "half_pixel")
        let nearestMode = legacy ? "floor" : try ctx.string("nearest_mode", default: "round_prefer_floor")
        let cubicA = Double(try ctx.float("cubic_coeff_a", default: -0.75))
        let excludeOutside = try ctx.int("exclude_outside", default: 0) != 0
        // Antialias widens the linear and cubic filters by 1 / scale when downsampling (opset 18).
        let antialias = try !legacy && ctx.opset >= 18 && ctx.int("antialias", default: 0) != 0 && mode != "nearest"
        // Scales per axis: given (for the axes listed in `axes`), or derived from the output size.
        var scales = zip(outShape, input).map { Double($0) / Double(Swift.max($1, 1)) }
        let axes = try (ctx.ints("axes") ?? Array(0..<rank)).map { try Shape.normalizeAxis($0, rank: rank) }
        let scaleInput = ctx.node.opType == "Upsample" ? (ctx.opset < 9 ? nil : 1) : (legacy ? 1 : 2)
        if let scaleInput, let given = values(scaleInput), given.count == axes.count {
            for (i, axis) in axes.enumerated() { scales[axis] = given[i] }
        } else if ctx.node.opType == "Upsample", let given = try ctx.floats("scales") {
            scales = given.map(Double.init)
        }
        // The region of interest, as [starts..., ends...] over all axes.
        var roi = (0..<rank).map { _ in 0.0 } + (0..<rank).map { _ in 1.0 }
        if !legacy, let given = values(1), given.count == 2 * axes.count {
            for (i, axis) in axes.enumerated() {
                roi[axis] = given[i]
                roi[axis + rank] = given[i + axes.count]
            }
        }
        var taps: [[Taps]] = []
        for d in 0..<rank {
            let inSize = input[d], outSize = outShape[d], scale = scales[d]
            var axisTaps: [Taps] = []
            for o in 0..<outSize {
                let xo = Double(o)
                var xi: Double
                switch transform {
                case "asymmetric": xi = xo / scale
                // The resized length is input length * scale (not rounded), as the specification computes it.
                case "align_corners": xi = outSize == 1 ? 0 : xo * Double(inSize - 1) / (Double(inSize) * scale - 1)
                case "pytorch_half_pixel": xi = outSize > 1 ? (xo + 0.5) / scale - 0.5 : 0
                case "tf_half_pixel_for_nearest": xi = (xo + 0.5) / scale
                case "half_pixel_symmetric":
                    let adjustment = Double(outSize) / (scale * Double(inSize))
                    let offset = Double(inSize) / 2 * (1 - adjustment)
                    xi = offset + (xo + 0.5) / scale - 0.5
                case "tf_crop_and_resize":
                    let start = roi[d], end = roi[d + rank]
                    xi = outSize > 1 ? start * Double(inSize - 1) + xo * (end - start) * Double(inSize - 1) / Double(outSize - 1)
                        : 0.5 * (start + end) * Double(inSize - 1)
                    if xi < 0 || xi > Double(inSize - 1) { axisTaps.append([(-1, 1)]); continue }
                default: xi = (xo + 0.5) / scale - 0.5
                }
                let identity = inSize == outSize && scale == 1 ? o : nil
                if antialias && identity == nil {
                    axisTaps.append(antialiasTaps(xi, size: inSize, scale: scale, cubic: mode == "cubic", cubicA: cubicA,
                                                  excludeOutside: excludeOutside))
                } else {
                    axisTaps.append(try tapsFor(xi, size: inSize, mode: mode, nearestMode: nearestMode, cubicA: cubicA,
                                                excludeOutside: excludeOutside, identity: identity))
                }
            }
            taps.append(axisTaps)
        }
        return taps
    }

    static func tapsFor(_ xi: Double, size: Int, mode: String, nearestMode: String, cubicA: Double,
                        excludeOutside: Bool, identity: Int?) throws -> Taps {
        func clamp(_ i: Int) -> Int { Swift.min(Swift.max(i, 0), size - 1) }
        if let identity { return [(identity, 1)] }
        switch mode {
        case "nearest":
            let i: Int
            switch nearestMode {
            case "round_prefer_ceil": i = Int((xi + 0.5).rounded(.down))
            case "floor": i = Int(xi.rounded(.down))
            case "ceil": i = Int(xi.rounded(.up))
            case "round_prefer_floor": i = xi == xi.rounded(.down) + 0.5 ? Int(xi.rounded(.down)) : Int(xi.rounded())
            default: throw WhittleError(.invalidAttribute, "nearest_mode \"\(nearestMode)\" is not supported")
            }
            return [(clamp(i), 1)]
        case "linear":
            let base = xi.rounded(.down), ratio = xi - base
            return [(clamp(Int(base)), 1 - ratio), (clamp(Int(base) + 1), ratio)]
        case "cubic":
            let base = xi.rounded(.down), t = xi - base
            let a = cubicA
            func w(_ s: Double) -> Double {
                let s = Swift.abs(s)
                if s <= 1 { return ((a + 2) * s - (a + 3)) * s * s + 1 }
                if s < 2 { return ((a * s - 5 * a) * s + 8 * a) * s - 4 * a }
                return 0
            }
            var result: Taps = (-1...2).map { k in (Int(base) + k, w(t - Double(k))) }
            if excludeOutside {
                result = result.map { ($0.index, $0.index < 0 || $0.index >= size ? 0 : $0.weight) }
                let total = result.reduce(0) { $0 + $1.weight }
                if total != 0 { result = result.map { ($0.index, $0.weight / total) } }
            }
            return result.map { (clamp($0.index), $0.weight) }
        default:
            throw WhittleError(.invalidAttribute, "mode \"\(mode)\" is not nearest, linear or cubic")
        }
    }

    /// The taps of the antialiased linear or cubic filter at input coordinate `xi`: the filter is stretched by
    /// 1 / scale when downsampling, so it spans 2 / scale (linear) or 4 / scale (cubic) input elements; the
    /// weights are normalized to sum to one and indices past the edges repeat the edge element.
    static func antialiasTaps(_ xi: Double, size: Int, scale: Double, cubic: Bool, cubicA a: Double,
                              excludeOutside: Bool) -> Taps {
        let s = Swift.min(scale, 1)
        // An integer coordinate counts as the right end of the cell to its left (ratio 1), as the specification does.
        var base = xi.rounded(.down), ratio = xi - base
        if ratio == 0 { base -= 1; ratio = 1 }
        let start = Int(((cubic ? -2 : -1) / s).rounded(.down)) + 1, count = 2 - 2 * start
        func filter(_ t: Double) -> Double {
            let x = Swift.abs(t)
            if !cubic { return Swift.min(Swift.max(1 - x, 0), 1) }
            if x <= 1 { return ((a + 2) * x - (a + 3)) * x * x + 1 }
            if x < 2 { return ((a * x - 5 * a) * x + 8 * a) * x - 4 * a }
            return 0
        }
        var taps: Taps = (0..<count).map { k in (Int(base) + start + k, filter((Double(start + k) - ratio) * s)) }
        if excludeOutside { taps = taps.map { ($0.index, $0.index < 0 || $0.index >= size ? 0 : $0.weight) } }
        let total = taps.reduce(0) { $0 + $1.weight }
        if total != 0 { taps = taps.map { ($0.index, $0.weight / total) } }
        return taps.map { (Swift.min(Swift.max($0.index, 0), size - 1), $0.weight) }
    }
}
