import Foundation
import WhittleIR

/// Reference kernels of the normalizations (inference form).
extension NormalizationOperators {
    static var kernels: [String: Kernel] {
        ["BatchNormalization": batchNormalizationKernel, "LayerNormalization": layerNormalizationKernel,
         "InstanceNormalization": instanceNormalizationKernel, "RMSNormalization": rmsNormalizationKernel,
         "LpNormalization": lpNormalizationKernel, "GroupNormalization": groupNormalizationKernel, "LRN": lrnKernel,
         "MeanVarianceNormalization": mvnKernel]
    }

    static let mvnKernel: Kernel = { ctx in
        let x = try ctx.input(0), v = x.doubles
        let axes = Set(try (ctx.node.ints("axes") ?? [0, 2, 3]).map { try Shape.normalizeAxis($0, rank: x.rank) })
        let strides = Shape.strides(x.shape)
        // Group the elements by their coordinates on the axes that are kept.
        var groups: [Int: [Int]] = [:]
        for f in 0..<x.count {
            var key = 0
            for d in 0..<x.rank where !axes.contains(d) { key = key * x.shape[d] + f / strides[d] % x.shape[d] }
            groups[key, default: []].append(f)
        }
        var out = [Double](repeating: 0, count: v.count)
        for members in groups.values {
            let mean = members.reduce(0.0) { $0 + v[$1] } / Double(members.count)
            let meanOfSquares = members.reduce(0.0) { $0 + v[$1] * v[$1] } / Double(members.count)
            let deviation = Swift.max(0, meanOfSquares - mean * mean).squareRoot()
            for f in members { out[f] = (v[f] - mean) / (deviation + 1e-9) }
        }
        return [NDArray(x.elementType, shape: x.shape, values: out)]
    }

    static let groupNormalizationKernel: Kernel = { ctx in
        let x = try ctx.input(0), v = x.doubles
        let scale = try ctx.input(1).doubles, bias = try ctx.input(2).doubles
        let groups = try ctx.node.int("num_groups") ?? 1
        let epsilon = Double(try ctx.node.float("epsilon", default: 1e-5))
        let channels = x.shape[1], spatial = x.shape[2...].reduce(1, *), perGroup = channels / groups
        let size = perGroup * spatial
        var out = [Double](repeating: 0, count: v.count)
        for g in 0..<(x.shape[0] * groups) where size > 0 {
            let slice = v[(g * size)..<((g + 1) * size)]
            let mean = slice.reduce(0, +) / Double(size)
            let variance = slice.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(size)
            let inv = 1 / (variance + epsilon).squareRoot()
            for k in 0..<size {
                let c = (g % groups) * perGroup + k / spatial
                let p = scale.count == channels ? c : g % groups
                out[g * size + k] = (v[g * size + k] - mean) * inv * scale[p] + bias[p]
            }
        }
        return [NDArray(x.elementType, shape: x.shape, values: out)]
    }

    /// y = x / (bias + alpha / size · Σ x²)^beta over the channels c − ⌊(size−1)/2⌋ ... c + ⌈(size−1)/2⌉.
    static let lrnKernel: Kernel = { ctx in
        let x = try ctx.input(0), v = x.doubles
        let size = try ctx.node.int("size") ?? 1
        let alpha = Double(try ctx.node.float("alpha", default: 1e-4)), beta = Double(try ctx.node.float("beta", default: 0.75))
        let bias = Double(try ctx.node.float("bias", default: 1))
        let channels = x.shape[1], spatial = x.shape[2...].reduce(1, *)
        let below = (size - 1) / 2, above = size - 1 - below
        var out = [Double](repeating: 0, count: v.count)
        for n in 0..<x.shape[0] {
            for c in 0..<channels {
                for p in 0..<spatial {
                    var sum = 0.0
                    for k in Swift.max(0, c - below)...Swift.min(channels - 1, c + above) {
                        let value = v[(n * channels + k) * spatial + p]
                        sum += value * value
                    }
                    let at = (n * channels + c) * spatial + p
                    out[at] = v[at] / Foundation.pow(bias + alpha / Double(size) * sum, beta)
                }
            }
        }
        return [NDArray(x.elementType, shape: x.shape, values: out)]
    }

