import WhittleIR
import WhittleOps

/// C for the operators that put values back where a window or block took them from (MaxUnpool, Col2Im,
/// TensorScatter's cache writes)
/// and for MeanVarianceNormalization; positions are computed at compile time where shapes fix them.
enum ReassemblyC {
    static var kernels: [String: CKernel] { ["MaxUnpool": maxUnpool, "Col2Im": col2Im, "MeanVarianceNormalization": meanVariance, "TensorScatter": tensorScatter] }

    /// The C expression of the row-major index over `keep` axes of element `f` of `shape`.
    static func key(_ f: String, shape: [Int], keep: [Int]) -> String {
        let strides = Shape.strides(shape)
        guard let first = keep.first else { return "0" }
        var text = "(\(f) / \(strides[first]) % \(shape[first]))"
        for d in keep.dropFirst() { text = "(\(text) * \(shape[d]) + \(f) / \(strides[d]) % \(shape[d]))" }
        return text
    }

    /// MaxUnpool: zeros, then each input value at the (flat, unpooled) position its index names; an index
    /// outside the unpooled shape, or past an output_shape smaller than it, is skipped.
    static let maxUnpool: CKernel = { e, w in
        let x = try e.inputShape(0), y = try e.outputShape()
        let unpooled = try OperatorHelpers.unpooledShape(e.context, input: x)
        let count = y.reduce(1, *), total = unpooled.reduce(1, *)
        w.line("for (int i = 0; i < \(count); ++i) \(e.y(0))[i] = \(e.literal(0));")
        w.block("for (int k = 0; k < \(x.reduce(1, *)); ++k)") { w in
            w.line("const int64_t index = \(e.x(1))[k];")
            w.line("if (index < 0 || index >= \(total)) continue;")
            if unpooled == y {
                w.line("\(e.y(0))[index] = \(e.x(0))[k];")
                return
            }
            let from = Shape.strides(unpooled), to = Shape.strides(y)
            w.line("int64_t target = 0;")
            for d in unpooled.indices {
                w.line("const int64_t c\(d) = index / \(from[d]) % \(unpooled[d]);")
                w.line("if (c\(d) >= \(y[d])) continue;")
                w.line("target += c\(d) * \(to[d]);")
            }
            w.line("\(e.y(0))[target] = \(e.x(0))[k];")
        }
    }

    /// Col2Im: each block's value is added at its image position (table made at compile time; -1 for padding).
    static let col2Im: CKernel = { e, w in
        guard let image = e.constant(1)?.int64s()?.map({ Int($0) }), let block = e.constant(2)?.int64s()?.map({ Int($0) }) else {
            throw WhittleError(.unsupported, "Col2Im needs image_shape and block_shape constant for the C back end")
        }
        let x = try e.inputShape(0), t = try e.cType(output: 0), rank = image.count
        let dilations = try e.context.ints("dilations") ?? Array(repeating: 1, count: rank)
        let strides = try e.context.ints("strides") ?? Array(repeating: 1, count: rank)
        let pads = try e.context.ints("pads") ?? Array(repeating: 0, count: 2 * rank)
        let blocks = (0..<rank).map { (d: Int) -> Int in
            let span: Int = dilations[d] * (block[d] - 1) + 1
            let padded: Int = image[d] + pads[d] + pads[d + rank]
            return (padded - span) / strides[d] + 1
        }
        let blockSize = block.reduce(1, *), positions = blocks.reduce(1, *), plane = image.reduce(1, *)
        guard blockSize > 0, positions == x[2], x[1] % blockSize == 0 else {
            throw WhittleError(.shapeMismatch, "the input has \(x[2]) blocks; the image and blocks give \(positions)")
        }
        let channels = x[1] / blockSize
        let blockStrides = Shape.strides(block), positionStrides = Shape.strides(blocks), imageStrides = Shape.strides(image)
        var table: [Int] = []
        for k in 0..<blockSize {
            for l in 0..<positions {
                var at = 0, inside = true
                for d in 0..<rank {
                    let start: Int = l / positionStrides[d] % blocks[d] * strides[d] - pads[d]
                    let c: Int = start + k / blockStrides[d] % block[d] * dilations[d]
                    if c < 0 || c >= image[d] { inside = false; break }
                    at += c * imageStrides[d]
                }
                table.append(inside ? at : -1)
            }
        }
        guard x[0] * channels * plane > 0 else { return }
        w.line("static const int position[\(table.count)] = {\(table.map(String.init).joined(separator: ", "))};")
        w.block("for (int n = 0; n < \(x[0]); ++n) for (int c = 0; c < \(channels); ++c)") { w in
            w.line("\(t) *out = \(e.y(0)) + (n * \(channels) + c) * \(plane);")
            w.line("const \(t) *in = \(e.x(0)) + (n * \(x[1]) + c * \(blockSize)) * \(positions);")
            w.line("for (int i = 0; i < \(plane); ++i) out[i] = \(e.literal(0));")
            w.line("for (int i = 0; i < \(table.count); ++i) if (position[i] >= 0) out[position[i]] += in[i];")
        }
    }

