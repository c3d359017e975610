import Foundation
import WhittleIR

/// Reference kernels of the reductions and ArgMax/ArgMin.
extension ReductionOperators {
    static var kernels: [String: Kernel] {
        var table: [String: Kernel] = [:]
        let reducers: [String: @Sendable ([Double]) -> Double] = [
            "ReduceMean": { $0.isEmpty ? .nan : $0.reduce(0, +) / Double($0.count) },
            "ReduceSum": { $0.reduce(0, +) },
            "ReduceMax": { $0.contains { $0.isNaN } ? .nan : ($0.max() ?? -.infinity) },
            "ReduceMin": { $0.contains { $0.isNaN } ? .nan : ($0.min() ?? .infinity) },
            "ReduceProd": { $0.reduce(1, *) },
            "ReduceL2": { $0.reduce(0) { $0 + $1 * $1 }.squareRoot() },
            "ReduceSumSquare": { $0.reduce(0) { $0 + $1 * $1 } },
            "ReduceL1": { $0.reduce(0) { $0 + Swift.abs($1) } },
            "ReduceLogSum": { Foundation.log($0.reduce(0, +)) },
            // Shifted by the maximum so that large values do not overflow; nothing (or only -inf) gives -inf.
            "ReduceLogSumExp": { values in
                let m = values.max() ?? -.infinity
                guard m > -.infinity else { return values.contains { $0.isNaN } ? .nan : -.infinity }
                return m + Foundation.log(values.reduce(0) { $0 + Foundation.exp($1 - m) })
            },
        ]
        for (name, reducer) in reducers {
            table[name] = { ctx in
                let x = try ctx.input(0)
                let outShape = try ctx.outputShape()
                let axes = try ShapeManipulationOperators.axes(ctx.node, inputFrom: name == "ReduceSum" ? 13 : 18)
                let noop = try ctx.node.int("noop_with_empty_axes", default: 0) != 0
                let reduced: Set<Int>
                if let axes, !axes.isEmpty {
                    reduced = Set(try axes.map { try Shape.normalizeAxis($0, rank: x.rank) })
                } else {
                    reduced = noop ? [] : Set(x.shape.indices)
                }
                if reduced.isEmpty { return [x] }
                let groups = group(x.shape, reduced: reduced)
                let v = x.doubles
                let out = groups.map { members in reducer(members.map { v[$0] }) }
                if case .int = x.storage {
                    // An empty ReduceMax/ReduceMin gives the type's lowest/highest value.
                    let (low, high) = x.elementType == .bool ? (0, 1) : QuantizationOperators.range(x.elementType)
                    return [NDArray(x.elementType, shape: outShape, ints: out.map {
                        $0 == -.infinity ? Int64(low) : ($0 == .infinity ? Int64(high) : NDArray.integer(from: $0, as: .int64))
                    })]
                }
                return [NDArray(x.elementType, shape: outShape, values: out)]
            }
        }
        for name in ["ArgMax", "ArgMin"] {
            table[name] = { ctx in
                let x = try ctx.input(0)
                let axis = try Shape.normalizeAxis(ctx.node.int("axis", default: 0), rank: x.rank)
                let last = try ctx.node.int("select_last_index", default: 0) != 0
                let (outer, size, inner) = Indexing.split(x.shape, at: axis)
                let v = x.doubles
                var out: [Int64] = []
                for o in 0..<outer {
                    for i in 0..<inner {
                        var best = 0
                        for k in 1..<Swift.max(size, 1) {
                            let candidate = v[(o * size + k) * inner + i], current = v[(o * size + best) * inner + i]
                            let better = name == "ArgMax" ? candidate > current : candidate < current
                            if better || (last && candidate == current) { best = k }
                        }
                        out.append(Int64(best))
                    }
                }
                return [NDArray(.int64, shape: try ctx.outputShape(), ints: out)]
            }
        }
        return table
    }

    /// For each output element (in order), the flat input indices reduced into it.
    static func group(_ shape: [Int], reduced: Set<Int>) -> [[Int]] {
        let strides = Shape.strides(shape)
        let kept = shape.indices.filter { !reduced.contains($0) }
        let keptShape = kept.map { shape[$0] }
        let outCount = keptShape.reduce(1, *)
        var groups = [[Int]](repeating: [], count: outCount)
        let keptStrides = Shape.strides(keptShape)
        for flat in 0..<shape.reduce(1, *) {
            var o = 0
            for (j, axis) in kept.enumerated() { o += ((flat / strides[axis]) % shape[axis]) * keptStrides[j] }
            groups[o].append(flat)
        }
        return groups
    }
}
