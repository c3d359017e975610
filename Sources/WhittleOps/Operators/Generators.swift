import Foundation
import WhittleIR

/// Operators that create tensors or read shapes: Constant, Shape, Size,
/// ConstantOfShape, Range, and the resampling ones whose output size they feed (Resize, Upsample).
enum GeneratorOperators {
    static var all: [OperatorDefinition] { [constant, shape, size, constantOfShape, range, resize, upsample] }

    static let constant = OperatorDefinition("Constant", infer: { ctx in
        try ctx.expectInputs(0, 0)
        return [try constantValue(ctx.node.attributes).type]
    }, fold: { ctx in [try constantValue(ctx.node.attributes)] })

    /// The tensor a Constant node produces, from whichever `value*` attribute it carries.
    static func constantValue(_ attributes: [String: Attribute]) throws -> Tensor {
        guard attributes.count == 1, let (name, value) = attributes.first else {
            throw WhittleError(.invalidAttribute,
                "Constant needs exactly one value attribute, found \(attributes.count)"
                + (attributes.isEmpty ? "" : " (" + attributes.keys.sorted().joined(separator: ", ") + ")"))
        }
        switch (name, value) {
        case ("value", .tensor(let t)): return t
        case ("value_float", .float(let v)): return try Tensor(floats: [v], shape: [])
        case ("value_floats", .floats(let v)): return try Tensor(floats: v, shape: [v.count])
        case ("value_int", .int(let v)): return try Tensor(int64s: [Int64(v)], shape: [])
        case ("value_ints", .ints(let v)): return try Tensor(int64s: v.map(Int64.init), shape: [v.count])
        case ("value_string", .string), ("value_strings", .strings):
            throw WhittleError(.unsupported, "Constant with \(name): string tensors are not supported")
        case ("sparse_value", _):
            throw WhittleError(.unsupported, "Constant with sparse_value: sparse tensors are not supported")
        case ("value", _), ("value_float", _), ("value_floats", _), ("value_int", _), ("value_ints", _),
             ("value_string", _), ("value_strings", _):
            throw WhittleError(.invalidAttribute, "Constant attribute \(name) has the wrong type \(value.kindName)")
        default:
            throw WhittleError(.invalidAttribute, "Constant has unknown attribute \"\(name)\"")
        }
    }

    /// The dimensions Shape reports: all, or `start..<end` from opset 15 (negative and out-of-range values clamp).
    static func shapeSlice(_ ctx: InferenceContext) throws -> [Int] {
        let x = try ctx.shape(0)
        let rank = x.count
        func clamp(_ v: Int) -> Int { Swift.min(Swift.max(v < 0 ? v + rank : v, 0), rank) }
        let start = clamp(try ctx.int("start", default: 0))
        let end = clamp(try ctx.int("end", default: rank))
        return start < end ? Array(x[start..<end]) : []
    }

    static let shape = OperatorDefinition("Shape", infer: { ctx in
        try ctx.expectInputs(1, 1)
        return [TensorType(.int64, [try shapeSlice(ctx).count])]
    }, fold: { ctx in
        let dims = try shapeSlice(ctx)
        return [try Tensor(int64s: dims.map { Int64($0) }, shape: [dims.count])]
    })

    static let size = OperatorDefinition("Size", infer: { ctx in
        try ctx.expectInputs(1, 1)
        return [TensorType(.int64, [])]
    }, fold: { ctx in [try Tensor(int64s: [Int64(try Shape.elementCount(ctx.shape(0)))], shape: [])] })

    static let constantOfShape = OperatorDefinition("ConstantOfShape", infer: { ctx in
        try ctx.expectInputs(1, 1)
        let dims = try ctx.constantInts(0, what: "shape")
        guard dims.allSatisfy({ $0 >= 0 }) else { throw WhittleError(.shapeMismatch, "shape \(dims) has a negative dimension") }
        let type = try ctx.tensor("value")?.elementType ?? .float
        return [TensorType(type, dims)]
    }, fold: { ctx in
        let dims = try ctx.constantInts(0, what: "shape")
        let fill = try ctx.tensor("value") ?? Tensor(floats: [0], shape: [1])
        let count = try Shape.elementCount(dims)
        guard count <= ShapeInference.foldLimit else { return nil }
        return [try ConstantFolding.gather(fill, flatIndices: Array(repeating: 0, count: count), shape: dims)]
    })

    static let range = OperatorDefinition("Range", infer: { ctx in
        [TensorType(try ctx.type(0).elementType, [try rangeCount(ctx)])]
    }, fold: { ctx in
        guard let start = ctx.value(0), let delta = ctx.value(2) else { return nil }
        let count = try rangeCount(ctx)
        if let s = start.int64(at: 0), let d = delta.int64(at: 0) {
            // Wrapping arithmetic: i·d may overflow on the way, but every element lies between start
            // and limit, so the wrapped sum is the exact value.
            return try ConstantFolding.make(start.elementType, shape: [count], ints: (0..<count).map { s &+ Int64($0) &* d }).map { [$0] }
        }
        let s = start.double(at: 0), d = delta.double(at: 0)
        return try ConstantFolding.make(start.elementType, shape: [count], doubles: (0..<count).map { s + Double($0) * d }).map { [$0] }
    })

