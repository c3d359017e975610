import WhittleIR

/// Reference kernels of GatherND, ScatterND, ScatterElements, DepthToSpace and SpaceToDepth.
extension ScatterOperators {
    static var kernels: [String: Kernel] {
        ["GatherND": gatherNDKernel, "ScatterND": scatterNDKernel, "ScatterElements": scatterElementsKernel,
         "Scatter": scatterElementsKernel, "DepthToSpace": rearrangementKernel, "SpaceToDepth": rearrangementKernel,
         "ReverseSequence": reverseSequenceKernel, "Compress": compressKernel, "CenterCropPad": centerCropPadKernel, "MaxUnpool": maxUnpoolKernel,
         "TensorScatter": tensorScatterKernel, "Col2Im": col2ImKernel]
    }

    static let tensorScatterKernel: Kernel = { ctx in
        let cache = try ctx.input(0), update = try ctx.input(1)
        let axis = try Shape.normalizeAxis(ctx.node.int("axis", default: -2), rank: cache.rank)
        let circular = try ctx.node.string("mode", default: "linear") == "circular"
        let writes = ctx.optionalInput(2)?.ints ?? Array(repeating: 0, count: cache.shape[0])
        let (outer, size, inner) = Indexing.split(cache.shape, at: axis), steps = update.shape[axis]
        let batchStride = cache.shape[..<axis].dropFirst().reduce(1, *)
        var pick = Array(0..<cache.count)
        for o in 0..<outer {
            let batch = axis == 0 ? 0 : o / Swift.max(batchStride, 1)
            for s in 0..<steps {
                var target = Int(writes[Swift.min(batch, writes.count - 1)]) + s
                if circular { target = ((target % size) + size) % size }
                guard target >= 0, target < size else { throw WhittleError(.shapeMismatch, "write position \(target) is outside the cache's \(size)") }
                for i in 0..<inner { pick[(o * size + target) * inner + i] = cache.count + (o * steps + s) * inner + i }
            }
        }
        return [Self.appending(cache, update).gathered(pick, shape: cache.shape)]
    }

    static let col2ImKernel: Kernel = { ctx in
        let x = try ctx.input(0), v = x.doubles
        let image = try ctx.input(1).ints.map { Int($0) }, block = try ctx.input(2).ints.map { Int($0) }
        let rank = image.count
        let dilations = try ctx.node.ints("dilations") ?? Array(repeating: 1, count: rank)
        let strides = try ctx.node.ints("strides") ?? Array(repeating: 1, count: rank)
        let pads = try ctx.node.ints("pads") ?? Array(repeating: 0, count: 2 * rank)
        let blocks = (0..<rank).map { (d: Int) -> Int in
            let span: Int = dilations[d] * (block[d] - 1) + 1
            let padded: Int = image[d] + pads[d] + pads[d + rank]
            return (padded - span) / strides[d] + 1
        }
        let blockSize = block.reduce(1, *), channels = x.shape[1] / blockSize, positions = blocks.reduce(1, *)
        guard positions == x.shape[2] else { throw WhittleError(.shapeMismatch, "the input has \(x.shape[2]) blocks; the image and blocks give \(positions)") }
        let blockStrides = Shape.strides(block), positionStrides = Shape.strides(blocks), imageStrides = Shape.strides(image)
        let plane = image.reduce(1, *)
        var out = [Double](repeating: 0, count: x.shape[0] * channels * plane)
        for n in 0..<x.shape[0] {
            for c in 0..<channels {
                for k in 0..<blockSize {
                    for l in 0..<positions {
                        var at = 0, inside = true
                        for d in 0..<rank {
                            let coordinate = l / positionStrides[d] % blocks[d] * strides[d] - pads[d] + k / blockStrides[d] % block[d] * dilations[d]
                            if coordinate < 0 || coordinate >= image[d] { inside = false; break }
                            at += coordinate * imageStrides[d]
                        }
                        if inside { out[(n * channels + c) * plane + at] += v[((n * x.shape[1]) + c * blockSize + k) * positions + l] }
                    }
                }
            }
        }
        return [NDArray(x.elementType, shape: try ctx.outputShape(0), values: out)]
    }

