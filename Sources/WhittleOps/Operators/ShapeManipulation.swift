import WhittleIR

/// Operators that only move or reinterpret data: Reshape, Flatten, Squeeze,
/// Unsqueeze, Transpose, Concat, Split, Slice, Gather, Expand, Tile, Pad, Dropout.
enum ShapeManipulationOperators {
    static var all: [OperatorDefinition] {
        [reshape, flatten, squeeze, unsqueeze, transpose, concat, split, slice, gather, gatherElements, expand, tile, pad, dropout, trilu]
    }

    static let reshape = OperatorDefinition("Reshape", infer: { ctx in
        [TensorType(try ctx.type(0).elementType, try reshapeTarget(ctx))]
    }, fold: { ctx in
        guard let x = ctx.value(0) else { return nil }
        return [try ConstantFolding.reshaped(x, reshapeTarget(ctx))]
    })

    static func reshapeTarget(_ ctx: InferenceContext) throws -> [Int] {
        // Before opset 5 the target shape is an attribute.
        try ctx.expectInputs(ctx.opset < 5 ? 1 : 2, ctx.opset < 5 ? 1 : 2)
        let input = try ctx.shape(0)
        let requested = try ctx.opset < 5 ? (ctx.ints("shape") ?? []) : ctx.constantInts(1, what: "shape")
        let allowZero = try ctx.int("allowzero", default: 0) != 0
        return try resolveReshape(input, requested, allowZero: allowZero)
    }

    /// Applies Reshape's rules: 0 copies the input dimension (unless `allowZero`), -1 is inferred.
    static func resolveReshape(_ input: [Int], _ requested: [Int], allowZero: Bool) throws -> [Int] {
        let total = try Shape.elementCount(input)
        var out = requested
        var inferred: Int?
        for (i, d) in requested.enumerated() {
            if d == 0 && !allowZero {
                guard i < input.count else {
                    throw WhittleError(.shapeMismatch, "shape \(requested) copies dimension \(i), which input \(Shape.describe(input)) lacks")
                }
                out[i] = input[i]
            } else if d == -1 {
                guard inferred == nil else { throw WhittleError(.shapeMismatch, "shape \(requested) has more than one -1") }
                inferred = i
            } else if d < 0 {
                throw WhittleError(.shapeMismatch, "shape \(requested) has invalid dimension \(d)")
            }
        }
        if let inferred {
            out[inferred] = 1
            let known = try Shape.elementCount(out)
            guard known > 0, total % known == 0 else {
                throw WhittleError(.shapeMismatch, "cannot reshape \(Shape.describe(input)) to \(requested)")
            }
            out[inferred] = total / known
        }
        guard try Shape.elementCount(out) == total else {
            throw WhittleError(.shapeMismatch, "cannot reshape \(Shape.describe(input)) (\(total) elements) to \(Shape.describe(out))")
        }
        return out
    }

    static let flatten = OperatorDefinition("Flatten", infer: { ctx in
        [TensorType(try ctx.type(0).elementType, try flattenTarget(ctx))]
    }, fold: { ctx in
        guard let x = ctx.value(0) else { return nil }
        return [try ConstantFolding.reshaped(x, flattenTarget(ctx))]
    })

    static func flattenTarget(_ ctx: InferenceContext) throws -> [Int] {
        try ctx.expectInputs(1, 1)
        let x = try ctx.shape(0)
        var axis = try ctx.int("axis", default: 1)
        if axis < 0 { axis += x.count }
        guard axis >= 0, axis <= x.count else {
            throw WhittleError(.invalidAttribute, "axis \(axis) is out of range for rank \(x.count)")
        }
        return [x[..<axis].reduce(1, *), x[axis...].reduce(1, *)]
    }

    /// Axes of Squeeze/Unsqueeze/Reduce*: an attribute in early opsets, an input later.
    static func axes(_ ctx: InferenceContext, inputFrom opset: Int, index: Int = 1) throws -> [Int]? {
        if ctx.opset < opset { return try ctx.ints("axes") }
        guard ctx.has(index) else { return nil }
        return try ctx.constantInts(index, what: "axes")
    }