    static func rangeCount(_ ctx: InferenceContext) throws -> Int {
        try ctx.expectInputs(3, 3)
        guard let start = ctx.value(0), let limit = ctx.value(1), let delta = ctx.value(2) else {
            throw WhittleError(.unsupported, "start, limit and delta must be constants or computable from static shapes")
        }
        let d = delta.double(at: 0)
        guard d != 0 else { throw WhittleError(.shapeMismatch, "delta must not be 0") }
        if let s = start.int64(at: 0), let l = limit.int64(at: 0), let step = delta.int64(at: 0) {
            // Integers: count exactly with unsigned magnitudes, which cannot overflow.
            guard step > 0 ? l > s : s > l else { return 0 }
            let span = step > 0 ? UInt64(bitPattern: l &- s) : UInt64(bitPattern: s &- l)
            let magnitude = step.magnitude
            let count = span / magnitude + (span % magnitude == 0 ? 0 : 1)
            guard count < UInt64(Int32.max) else {
                throw WhittleError(.shapeMismatch, "range from start, limit and delta is not a finite size below 2^31")
            }
            return Int(count)
        }
        let count = ((limit.double(at: 0) - start.double(at: 0)) / d).rounded(.up)
        guard count.isFinite, count < Double(Int32.max) else {
            throw WhittleError(.shapeMismatch, "range from start, limit and delta is not a finite size below 2^31")
        }
        return Swift.max(0, Int(count))
    }

    static let resize = OperatorDefinition("Resize", infer: { ctx in
        let x = try ctx.shape(0)
        let mode = try ctx.string("mode", default: "nearest")
        guard ["nearest", "linear", "cubic"].contains(mode) else {
            throw WhittleError(.invalidAttribute, "mode \"\(mode)\" is not nearest, linear or cubic")
        }
        // Opset 10: (X, scales). From 11: (X, roi, scales, sizes); from 18 an axes attribute may select axes.
        let scalesIndex = ctx.opset < 11 ? 1 : 2, sizesIndex = 3
        let axes = try (ctx.ints("axes") ?? Array(0..<x.count)).map { try Shape.normalizeAxis($0, rank: x.count, name: "axes entry") }
        var out = x
        if ctx.opset >= 11, ctx.has(sizesIndex), (try ctx.shape(sizesIndex)).reduce(1, *) > 0 {
            let sizes = try ctx.constantInts(sizesIndex, what: "sizes")
            guard sizes.count == axes.count else { throw WhittleError(.shapeMismatch, "sizes has \(sizes.count) values; \(axes.count) expected") }
            let policy = try ctx.string("keep_aspect_ratio_policy", default: "stretch")
            if policy == "stretch" {
                for (i, axis) in axes.enumerated() { out[axis] = sizes[i] }
            } else {
                let ratios = axes.indices.map { Double(sizes[$0]) / Double(x[axes[$0]]) }
                let scale = policy == "not_larger" ? ratios.min() ?? 1 : ratios.max() ?? 1
                for axis in axes { out[axis] = try scaledSize(x[axis], scale, rounding: .toNearestOrEven) }
            }
        } else if ctx.has(scalesIndex) {
            guard let scales = ctx.value(scalesIndex)?.doubles() else {
                throw WhittleError(.unsupported, "scales must be a constant")
            }
            guard scales.count == axes.count else { throw WhittleError(.shapeMismatch, "scales has \(scales.count) values; \(axes.count) expected") }
            for (i, axis) in axes.enumerated() {
                out[axis] = try scaledSize(x[axis], scales[i], rounding: .down)
            }
        } else {
            throw WhittleError(.invalidGraph, "either scales or sizes must be given")
        }
        return [TensorType(try ctx.type(0).elementType, out)]
    })

    /// Upsample (opsets 7–9), the predecessor of Resize: scales is an attribute before 9 and an input from 9.
    static let upsample = OperatorDefinition("Upsample", infer: { ctx in
        let x = try ctx.shape(0)
        let scales: [Double]
        if ctx.opset < 9 {
            guard let given = try ctx.floats("scales") else { throw WhittleError(.invalidAttribute, "attribute scales is required") }
            scales = given.map(Double.init)
        } else {
            guard let given = ctx.value(1)?.doubles() else { throw WhittleError(.unsupported, "scales must be a constant") }
            scales = given
        }
        guard scales.count == x.count else { throw WhittleError(.shapeMismatch, "scales has \(scales.count) values; \(x.count) expected") }
        return [TensorType(try ctx.type(0).elementType, try zip(x, scales).map { try scaledSize($0, $1, rounding: .down) })]
    })

    /// `size * scale`, rounded, for a positive finite scale and a result below 2^40.
    static func scaledSize(_ size: Int, _ scale: Double, rounding: FloatingPointRoundingRule) throws -> Int {
        let scaled = (Double(size) * scale).rounded(rounding)
        guard scale > 0, scaled.isFinite, scaled < Double(1 << 40) else {
            throw WhittleError(.shapeMismatch, "scale \(scale) is not positive or gives an output size out of range")
        }
        return Int(scaled)
    }
}