    static let maxUnpoolKernel: Kernel = { ctx in
        let x = try ctx.input(0), indices = try ctx.input(1).ints
        let shape = try ctx.outputShape(0)
        // Indices address the unpooled shape; an output_shape larger than that keeps it in its corner.
        let unpooled = try unpooledShape(ctx.node, x.shape)
        let from = Shape.strides(unpooled), to = Shape.strides(shape)
        let count = unpooled.reduce(1, *)
        var pick = [Int](repeating: x.count, count: shape.reduce(1, *))
        for (k, index) in indices.enumerated() {
            guard index >= 0, index < Int64(count) else { throw WhittleError(.shapeMismatch, "index \(index) is outside the unpooled \(Shape.describe(unpooled))") }
            var target = 0, inside = true
            for d in unpooled.indices {
                let c = Int(index) / from[d] % unpooled[d]
                if c >= shape[d] { inside = false; break }
                target += c * to[d]
            }
            if inside { pick[target] = k }
        }
        let zero = NDArray(x.elementType, shape: [1], values: [0])
        return [Self.appending(x, zero).gathered(pick, shape: shape)]
    }

    static let reverseSequenceKernel: Kernel = { ctx in
        let x = try ctx.input(0), lengths = try ctx.input(1).ints
        let batchAxis = try ctx.node.int("batch_axis", default: 1), timeAxis = try ctx.node.int("time_axis", default: 0)
        let strides = Shape.strides(x.shape), steps = x.shape[timeAxis]
        let flat = (0..<x.count).map { f -> Int in
            let b = f / strides[batchAxis] % x.shape[batchAxis], t = f / strides[timeAxis] % steps
            // The first `length` steps of each row are reversed; a length beyond the axis counts as the whole axis.
            let length = Int(Swift.max(0, Swift.min(Int64(steps), lengths[b])))
            return t < length ? f + (length - 1 - 2 * t) * strides[timeAxis] : f
        }
        return [x.gathered(flat, shape: x.shape)]
    }

    static let compressKernel: Kernel = { ctx in
        let x = try ctx.input(0), condition = try ctx.input(1).ints
        let shape = try ctx.outputShape(0)
        guard let axisValue = try ctx.node.int("axis") else {
            return [x.gathered(condition.prefix(x.count).indices.filter { condition[$0] != 0 }, shape: shape)]
        }
        let axis = try Shape.normalizeAxis(axisValue, rank: x.rank)
        let (outer, size, inner) = Indexing.split(x.shape, at: axis)
        let kept = (0..<Swift.min(size, condition.count)).filter { condition[$0] != 0 }
        var flat: [Int] = []
        for o in 0..<outer { for k in kept { for i in 0..<inner { flat.append((o * size + k) * inner + i) } } }
        return [x.gathered(flat, shape: shape)]
    }

    /// The output element at each position: from the input (crop offsets) or a zero (padding).
    static let centerCropPadKernel: Kernel = { ctx in
        let x = try ctx.input(0)
        let shape = try ctx.outputShape(0)
        let offsets = zip(x.shape, shape).map { input, output in (input - output) / 2 }
        let inStrides = Shape.strides(x.shape), outStrides = Shape.strides(shape)
        let zero = NDArray(x.elementType, shape: [1], values: [0])
        var flat: [Int] = [], fromZero = [Bool]()
        for f in 0..<shape.reduce(1, *) {
            var source = 0, inside = true
            for d in shape.indices {
                let c = f / outStrides[d] % shape[d] + offsets[d]
                if c < 0 || c >= x.shape[d] { inside = false; break }
                source += c * inStrides[d]
            }
            flat.append(inside ? source : 0)
            fromZero.append(!inside)
        }
        // Zeros come from a one-element array appended after the input's elements.
        let joined = Self.appending(x, zero)
        return [joined.gathered(zip(flat, fromZero).map { $1 ? x.count : $0 }, shape: shape)]
    }

    /// `a`'s elements followed by `b`'s, flat (same element type).
    static func appending(_ a: NDArray, _ b: NDArray) -> NDArray {
        switch (a.storage, b.storage) {
        case (.float(let u), .float(let v)): NDArray(a.elementType, shape: [u.count + v.count], floats: u + v)
        case (.double(let u), .double(let v)): NDArray(shape: [u.count + v.count], doubles: u + v)
        case (.int(let u), .int(let v)): NDArray(a.elementType, shape: [u.count + v.count], ints: u + v)
        default: a
        }
    }

    /// An index along an axis of `size`: negative ones count from the end; others out of range are errors.
    static func resolve(_ index: Int64, size: Int, what: String) throws -> Int {
        let resolved = index < 0 ? index + Int64(size) : index
        guard resolved >= 0, resolved < Int64(size) else {
            throw WhittleError(.shapeMismatch, "\(what) index \(index) is out of range for an axis of size \(size)")
        }
        return Int(resolved)
    }