    static let squeeze = OperatorDefinition("Squeeze", infer: { ctx in
        let x = try ctx.shape(0)
        let out = try squeezedShape(x, axes(ctx, inputFrom: 13))
        return [TensorType(try ctx.type(0).elementType, out)]
    }, fold: { ctx in
        guard let x = ctx.value(0) else { return nil }
        return [try ConstantFolding.reshaped(x, squeezedShape(x.shape, axes(ctx, inputFrom: 13)))]
    })

    static func squeezedShape(_ x: [Int], _ axes: [Int]?) throws -> [Int] {
        guard let axes else { return x.filter { $0 != 1 } }
        let normalized = Set(try axes.map { try Shape.normalizeAxis($0, rank: x.count, name: "axes entry") })
        for a in normalized where x[a] != 1 {
            throw WhittleError(.shapeMismatch, "cannot squeeze axis \(a) of size \(x[a]) in \(Shape.describe(x))")
        }
        return x.enumerated().filter { !normalized.contains($0.offset) }.map(\.element)
    }

    static let unsqueeze = OperatorDefinition("Unsqueeze", infer: { ctx in
        let x = try ctx.shape(0)
        guard let axes = try axes(ctx, inputFrom: 13) else {
            throw WhittleError(.invalidAttribute, "axes are required")
        }
        return [TensorType(try ctx.type(0).elementType, try unsqueezedShape(x, axes))]
    }, fold: { ctx in
        guard let x = ctx.value(0), let axes = try axes(ctx, inputFrom: 13) else { return nil }
        return [try ConstantFolding.reshaped(x, unsqueezedShape(x.shape, axes))]
    })

    static func unsqueezedShape(_ x: [Int], _ axes: [Int]) throws -> [Int] {
        let rank = x.count + axes.count
        let normalized = try axes.map { try Shape.normalizeAxis($0, rank: rank, name: "axes entry") }
        guard Set(normalized).count == normalized.count else {
            throw WhittleError(.invalidAttribute, "axes \(axes) repeat an axis")
        }
        var out: [Int] = []
        var source = x.makeIterator()
        for axis in 0..<rank { out.append(normalized.contains(axis) ? 1 : (source.next() ?? 1)) }
        return out
    }

    static let transpose = OperatorDefinition("Transpose", infer: { ctx in
        try ctx.expectInputs(1, 1)
        let x = try ctx.shape(0)
        let perm = try permutation(ctx, rank: x.count)
        return [TensorType(try ctx.type(0).elementType, perm.map { x[$0] })]
    }, fold: { ctx in
        guard let x = ctx.value(0) else { return nil }
        let perm = try permutation(ctx, rank: x.rank)
        let outShape = perm.map { x.shape[$0] }
        let inStrides = Shape.strides(x.shape), outStrides = Shape.strides(outShape)
        let indices = (0..<x.count).map { flat in
            perm.indices.reduce(0) { acc, axis in acc + (flat / outStrides[axis]) % outShape[axis] * inStrides[perm[axis]] }
        }
        return [try ConstantFolding.gather(x, flatIndices: indices, shape: outShape)]
    })

    static func permutation(_ ctx: InferenceContext, rank: Int) throws -> [Int] {
        let perm = try ctx.ints("perm") ?? Array((0..<rank).reversed())
        guard perm.sorted() == Array(0..<rank) else {
            throw WhittleError(.invalidAttribute, "perm \(perm) is not a permutation of 0..<\(rank)")
        }
        return perm
    }

    static let concat = OperatorDefinition("Concat", infer: concatTypes, fold: { ctx in
        let parts = (0..<ctx.node.inputs.count).map { ctx.value($0) }
        guard let first = parts.first ?? nil, parts.allSatisfy({ $0 != nil }),
              let shape = try concatTypes(ctx).first?.shape else { return nil }
        let axis = try Shape.normalizeAxis(ctx.int("axis") ?? 0, rank: shape.count)
        let outer = shape[..<axis].reduce(1, *)
        var bytes: [UInt8] = []
        let width = first.elementType.byteWidth ?? 1
        for o in 0..<outer {
            for case let part? in parts {
                let chunk = part.shape[axis...].reduce(1, *) * width
                bytes.append(contentsOf: part.bytes[(o * chunk)..<((o + 1) * chunk)])
            }
        }
        return [try Tensor(elementType: first.elementType, shape: shape, bytes: bytes)]
    })

