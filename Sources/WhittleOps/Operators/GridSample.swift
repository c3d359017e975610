import Foundation
import WhittleIR

/// GridSample (opsets 16 and 20): samples the input at the grid's normalized coordinates, nearest,
/// (bi)linear or (bi)cubic, with zeros, border or reflection padding, in any number of spatial axes;
/// and AffineGrid, which makes such grids from affine matrices.
enum GridSampleOperators {
    static var all: [OperatorDefinition] { [gridSample, affineGrid] }
    static var kernels: [String: Kernel] { ["GridSample": kernel, "AffineGrid": affineGridKernel] }

    /// theta [N, 2, 3] (or [N, 3, 4]) and size [N, C, H, W] (or [N, C, D, H, W]): grid [N, H, W, 2] (or [N, D, H, W, 3]).
    static let affineGrid = OperatorDefinition("AffineGrid", infer: { ctx in
        try ctx.expectInputs(2, 2)
        let theta = try ctx.shape(0), size = try ctx.constantInts(1, what: "size")
        let spatial = size.count - 2
        guard spatial == 2 || spatial == 3, theta == [size[0], spatial, spatial + 1], size.allSatisfy({ $0 >= 0 }),
              try ctx.type(0).elementType.isFloatingPoint else {
            throw WhittleError(.shapeMismatch, "theta \(Shape.describe(theta)) and size \(size) do not fit (2-D or 3-D)")
        }
        return [TensorType(try ctx.type(0).elementType, [size[0]] + Array(size[2...]) + [spatial])]
    })

    static let affineGridKernel: Kernel = { ctx in
        let theta = try ctx.input(0), t = theta.doubles
        let shape = try ctx.outputShape(0)
        let spatial = shape.count - 2, dims = Array(shape[1...spatial])
        let align = try ctx.node.int("align_corners", default: 0) != 0
        let points = dims.reduce(1, *), strides = Shape.strides(dims)
        func normalized(_ i: Int, _ size: Int) -> Double {
            align ? (size > 1 ? -1 + 2 * Double(i) / Double(size - 1) : -1) : -1 + (2 * Double(i) + 1) / Double(size)
        }
        var out = [Double](repeating: 0, count: shape.reduce(1, *))
        for n in 0..<shape[0] {
            for p in 0..<points {
                // Homogeneous coordinates, fastest axis first: (x, y[, z], 1).
                let coordinates = (0..<spatial).map { k -> Double in
                    let d = spatial - 1 - k
                    return normalized(p / strides[d] % dims[d], dims[d])
                } + [1]
                for r in 0..<spatial {
                    var sum = 0.0
                    for j in 0...spatial { sum += t[(n * spatial + r) * (spatial + 1) + j] * coordinates[j] }
                    out[(n * points + p) * spatial + r] = sum
                }
            }
        }
        return [NDArray(theta.elementType, shape: shape, values: out)]
    }

    static let gridSample = OperatorDefinition("GridSample", infer: { ctx in
        try ctx.expectInputs(2, 2)
        let x = try ctx.type(0), xs = try ctx.shape(0), grid = try ctx.shape(1)
        guard x.elementType.isFloatingPoint, xs.count >= 3, grid.count == xs.count, grid[0] == xs[0], grid.last == xs.count - 2 else {
            throw WhittleError(.shapeMismatch, "X \(Shape.describe(xs)) and grid \(Shape.describe(grid)) do not fit (grid: N × spatial × \(xs.count - 2))")
        }
        // Each point reads up to 4^spatial taps: more than 8 spatial axes is refused rather than run for ages.
        guard xs.count - 2 <= 8 else { throw WhittleError(.unsupported, "GridSample over \(xs.count - 2) spatial axes (at most 8)") }
        let mode = try ctx.string("mode", default: ctx.opset < 20 ? "bilinear" : "linear")
        guard ["nearest", "linear", "bilinear", "cubic", "bicubic"].contains(mode) else {
            throw WhittleError(.invalidAttribute, "mode must be nearest, linear or cubic, found \(mode)")
        }
        guard ["zeros", "border", "reflection"].contains(try ctx.string("padding_mode", default: "zeros")) else {
            throw WhittleError(.invalidAttribute, "padding_mode must be zeros, border or reflection")
        }
        return [TensorType(x.elementType, [xs[0], xs[1]] + Array(grid[1..<(grid.count - 1)]))]
    })

    /// Reflects `x` into [low, high] by the nearer border, as often as needed.
    static func reflect(_ x: Double, _ low: Double, _ high: Double) -> Double {
        let range = high - low
        guard range > 0 else { return low }
        if x < low {
            let d = low - x, n = (d / range).rounded(.towardZero), r = d - n * range
            return Int(n) % 2 == 0 ? low + r : high - r
        }
        if x > high {
            let d = x - high, n = (d / range).rounded(.towardZero), r = d - n * range
            return Int(n) % 2 == 0 ? high - r : low + r
        }
        return x
    }

