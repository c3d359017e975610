import WhittleIR

/// Operators that pick or accumulate along an axis: CumSum, CumProd, Hardmax, TopK, OneHot, EyeLike.
enum SelectionOperators {
    static var all: [OperatorDefinition] { [cumulative("CumSum"), cumulative("CumProd"), hardmax, topK, oneHot, eyeLike] }

    /// CumSum and CumProd: the same shape; the axis is a scalar input.
    static func cumulative(_ name: String) -> OperatorDefinition {
        OperatorDefinition(name, infer: { ctx in
            try ctx.expectInputs(2, 2)
            let x = try ctx.type(0), axis = try ctx.type(1)
            guard axis.elementType == .int32 || axis.elementType == .int64, (axis.shape ?? []).reduce(1, *) == 1 else {
                throw WhittleError(.shapeMismatch, "axis (input 1) must be one int32 or int64 value")
            }
            guard x.elementType != .bool else { throw WhittleError(.shapeMismatch, "\(name) does not take bool tensors") }
            if let value = ctx.value(1)?.int64s()?.first {
                _ = try Shape.normalizeAxis(Int(clamping: value), rank: try ctx.shape(0).count)
            }
            return [x]
        })
    }

    /// Hardmax: 1 at the first largest value along the axis, 0 elsewhere.
    static let hardmax = OperatorDefinition("Hardmax", infer: { ctx in
        try ctx.expectInputs(1, 1)
        let x = try ctx.type(0), xs = try ctx.shape(0)
        guard x.elementType.isFloatingPoint else { throw WhittleError(.shapeMismatch, "Hardmax takes floating-point tensors") }
        _ = try Shape.normalizeAxis(ctx.int("axis", default: ctx.opset < 13 ? 1 : -1), rank: Swift.max(xs.count, 1))
        return [x]
    })

    /// TopK: the k largest (or smallest) values along the axis and their indices; k must be known.
    static let topK = OperatorDefinition("TopK", infer: { ctx in
        let xs = try ctx.shape(0)
        let axis = try Shape.normalizeAxis(ctx.int("axis", default: -1), rank: xs.count)
        let k: Int
        if ctx.opset < 10 {
            try ctx.expectInputs(1, 1)
            guard let attribute = try ctx.int("k") else { throw WhittleError(.invalidAttribute, "TopK needs the attribute k") }
            k = attribute
        } else {
            try ctx.expectInputs(2, 2)
            let values = try ctx.constantInts(1, what: "K")
            guard values.count == 1 else { throw WhittleError(.shapeMismatch, "K (input 1) must hold one value") }
            k = values[0]
        }
        guard k >= 0, k <= xs[axis] else {
            throw WhittleError(.shapeMismatch, "k = \(k) must be between 0 and the axis size \(xs[axis])")
        }
        var shape = xs
        shape[axis] = k
        return [TensorType(try ctx.type(0).elementType, shape), TensorType(.int64, shape)]
    })

    /// OneHot: `values[1]` where the index matches, `values[0]` elsewhere; depth must be known.
    static let oneHot = OperatorDefinition("OneHot", infer: { ctx in
        try ctx.expectInputs(3, 3)
        let indices = try ctx.shape(0)
        guard let depthValue = ctx.value(1)?.doubles().first, ctx.value(1)?.count == 1 else {
            throw WhittleError(.unsupported, "depth (input 1) must be one value known at compile time")
        }
        guard depthValue.isFinite, depthValue >= 1, depthValue <= Double(Int32.max) else {
            throw WhittleError(.shapeMismatch, "depth \(depthValue) must be a positive number")
        }
        let values = try ctx.type(2)
        guard (values.shape ?? []).reduce(1, *) == 2, values.shape?.count == 1 else {
            throw WhittleError(.shapeMismatch, "values (input 2) must hold two values: off, on")
        }
        let axis = try Shape.normalizeAxis(ctx.int("axis", default: -1), rank: indices.count + 1)
        var shape = indices
        shape.insert(Int(depthValue), at: axis)
        return [TensorType(values.elementType, shape)]
    })

    /// EyeLike: ones on the k-th diagonal of a matrix shaped like the input; depends only on the shape.
    static let eyeLike = OperatorDefinition("EyeLike", infer: { ctx in
        try ctx.expectInputs(1, 1)
        let x = try ctx.type(0), xs = try ctx.shape(0)
        guard xs.count == 2 else { throw WhittleError(.shapeMismatch, "EyeLike takes a matrix, found rank \(xs.count)") }
        let type = try ctx.elementType("dtype") ?? x.elementType
        guard type.isSupported else { throw WhittleError(.unsupported, "element type \(type.name) not supported") }
        return [TensorType(type, xs)]
    }, fold: { ctx in
        let xs = try ctx.shape(0), k = try ctx.int("k", default: 0)
        let type = try ctx.elementType("dtype") ?? ctx.type(0).elementType
        let values = (0..<(xs[0] * xs[1])).map { i in i % xs[1] - i / xs[1] == k ? 1.0 : 0.0 }
        return [try NDArray(type, shape: xs, values: values).tensor()]
    })
}
