import WhittleIR
import WhittleOps

/// C for Gemm and MatMul: row-by-row products whose inner loop runs over contiguous output columns.
enum MatrixC {
    static var kernels: [String: CKernel] { ["Gemm": gemmKernel, "MatMul": matMulKernel] }

    static let gemmKernel: CKernel = { e, w in
        guard e.elementType.isFloatingPoint else { throw WhittleError(.unsupported, "integer Gemm is not supported by the C back end") }
        if try FloatLibraryC.gemm(e, &w) { return }
        let a = try e.inputShape(0), b = try e.inputShape(1), y = try e.outputShape()
        let transA = try e.context.int("transA", default: 0) != 0, transB = try e.context.int("transB", default: 0) != 0
        let (m, n) = (y[0], y[1]), k = transA ? a[0] : a[1]
        let t = try e.cType(output: 0)
        let aIndex = transA ? "p * \(m) + i" : "i * \(k) + p"
        try w.block("for (int i = 0; i < \(m); ++i)") { w in
            w.line("\(t) *row = \(e.y(0)) + i * \(n);")
            w.line("for (int j = 0; j < \(n); ++j) row[j] = \(e.literal(0));")
            w.block("for (int p = 0; p < \(k); ++p)") { w in
                w.line("const \(t) av = \(e.x(0))[\(aIndex)];")
                if transB {
                    w.line("for (int j = 0; j < \(n); ++j) row[j] += av * \(e.x(1))[j * \(b[1]) + p];")
                } else {
                    w.line("const \(t) *brow = \(e.x(1)) + p * \(n);")
                    w.line("for (int j = 0; j < \(n); ++j) row[j] += av * brow[j];")
                }
            }
            try gemmTail(e, &w, m: m, n: n)
        }
    }

    /// What follows the products of output row `i` (in `row`): alpha, beta · C and the fused
    /// activation, in the interpreter's order.
    static func gemmTail(_ e: NodeEmission, _ w: inout CWriter, m: Int, n: Int) throws {
        let alpha = Double(try e.context.float("alpha", default: 1)), beta = Double(try e.context.float("beta", default: 1))
        let activation = FusedActivation(e.node)
        if alpha != 1 { w.line("for (int j = 0; j < \(n); ++j) row[j] *= \(e.literal(alpha));") }
        if e.has(2) && beta != 0 {
            let c = (try? e.inputShape(2)) ?? []
            let operand = StridedOperand.broadcast("c", shape: c, to: [m, n])
            // Broadcast axes (stride 0) take no term: i * 0 would be dead code.
            let terms = zip(["i", "j"], operand.strides).filter { $0.1 != 0 }.map { $0.1 == 1 ? $0.0 : "\($0.0) * \($0.1)" }
            let index = terms.isEmpty ? "0" : terms.joined(separator: " + ")
            // beta = 1 multiplies by one exactly: the product is left out.
            let scaled = beta == 1 ? "" : "\(e.literal(beta)) * "
            w.line("for (int j = 0; j < \(n); ++j) row[j] += \(scaled)\(e.x(2))[\(index)];")
        }
        if activation != nil {
            w.block("for (int j = 0; j < \(n); ++j)") { w in w.lines(ActivationC.store("row[j]", "row[j]", activation, e)) }
        }
    }

    /// The sizes of a batched product of A and B with NumPy broadcasting (a 1-D A is a row, a 1-D B a
    /// column), and `a_batch`/`b_batch` tables of each batch's element offsets when there is more than one.
    static func batchedProduct(_ a: [Int], _ b: [Int], _ w: inout CWriter) -> (m: Int, k: Int, n: Int, count: Int) {
        let a2 = a.count == 1 ? [1] + a : a, b2 = b.count == 1 ? b + [1] : b
        let m = a2[a2.count - 2], k = a2[a2.count - 1], n = b2[b2.count - 1]
        let aBatch = Array(a2.dropLast(2)), bBatch = Array(b2.dropLast(2))
        let batch = Shape.broadcast(aBatch, bBatch) ?? []
        let ia = Indexing.broadcast(from: aBatch, to: batch), ib = Indexing.broadcast(from: bBatch, to: batch)
        if ia.count > 1 {
            w.line("static const int a_batch[\(ia.count)] = {\(ia.map { String($0 * m * k) }.joined(separator: ", "))};")
            w.line("static const int b_batch[\(ib.count)] = {\(ib.map { String($0 * k * n) }.joined(separator: ", "))};")
        }
        return (m, k, n, ia.count)
    }

