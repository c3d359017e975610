import WhittleIR

/// Reference kernels of the data-movement operators. Each computes the flat
/// input index of every output element and gathers.
extension ShapeManipulationOperators {
    static var kernels: [String: Kernel] {
        let alias: Kernel = { ctx in [try ctx.input(0).reshaped(try ctx.outputShape())] }
        return [
            "Reshape": alias, "Flatten": alias, "Squeeze": alias, "Unsqueeze": alias,
            "Dropout": { ctx in
                let x = try ctx.input(0)
                // Inference: the identity, and a mask of all true.
                return ctx.node.node.outputs.count > 1 ? [x, NDArray(.bool, shape: x.shape, ints: Array(repeating: 1, count: x.count))] : [x]
            },
            "Transpose": { ctx in
                let x = try ctx.input(0)
                let perm = try permutation(ctx.node, rank: x.rank)
                let outShape = try ctx.outputShape()
                let inStrides = Shape.strides(x.shape), outStrides = Shape.strides(outShape)
                let flat = (0..<x.count).map { f in
                    perm.indices.reduce(0) { $0 + (f / outStrides[$1]) % outShape[$1] * inStrides[perm[$1]] }
                }
                return [x.gathered(flat, shape: outShape)]
            },
            "Concat": concatKernel,
            "Split": splitKernel,
            "Slice": { ctx in
                let x = try ctx.input(0)
                let plan = try slicePlan(ctx.node, shape: x.shape)
                let outShape = plan.map(\.count)
                let strides = Shape.strides(x.shape), outStrides = Shape.strides(outShape)
                let flat = (0..<outShape.reduce(1, *)).map { f in
                    plan.indices.reduce(0) { $0 + (plan[$1].start + (f / outStrides[$1]) % outShape[$1] * plan[$1].step) * strides[$1] }
                }
                return [x.gathered(flat, shape: outShape)]
            },
            "Gather": { ctx in
                let data = try ctx.input(0), indices = try ctx.input(1).ints
                let axis = try Shape.normalizeAxis(ctx.node.int("axis", default: 0), rank: data.rank)
                let (outer, size, inner) = Indexing.split(data.shape, at: axis)
                var flat: [Int] = []
                flat.reserveCapacity(outer * indices.count * inner)
                for o in 0..<outer {
                    for raw in indices {
                        let i = raw < 0 ? Int(raw) + size : Int(raw)
                        guard i >= 0, i < size else {
                            throw WhittleError(.shapeMismatch, "index \(raw) is out of range for axis \(axis) of size \(size)")
                        }
                        for k in 0..<inner { flat.append((o * size + i) * inner + k) }
                    }
                }
                return [data.gathered(flat, shape: try ctx.outputShape())]
            },
            "Trilu": { ctx in
                let x = try ctx.input(0)
                let k = ctx.optionalInput(1)?.ints.first ?? 0
                let upper = try ctx.node.int("upper", default: 1) != 0
                let (rows, columns) = (x.shape[x.rank - 2], x.shape[x.rank - 1])
                // Kept where j - i >= k (upper) or j - i <= k (lower); k beyond the matrix is clamped by the comparison.
                func kept(_ f: Int) -> Bool {
                    let j = Int64(f % columns), i = Int64((f / Swift.max(columns, 1)) % Swift.max(rows, 1))
                    return upper ? j - i >= k : j - i <= k
                }
                if case .int = x.storage {
                    let v = x.ints
                    return [NDArray(x.elementType, shape: x.shape, ints: v.indices.map { kept($0) ? v[$0] : 0 })]
                }
                let v = x.doubles
                return [NDArray(x.elementType, shape: x.shape, values: v.indices.map { kept($0) ? v[$0] : 0 })]
            },
            "GatherElements": { ctx in
                let data = try ctx.input(0), indexArray = try ctx.input(1), indices = indexArray.ints
                let axis = try Shape.normalizeAxis(ctx.node.int("axis", default: 0), rank: data.rank)
                let dataStrides = Shape.strides(data.shape), indexStrides = Shape.strides(indexArray.shape)
                let size = data.shape[axis]
                let flat = try indices.indices.map { f -> Int in
                    let raw = indices[f]
                    let j = raw < 0 ? Int(raw) + size : Int(raw)
                    guard j >= 0, j < size else {
                        throw WhittleError(.shapeMismatch, "index \(raw) is out of range for axis \(axis) of size \(size)")
                    }
                    return data.shape.indices.reduce(0) { sum, d in
                        sum + (d == axis ? j : (f / indexStrides[d]) % indexArray.shape[d]) * dataStrides[d]
                    }
                }
                return [data.gathered(flat, shape: indexArray.shape)]
            },
            "Expand": { ctx in
                let x = try ctx.input(0)
                let shape = try ctx.outputShape()
                return [x.gathered(Indexing.broadcast(from: x.shape, to: shape), shape: shape)]
            },
            "Tile": { ctx in
                let x = try ctx.input(0)
                let shape = try ctx.outputShape()
                let inStrides = Shape.strides(x.shape), outStrides = Shape.strides(shape)
                let flat = (0..<shape.reduce(1, *)).map { f in
                    x.shape.indices.reduce(0) { $0 + ((f / outStrides[$1]) % shape[$1] % x.shape[$1]) * inStrides[$1] }
                }
                return [x.gathered(flat, shape: shape)]
            },
            "Pad": padKernel,
        ]
    }

