import WhittleIR

/// Operators that read or write at computed positions: GatherND, ScatterND, ScatterElements,
/// and the block rearrangements DepthToSpace and SpaceToDepth.
enum ScatterOperators {
    static var all: [OperatorDefinition] { [gatherND, scatterND, scatterElements, depthToSpace, spaceToDepth] }

    static let gatherND = OperatorDefinition("GatherND", infer: { ctx in
        try ctx.expectInputs(2, 2)
        let data = try ctx.shape(0), indices = try ctx.shape(1)
        let b = try ctx.int("batch_dims", default: 0)
        try checkIndexType(ctx.type(1))
        guard let m = indices.last, indices.count >= 1, b >= 0, b < Swift.min(data.count, indices.count), m >= 1, b + m <= data.count,
              Array(data[..<b]) == Array(indices[..<b]) else {
            throw WhittleError(.shapeMismatch, "indices \(Shape.describe(indices)) do not address data \(Shape.describe(data)) with batch_dims \(b)")
        }
        return [TensorType(try ctx.type(0).elementType, Array(indices.dropLast()) + Array(data[(b + m)...]))]
    })

    static let scatterND = OperatorDefinition("ScatterND", infer: { ctx in
        try ctx.expectInputs(3, 3)
        let data = try ctx.shape(0), indices = try ctx.shape(1), updates = try ctx.shape(2)
        try checkIndexType(ctx.type(1))
        try checkReduction(ctx)
        guard let m = indices.last, m >= 1, m <= data.count, updates == Array(indices.dropLast()) + Array(data[m...]) else {
            throw WhittleError(.shapeMismatch, "updates \(Shape.describe(updates)) and indices \(Shape.describe(indices)) do not fit data \(Shape.describe(data))")
        }
        guard try ctx.type(2).elementType == ctx.type(0).elementType else { throw WhittleError(.shapeMismatch, "updates and data types differ") }
        return [try ctx.type(0)]
    })

    static let scatterElements = OperatorDefinition("ScatterElements", infer: { ctx in
        try ctx.expectInputs(3, 3)
        let data = try ctx.shape(0), indices = try ctx.shape(1), updates = try ctx.shape(2)
        try checkIndexType(ctx.type(1))
        try checkReduction(ctx)
        _ = try Shape.normalizeAxis(ctx.int("axis", default: 0), rank: data.count)
        guard indices == updates, indices.count == data.count else {
            throw WhittleError(.shapeMismatch, "indices \(Shape.describe(indices)) and updates \(Shape.describe(updates)) must have the same shape and data's rank")
        }
        guard try ctx.type(2).elementType == ctx.type(0).elementType else { throw WhittleError(.shapeMismatch, "updates and data types differ") }
        return [try ctx.type(0)]
    })

    static let depthToSpace = OperatorDefinition("DepthToSpace", infer: { ctx in
        try ctx.expectInputs(1, 1)
        let x = try ctx.shape(0), b = try blocksize(ctx)
        let mode = try ctx.string("mode", default: "DCR")
        guard mode == "DCR" || mode == "CRD" else { throw WhittleError(.invalidAttribute, "mode must be DCR or CRD, found \(mode)") }
        guard x.count == 4, x[1] % (b * b) == 0 else {
            throw WhittleError(.shapeMismatch, "input \(Shape.describe(x)) must be NCHW with channels a multiple of \(b * b)")
        }
        return [TensorType(try ctx.type(0).elementType, [x[0], x[1] / (b * b), x[2] * b, x[3] * b])]
    })

    static let spaceToDepth = OperatorDefinition("SpaceToDepth", infer: { ctx in
        try ctx.expectInputs(1, 1)
        let x = try ctx.shape(0), b = try blocksize(ctx)
        let mode = try ctx.string("mode", default: "DCR")
        guard mode == "DCR" || mode == "CRD" else { throw WhittleError(.invalidAttribute, "mode must be DCR or CRD, found \(mode)") }
        guard x.count == 4, x[2] % b == 0, x[3] % b == 0 else {
            throw WhittleError(.shapeMismatch, "input \(Shape.describe(x)) must be NCHW with height and width multiples of \(b)")
        }
        return [TensorType(try ctx.type(0).elementType, [x[0], x[1] * b * b, x[2] / b, x[3] / b])]
    })

    static func blocksize(_ ctx: InferenceContext) throws -> Int {
        guard let b = try ctx.int("blocksize"), b >= 1, b <= 1 << 15 else {
            throw WhittleError(.invalidAttribute, "blocksize must be a positive integer")
        }
        return b
    }

    static func checkIndexType(_ type: TensorType) throws {
        guard type.elementType == .int64 || type.elementType == .int32 else {
            throw WhittleError(.shapeMismatch, "indices must be int32 or int64, found \(type.elementType.name)")
        }
    }

    static func checkReduction(_ ctx: InferenceContext) throws {
        let reduction = try ctx.string("reduction", default: "none")
        guard ["none", "add", "mul", "max", "min"].contains(reduction) else {
            throw WhittleError(.invalidAttribute, "reduction must be none, add, mul, max or min, found \(reduction)")
        }
    }
}

extension Indexing {
    /// DepthToSpace and SpaceToDepth are a reshape, a transpose and a reshape: the output seen as a
    /// rank-6 array in its own row-major order (`shape`), and the input stride of each of its axes.
    public static func blockRearrangement(_ opType: String, input x: [Int], blocksize b: Int, mode: String) -> (shape: [Int], strides: [Int]) {
        let (c, h, w) = (x[1], x[2], x[3])
        if opType == "DepthToSpace" {
            let c2 = c / (b * b)
            // Output viewed as [N, C', H, b, W, b].
            let blockRow = mode == "CRD" ? b * h * w : b * c2 * h * w, blockColumn = mode == "CRD" ? h * w : c2 * h * w
            let channel = mode == "CRD" ? b * b * h * w : h * w
            return ([x[0], c2, h, b, w, b], [c * h * w, channel, w, blockRow, 1, blockColumn])
        }
        // SpaceToDepth: output viewed as [N, b, b, C, H', W'] (DCR) or [N, C, b, b, H', W'] (CRD, opset 28).
        if mode == "CRD" { return ([x[0], c, b, b, h / b, w / b], [c * h * w, h * w, w, 1, b * w, b]) }
        return ([x[0], b, b, c, h / b, w / b], [c * h * w, w, 1, h * w, b * w, b])
    }
}