    /// Batched MatMul with NumPy broadcasting; batch offsets are constants.
    static let matMulKernel: CKernel = { e, w in
        guard e.elementType.isFloatingPoint else { throw WhittleError(.unsupported, "integer MatMul is not supported by the C back end") }
        let (m, k, n, count) = batchedProduct(try e.inputShape(0), try e.inputShape(1), &w)
        let t = try e.cType(output: 0)
        let activation = FusedActivation(e.node)
        w.block("for (int t = 0; t < \(count); ++t)") { w in
            w.line("const \(t) *ab = \(e.x(0)) + \(count > 1 ? "a_batch[t]" : "0");")
            w.line("const \(t) *bb = \(e.x(1)) + \(count > 1 ? "b_batch[t]" : "0");")
            w.block("for (int i = 0; i < \(m); ++i)") { w in
                w.line("\(t) *row = \(e.y(0)) + (t * \(m) + i) * \(n);")
                w.line("for (int j = 0; j < \(n); ++j) row[j] = \(e.literal(0));")
                w.block("for (int p = 0; p < \(k); ++p)") { w in
                    w.line("const \(t) av = ab[i * \(k) + p];")
                    w.line("const \(t) *brow = bb + p * \(n);")
                    w.line("for (int j = 0; j < \(n); ++j) row[j] += av * brow[j];")
                }
                if activation != nil {
                    w.block("for (int j = 0; j < \(n); ++j)") { w in w.lines(ActivationC.store("row[j]", "row[j]", activation, e)) }
                }
            }
        }
    }
}

/// C for the normalizations and Softmax.
enum NormalizationC {
    static var kernels: [String: CKernel] {
        ["BatchNormalization": batchNormalizationKernel, "Softmax": softmaxKernel(log: false), "LogSoftmax": softmaxKernel(log: true),
         "LayerNormalization": layerNormalizationKernel, "InstanceNormalization": instanceNormalizationKernel]
    }

    static let batchNormalizationKernel: CKernel = { e, w in
        guard e.elementType.isFloatingPoint else { throw WhittleError(.unsupported, "integer BatchNormalization is not supported by the C back end") }
        if NormalizationOperators.isTrainingMode(e.node) { return try trainingBatchNormalization(e, &w) }
        guard e.node.outputs.filter({ !$0.isEmpty }).count == 1 else {
            throw WhittleError(.unsupported, "BatchNormalization's running statistics are outputs only in training mode")
        }
        let x = try e.inputShape(0)
        let t = try e.cType(output: 0)
        let epsilon = e.literal(Double(try e.context.float("epsilon", default: 1e-5)))
        let channels = x[1], spatial = x[2...].reduce(1, *)
        w.block("for (int n = 0; n < \(x[0]); ++n)") { w in
            w.block("for (int c = 0; c < \(channels); ++c)") { w in
                w.line("const \(t) s = \(e.x(1))[c] / \(e.math("sqrt"))(\(e.x(4))[c] + \(epsilon));")
                w.line("const \(t) mean = \(e.x(3))[c], shift = \(e.x(2))[c];")
                w.line("const int base = (n * \(channels) + c) * \(spatial);")
                w.line("for (int i = 0; i < \(spatial); ++i) \(e.y(0))[base + i] = (\(e.x(0))[base + i] - mean) * s + shift;")
            }
        }
    }

