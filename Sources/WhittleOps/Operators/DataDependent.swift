import Foundation
import WhittleIR

/// Operators whose output sizes depend on the input values (NonZero, Unique): they run when the inputs
/// are known (constants, or every input bound by `whittle run`), and fold to constants there.
enum DataDependentOperators {
    static var all: [OperatorDefinition] { [dataDependent("NonZero", nonZero), dataDependent("Unique", unique), nonMaxSuppression] }

    /// NonMaxSuppression: per batch and class, boxes in decreasing score (ties: lower index first) above
    /// score_threshold, each kept unless its IoU with a kept box exceeds iou_threshold, up to
    /// max_output_boxes_per_class; [selected, 3] rows of (batch, class, box).
    static let nonMaxSuppression = OperatorDefinition("NonMaxSuppression", infer: { ctx in
        try ctx.expectInputs(2, 5)
        guard (0..<ctx.node.inputs.count).allSatisfy({ !ctx.has($0) || ctx.value($0) != nil }) else {
            throw WhittleError(.unsupported, "the number of boxes NonMaxSuppression selects depends on the input values, which are only known at run time")
        }
        return [TensorType(.int64, try selectBoxes(ctx).shape)]
    }, fold: { ctx in
        guard (0..<ctx.node.inputs.count).allSatisfy({ !ctx.has($0) || ctx.value($0) != nil }) else { return nil }
        return [try selectBoxes(ctx).tensor()]
    })

    static func selectBoxes(_ ctx: InferenceContext) throws -> NDArray {
        let boxShape = try ctx.shape(0), scoreShape = try ctx.shape(1)
        guard boxShape.count == 3, boxShape[2] == 4, scoreShape.count == 3, scoreShape[0] == boxShape[0], scoreShape[2] == boxShape[1] else {
            throw WhittleError(.shapeMismatch, "boxes \(Shape.describe(boxShape)) and scores \(Shape.describe(scoreShape)) do not fit")
        }
        let boxes = ctx.value(0)?.doubles() ?? [], scores = ctx.value(1)?.doubles() ?? []
        let limit = ctx.value(2)?.int64s()?.first ?? 0
        let iou = ctx.value(3)?.doubles().first ?? 0, threshold = ctx.value(4)?.doubles().first
        let center = try ctx.int("center_point_box", default: 0) != 0
        let (batches, classes, count) = (boxShape[0], scoreShape[1], boxShape[1])
        func corners(_ b: Int, _ i: Int) -> (Double, Double, Double, Double) {
            let v = Array(boxes[((b * count + i) * 4)..<((b * count + i) * 4 + 4)])
            if center { return (v[0] - v[2] / 2, v[0] + v[2] / 2, v[1] - v[3] / 2, v[1] + v[3] / 2) }
            return (Swift.min(v[1], v[3]), Swift.max(v[1], v[3]), Swift.min(v[0], v[2]), Swift.max(v[0], v[2]))
        }
        func suppresses(_ b: Int, _ i: Int, _ j: Int) -> Bool {
            let (ax0, ax1, ay0, ay1) = corners(b, i), (bx0, bx1, by0, by1) = corners(b, j)
            let ix0 = Swift.max(ax0, bx0), ix1 = Swift.min(ax1, bx1), iy0 = Swift.max(ay0, by0), iy1 = Swift.min(ay1, by1)
            guard ix1 > ix0, iy1 > iy0 else { return false }
            let intersection = (ix1 - ix0) * (iy1 - iy0)
            let a = (ax1 - ax0) * (ay1 - ay0), c = (bx1 - bx0) * (by1 - by0), union = a + c - intersection
            guard intersection > 0, a > 0, c > 0, union > 0 else { return false }
            return intersection / union > iou
        }
        var rows: [Int64] = []
        for b in 0..<batches {
            for k in 0..<classes {
                let score = { (i: Int) in scores[(b * classes + k) * count + i] }
                let candidates = (0..<count).filter { threshold == nil || score($0) > threshold! }
                    .sorted { score($0) != score($1) ? score($0) > score($1) : $0 < $1 }
                var kept: [Int] = []
                for i in candidates where Int64(kept.count) < limit {
                    if kept.contains(where: { suppresses(b, i, $0) }) { continue }
                    kept.append(i)
                    rows += [Int64(b), Int64(k), Int64(i)]
                }
            }
        }
        return NDArray(.int64, shape: [rows.count / 3, 3], ints: rows)
    }

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