    static let gatherNDKernel: Kernel = { ctx in
        let data = try ctx.input(0), indices = try ctx.input(1)
        let b = try ctx.node.int("batch_dims", default: 0)
        let shape = try ctx.outputShape(0)
        let m = indices.shape[indices.rank - 1]
        let dataStrides = Shape.strides(data.shape)
        let batches = indices.shape[..<b].reduce(1, *), tuplesPerBatch = indices.shape[b..<(indices.rank - 1)].reduce(1, *)
        let slice = data.shape[(b + m)...].reduce(1, *), batchStride = data.shape[b...].reduce(1, *)
        let idx = indices.ints
        var flat: [Int] = []
        flat.reserveCapacity(shape.reduce(1, *))
        for batch in 0..<batches {
            for t in 0..<tuplesPerBatch {
                var offset = batch * batchStride
                for k in 0..<m {
                    let i = try resolve(idx[(batch * tuplesPerBatch + t) * m + k], size: data.shape[b + k], what: "GatherND")
                    offset += i * dataStrides[b + k]
                }
                flat.append(contentsOf: offset..<(offset + slice))
            }
        }
        return [data.gathered(flat, shape: shape)]
    }

    static let scatterNDKernel: Kernel = { ctx in
        let data = try ctx.input(0), indices = try ctx.input(1), updates = try ctx.input(2)
        let m = indices.shape[indices.rank - 1]
        let dataStrides = Shape.strides(data.shape)
        let slice = data.shape[m...].reduce(1, *), tuples = indices.count / Swift.max(m, 1)
        let idx = indices.ints
        var pairs: [(Int, Int)] = []
        for t in 0..<tuples {
            var offset = 0
            for k in 0..<m { offset += try resolve(idx[t * m + k], size: data.shape[k], what: "ScatterND") * dataStrides[k] }
            for j in 0..<slice { pairs.append((offset + j, t * slice + j)) }
        }
        return [try scattered(data, updates, pairs: pairs, reduction: ctx.node.string("reduction", default: "none"))]
    }

    static let scatterElementsKernel: Kernel = { ctx in
        let data = try ctx.input(0), indices = try ctx.input(1), updates = try ctx.input(2)
        let axis = try Shape.normalizeAxis(ctx.node.int("axis", default: 0), rank: data.rank)
        let dataStrides = Shape.strides(data.shape), indexStrides = Shape.strides(indices.shape)
        let idx = indices.ints
        var pairs: [(Int, Int)] = []
        for f in 0..<indices.count {
            var offset = 0
            for d in 0..<data.rank {
                let coordinate = f / indexStrides[d] % indices.shape[d]
                offset += (d == axis ? try resolve(idx[f], size: data.shape[axis], what: "ScatterElements") : coordinate) * dataStrides[d]
            }
            pairs.append((offset, f))
        }
        return [try scattered(data, updates, pairs: pairs, reduction: ctx.node.string("reduction", default: "none"))]
    }

    /// `data` with `updates[source]` written to (or combined into) `data[target]` for each pair, in order.
    static func scattered(_ data: NDArray, _ updates: NDArray, pairs: [(Int, Int)], reduction: String) throws -> NDArray {
        func apply<T>(_ values: [T], _ new: [T], _ combine: (T, T) -> T) -> [T] {
            var out = values
            for (target, source) in pairs { out[target] = reduction == "none" ? new[source] : combine(out[target], new[source]) }
            return out
        }
        switch (data.storage, updates.storage) {
        case (.float(let v), .float(let u)):
            let out = apply(v, u) { a, b in
                switch reduction {
                case "add": a + b
                case "mul": a * b
                case "max": Swift.max(a, b)
                default: Swift.min(a, b)
                }
            }
            return NDArray(data.elementType, shape: data.shape, floats: out)
        case (.double(let v), .double(let u)):
            let out = apply(v, u) { a, b in
                switch reduction {
                case "add": a + b
                case "mul": a * b
                case "max": Swift.max(a, b)
                default: Swift.min(a, b)
                }
            }
            return NDArray(shape: data.shape, doubles: out)
        case (.int(let v), .int(let u)):
            let out = apply(v, u) { a, b in
                switch reduction {
                case "add": a &+ b
                case "mul": a &* b
                case "max": Swift.max(a, b)
                default: Swift.min(a, b)
                }
            }
            return NDArray(data.elementType, shape: data.shape, ints: out)
        default:
            throw WhittleError(.shapeMismatch, "updates and data types differ")
        }
    }

    static let rearrangementKernel: Kernel = { ctx in
        let x = try ctx.input(0)
        let b = try blocksize(ctx.node)
        let (view, strides) = Indexing.blockRearrangement(ctx.node.node.opType, input: x.shape, blocksize: b,
                                                          mode: try ctx.node.string("mode", default: "DCR"))
        let viewStrides = Shape.strides(view)
        let flat = (0..<view.reduce(1, *)).map { f in view.indices.reduce(0) { $0 + f / viewStrides[$1] % view[$1] * strides[$1] } }
        return [x.gathered(flat, shape: try ctx.outputShape(0))]
    }
}
