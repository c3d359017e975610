import Foundation
import WhittleIR

/// TfIdfVectorizer (opset 9) on integer tokens: counts the pool's n-grams (with skips) in each row and
/// weighs the counts as term frequency, inverse document frequency or both.
public enum TfIdfVectorizerOperators {
    static var all: [OperatorDefinition] { [tfIdfVectorizer] }
    static var kernels: [String: Kernel] { ["TfIdfVectorizer": kernel] }

    /// The n-gram pool of one node, checked.
    public struct Pool {
        /// Each n-gram of the pool (in the counted length range) and its output column.
        var columns: [[Int64]: Int] = [:]
        /// The same n-grams in pool order (a repeated n-gram counts in its last column).
        public var grams: [(gram: [Int64], column: Int)] = []
        /// Every prefix of a counted n-gram, which is how far a match may be extended.
        var prefixes: Set<[Int64]> = []
        public var outputSize = 0
        /// The longest counted n-gram: no match extends further, whatever max_gram_length says.
        public var longest = 0
        public var minimum = 1, maximum = 1, skips = 0
        /// TF, IDF or TFIDF.
        public var mode = "TF"
        public var weights: [Float]?

        public init(_ ctx: InferenceContext) throws {
            if ctx.node.attributes["pool_strings"] != nil {
                throw WhittleError(.unsupported, "TfIdfVectorizer over strings (pool_strings) is out of scope: Whittle has no string tensors")
            }
            let pool = try ctx.ints("pool_int64s") ?? [], counts = try ctx.ints("ngram_counts") ?? []
            let indexes = try ctx.ints("ngram_indexes") ?? []
            minimum = try ctx.int("min_gram_length", default: 1)
            maximum = try ctx.int("max_gram_length", default: 1)
            skips = try ctx.int("max_skip_count", default: 0)
            mode = try ctx.string("mode", default: "TF")
            weights = try ctx.floats("weights")
            guard ["TF", "IDF", "TFIDF"].contains(mode), minimum >= 1, maximum >= minimum, skips >= 0, skips <= 1 << 20 else {
                throw WhittleError(.invalidAttribute, "mode must be TF, IDF or TFIDF, 1 ≤ min_gram_length ≤ max_gram_length "
                                   + "and max_skip_count between 0 and 2^20")
            }
            guard !indexes.isEmpty, indexes.allSatisfy({ $0 >= 0 && $0 < 1 << 24 }) else {
                throw WhittleError(.invalidAttribute, "ngram_indexes must be given, each between 0 and 2^24")
            }
            outputSize = (indexes.max() ?? 0) + 1
            if let weights, weights.count != outputSize {
                throw WhittleError(.invalidAttribute, "weights has \(weights.count) values for \(outputSize) output columns")
            }
            // ngram_counts[i] is where the (i+1)-grams start in the pool; n-gram ids run over all lengths in order.
            var id = 0
            for (i, start) in counts.enumerated() {
                let end = i + 1 < counts.count ? counts[i + 1] : pool.count, length = i + 1
                guard start >= 0, start <= end, end <= pool.count else {
                    throw WhittleError(.invalidAttribute, "ngram_counts \(counts) do not split the pool of \(pool.count)")
                }
                let number = (end - start) / length
                guard id + number <= indexes.count else {
                    throw WhittleError(.invalidAttribute, "the pool holds more n-grams than ngram_indexes (\(indexes.count)) names")
                }
                if length >= minimum && length <= maximum {
                    for g in 0..<number {
                        let gram = pool[(start + g * length)..<(start + (g + 1) * length)].map(Int64.init)
                        columns[gram] = indexes[id + g]
                        grams.append((gram, indexes[id + g]))
                        longest = Swift.max(longest, length)
                        for k in 1...length { prefixes.insert(Array(gram[0..<k])) }
                    }
                }
                id += number
            }
        }
    }

    static let tfIdfVectorizer = OperatorDefinition("TfIdfVectorizer", infer: { ctx in
        try ctx.expectInputs(1, 1)
        let x = try ctx.type(0), shape = try ctx.shape(0)
        guard x.elementType == .int32 || x.elementType == .int64, shape.count == 1 || shape.count == 2 else {
            throw WhittleError(.unsupported, "X must be a [C] or [B, C] int32/int64 tensor, found \(x.elementType.name) "
                               + "\(Shape.describe(shape))")
        }
        let pool = try Pool(ctx)
        return [TensorType(.float, shape.count == 1 ? [pool.outputSize] : [shape[0], pool.outputSize])]
    })

    static let kernel: Kernel = { ctx in
        let pool = try Pool(ctx.node)
        let x = try ctx.input(0), tokens = x.ints
        let rows = x.rank == 1 ? 1 : x.shape[0], length = x.shape[x.rank - 1]
        var counts = [Int](repeating: 0, count: rows * pool.outputSize)
        for row in 0..<rows {
            let items = tokens[(row * length)..<((row + 1) * length)].map { $0 }
            // Unigrams are counted once (at skip distance 1); longer n-grams at every distance up to max_skip_count + 1.
            var shortest = pool.minimum
            for distance in 1...(pool.skips + 1) {
                for start in 0..<length {
                    guard start + distance * (shortest - 1) < length else { break }
                    var gram: [Int64] = []
                    var at = start
                    while gram.count < pool.maximum, at < length {
                        gram.append(items[at])
                        guard pool.prefixes.contains(gram) else { break }
                        if gram.count >= shortest, let column = pool.columns[gram] { counts[row * pool.outputSize + column] += 1 }
                        at += distance
                    }
                }
                if shortest == 1 {
                    shortest = 2
                    if shortest > pool.maximum { break }
                }
            }
        }
        let values: [Float] = counts.enumerated().map { index, count in
            let weight = pool.weights?[index % pool.outputSize]
            switch pool.mode {
            case "IDF": return count > 0 ? (weight ?? 1) : 0
            case "TFIDF": return Float(count) * (weight ?? 1)
            default: return Float(count)
            }
        }
        return [NDArray(.float, shape: try ctx.outputShape(), floats: values)]
    }
}