    static let rmsNormalizationKernel: Kernel = { ctx in
        let x = try ctx.input(0)
        let axis = try Shape.normalizeAxis(ctx.node.int("axis", default: -1), rank: x.rank)
        let epsilon = Double(try ctx.node.float("epsilon", default: 1e-5))
        let normalized = Array(x.shape[axis...])
        let size = normalized.reduce(1, *), groups = x.count / Swift.max(size, 1)
        let scale = try ctx.input(1), si = Indexing.broadcast(from: scale.shape, to: normalized), sv = scale.doubles
        let v = x.doubles
        var out = [Double](repeating: 0, count: v.count)
        for g in 0..<groups where size > 0 {
            let squares = v[(g * size)..<((g + 1) * size)].reduce(0) { $0 + $1 * $1 }
            let inv = 1 / (squares / Double(size) + epsilon).squareRoot()
            for k in 0..<size { out[g * size + k] = v[g * size + k] * inv * sv[si[k]] }
        }
        return [NDArray(x.elementType, shape: x.shape, values: out)]
    }

    static let lpNormalizationKernel: Kernel = { ctx in
        let x = try ctx.input(0)
        let axis = try Shape.normalizeAxis(ctx.node.int("axis", default: -1), rank: x.rank)
        let p = try ctx.node.int("p", default: 2)
        let (outer, size, inner) = Indexing.split(x.shape, at: axis)
        let v = x.doubles
        var out = [Double](repeating: 0, count: v.count)
        for o in 0..<outer {
            for i in 0..<inner {
                let at = { (k: Int) in o * size * inner + k * inner + i }
                let norm = p == 1 ? (0..<size).reduce(0.0) { $0 + abs(v[at($1)]) }
                                  : (0..<size).reduce(0.0) { $0 + v[at($1)] * v[at($1)] }.squareRoot()
                // A zero vector stays zero (the reference divides by a norm clamped away from 0).
                for k in 0..<size { out[at(k)] = norm == 0 ? 0 : v[at(k)] / norm }
            }
        }
        return [NDArray(x.elementType, shape: x.shape, values: out)]
    }

    /// BatchNormalization: with the running mean and variance, or in training mode with the batch's
    /// mean and (population) variance, then also giving the updated running statistics.
    static let batchNormalizationKernel: Kernel = { ctx in
        let x = try ctx.input(0)
        if isTrainingMode(ctx.node.node) { return try trainingBatchNormalization(ctx, x) }
        let scale = try ctx.input(1).floats, bias = try ctx.input(2).floats
        let mean = try ctx.input(3).floats, variance = try ctx.input(4).floats
        let epsilon = try ctx.node.float("epsilon", default: 1e-5)
        let channels = x.shape[1], spatial = x.shape[2...].reduce(1, *)
        let factor = (0..<channels).map { scale[$0] / (variance[$0] + epsilon).squareRoot() }
        let v = x.floats
        let out = v.indices.map { i -> Float in
            let c = (i / spatial) % channels
            return (v[i] - mean[c]) * factor[c] + bias[c]
        }
        var results = [NDArray(x.elementType, shape: x.shape, floats: out)]
        // Optional outputs of training mode carry the running statistics through unchanged.
        if ctx.node.node.outputs.count > 1 { results.append(try ctx.input(3)) }
        if ctx.node.node.outputs.count > 2 { results.append(try ctx.input(4)) }
        return results
    }