    /// Training mode: each channel is normalized with the batch's mean and population variance (in double,
    /// as the interpreter computes them); the running statistics move toward them by 1 - momentum.
    static func trainingBatchNormalization(_ e: NodeEmission, _ w: inout CWriter) throws {
        let x = try e.inputShape(0), t = try e.cType(output: 0)
        let epsilon = CSyntax.constant(Double(try e.context.float("epsilon", default: 1e-5)), .double)
        let momentum = CSyntax.constant(Double(try e.context.float("momentum", default: 0.9)), .double)
        let channels = x[1], spatial = x[2...].reduce(1, *), count = max(x[0] * spatial, 1)
        let outputs = e.node.outputs.count
        let statistics = try (1...2).map { outputs > $0 && !e.node.outputs[$0].isEmpty ? try e.cType(output: $0) : nil }
        w.block("for (int c = 0; c < \(channels); ++c)") { w in
            w.line("double mean = 0.0, variance = 0.0;")
            w.line("for (int n = 0; n < \(x[0]); ++n) for (int i = 0; i < \(spatial); ++i) mean += (double)\(e.x(0))[(n * \(channels) + c) * \(spatial) + i];")
            w.line("mean /= \(count).0;")
            w.block("for (int n = 0; n < \(x[0]); ++n) for (int i = 0; i < \(spatial); ++i)") { w in
                w.line("const double d = (double)\(e.x(0))[(n * \(channels) + c) * \(spatial) + i] - mean;")
                w.line("variance += d * d;")
            }
            w.line("variance /= \(count).0;")
            w.line("const double root = sqrt(variance + \(epsilon));")
            w.block("for (int n = 0; n < \(x[0]); ++n) for (int i = 0; i < \(spatial); ++i)") { w in
                w.line("const int at = (n * \(channels) + c) * \(spatial) + i;")
                w.line("\(e.y(0))[at] = (\(t))((double)\(e.x(1))[c] * ((double)\(e.x(0))[at] - mean) / root + (double)\(e.x(2))[c]);")
            }
            if let type = statistics[0] {
                w.line("\(e.y(1))[c] = (\(type))((double)\(e.x(3))[c] * \(momentum) + mean * (1.0 - \(momentum)));")
            }
            if let type = statistics[1] {
                w.line("\(e.y(2))[c] = (\(type))((double)\(e.x(4))[c] * \(momentum) + variance * (1.0 - \(momentum)));")
            }
        }
    }

    static func softmaxKernel(log: Bool) -> CKernel {
        { e, w in
            guard e.elementType.isFloatingPoint else { throw WhittleError(.unsupported, "integer Softmax is not supported") }
            if !log, let step = StepRoundingC.stepType(e) { return try StepRoundingC.softmaxKernel(e, step, &w) }
            let x = try e.inputShape(0)
            let t = try e.cType(output: 0)
            let axis = try Shape.normalizeAxis(e.context.int("axis", default: e.context.opset < 13 ? 1 : -1), rank: max(x.count, 1))
            let (outer, size, inner) = e.context.opset < 13
                ? (x[..<axis].reduce(1, *), x[axis...].reduce(1, *), 1) : Indexing.split(x, at: axis)
            w.block("for (int o = 0; o < \(outer); ++o)") { w in
                w.block("for (int i = 0; i < \(inner); ++i)") { w in
                    w.line("const int base = o * \(size * inner) + i;")
                    w.line("\(t) m = \(e.x(0))[base], sum = \(e.literal(0));")
                    w.line("for (int k = 1; k < \(size); ++k) if (\(e.x(0))[base + k * \(inner)] > m) m = \(e.x(0))[base + k * \(inner)];")
                    if log {
                        w.line("for (int k = 0; k < \(size); ++k) sum += \(e.math("exp"))(\(e.x(0))[base + k * \(inner)] - m);")
                        w.line("sum = \(e.math("log"))(sum);")
                        w.line("for (int k = 0; k < \(size); ++k) \(e.y(0))[base + k * \(inner)] = \(e.x(0))[base + k * \(inner)] - m - sum;")
                    } else {
                        // Exponentials are stored first (the output may share the input's memory).
                        w.block("for (int k = 0; k < \(size); ++k)") { w in
                            w.line("const \(t) v = \(e.math("exp"))(\(e.x(0))[base + k * \(inner)] - m);")
                            w.line("\(e.y(0))[base + k * \(inner)] = v;")
                            w.line("sum += v;")
                        }
                        w.line("for (int k = 0; k < \(size); ++k) \(e.y(0))[base + k * \(inner)] /= sum;")
                    }
                }
            }
        }
    }

