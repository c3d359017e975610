import WhittleIR
import WhittleOps

/// C for CumSum/CumProd, Hardmax, TopK, OneHot, BitShift, IsInf/IsNaN, RMSNormalization and LpNormalization.
enum SelectionC {
    static var kernels: [String: CKernel] {
        ["CumSum": cumulativeKernel(product: false), "CumProd": cumulativeKernel(product: true), "Hardmax": hardmaxKernel,
         "TopK": topKKernel, "OneHot": oneHotKernel, "BitShift": ElementwiseC.binaryKernel(bitShift),
         "IsInf": classifyKernel, "IsNaN": classifyKernel, "RMSNormalization": rmsNormalizationKernel,
         "LpNormalization": lpNormalizationKernel]
    }

    /// The unsigned C type of the same width, for integer arithmetic that must wrap.
    static func unsigned(_ type: ElementType) -> String? {
        [.int8: "uint8_t", .int16: "uint16_t", .int32: "uint32_t", .int64: "uint64_t"][type]
    }

    static func cumulativeKernel(product: Bool) -> CKernel {
        { e, w in
            let x = try e.inputShape(0), t = try e.cType(output: 0)
            guard let axisValue = e.constant(1)?.int64s()?.first else {
                throw WhittleError(.unsupported, "the axis of \(e.node.opType) must be a constant for the C back end")
            }
            let axis = try Shape.normalizeAxis(Int(clamping: axisValue), rank: x.count)
            let exclusive = try e.context.int("exclusive", default: 0) != 0, reverse = try e.context.int("reverse", default: 0) != 0
            let (outer, size, inner) = Indexing.split(x, at: axis)
            let op = product ? "*" : "+"
            let step = unsigned(e.elementType).map { u in "acc = (\(t))((\(u))acc \(op) (\(u))v);" } ?? "acc = acc \(op) v;"
            guard size > 0 else { return }
            w.block("for (int o = 0; o < \(outer); ++o)") { w in
                w.block("for (int i = 0; i < \(inner); ++i)") { w in
                    w.line("\(t) acc = \(product ? "1" : "0");")
                    w.block("for (int s = 0; s < \(size); ++s)") { w in
                        w.line("const int at = o * \(size * inner) + (\(reverse ? "\(size - 1) - s" : "s")) * \(inner) + i;")
                        w.line("const \(t) v = \(e.x(0))[at];")
                        if exclusive { w.line("\(e.y(0))[at] = acc;") }
                        w.line(step)
                        if !exclusive { w.line("\(e.y(0))[at] = acc;") }
                    }
                }
            }
        }
    }

    static let hardmaxKernel: CKernel = { e, w in
        guard e.elementType.isFloatingPoint else { throw WhittleError(.unsupported, "integer Hardmax is not supported") }
        let x = try e.inputShape(0)
        let axis = try Shape.normalizeAxis(e.context.int("axis", default: e.context.opset < 13 ? 1 : -1), rank: max(x.count, 1))
        let (outer, size, inner) = e.context.opset < 13
            ? (x[..<axis].reduce(1, *), x[axis...].reduce(1, *), 1) : Indexing.split(x, at: axis)
        guard size > 0 else { return }
        w.block("for (int o = 0; o < \(outer); ++o)") { w in
            w.block("for (int i = 0; i < \(inner); ++i)") { w in
                w.line("const int base = o * \(size * inner) + i;")
                w.line("int best = 0;")
                w.line("for (int k = 1; k < \(size); ++k) if (\(e.x(0))[base + k * \(inner)] > \(e.x(0))[base + best * \(inner)]) best = k;")
                w.line("for (int k = 0; k < \(size); ++k) \(e.y(0))[base + k * \(inner)] = k == best ? \(e.literal(1)) : \(e.literal(0));")
            }
        }
    }

    /// Each element's rank is the number of elements that come before it (better value, or equal value
    /// and lower index); those ranked below k are written at their rank. No scratch, and ties keep index order.
    static let topKKernel: CKernel = { e, w in
        let x = try e.inputShape(0), y = try e.outputShape(0)
        let axis = try Shape.normalizeAxis(e.context.int("axis", default: -1), rank: x.count)
        let largest = try e.context.int("largest", default: 1) != 0
        let (outer, size, inner) = Indexing.split(x, at: axis)
        let k = y[axis]
        guard k > 0 else { return }
        // Whether u comes before v by value; NaN counts as the largest value.
        func before(_ u: String, _ v: String) -> String {
            guard e.elementType.isFloatingPoint else { return largest ? "(\(u) > \(v))" : "(\(u) < \(v))" }
            return largest ? "((isnan(\(u)) && !isnan(\(v))) || \(u) > \(v))" : "((!isnan(\(u)) && isnan(\(v))) || \(u) < \(v))"
        }
        let t = try e.cType(output: 0)
        w.block("for (int o = 0; o < \(outer); ++o)") { w in
            w.block("for (int i = 0; i < \(inner); ++i)") { w in
                w.line("const \(t) *line = \(e.x(0)) + o * \(size * inner) + i;")
                w.block("for (int j = 0; j < \(size); ++j)") { w in
                    w.line("const \(t) a = line[j * \(inner)];")
                    w.line("int rank = 0;")
                    w.block("for (int m = 0; m < \(size); ++m)") { w in
                        w.line("const \(t) b = line[m * \(inner)];")
                        w.line("if (\(before("b", "a")) || (m < j && !\(before("a", "b")))) ++rank;")
                    }
                    w.block("if (rank < \(k))") { w in
                        w.line("\(e.y(0))[o * \(k * inner) + rank * \(inner) + i] = a;")
                        w.line("\(e.y(1))[o * \(k * inner) + rank * \(inner) + i] = j;")
                    }
                }
            }
        }
    }

