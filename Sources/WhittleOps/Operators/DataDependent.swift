import Foundation
import WhittleIR

/// Operators whose output sizes depend on the input values (NonZero, Unique): they run when the inputs
/// are known (constants, or every input bound by `whittle run`), and fold to constants there.
enum DataDependentOperators {
    static var all: [OperatorDefinition] { [dataDependent("NonZero", nonZero), dataDependent("Unique", unique)] }

    typealias Compute = @Sendable (NDArray, InferenceContext) throws -> [NDArray]

    static func dataDependent(_ name: String, _ compute: @escaping Compute) -> OperatorDefinition {
        OperatorDefinition(name, infer: { ctx in
            try ctx.expectInputs(1, 1)
            guard let x = ctx.value(0) else {
                throw WhittleError(.unsupported, "the size of \(name)'s output depends on the input's values, which are only known at run time")
            }
            return try compute(NDArray(x), ctx).prefix(Swift.max(1, ctx.node.outputs.count)).map { TensorType($0.elementType, $0.shape) }
        }, fold: { ctx in
            guard let x = ctx.value(0) else { return nil }
            return try compute(NDArray(x), ctx).prefix(Swift.max(1, ctx.node.outputs.count)).map { try $0.tensor() }
        })
    }

    /// The coordinates of the non-zero elements: [rank, count], in row-major order.
    static let nonZero: Compute = { x, _ in
        let values = x.doubles
        let found = values.indices.filter { values[$0] != 0 }
        let strides = Shape.strides(x.shape)
        var out = [Int64](repeating: 0, count: x.rank * found.count)
        for (k, flat) in found.enumerated() {
            for d in 0..<x.rank { out[d * found.count + k] = Int64(flat / strides[d] % x.shape[d]) }
        }
        return [NDArray(.int64, shape: [x.rank, found.count], ints: out)]
    }

    /// The distinct elements (or slices along `axis`), sorted unless `sorted` = 0 (then in order of first
    /// appearance), with their first indices, each input's position among them, and their counts.
    static let unique: Compute = { x, ctx in
        let sorted = try ctx.int("sorted", default: 1) != 0
        let axis = try ctx.int("axis").map { try Shape.normalizeAxis($0, rank: x.rank) }
        let values = x.doubles
        let (outer, size, inner) = axis.map { Indexing.split(x.shape, at: $0) } ?? (1, x.count, 1)
        // Slice j: the elements with coordinate j along the axis (one element without an axis).
        let slices = (0..<size).map { j in (0..<outer).flatMap { o in (0..<inner).map { i in (o * size + j) * inner + i } } }
        func key(_ j: Int) -> [Double] { slices[j].map { values[$0] } }
        var first: [[Double]: Int] = [:], order: [Int] = []
        for j in 0..<size where first[key(j)] == nil {
            first[key(j)] = j
            order.append(j)
        }
        if sorted {
            order.sort { a, b in key(a).lexicographicallyPrecedes(key(b)) }
        }
        var position: [[Double]: Int] = [:]
        for (k, j) in order.enumerated() { position[key(j)] = k }
        var counts = [Int64](repeating: 0, count: order.count), inverse: [Int64] = []
        for j in 0..<size {
            let k = position[key(j)] ?? 0
            counts[k] += 1
            inverse.append(Int64(k))
        }
        let yShape: [Int]
        if let axis { var s = x.shape; s[axis] = order.count; yShape = s } else { yShape = [order.count] }
        let flat: [Int] = axis == nil ? order : (0..<outer).flatMap { o in order.flatMap { j in (0..<inner).map { i in (o * size + j) * inner + i } } }
        return [x.gathered(flat, shape: yShape), NDArray(.int64, shape: [order.count], ints: order.map(Int64.init)),
                NDArray(.int64, shape: [size], ints: inverse), NDArray(.int64, shape: [order.count], ints: counts)]
    }
}