    static let layerNormalizationKernel: CKernel = { e, w in
        guard e.elementType.isFloatingPoint else {
            throw WhittleError(.unsupported, "integer LayerNormalization is not supported by the C back end")
        }
        let extra = (1...2).filter { $0 < e.node.outputs.count && !e.node.outputs[$0].isEmpty }
        if try extra.contains(where: { try e.cType(output: $0) != e.cType(output: 0) }) {
            throw WhittleError(.unsupported, "LayerNormalization with a stash_type other than the input type is not supported by the C back end")
        }
        let x = try e.inputShape(0)
        let t = try e.cType(output: 0)
        let axis = try Shape.normalizeAxis(e.context.int("axis", default: -1), rank: x.count)
        let normalized = Array(x[axis...]), size = normalized.reduce(1, *), groups = x[..<axis].reduce(1, *)
        let epsilon = e.literal(Double(try e.context.float("epsilon", default: 1e-5)))
        let scaleShape = try e.inputShape(1), scaleFull = scaleShape.reduce(1, *) == size
        let biasFull = e.has(2) ? (try e.inputShape(2)).reduce(1, *) == size : true
        // Nothing to normalize (and no first value to shift by) in an empty tensor.
        guard size > 0, groups > 0 else { return }
        w.block("for (int g = 0; g < \(groups); ++g)") { w in
            w.line("const \(t) *in = \(e.x(0)) + g * \(size);")
            w.line("\(t) *out = \(e.y(0)) + g * \(size);")
            w.lines(statistics(t, size: size, epsilon: epsilon, e))
            let s = scaleFull ? "\(e.x(1))[i]" : "\(e.x(1))[0]"
            let b = e.has(2) ? (biasFull ? " + \(e.x(2))[i]" : " + \(e.x(2))[0]") : ""
            w.line("for (int i = 0; i < \(size); ++i) out[i] = (in[i] - shift - mean) * inv * \(s)\(b);")
            if extra.contains(1) { w.line("\(e.y(1))[g] = shift + mean;") }
            if extra.contains(2) { w.line("\(e.y(2))[g] = inv;") }
        }
    }

    /// `mean` (of the values less `shift`, the first one) and `inv` = 1/sqrt(variance + epsilon) of the
    /// `size` values at `in`. Shifting keeps float sums accurate when the values are nearly equal: the
    /// variance is then tiny, epsilon-sized, and the division by it amplifies any rounding of the mean
    /// (the interpreter computes these statistics in double).
    static func statistics(_ t: String, size: Int, epsilon: String, _ e: NodeEmission) -> [String] {
        ["const \(t) shift = in[0];",
         "\(t) mean = \(e.literal(0)), var = \(e.literal(0));",
         "for (int i = 0; i < \(size); ++i) mean += in[i] - shift;",
         "mean /= \(e.literal(Double(size)));",
         "for (int i = 0; i < \(size); ++i) var += (in[i] - shift - mean) * (in[i] - shift - mean);",
         "var /= \(e.literal(Double(size)));",
         "const \(t) inv = \(e.literal(1)) / \(e.math("sqrt"))(var + \(epsilon));"]
    }

    static let instanceNormalizationKernel: CKernel = { e, w in
        guard e.elementType.isFloatingPoint else { throw WhittleError(.unsupported, "integer InstanceNormalization is not supported") }
        let x = try e.inputShape(0)
        let t = try e.cType(output: 0)
        let channels = x[1], size = x[2...].reduce(1, *)
        let epsilon = e.literal(Double(try e.context.float("epsilon", default: 1e-5)))
        guard size > 0, x[0] * channels > 0 else { return }
        w.block("for (int plane = 0; plane < \(x[0] * channels); ++plane)") { w in
            w.line("const \(t) *in = \(e.x(0)) + plane * \(size);")
            w.line("\(t) *out = \(e.y(0)) + plane * \(size);")
            w.line("const int c = plane % \(channels);")
            w.lines(statistics(t, size: size, epsilon: epsilon, e))
            w.line("for (int i = 0; i < \(size); ++i) out[i] = (in[i] - shift - mean) * inv * \(e.x(1))[c] + \(e.x(2))[c];")
        }
    }
}