    static let oneHotKernel: CKernel = { e, w in
        let shape = try e.outputShape(0)
        let axis = try Shape.normalizeAxis(e.context.int("axis", default: -1), rank: shape.count)
        let depth = shape[axis]
        let (outer, _, inner) = Indexing.split(shape, at: axis)
        let count = shape.reduce(1, *)
        guard count > 0 else { return }
        w.line("for (int f = 0; f < \(count); ++f) \(e.y(0))[f] = \(e.x(2))[0];")
        w.block("for (int o = 0; o < \(outer); ++o)") { w in
            w.block("for (int i = 0; i < \(inner); ++i)") { w in
                // Range-checked before the conversion (converting NaN or a huge value to int is undefined).
                w.line("const double v = (double)\(e.x(0))[o * \(inner) + i];")
                w.line("if (!(v > \(-depth - 1) && v < \(depth))) continue;")
                w.line("int index = (int)v;")
                w.line("if (index < 0) index += \(depth);")
                w.line("if (index >= 0) \(e.y(0))[(o * \(depth) + index) * \(inner) + i] = \(e.x(2))[1];")
            }
        }
    }

    /// Shifts by the width or more, or by a negative amount, give 0 (or the sign, shifting a signed value right).
    static let bitShift: ElementwiseC.Binary = { a, b, e in
        let t = try e.cType(output: 0), width = (e.elementType.byteWidth ?? 8) * 8
        let signed = e.elementType.integerRange.0 < 0
        let outside = signed ? "(\(b) < 0 || \(b) >= \(width))" : "\(b) >= \(width)"
        if try e.context.string("direction") == "LEFT" {
            return "(\(outside) ? 0 : (\(t))((unsigned long long)\(a) << \(b)))"
        }
        return signed ? "(\(outside) ? (\(a) < 0 ? -1 : 0) : (\(t))(\(a) >> \(b)))" : "(\(outside) ? 0 : (\(t))(\(a) >> \(b)))"
    }

    static let classifyKernel: CKernel = { e, w in
        let count = try e.outputShape(0).reduce(1, *)
        guard count > 0 else { return }
        let test: String
        if e.node.opType == "IsNaN" {
            test = "isnan(\(e.x(0))[i])"
        } else {
            let v = "\(e.x(0))[i]"
            let negative = try e.context.int("detect_negative", default: 1) != 0
            let positive = try e.context.int("detect_positive", default: 1) != 0
            test = negative && positive ? "isinf(\(v))" : negative ? "(isinf(\(v)) && \(v) < 0)" : positive ? "(isinf(\(v)) && \(v) > 0)" : "0"
        }
        w.line("for (int i = 0; i < \(count); ++i) \(e.y(0))[i] = (uint8_t)(\(test) ? 1 : 0);")
        if test == "0" { w.line("(void)\(e.x(0));") }
    }

    static let rmsNormalizationKernel: CKernel = { e, w in
        guard e.elementType.isFloatingPoint else { throw WhittleError(.unsupported, "integer RMSNormalization is not supported") }
        let x = try e.inputShape(0), t = try e.cType(output: 0)
        let axis = try Shape.normalizeAxis(e.context.int("axis", default: -1), rank: x.count)
        let normalized = Array(x[axis...]), size = normalized.reduce(1, *), groups = x[..<axis].reduce(1, *)
        let epsilon = e.literal(Double(try e.context.float("epsilon", default: 1e-5)))
        let scale = StridedOperand.broadcast("s", shape: try e.inputShape(1), to: normalized)
        guard size > 0, groups > 0 else { return }
        w.block("for (int g = 0; g < \(groups); ++g)") { w in
            w.line("const \(t) *in = \(e.x(0)) + g * \(size);")
            w.line("\(t) *out = \(e.y(0)) + g * \(size);")
            w.line("\(t) squares = \(e.literal(0));")
            w.line("for (int i = 0; i < \(size); ++i) squares += in[i] * in[i];")
            w.line("const \(t) inv = \(e.literal(1)) / \(e.math("sqrt"))(squares / \(e.literal(Double(size))) + \(epsilon));")
            w.loopNest(normalized, [StridedOperand(name: "y", strides: Shape.strides(normalized)), scale], prefix: "k") { idx in
                ["out[\(idx[0])] = in[\(idx[0])] * inv * \(e.x(1))[\(idx[1])];"]
            }
        }
    }

    static let lpNormalizationKernel: CKernel = { e, w in
        guard e.elementType.isFloatingPoint else { throw WhittleError(.unsupported, "integer LpNormalization is not supported") }
        let x = try e.inputShape(0), t = try e.cType(output: 0)
        let axis = try Shape.normalizeAxis(e.context.int("axis", default: -1), rank: x.count)
        let p = try e.context.int("p", default: 2)
        let (outer, size, inner) = Indexing.split(x, at: axis)
        guard size > 0 else { return }
        w.block("for (int o = 0; o < \(outer); ++o)") { w in
            w.block("for (int i = 0; i < \(inner); ++i)") { w in
                w.line("const int base = o * \(size * inner) + i;")
                w.line("\(t) norm = \(e.literal(0));")
                let term = p == 1 ? "\(e.math("fabs"))(\(e.x(0))[base + k * \(inner)])" : "\(e.x(0))[base + k * \(inner)] * \(e.x(0))[base + k * \(inner)]"
                w.line("for (int k = 0; k < \(size); ++k) norm += \(term);")
                if p == 2 { w.line("norm = \(e.math("sqrt"))(norm);") }
                w.line("for (int k = 0; k < \(size); ++k) \(e.y(0))[base + k * \(inner)] = norm == 0 ? 0 : \(e.x(0))[base + k * \(inner)] / norm;")
            }
        }
    }
}