    static func concatTypes(_ ctx: InferenceContext) throws -> [TensorType] {
        try ctx.expectInputs(1, Int.max)
        guard let axisAttribute = try ctx.int("axis") else { throw WhittleError(.invalidAttribute, "attribute axis is required") }
        let first = try ctx.type(0)
        var out = try ctx.shape(0)
        let axis = try Shape.normalizeAxis(axisAttribute, rank: out.count)
        for i in 1..<ctx.node.inputs.count {
            let t = try ctx.type(i), s = try ctx.shape(i)
            guard t.elementType == first.elementType, s.count == out.count,
                  s.indices.allSatisfy({ $0 == axis || s[$0] == out[$0] }) else {
                throw WhittleError(.shapeMismatch, "input \(i) \(t) does not concatenate with \(first) on axis \(axis)")
            }
            out[axis] += s[axis]
        }
        return [TensorType(first.elementType, out)]
    }

    static let split = OperatorDefinition("Split", infer: { ctx in
        let x = try ctx.shape(0)
        let axis = try Shape.normalizeAxis(ctx.int("axis", default: 0), rank: x.count)
        let count = ctx.node.outputs.count
        var sizes: [Int]
        if ctx.opset < 13, let given = try ctx.ints("split") {
            sizes = given
        } else if ctx.opset >= 13, ctx.has(1) {
            sizes = try ctx.constantInts(1, what: "split")
        } else {
            // Equal parts; from opset 18 num_outputs may leave a smaller last part.
            let parts = try ctx.int("num_outputs") ?? count
            guard parts == count, parts > 0 else {
                throw WhittleError(.invalidAttribute, "num_outputs \(parts) does not match the node's \(count) outputs")
            }
            let chunk = (x[axis] + parts - 1) / parts
            if ctx.opset < 18 && x[axis] % parts != 0 {
                throw WhittleError(.shapeMismatch, "axis \(axis) of size \(x[axis]) does not split into \(parts) equal parts")
            }
            sizes = (0..<parts).map { Swift.max(0, Swift.min(chunk, x[axis] - $0 * chunk)) }
        }
        guard sizes.count == count, sizes.reduce(0, +) == x[axis], sizes.allSatisfy({ $0 >= 0 }) else {
            throw WhittleError(.shapeMismatch,
                "split sizes \(sizes) do not divide axis \(axis) of size \(x[axis]) into \(count) outputs")
        }
        let type = try ctx.type(0).elementType
        return sizes.map { size in
            var s = x
            s[axis] = size
            return TensorType(type, s)
        }
    })

    static let slice = OperatorDefinition("Slice", infer: { ctx in
        let x = try ctx.shape(0)
        let plan = try slicePlan(ctx, shape: x)
        return [TensorType(try ctx.type(0).elementType, plan.map(\.count))]
    }, fold: { ctx in
        guard let x = ctx.value(0) else { return nil }
        let plan = try slicePlan(ctx, shape: x.shape)
        let outShape = plan.map(\.count)
        let strides = Shape.strides(x.shape), outStrides = Shape.strides(outShape)
        let total = outShape.reduce(1, *)
        let indices = (0..<total).map { flat in
            plan.indices.reduce(0) { acc, axis in
                let k = (flat / outStrides[axis]) % outShape[axis]
                return acc + (plan[axis].start + k * plan[axis].step) * strides[axis]
            }
        }
        return [try ConstantFolding.gather(x, flatIndices: indices, shape: outShape)]
    })