    static let concatKernel: Kernel = { ctx in
        let parts = try (0..<ctx.inputs.count).map { try ctx.input($0) }
        let shape = try ctx.outputShape()
        let axis = try Shape.normalizeAxis(ctx.node.int("axis") ?? 0, rank: shape.count)
        let outer = shape[..<axis].reduce(1, *)
        // Gather from a virtual concatenation: (part, offset) for each output element.
        var source: [(Int, Int)] = []
        source.reserveCapacity(shape.reduce(1, *))
        for o in 0..<outer {
            for (p, part) in parts.enumerated() {
                let chunk = part.shape[axis...].reduce(1, *)
                for k in 0..<chunk { source.append((p, o * chunk + k)) }
            }
        }
        switch parts[0].storage {
        case .float:
            let values = parts.map(\.floats)
            return [NDArray(parts[0].elementType, shape: shape, floats: source.map { values[$0.0][$0.1] })]
        case .double:
            let values = parts.map(\.doubles)
            return [NDArray(shape: shape, doubles: source.map { values[$0.0][$0.1] })]
        case .int:
            let values = parts.map(\.ints)
            return [NDArray(parts[0].elementType, shape: shape, ints: source.map { values[$0.0][$0.1] })]
        }
    }

    static let splitKernel: Kernel = { ctx in
        let x = try ctx.input(0)
        let axis = try Shape.normalizeAxis(ctx.node.int("axis", default: 0), rank: x.rank)
        let (outer, size, inner) = Indexing.split(x.shape, at: axis)
        var start = 0
        return try ctx.outputTypes.indices.map { k in
            let shape = try ctx.outputShape(k)
            let length = shape[axis]
            var flat: [Int] = []
            for o in 0..<outer {
                for a in start..<(start + length) { for i in 0..<inner { flat.append((o * size + a) * inner + i) } }
            }
            start += length
            return x.gathered(flat, shape: shape)
        }
    }

    static let padKernel: Kernel = { ctx in
        let x = try ctx.input(0)
        let outShape = try ctx.outputShape()
        var pads: [Int]
        var axes = Array(0..<x.rank)
        var constant = 0.0
        if ctx.node.opset < 11 {
            pads = try ctx.node.ints("pads") ?? []
            constant = Double(try ctx.node.float("value", default: 0))
        } else {
            pads = try ctx.input(1).ints.map { Int($0) }
            if let c = ctx.optionalInput(2), c.count > 0 { constant = c.doubles[0] }
            if let a = ctx.optionalInput(3) { axes = try a.ints.map { try Shape.normalizeAxis(Int($0), rank: x.rank) } }
        }
        var begin = [Int](repeating: 0, count: x.rank)
        for (i, axis) in axes.enumerated() { begin[axis] = pads[i] }
        let mode = try ctx.node.string("mode", default: "constant")
        let inStrides = Shape.strides(x.shape), outStrides = Shape.strides(outShape)
        // -1 marks the constant value.
        let flat = (0..<outShape.reduce(1, *)).map { f -> Int in
            var offset = 0
            for d in 0..<x.rank {
                var i = (f / outStrides[d]) % outShape[d] - begin[d]
                let n = x.shape[d]
                if i < 0 || i >= n {
                    switch mode {
                    case "edge": i = Swift.min(Swift.max(i, 0), n - 1)
                    case "wrap": i = ((i % n) + n) % n
                    case "reflect":
                        let period = Swift.max(2 * (n - 1), 1)
                        i = ((i % period) + period) % period
                        if i >= n { i = period - i }
                    default: return -1
                    }
                }
                offset += i * inStrides[d]
            }
            return offset
        }
        switch x.storage {
        case .float(let v): return [NDArray(x.elementType, shape: outShape, floats: flat.map { $0 < 0 ? Float(constant) : v[$0] })]
        case .double(let v): return [NDArray(shape: outShape, doubles: flat.map { $0 < 0 ? constant : v[$0] })]
        case .int(let v): return [NDArray(x.elementType, shape: outShape, ints: flat.map { $0 < 0 ? NDArray.integer(from: constant, as: .int64) : v[$0] })]
        }
    }
}