    static func trainingBatchNormalization(_ ctx: EvaluationContext, _ x: NDArray) throws -> [NDArray] {
        let scale = try ctx.input(1).doubles, bias = try ctx.input(2).doubles
        let running = (try ctx.input(3).doubles, try ctx.input(4).doubles)
        let epsilon = Double(try ctx.node.float("epsilon", default: 1e-5))
        let momentum = Double(try ctx.node.float("momentum", default: 0.9))
        let channels = x.shape[1], spatial = x.shape[2...].reduce(1, *), batch = x.shape[0]
        let v = x.doubles, n = Double(Swift.max(batch * spatial, 1))
        var mean = [Double](repeating: 0, count: channels), variance = mean
        for i in v.indices { mean[(i / spatial) % channels] += v[i] }
        mean = mean.map { $0 / n }
        for i in v.indices {
            let d = v[i] - mean[(i / spatial) % channels]
            variance[(i / spatial) % channels] += d * d
        }
        variance = variance.map { $0 / n }
        let out = v.indices.map { i -> Double in
            let c = (i / spatial) % channels
            return scale[c] * (v[i] - mean[c]) / (variance[c] + epsilon).squareRoot() + bias[c]
        }
        let statistics = try ctx.input(3).elementType
        var results = [NDArray(x.elementType, shape: x.shape, values: out)]
        if ctx.node.node.outputs.count > 1 {
            results.append(NDArray(statistics, shape: [channels], values: (0..<channels).map { running.0[$0] * momentum + mean[$0] * (1 - momentum) }))
        }
        if ctx.node.node.outputs.count > 2 {
            results.append(NDArray(statistics, shape: [channels], values: (0..<channels).map { running.1[$0] * momentum + variance[$0] * (1 - momentum) }))
        }
        return results
    }

    static let layerNormalizationKernel: Kernel = { ctx in
        let x = try ctx.input(0)
        let axis = try Shape.normalizeAxis(ctx.node.int("axis", default: -1), rank: x.rank)
        let epsilon = Double(try ctx.node.float("epsilon", default: 1e-5))
        let normalized = Array(x.shape[axis...])
        let size = normalized.reduce(1, *), groups = x.count / Swift.max(size, 1)
        let scale = try ctx.input(1), bias = ctx.optionalInput(2)
        let si = Indexing.broadcast(from: scale.shape, to: normalized), sv = scale.doubles
        let bi = bias.map { Indexing.broadcast(from: $0.shape, to: normalized) }, bv = bias?.doubles
        let v = x.doubles
        var out = [Double](repeating: 0, count: v.count), means = [Double](), inverse = [Double]()
        for g in 0..<groups {
            let slice = v[(g * size)..<((g + 1) * size)]
            let mean = slice.reduce(0, +) / Double(size)
            let variance = slice.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(size)
            let inv = 1 / (variance + epsilon).squareRoot()
            means.append(mean)
            inverse.append(inv)
            for k in 0..<size {
                var y = (v[g * size + k] - mean) * inv * sv[si[k]]
                if let bi, let bv { y += bv[bi[k]] }
                out[g * size + k] = y
            }
        }
        let statsShape = Array(x.shape[..<axis]) + Array(repeating: 1, count: x.rank - axis)
        let stash = try ctx.node.elementType("stash_type") ?? .float
        return [NDArray(x.elementType, shape: x.shape, values: out), NDArray(stash, shape: statsShape, values: means),
                NDArray(stash, shape: statsShape, values: inverse)].prefix(Swift.max(1, ctx.node.node.outputs.count)).map { $0 }
    }

    static let instanceNormalizationKernel: Kernel = { ctx in
        let x = try ctx.input(0)
        let scale = try ctx.input(1).doubles, bias = try ctx.input(2).doubles
        let epsilon = Double(try ctx.node.float("epsilon", default: 1e-5))
        let channels = x.shape[1], spatial = x.shape[2...].reduce(1, *)
        let v = x.doubles
        var out = [Double](repeating: 0, count: v.count)
        for plane in 0..<(x.shape[0] * channels) {
            let c = plane % channels
            let slice = v[(plane * spatial)..<((plane + 1) * spatial)]
            let mean = slice.reduce(0, +) / Double(spatial)
            let variance = slice.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(spatial)
            let inv = 1 / (variance + epsilon).squareRoot()
            for k in 0..<spatial { out[plane * spatial + k] = (v[plane * spatial + k] - mean) * inv * scale[c] + bias[c] }
        }
        return [NDArray(x.elementType, shape: x.shape, values: out)]
    }
}