    /// Start, step and count per axis after the spec's clamping.
    static func slicePlan(_ ctx: InferenceContext, shape: [Int]) throws -> [(start: Int, step: Int, count: Int)] {
        let starts: [Int], ends: [Int], axesGiven: [Int]?, stepsGiven: [Int]?
        if ctx.opset < 10 {
            guard let s = try ctx.ints("starts"), let e = try ctx.ints("ends") else {
                throw WhittleError(.invalidAttribute, "attributes starts and ends are required")
            }
            starts = s; ends = e; axesGiven = try ctx.ints("axes"); stepsGiven = nil
        } else {
            starts = try ctx.constantInts(1, what: "starts")
            ends = try ctx.constantInts(2, what: "ends")
            axesGiven = ctx.has(3) ? try ctx.constantInts(3, what: "axes") : nil
            stepsGiven = ctx.has(4) ? try ctx.constantInts(4, what: "steps") : nil
        }
        let axes = axesGiven ?? Array(0..<starts.count)
        let steps = stepsGiven ?? Array(repeating: 1, count: starts.count)
        guard ends.count == starts.count, axes.count == starts.count, steps.count == starts.count else {
            throw WhittleError(.shapeMismatch, "starts, ends, axes and steps must have the same length")
        }
        var plan = shape.map { (start: 0, step: 1, count: $0) }
        for i in starts.indices {
            let axis = try Shape.normalizeAxis(axes[i], rank: shape.count, name: "axes entry")
            let dim = shape[axis]
            guard steps[i] != 0 else { throw WhittleError(.invalidAttribute, "slice step must not be 0") }
            // A step longer than the axis takes one element, like a step of exactly its length.
            let step = Swift.max(Swift.min(steps[i], dim + 1), -(dim + 1))
            var start = starts[i] < 0 ? starts[i] + dim : starts[i]
            var end = ends[i] < 0 ? ends[i] + dim : ends[i]
            if step > 0 {
                start = Swift.min(Swift.max(start, 0), dim)
                end = Swift.min(Swift.max(end, 0), dim)
                plan[axis] = (start, step, Swift.max(0, (end - start + step - 1) / step))
            } else {
                start = Swift.min(Swift.max(start, 0), dim - 1)
                end = Swift.min(Swift.max(end, -1), dim - 1)
                plan[axis] = (start, step, Swift.max(0, (start - end + (-step) - 1) / (-step)))
            }
        }
        return plan
    }

    static let gather = OperatorDefinition("Gather", infer: gatherTypes, fold: { ctx in
        // Folding runs the reference kernel on the constant inputs.
        guard let data = ctx.value(0), let indices = ctx.value(1), let kernel = kernels["Gather"] else { return nil }
        return try kernel(EvaluationContext(node: ctx, inputs: [NDArray(data), NDArray(indices)], outputTypes: gatherTypes(ctx)))
            .map { try $0.tensor() }
    })

    static func gatherTypes(_ ctx: InferenceContext) throws -> [TensorType] {
        try ctx.expectInputs(2, 2)
        let data = try ctx.shape(0), indices = try ctx.shape(1)
        let indexType = try ctx.type(1).elementType
        guard indexType == .int32 || indexType == .int64 else {
            throw WhittleError(.shapeMismatch, "indices must be int32 or int64, found \(indexType.name)")
        }
        let axis = try Shape.normalizeAxis(ctx.int("axis", default: 0), rank: data.count)
        return [TensorType(try ctx.type(0).elementType, Array(data[..<axis]) + indices + Array(data[(axis + 1)...]))]
    }

    /// GatherElements: the output has the indices' shape; along `axis` each element comes from the
    /// position its index names, elsewhere from its own coordinates (which must lie in data).
    static let gatherElements = OperatorDefinition("GatherElements", infer: { ctx in
        try ctx.expectInputs(2, 2)
        let data = try ctx.shape(0), indices = try ctx.shape(1)
        let indexType = try ctx.type(1).elementType
        guard indexType == .int32 || indexType == .int64 else {
            throw WhittleError(.shapeMismatch, "indices must be int32 or int64, found \(indexType.name)")
        }
        let axis = try Shape.normalizeAxis(ctx.int("axis", default: 0), rank: data.count)
        guard indices.count == data.count, indices.indices.allSatisfy({ $0 == axis || indices[$0] <= data[$0] }) else {
            throw WhittleError(.shapeMismatch, "indices \(Shape.describe(indices)) do not fit data \(Shape.describe(data)) outside axis \(axis)")
        }
        return [TensorType(try ctx.type(0).elementType, indices)]
    })

    /// Trilu keeps the upper (or lower) triangle of the last two dimensions, from diagonal k.
    static let trilu = OperatorDefinition("Trilu", infer: { ctx in
        try ctx.expectInputs(1, 2)
        let x = try ctx.type(0)
        guard let shape = x.shape, shape.count >= 2 else { throw WhittleError(.shapeMismatch, "Trilu needs an input of rank 2 or more") }
        if ctx.has(1) {
            let k = try ctx.shape(1)
            guard k.isEmpty || k == [1] else { throw WhittleError(.shapeMismatch, "k must be a scalar, found \(Shape.describe(k))") }
        }
        return [x]
    })

