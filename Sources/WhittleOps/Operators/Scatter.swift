import WhittleIR

/// Operators that read or write at computed positions: GatherND, ScatterND, ScatterElements (and its
/// old name Scatter), the block rearrangements DepthToSpace and SpaceToDepth, ReverseSequence,
/// Compress and CenterCropPad.
enum ScatterOperators {
    static var all: [OperatorDefinition] {
        [gatherND, scatterND, scatterElements, OperatorDefinition("Scatter", infer: scatterElements.infer), depthToSpace, spaceToDepth,
         reverseSequence, compress, centerCropPad, maxUnpool, tensorScatter, col2Im]
    }

    /// TensorScatter: a key/value cache with `update`'s rows written along `axis` from each batch row's
    /// write index (wrapping around in circular mode).
    static let tensorScatter = OperatorDefinition("TensorScatter", infer: { ctx in
        try ctx.expectInputs(2, 3)
        let cache = try ctx.shape(0), update = try ctx.shape(1)
        let axis = try Shape.normalizeAxis(ctx.int("axis", default: -2), rank: cache.count)
        guard update.count == cache.count, cache.indices.allSatisfy({ $0 == axis ? update[$0] <= cache[$0] : update[$0] == cache[$0] }) else {
            throw WhittleError(.shapeMismatch, "update \(Shape.describe(update)) does not fit the cache \(Shape.describe(cache)) along axis \(axis)")
        }
        guard ["linear", "circular"].contains(try ctx.string("mode", default: "linear")) else {
            throw WhittleError(.invalidAttribute, "mode must be linear or circular")
        }
        return [try ctx.type(0)]
    })

    /// Col2Im: sums columns of sliding blocks back into an image (the inverse layout of im2col).
    static let col2Im = OperatorDefinition("Col2Im", infer: { ctx in
        try ctx.expectInputs(3, 3)
        let x = try ctx.shape(0), image = try ctx.constantInts(1, what: "image_shape"), block = try ctx.constantInts(2, what: "block_shape")
        let blockSize = block.reduce(1, *)
        guard x.count == 3, image.count == block.count, blockSize > 0, x[1] % blockSize == 0 else {
            throw WhittleError(.shapeMismatch, "input \(Shape.describe(x)) does not fit blocks \(block) of image \(image)")
        }
        return [TensorType(try ctx.type(0).elementType, [x[0], x[1] / blockSize] + image)]
    })

    /// MaxUnpool: each input value written where its index says, in an otherwise zero tensor.
    static let maxUnpool = OperatorDefinition("MaxUnpool", infer: { ctx in
        try ctx.expectInputs(2, 3)
        let x = try ctx.shape(0)
        guard try ctx.shape(1) == x, try ctx.type(1).elementType == .int64 else {
            throw WhittleError(.shapeMismatch, "I must be int64 of X's shape \(Shape.describe(x))")
        }
        if ctx.has(2) {
            let shape = try ctx.constantInts(2, what: "output_shape")
            guard shape.count == x.count, shape.allSatisfy({ $0 >= 0 }) else { throw WhittleError(.shapeMismatch, "output_shape must have rank \(x.count)") }
            return [TensorType(try ctx.type(0).elementType, shape)]
        }
        return [TensorType(try ctx.type(0).elementType, try unpooledShape(ctx, x))]
    })

    /// (in − 1) · stride − pads + kernel along each spatial axis.
    static func unpooledShape(_ ctx: InferenceContext, _ x: [Int]) throws -> [Int] {
        guard let kernel = try ctx.ints("kernel_shape"), kernel.count == x.count - 2 else {
            throw WhittleError(.invalidAttribute, "kernel_shape must give \(x.count - 2) sizes")
        }
        let strides = try ctx.ints("strides") ?? Array(repeating: 1, count: kernel.count)
        let pads = try ctx.ints("pads") ?? Array(repeating: 0, count: 2 * kernel.count)
        guard strides.count == kernel.count, pads.count == 2 * kernel.count else { throw WhittleError(.invalidAttribute, "strides or pads do not fit kernel_shape") }
        return [x[0], x[1]] + kernel.indices.map { (x[$0 + 2] - 1) * strides[$0] - pads[$0] - pads[$0 + kernel.count] + kernel[$0] }
    }

    static let reverseSequence = OperatorDefinition("ReverseSequence", infer: { ctx in
        try ctx.expectInputs(2, 2)
        let x = try ctx.shape(0)
        let batch = try ctx.int("batch_axis", default: 1), time = try ctx.int("time_axis", default: 0)
        guard x.count >= 2, [batch, time].allSatisfy({ (0...1).contains($0) }), batch != time else {
            throw WhittleError(.invalidAttribute, "batch_axis and time_axis must be 0 and 1 in some order, of a tensor of rank 2 or more")
        }
        guard try ctx.shape(1) == [x[batch]], try ctx.type(1).elementType == .int64 else {
            throw WhittleError(.shapeMismatch, "sequence_lens must be int64 with one length per batch row (\(x[batch]))")
        }
        return [try ctx.type(0)]
    })

    /// The elements (or slices along `axis`) where the condition is true; the condition must be known.
    static let compress = OperatorDefinition("Compress", infer: { ctx in
        try ctx.expectInputs(2, 2)
        let x = try ctx.shape(0)
        guard let condition = ctx.value(1)?.int64s() else {
            throw WhittleError(.unsupported, "condition (input 1) must be a constant or computable from static shapes")
        }
        var shape: [Int]
        if let axis = try ctx.int("axis") {
            let a = try Shape.normalizeAxis(axis, rank: x.count)
            shape = x
            shape[a] = condition.prefix(x[a]).filter { $0 != 0 }.count
        } else {
            shape = [condition.prefix(x.reduce(1, *)).filter { $0 != 0 }.count]
        }
        return [TensorType(try ctx.type(0).elementType, shape)]
    })

    /// Each listed axis cropped or zero-padded to its new size, centred (the odd element at the end).
    static let centerCropPad = OperatorDefinition("CenterCropPad", infer: { ctx in
        try ctx.expectInputs(2, 2)
        let x = try ctx.shape(0)
        let sizes = try ctx.constantInts(1, what: "shape")
        let axes = try (ctx.ints("axes") ?? Array(0..<x.count)).map { try Shape.normalizeAxis($0, rank: x.count) }
        guard sizes.count == axes.count, sizes.allSatisfy({ $0 >= 0 }) else {
            throw WhittleError(.shapeMismatch, "shape has \(sizes.count) sizes for \(axes.count) axes")
        }
        var shape = x
        for (axis, size) in zip(axes, sizes) { shape[axis] = size }
        return [TensorType(try ctx.type(0).elementType, shape)]
    })

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
