import Foundation
import WhittleIR

/// How calibration turns the values a tensor took into the range its int8 grid covers.
public enum CalibrationMethod: Sendable, Equatable, CustomStringConvertible {
    /// The smallest and largest value seen (the default; TFLite's and ONNX Runtime's MinMax).
    case minMax
    /// Clips both tails: the range runs from the (100 − p)th to the p-th percentile, e.g. 99.99.
    case percentile(Double)
    /// The clipping threshold whose 128-level quantization of the histogram loses least information
    /// (minimal Kullback–Leibler divergence between the clipped and the quantized distribution).
    case entropy

    /// Parses `minmax`, `percentile:99.99` or `entropy`.
    public init(parsing text: String) throws {
        let lower = text.lowercased()
        if lower == "minmax" || lower == "min-max" { self = .minMax; return }
        if lower == "entropy" || lower == "kl" { self = .entropy; return }
        if lower.hasPrefix("percentile") {
            let rest = lower.dropFirst("percentile".count)
            guard rest.first == ":", let p = Double(rest.dropFirst()), p > 50, p <= 100 else {
                throw WhittleError(.usage, "the percentile calibration method needs a percentile in (50, 100], as in percentile:99.99 (got \"\(text)\")", setting: .calibrationMethod)
            }
            self = .percentile(p)
            return
        }
        throw WhittleError(.usage, "unknown calibration method \"\(text)\" (use minmax, percentile:P or entropy)", setting: .calibrationMethod)
    }

    public var description: String {
        switch self {
        case .minMax: "minmax"
        case .percentile(let p): "percentile:\(p)"
        case .entropy: "entropy"
        }
    }

    /// Whether the method needs a histogram, and so a second pass over the data.
    var needsHistogram: Bool { self != .minMax }
}

/// The real range one tensor's quantization grid must cover. It always contains 0, so that zero
/// (padding, ReLU's floor) is exactly representable.
public struct ValueRange: Sendable, Equatable {
    public var low: Double
    public var high: Double

    public init(low: Double, high: Double) {
        self.low = Swift.min(low, 0)
        self.high = Swift.max(high, 0)
    }
}

/// Collects the statistics of every observed tensor over the calibration samples: extremes in a first
/// pass, then (for percentile and entropy calibration) a 2048-bin histogram over those extremes.
public struct RangeObserver: Sendable {
    static let bins = 2048

    public init() {}

    var minimum: [String: Double] = [:]
    var maximum: [String: Double] = [:]
    /// Histograms over [minimum, maximum] of the first pass, filled in the second pass.
    var histograms: [String: [Double]] = [:]

    /// First pass: the extremes.
    public mutating func observeExtremes(_ name: String, _ values: [Float]) {
        var low = minimum[name] ?? .infinity, high = maximum[name] ?? -.infinity
        for v in values where v.isFinite {
            low = Swift.min(low, Double(v))
            high = Swift.max(high, Double(v))
        }
        minimum[name] = low
        maximum[name] = high
    }

    /// Second pass: counts per bin over the first pass's range.
    public mutating func observeHistogram(_ name: String, _ values: [Float]) {
        guard let low = minimum[name], let high = maximum[name], high > low else { return }
        var counts = histograms[name] ?? Array(repeating: 0, count: Self.bins)
        let width = (high - low) / Double(Self.bins)
        for v in values where v.isFinite {
            let bin = Swift.min(Self.bins - 1, Swift.max(0, Int((Double(v) - low) / width)))
            counts[bin] += 1
        }
        histograms[name] = counts
    }

    /// The calibrated range of `name`, or nil when it was never observed.
    public func range(_ name: String, method: CalibrationMethod) -> ValueRange? {
        guard let low = minimum[name], let high = maximum[name], low.isFinite, high.isFinite else { return nil }
        guard let counts = histograms[name], high > low else { return ValueRange(low: low, high: high) }
        let width = (high - low) / Double(Self.bins)
        switch method {
        case .minMax:
            return ValueRange(low: low, high: high)
        case .percentile(let p):
            let total = counts.reduce(0, +)
            let tail = total * (100 - p) / 100
            // The low edge of the first bin past the lower tail, the high edge of the last bin before the upper one.
            var seen = 0.0, first = 0
            while first < Self.bins - 1 && seen + counts[first] <= tail { seen += counts[first]; first += 1 }
            seen = 0
            var last = Self.bins - 1
            while last > 0 && seen + counts[last] <= tail { seen += counts[last]; last -= 1 }
            return ValueRange(low: low + Double(first) * width, high: low + Double(last + 1) * width)
        case .entropy:
            return Self.entropyRange(counts: counts, low: low, high: high)
        }
    }

    /// KL calibration on the magnitude histogram: the threshold T minimizing KL(P‖Q), where P is the
    /// histogram clipped at T (the outliers folded into the last bin) and Q is P merged into 128
    /// levels and spread back. Signed tensors get [−T, T] intersected with what was seen.
    static func entropyRange(counts: [Double], low: Double, high: Double) -> ValueRange {
        let magnitudeMax = Swift.max(abs(low), abs(high))
        guard magnitudeMax > 0 else { return ValueRange(low: low, high: high) }
        // Re-bin onto |x| in [0, magnitudeMax].
        var magnitude = Array(repeating: 0.0, count: bins)
        let width = (high - low) / Double(bins)
        for (i, c) in counts.enumerated() where c > 0 {
            let center = abs(low + (Double(i) + 0.5) * width)
            magnitude[Swift.min(bins - 1, Int(center / magnitudeMax * Double(bins)))] += c
        }
        let levels = 128
        var best = bins, bestDivergence = Double.infinity
        for threshold in stride(from: levels, through: bins, by: 16) {
            var p = Array(magnitude[0..<threshold])
            p[threshold - 1] += magnitude[threshold...].reduce(0, +)
            let q = quantized(Array(magnitude[0..<threshold]), levels: levels)
            let divergence = klDivergence(p, q)
            if divergence < bestDivergence { bestDivergence = divergence; best = threshold }
        }
        let t = Double(best) / Double(bins) * magnitudeMax
        return ValueRange(low: Swift.max(low, -t), high: Swift.min(high, t))
    }

    /// `p` merged into `levels` groups, each group's mass spread evenly over its non-empty bins.
    static func quantized(_ p: [Double], levels: Int) -> [Double] {
        var q = Array(repeating: 0.0, count: p.count)
        let perLevel = Double(p.count) / Double(levels)
        for level in 0..<levels {
            let start = Int((Double(level) * perLevel).rounded(.down))
            let end = level == levels - 1 ? p.count : Int((Double(level + 1) * perLevel).rounded(.down))
            guard end > start else { continue }
            let mass = p[start..<end].reduce(0, +)
            let nonEmpty = p[start..<end].filter { $0 > 0 }.count
            guard nonEmpty > 0 else { continue }
            for i in start..<end where p[i] > 0 { q[i] = mass / Double(nonEmpty) }
        }
        return q
    }

    static func klDivergence(_ p: [Double], _ q: [Double]) -> Double {
        let ps = p.reduce(0, +), qs = q.reduce(0, +)
        guard ps > 0, qs > 0 else { return .infinity }
        var total = 0.0
        for (a, b) in zip(p, q) where a > 0 {
            // A bin P has and Q lacks (the folded outliers) is penalized heavily, but finitely.
            let pa = a / ps, qb = b > 0 ? b / qs : 1e-12
            total += pa * log(pa / qb)
        }
        return total
    }
}