    static let expand = OperatorDefinition("Expand", infer: { ctx in
        [TensorType(try ctx.type(0).elementType, try expandTarget(ctx))]
    }, fold: { ctx in
        guard let x = ctx.value(0) else { return nil }
        let shape = try expandTarget(ctx)
        return [try ConstantFolding.gather(x, flatIndices: ConstantFolding.broadcastIndices(from: x.shape, to: shape), shape: shape)]
    })

    static func expandTarget(_ ctx: InferenceContext) throws -> [Int] {
        try ctx.expectInputs(2, 2)
        let target = try ctx.constantInts(1, what: "shape")
        return try ElementwiseOperators.broadcastShape(ctx.shape(0), target)
    }

    static let tile = OperatorDefinition("Tile", infer: { ctx in
        try ctx.expectInputs(2, 2)
        let x = try ctx.shape(0)
        let repeats = try ctx.constantInts(1, what: "repeats")
        guard repeats.count == x.count, repeats.allSatisfy({ $0 >= 0 }) else {
            throw WhittleError(.shapeMismatch, "repeats \(repeats) must give one non-negative count per axis of \(Shape.describe(x))")
        }
        return [TensorType(try ctx.type(0).elementType, try zip(x, repeats).map { try Shape.checked($0, times: $1, what: "tiled size") })]
    })

    static let pad = OperatorDefinition("Pad", infer: { ctx in
        let x = try ctx.shape(0)
        var pads: [Int]
        var axes = Array(0..<x.count)
        if ctx.opset < 11 {
            guard let given = try ctx.ints("pads") else { throw WhittleError(.invalidAttribute, "attribute pads is required") }
            pads = given
        } else {
            pads = try ctx.constantInts(1, what: "pads")
            if ctx.has(3) {
                axes = try ctx.constantInts(3, what: "axes").map { try Shape.normalizeAxis($0, rank: x.count, name: "axes entry") }
            }
        }
        guard pads.count == 2 * axes.count else {
            throw WhittleError(.shapeMismatch, "pads has \(pads.count) values; \(2 * axes.count) expected")
        }
        let mode = try ctx.string("mode", default: "constant")
        guard ["constant", "reflect", "edge", "wrap"].contains(mode) else {
            throw WhittleError(.invalidAttribute, "mode \"\(mode)\" is not constant, reflect, edge or wrap")
        }
        var out = x
        // A range test, not abs: the magnitude of Int.min does not fit an Int.
        guard pads.allSatisfy({ $0 >= -(1 << 40) && $0 <= 1 << 40 }) else {
            throw WhittleError(.shapeMismatch, "pads \(pads) are out of range")
        }
        for (i, axis) in axes.enumerated() {
            out[axis] += pads[i] + pads[i + axes.count]
            guard out[axis] >= 0 else { throw WhittleError(.shapeMismatch, "pads \(pads) remove more than axis \(axis) has") }
            // Reflect, edge and wrap copy values of the axis: an empty axis has none to copy.
            if mode != "constant" && x[axis] == 0 && out[axis] > 0 {
                throw WhittleError(.shapeMismatch, "mode \(mode) cannot pad axis \(axis), which is empty")
            }
        }
        return [TensorType(try ctx.type(0).elementType, out)]
    })

    static let dropout = OperatorDefinition("Dropout", infer: { ctx in
        let x = try ctx.type(0)
        // Training mode (opset 12's input 2) zeroes a random share of the elements: only the identity
        // (inference, or a ratio of 0) can be computed, and the C needs to know which it is.
        if ctx.has(2) {
            guard let mode = ctx.value(2)?.int64s(), mode.count == 1 else {
                throw WhittleError(.unsupported, "training_mode (input 2) must be a constant")
            }
            if mode[0] != 0 {
                let ratio = ctx.has(1) ? ctx.value(1)?.doubles() : [0.5]
                guard let ratio, ratio.count == 1 else { throw WhittleError(.unsupported, "ratio (input 1) must be a constant in training mode") }
                if ratio[0] != 0 {
                    throw WhittleError(.unsupported, "Dropout in training mode with ratio \(ratio[0]) draws a random mask, "
                                       + "and random generators are out of scope")
                }
            }
        }
        return ctx.node.outputs.count > 1 ? [x, TensorType(.bool, x.shape)] : [x]
    }, fold: { ctx in ctx.value(0).map { [$0] } })
}