    static func cubicCoefficients(_ t: Double) -> [Double] {
        let a = -0.75, x = abs(t)
        return [((a * (x + 1) - 5 * a) * (x + 1) + 8 * a) * (x + 1) - 4 * a,
                ((a + 2) * x - (a + 3)) * x * x + 1,
                ((a + 2) * (1 - x) - (a + 3)) * (1 - x) * (1 - x) + 1,
                ((a * (2 - x) - 5 * a) * (2 - x) + 8 * a) * (2 - x) - 4 * a]
    }

    static let kernel: Kernel = { ctx in
        let x = try ctx.input(0), grid = try ctx.input(1)
        let v = x.doubles, g = grid.doubles
        var mode = try ctx.node.string("mode", default: ctx.node.opset < 20 ? "bilinear" : "linear")
        mode = mode == "bilinear" ? "linear" : (mode == "bicubic" ? "cubic" : mode)
        let padding = try ctx.node.string("padding_mode", default: "zeros")
        let align = try ctx.node.int("align_corners", default: 0) != 0
        let dims = Array(x.shape[2...]), rank = dims.count
        let outSpatial = Array(grid.shape[1..<(grid.rank - 1)]), points = outSpatial.reduce(1, *)
        let low = dims.map { _ in align ? 0.0 : -0.5 }, high = dims.map { align ? Double($0 - 1) : Double($0) - 0.5 }
        let strides = Shape.strides(dims), plane = dims.reduce(1, *)
        var out = [Double](repeating: 0, count: x.shape[0] * x.shape[1] * points)
        /// The element index along axis d for integer coordinate i, or nil where zeros padding applies.
        func position(_ i: Int, _ d: Int) -> Int? {
            if i >= 0 && i < dims[d] { return i }
            switch padding {
            case "border": return Swift.min(Swift.max(i, 0), dims[d] - 1)
            case "reflection": return Swift.min(Swift.max(Int(reflect(Double(i), low[d], high[d])), 0), dims[d] - 1)
            default: return nil
            }
        }
        for n in 0..<x.shape[0] {
            for p in 0..<points {
                // Grid coordinates come last-axis first (x, y, ...); denormalize each.
                var coordinate = (0..<rank).map { d -> Double in
                    let normalized = g[(n * points + p) * rank + (rank - 1 - d)]
                    return align ? (normalized + 1) / 2 * Double(dims[d] - 1) : ((normalized + 1) * Double(dims[d]) - 1) / 2
                }
                if mode == "nearest" { coordinate = coordinate.map { $0.rounded(.toNearestOrEven) } }
                for d in 0..<rank where coordinate[d] < low[d] || coordinate[d] > high[d] {
                    if padding == "border" { coordinate[d] = Swift.min(Swift.max(coordinate[d], 0), Double(dims[d] - 1)) }
                    if padding == "reflection" { coordinate[d] = reflect(coordinate[d], low[d], high[d]) }
                }
                // Per axis: the taps (integer coordinates) and their weights.
                var taps: [[(Int, Double)]] = []
                for d in 0..<rank {
                    let c = coordinate[d]
                    switch mode {
                    case "nearest": taps.append([(Int(c.rounded(.towardZero)), 1)])
                    case "cubic":
                        let base = Int(c.rounded(.down)), w = cubicCoefficients(c - Double(base))
                        taps.append((0..<4).map { (base - 1 + $0, w[$0]) })
                    default:
                        let base = Int(c.rounded(.down)), t = c - Double(base)
                        taps.append([(base, 1 - t), (base + 1, t)])
                    }
                }
                for ch in 0..<x.shape[1] {
                    let offset = (n * x.shape[1] + ch) * plane
                    var sum = 0.0
                    var counter = [Int](repeating: 0, count: rank)
                    while true {
                        var weight = 1.0, index = 0, inside = true
                        for d in 0..<rank {
                            let (i, w) = taps[d][counter[d]]
                            weight *= w
                            guard let at = position(i, d) else { inside = false; break }
                            index += at * strides[d]
                        }
                        if inside { sum += weight * v[offset + index] }
                        var d = rank - 1
                        while d >= 0 {
                            counter[d] += 1
                            if counter[d] < taps[d].count { break }
                            counter[d] = 0
                            d -= 1
                        }
                        if d < 0 { break }
                    }
                    out[(n * x.shape[1] + ch) * points + p] = sum
                }
            }
        }
        return [NDArray(x.elementType, shape: try ctx.outputShape(0), values: out)]
    }
}