    /// MeanVarianceNormalization: (x - mean) / (standard deviation + 1e-9) over `axes`, in double.
    static let meanVariance: CKernel = { e, w in
        guard e.elementType == .float || e.elementType == .double else {
            throw WhittleError(.unsupported, "MeanVarianceNormalization on \(e.elementType.name) is not supported by the C back end")
        }
        let x = try e.inputShape(0), t = try e.cType(output: 0)
        let axes = Set(try (e.context.ints("axes") ?? [0, 2, 3]).map { try Shape.normalizeAxis($0, rank: x.count) })
        let keep = x.indices.filter { !axes.contains($0) }
        let groups = keep.map { x[$0] }.reduce(1, *), count = x.reduce(1, *)
        guard count > 0 else { return }
        guard groups <= 1 << 16 else { throw WhittleError(.unsupported, "MeanVarianceNormalization over \(groups) groups is too many for the C back end") }
        let n = count / groups
        let index = key("f", shape: x, keep: keep)
        w.line("double mean[\(groups)], spread[\(groups)];")
        w.line("for (int g = 0; g < \(groups); ++g) mean[g] = spread[g] = 0.0;")
        w.block("for (int f = 0; f < \(count); ++f)") { w in
            w.line("const double v = (double)\(e.x(0))[f];")
            w.line("mean[\(index)] += v;")
            w.line("spread[\(index)] += v * v;")
        }
        w.block("for (int g = 0; g < \(groups); ++g)") { w in
            w.line("mean[g] /= \(n).0;")
            w.line("const double variance = spread[g] / \(n).0 - mean[g] * mean[g];")
            w.line("spread[g] = sqrt(variance > 0.0 ? variance : 0.0) + 1e-9;")
        }
        w.line("for (int f = 0; f < \(count); ++f) \(e.y(0))[f] = (\(t))(((double)\(e.x(0))[f] - mean[\(index)]) / spread[\(index)]);")
    }

    /// TensorScatter: the cache, with each batch's update written from its write position along `axis`
    /// (wrapped in circular mode). A position outside the cache is skipped (the interpreter refuses it).
    static let tensorScatter: CKernel = { e, w in
        let cache = try e.inputShape(0), update = try e.inputShape(1)
        let axis = try Shape.normalizeAxis(e.context.int("axis", default: -2), rank: cache.count)
        let circular = try e.context.string("mode", default: "linear") == "circular"
        let (outer, size, inner) = Indexing.split(cache, at: axis), steps = update[axis]
        let batchStride = max(cache[..<axis].dropFirst().reduce(1, *), 1), count = cache.reduce(1, *)
        w.line("for (int i = 0; i < \(count); ++i) \(e.y(0))[i] = \(e.x(0))[i];")
        guard count > 0, steps > 0 else { return }
        let batches = e.has(2) ? try e.inputShape(2).reduce(1, *) : 0
        w.block("for (int o = 0; o < \(outer); ++o)") { w in
            if e.has(2) {
                w.line("const int batch = \(axis == 0 ? "0" : "o / \(batchStride)");")
                w.line("const int64_t start = \(e.x(2))[batch < \(batches) ? batch : \(batches - 1)];")
            } else {
                w.line("const int64_t start = 0;")
            }
            w.block("for (int s = 0; s < \(steps); ++s)") { w in
                w.line("int64_t target = start + s;")
                if circular { w.line("target = ((target % \(size)) + \(size)) % \(size);") }
                w.line("if (target < 0 || target >= \(size)) continue;")
                w.line("for (int i = 0; i < \(inner); ++i) \(e.y(0))[(o * \(size) + target) * \(inner) + i] = \(e.x(1))[(o * \(steps) + s) * \(inner) + i];")
            }
        }
    }
}
