import WhittleIR
import WhittleOps

/// C for TfIdfVectorizer on integer tokens: the pool's n-grams are baked as tables; each row is scanned
/// at every skip distance, extending a match while it is the prefix of some n-gram, as the interpreter does.
enum TfIdfVectorizerC {
    static var kernels: [String: CKernel] { ["TfIdfVectorizer": kernel] }

    static let kernel: CKernel = { e, w in
        let pool = try TfIdfVectorizerOperators.Pool(e.context)
        let x = try e.inputShape(0), t = try e.cType(input: 0)
        let rows = x.count == 1 ? 1 : x[0], length = x[x.count - 1], width = pool.outputSize
        w.line("float *counts = \(e.y(0));")
        w.line("for (int i = 0; i < \(rows * width); ++i) counts[i] = 0.0f;")
        guard !pool.grams.isEmpty, length > 0 else { return }
        var starts: [Int] = [], flat: [Int64] = []
        for (gram, _) in pool.grams { starts.append(flat.count); flat += gram }
        let grams = pool.grams.count, reach = max(1, min(pool.maximum, pool.longest))
        w.line("static const int64_t pool[\(flat.count)] = {\(flat.map { CSyntax.integer($0, .int64) }.joined(separator: ", "))};")
        w.line("static const int first[\(grams)] = {\(starts.map(String.init).joined(separator: ", "))};")
        w.line("static const int size[\(grams)] = {\(pool.grams.map { String($0.gram.count) }.joined(separator: ", "))};")
        w.line("static const int column[\(grams)] = {\(pool.grams.map { String($0.column) }.joined(separator: ", "))};")
        w.block("for (int row = 0; row < \(rows); ++row)") { w in
            w.line("const \(t) *items = \(e.x(0)) + row * \(length);")
            w.line("float *out = counts + row * \(width);")
            // Unigrams are counted once (at distance 1); longer n-grams at every distance up to max_skip_count + 1.
            w.line("int shortest = \(pool.minimum);")
            w.block("for (int distance = 1; distance <= \(pool.skips + 1); ++distance)") { w in
                w.block("for (int start = 0; start < \(length); ++start)") { w in
                    w.line("if (start + distance * (shortest - 1) >= \(length)) break;")
                    w.line("int64_t gram[\(reach)];")
                    w.block("for (int n = 0, at = start; n < \(reach) && at < \(length); at += distance)") { w in
                        w.line("gram[n++] = (int64_t)items[at];")
                        w.line("int prefix = 0, hit = -1;")
                        w.block("for (int g = 0; g < \(grams); ++g)") { w in
                            w.line("if (size[g] < n) continue;")
                            w.line("int k = 0;")
                            w.line("while (k < n && pool[first[g] + k] == gram[k]) ++k;")
                            w.line("if (k < n) continue;")
                            w.line("prefix = 1;")
                            w.line("if (size[g] == n) hit = column[g];")
                        }
                        w.line("if (!prefix) break;")
                        w.line("if (n >= shortest && hit >= 0) out[hit] += 1.0f;")
                    }
                }
                if pool.minimum == 1 {
                    w.block("if (shortest == 1)") { w in
                        w.line("shortest = 2;")
                        if pool.maximum < 2 { w.line("break;") }
                    }
                }
            }
        }
        let weights = pool.weights.map { e.weightArray("weights", floats: $0) }
        switch pool.mode {
        case "IDF":
            w.line("for (int i = 0; i < \(rows * width); ++i) counts[i] = counts[i] > 0.0f ? \(weights.map { "\($0)[i % \(width)]" } ?? "1.0f") : 0.0f;")
        case "TFIDF":
            if let weights { w.line("for (int i = 0; i < \(rows * width); ++i) counts[i] *= \(weights)[i % \(width)];") }
        default: break
        }
    }
}
