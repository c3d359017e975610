/// Helpers for static shapes, which Whittle stores as `[Int]` in row-major order.
public enum Shape {
    /// The number of elements of `shape`, or an error when a dimension is negative
    /// or the product does not fit in `Int`.
    public static func elementCount(_ shape: [Int]) throws -> Int {
        var count = 1
        for dim in shape {
            guard dim >= 0 else {
                throw WhittleError(.shapeMismatch, "negative dimension \(dim) in shape \(describe(shape))")
            }
            let (product, overflow) = count.multipliedReportingOverflow(by: dim)
            guard !overflow else {
                throw WhittleError(.shapeMismatch, "shape \(describe(shape)) has more elements than fit in a 64-bit integer")
            }
            count = product
        }
        return count
    }

    /// `count * width` bytes, or an error on overflow.
    public static func byteCount(_ shape: [Int], width: Int) throws -> Int {
        let count = try elementCount(shape)
        let (bytes, overflow) = count.multipliedReportingOverflow(by: width)
        guard !overflow else {
            throw WhittleError(.shapeMismatch, "shape \(describe(shape)) needs more bytes than fit in a 64-bit integer")
        }
        return bytes
    }

    /// The product of `values`, clamped to `Int.max`; for statistics such as MAC counts.
    public static func saturatingProduct(_ values: [Int]) -> Int {
        var product = 1
        for v in values {
            let (p, overflow) = product.multipliedReportingOverflow(by: max(v, 0))
            if overflow { return Int.max }
            product = p
        }
        return product
    }

    /// `a * b + c`, or an error naming `what` when it overflows `Int`.
    public static func checked(_ a: Int, times b: Int, plus c: Int = 0, what: String) throws -> Int {
        let (p, o1) = a.multipliedReportingOverflow(by: b)
        let (s, o2) = p.addingReportingOverflow(c)
        guard !o1, !o2 else { throw WhittleError(.shapeMismatch, "\(what) does not fit in a 64-bit integer") }
        return s
    }

    /// Row-major strides of `shape`, in elements.
    public static func strides(_ shape: [Int]) -> [Int] {
        var strides = [Int](repeating: 1, count: shape.count)
        var step = 1
        for axis in stride(from: shape.count - 1, through: 0, by: -1) {
            strides[axis] = step
            step &*= shape[axis]
        }
        return strides
    }

    /// `[1, 3, 224, 224]` → `"1x3x224x224"`; a scalar is `"scalar"`.
    public static func describe(_ shape: [Int]) -> String {
        shape.isEmpty ? "scalar" : shape.map(String.init).joined(separator: "x")
    }

    /// Multidirectional (NumPy) broadcasting of two shapes; nil when they do not broadcast.
    public static func broadcast(_ a: [Int], _ b: [Int]) -> [Int]? {
        let rank = max(a.count, b.count)
        var result = [Int](repeating: 1, count: rank)
        for i in 0..<rank {
            let da = i < rank - a.count ? 1 : a[i - (rank - a.count)]
            let db = i < rank - b.count ? 1 : b[i - (rank - b.count)]
            if da == db || db == 1 {
                result[i] = da
            } else if da == 1 {
                result[i] = db
            } else {
                return nil
            }
        }
        return result
    }

    /// Normalizes a possibly negative `axis` against `rank`; throws when out of range.
    public static func normalizeAxis(_ axis: Int, rank: Int, name: String = "axis") throws -> Int {
        let resolved = axis < 0 ? axis + rank : axis
        guard resolved >= 0, resolved < rank else {
            throw WhittleError(.invalidAttribute, "\(name) \(axis) is out of range for rank \(rank)")
        }
        return resolved
    }
}
