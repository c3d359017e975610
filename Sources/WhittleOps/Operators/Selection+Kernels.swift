import WhittleIR

/// Reference kernels of the selection operators.
extension SelectionOperators {
    static var kernels: [String: Kernel] {
        ["CumSum": cumulativeKernel(product: false), "CumProd": cumulativeKernel(product: true), "Hardmax": hardmaxKernel,
         "TopK": topKKernel, "OneHot": oneHotKernel]
    }

    /// Running sums or products along the axis; `exclusive` leaves out the element itself, `reverse` runs backwards.
    static func cumulativeKernel(product: Bool) -> Kernel {
        { ctx in
            let x = try ctx.input(0)
            guard let axisValue = try ctx.input(1).ints.first else { throw WhittleError(.shapeMismatch, "axis is empty") }
            let axis = try Shape.normalizeAxis(Int(clamping: axisValue), rank: x.rank)
            let exclusive = try ctx.node.int("exclusive", default: 0) != 0, reverse = try ctx.node.int("reverse", default: 0) != 0
            let (outer, size, inner) = Indexing.split(x.shape, at: axis)
            // Positions in accumulation order, per (outer, inner) line.
            func lines(_ body: ([Int]) -> Void) {
                for o in 0..<outer {
                    for i in 0..<inner {
                        let order = (0..<size).map { o * size * inner + $0 * inner + i }
                        body(reverse ? order.reversed() : order)
                    }
                }
            }
            switch x.storage {
            case .int(let v):
                var out = [Int64](repeating: 0, count: v.count)
                lines { order in
                    var acc: Int64 = product ? 1 : 0
                    for p in order {
                        if exclusive { out[p] = acc }
                        acc = product ? acc &* v[p] : acc &+ v[p]
                        if !exclusive { out[p] = acc }
                    }
                }
                return [NDArray(x.elementType, shape: x.shape, ints: out)]
            default:
                // Accumulated in the element type's precision, as the reference (NumPy) does.
                let v = x.doubles, single = x.elementType != .double
                var out = [Double](repeating: 0, count: v.count)
                lines { order in
                    var acc: Double = product ? 1 : 0
                    for p in order {
                        if exclusive { out[p] = acc }
                        acc = product ? acc * v[p] : acc + v[p]
                        if single { acc = Double(Float(acc)) }
                        if !exclusive { out[p] = acc }
                    }
                }
                return [NDArray(x.elementType, shape: x.shape, values: out)]
            }
        }
    }

    static let hardmaxKernel: Kernel = { ctx in
        let x = try ctx.input(0)
        let axis = try Shape.normalizeAxis(ctx.node.int("axis", default: ctx.node.opset < 13 ? 1 : -1), rank: Swift.max(x.rank, 1))
        // Before opset 13 the input is seen as a matrix split at the axis.
        let (outer, size, inner) = ctx.node.opset < 13
            ? (x.shape[..<axis].reduce(1, *), x.shape[axis...].reduce(1, *), 1) : Indexing.split(x.shape, at: axis)
        let v = x.doubles
        var out = [Double](repeating: 0, count: v.count)
        for o in 0..<outer where size > 0 {
            for i in 0..<inner {
                var best = o * size * inner + i
                for k in 1..<Swift.max(size, 1) where v[o * size * inner + k * inner + i] > v[best] { best = o * size * inner + k * inner + i }
                out[best] = 1
            }
        }
        return [NDArray(x.elementType, shape: x.shape, values: out)]
    }

    /// Sorted by value (largest first unless `largest` = 0); equal values keep the lower index first.
    static let topKKernel: Kernel = { ctx in
        let x = try ctx.input(0)
        let shape = try ctx.outputShape(0)
        let axis = try Shape.normalizeAxis(ctx.node.int("axis", default: -1), rank: x.rank)
        let largest = try ctx.node.int("largest", default: 1) != 0
        let (outer, size, inner) = Indexing.split(x.shape, at: axis)
        let k = shape[axis]
        let v = x.doubles, exact = x.ints
        let integer = !x.elementType.isFloatingPoint
        var flat = [Int](repeating: 0, count: outer * k * inner), indices = [Int64](repeating: 0, count: flat.count)
        for o in 0..<outer {
            for i in 0..<inner {
                let position = { (j: Int) in o * size * inner + j * inner + i }
                let order = (0..<size).sorted { a, b in
                    let (pa, pb) = (position(a), position(b))
                    if integer, exact[pa] != exact[pb] { return largest ? exact[pa] > exact[pb] : exact[pa] < exact[pb] }
                    if !integer, v[pa] != v[pb] {
                        // NaN sorts as the largest value, as NumPy's sort puts it last.
                        if v[pa].isNaN { return largest }
                        if v[pb].isNaN { return !largest }
                        return largest ? v[pa] > v[pb] : v[pa] < v[pb]
                    }
                    return a < b
                }
                for j in 0..<k {
                    flat[o * k * inner + j * inner + i] = position(order[j])
                    indices[o * k * inner + j * inner + i] = Int64(order[j])
                }
            }
        }
        return [x.gathered(flat, shape: shape), NDArray(.int64, shape: shape, ints: indices)]
    }

    static let oneHotKernel: Kernel = { ctx in
        let indices = try ctx.input(0).doubles, values = try ctx.input(2)
        let shape = try ctx.outputShape(0)
        let axis = try Shape.normalizeAxis(ctx.node.int("axis", default: -1), rank: shape.count)
        let depth = shape[axis]
        let (outer, _, inner) = Indexing.split(shape, at: axis)
        var pick = [Int](repeating: 0, count: shape.reduce(1, *))
        for o in 0..<outer {
            for i in 0..<inner {
                // Indices are truncated to integers; negative ones count from the end; others out of range match nothing.
                var index = indices[o * inner + i].rounded(.towardZero)
                if index < 0 { index += Double(depth) }
                guard index >= 0, index < Double(depth) else { continue }
                pick[o * depth * inner + Int(index) * inner + i] = 1
            }
        }
        return [values.gathered(pick, shape: shape)]
    }
}
