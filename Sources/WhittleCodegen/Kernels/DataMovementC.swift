import WhittleIR
import WhittleOps

/// C for the operators that move data: copies, Transpose, Concat, Split, Slice,
/// Gather, Expand, Tile, Pad; and the reductions.
enum DataMovementC {
    static var kernels: [String: CKernel] {
        let copy: CKernel = { e, w in
            let bytes = try e.outputShape().reduce(1, *) * (e.elementType.byteWidth ?? 1)
            _ = try e.cType(output: 0)
            if bytes > 0 { w.line("memcpy(\(e.y(0)), \(e.x(0)), \(bytes));") }
        }
        var table: [String: CKernel] = [
            "Reshape": copy, "Flatten": copy, "Squeeze": copy, "Unsqueeze": copy, "Identity": copy,
            "Dropout": { e, w in
                // Inference: a copy, and a mask of all true.
                try copy(e, &w)
                if e.node.outputs.count > 1 && !e.node.outputs[1].isEmpty {
                    w.line("memset(\(e.y(1)), 1, \(try e.outputShape(1).reduce(1, *)));")
                }
            },
            "Transpose": transposeKernel, "Concat": concatKernel, "Split": splitKernel, "Slice": sliceKernel,
            "Gather": gatherKernel, "GatherElements": gatherElementsKernel, "Trilu": triluKernel, "Expand": expandKernel, "Tile": tileKernel, "Pad": padKernel,
            "ArgMax": argKernel(max: true), "ArgMin": argKernel(max: false),
        ]
        for name in ["ReduceMean", "ReduceSum", "ReduceMax", "ReduceMin", "ReduceProd", "ReduceL1", "ReduceL2", "ReduceSumSquare",
                     "ReduceLogSum", "ReduceLogSumExp"] {
            table[name] = reduceKernel(name)
        }
        return table
    }

    static let transposeKernel: CKernel = { e, w in
        let x = try e.inputShape(0), y = try e.outputShape()
        _ = try e.cType(output: 0)
        let perm = try e.context.ints("perm") ?? Array((0..<x.count).reversed())
        let inStrides = Shape.strides(x)
        let source = StridedOperand(name: "x", strides: perm.map { inStrides[$0] })
        w.loopNest(y, [StridedOperand(name: "y", strides: Shape.strides(y)), source]) { idx in
            ["\(e.y(0))[\(idx[0])] = \(e.x(0))[\(idx[1])];"]
        }
    }

    static let concatKernel: CKernel = { e, w in
        let y = try e.outputShape()
        _ = try e.cType(output: 0)
        let axis = try Shape.normalizeAxis(e.context.int("axis") ?? 0, rank: y.count)
        let outStrides = Shape.strides(y)
        var offset = 0
        for i in 0..<e.node.inputs.count {
            let x = try e.inputShape(i)
            let target = StridedOperand(name: "y", strides: outStrides, offset: offset * outStrides[axis])
            w.loopNest(x, [target, StridedOperand(name: "x", strides: Shape.strides(x))]) { idx in
                ["\(e.y(0))[\(idx[0])] = \(e.x(i))[\(idx[1])];"]
            }
            offset += x[axis]
        }
    }

    static let splitKernel: CKernel = { e, w in
        let x = try e.inputShape(0)
        _ = try e.cType(output: 0)
        let axis = try Shape.normalizeAxis(e.context.int("axis", default: 0), rank: x.count)
        let inStrides = Shape.strides(x)
        var offset = 0
        for k in e.outputTypes.indices {
            let y = try e.outputShape(k)
            if !e.node.outputs[k].isEmpty {
                let source = StridedOperand(name: "x", strides: inStrides, offset: offset * inStrides[axis])
                w.loopNest(y, [StridedOperand(name: "y", strides: Shape.strides(y)), source]) { idx in
                    ["\(e.y(k))[\(idx[0])] = \(e.x(0))[\(idx[1])];"]
                }
            }
            offset += y[axis]
        }
    }

    static let sliceKernel: CKernel = { e, w in
        let x = try e.inputShape(0)
        _ = try e.cType(output: 0)
        let plan = try OperatorHelpers.slicePlan(e.context, shape: x)
        let inStrides = Shape.strides(x)
        let offset = plan.indices.reduce(0) { $0 + plan[$1].start * inStrides[$1] }
        let source = StridedOperand(name: "x", strides: plan.indices.map { plan[$0].step * inStrides[$0] }, offset: offset)
        let y = plan.map(\.count)
        w.loopNest(y, [StridedOperand(name: "y", strides: Shape.strides(y)), source]) { idx in
            ["\(e.y(0))[\(idx[0])] = \(e.x(0))[\(idx[1])];"]
        }
    }

    /// Gather: constant indices become a table; run-time ones are checked and wrapped.
    /// Trilu with k known at compile time: each element kept or zeroed by its row and column.
    static let triluKernel: CKernel = { e, w in
        let x = try e.inputShape(0)
        var k: Int64 = 0
        if e.has(1) {
            guard let value = e.constant(1)?.int64s()?.first else {
                throw WhittleError(.unsupported, "k of Trilu must be a constant for the C back end")
            }
            k = value
        }
        let upper = try e.context.int("upper", default: 1) != 0
        let (rows, columns) = (x[x.count - 2], x[x.count - 1]), count = x.reduce(1, *)
        // |k| beyond the matrix keeps everything or nothing; clamped so the C constant stays small.
        let bound = Int64(rows + columns)
        let kk = Swift.max(-bound, Swift.min(bound, k))
        w.block("for (int f = 0; f < \(count); ++f)") { w in
            w.line("const int d = f % \(columns) - f / \(columns) % \(rows);")
            w.line("\(e.y(0))[f] = d \(upper ? ">=" : "<=") \(kk) ? \(e.x(0))[f] : 0;")
        }
    }

    /// Each output element reads data at its own coordinates, with its index along the axis.
    static let gatherElementsKernel: CKernel = { e, w in
        let data = try e.inputShape(0), indices = try e.inputShape(1)
        let axis = try Shape.normalizeAxis(e.context.int("axis", default: 0), rank: data.count)
        let size = data[axis], count = indices.reduce(1, *)
        let dataStrides = Shape.strides(data), indexStrides = Shape.strides(indices)
        if let constant = e.constant(1)?.int64s() {
            for v in constant where v < -Int64(size) || v >= Int64(size) {
                throw WhittleError(.shapeMismatch, "index \(v) is out of range for axis \(axis) of size \(size)")
            }
        }
        // Out-of-range run-time indices are clamped: a model cannot make the code read outside the tensor.
        let source = data.indices.map { d in
            d == axis ? "j * \(dataStrides[d])" : "(f / \(indexStrides[d]) % \(indices[d])) * \(dataStrides[d])"
        }.joined(separator: " + ")
        w.block("for (int f = 0; f < \(count); ++f)") { w in
            w.line("const long long v = (long long)\(e.x(1))[f];")
            w.line("const int j = v < 0 ? (v + \(size) < 0 ? 0 : (int)(v + \(size))) : (v >= \(size) ? \(size - 1) : (int)v);")
            w.line("\(e.y(0))[f] = \(e.x(0))[\(source)];")
        }
    }

    static let gatherKernel: CKernel = { e, w in
        let data = try e.inputShape(0), indices = try e.inputShape(1)
        _ = try e.cType(output: 0)
        let axis = try Shape.normalizeAxis(e.context.int("axis", default: 0), rank: data.count)
        let (outer, size, inner) = Indexing.split(data, at: axis)
        let count = indices.reduce(1, *)
        let index: String
        if let constant = e.constant(1)?.int64s() {
            for v in constant where v < -Int64(size) || v >= Int64(size) {
                throw WhittleError(.shapeMismatch, "index \(v) is out of range for axis \(axis) of size \(size)")
            }
            w.line("static const int table[\(max(count, 1))] = {\(constant.map { String($0 < 0 ? $0 + Int64(size) : $0) }.joined(separator: ", "))};")
            index = "table[k]"
        } else {
            // Out-of-range run-time indices are clamped: a model cannot make the code read outside the tensor.
            w.line("#define GATHER_INDEX(v) ((v) < 0 ? ((v) + \(size) < 0 ? 0 : (int)((v) + \(size))) : ((v) >= \(size) ? \(size - 1) : (int)(v)))")
            index = "GATHER_INDEX(\(e.x(1))[k])"
        }
        w.block("for (int o = 0; o < \(outer); ++o)") { w in
            w.block("for (int k = 0; k < \(count); ++k)") { w in
                w.line("const int j = \(index);")
                w.line("for (int i = 0; i < \(inner); ++i) \(e.y(0))[(o * \(count) + k) * \(inner) + i] = \(e.x(0))[(o * \(size) + j) * \(inner) + i];")
            }
        }
        if e.constant(1) == nil { w.line("#undef GATHER_INDEX") }
    }

    static let expandKernel: CKernel = { e, w in
        let y = try e.outputShape()
        _ = try e.cType(output: 0)
        let source = StridedOperand.broadcast("x", shape: try e.inputShape(0), to: y)
        w.loopNest(y, [StridedOperand(name: "y", strides: Shape.strides(y)), source]) { idx in
            ["\(e.y(0))[\(idx[0])] = \(e.x(0))[\(idx[1])];"]
        }
    }

    static let tileKernel: CKernel = { e, w in
        let x = try e.inputShape(0), y = try e.outputShape()
        _ = try e.cType(output: 0)
        // Viewing the output as [repeat0, x0, repeat1, x1, ...] makes Tile a broadcast.
        let repeats = zip(y, x).map { $1 == 0 ? 0 : $0 / $1 }
        let view = zip(repeats, x).flatMap { [$0, $1] }
        let inStrides = Shape.strides(x)
        let source = StridedOperand(name: "x", strides: x.indices.flatMap { [0, inStrides[$0]] })
        w.loopNest(view, [StridedOperand(name: "y", strides: Shape.strides(view)), source]) { idx in
            ["\(e.y(0))[\(idx[0])] = \(e.x(0))[\(idx[1])];"]
        }
    }

    static let padKernel: CKernel = { e, w in
        let x = try e.inputShape(0), y = try e.outputShape()
        let t = try e.cType(output: 0)
        let mode = try e.context.string("mode", default: "constant")
        var pads: [Int]
        var axes = Array(0..<x.count)
        var value = 0.0, runtimeValue = false
        if e.context.opset < 11 {
            pads = try e.context.ints("pads") ?? []
            value = Double(try e.context.float("value", default: 0))
        } else {
            pads = try e.context.constantInts(1, what: "pads")
            if e.has(2) {
                if let v = e.constant(2) { value = v.count > 0 ? v.double(at: 0) : 0 } else { runtimeValue = true }
            }
            if e.has(3) { axes = try e.context.constantInts(3, what: "axes").map { try Shape.normalizeAxis($0, rank: x.count) } }
        }
        var begin = [Int](repeating: 0, count: x.count)
        for (i, axis) in axes.enumerated() { begin[axis] = pads[i] }
        let inStrides = Shape.strides(x), outStrides = Shape.strides(y)
        // Output coordinates mapped back into the input per the mode; the constant mode fills the rest.
        w.line("int src, inside;")
        w.line("(void)inside;")
        w.loopNest(y, [StridedOperand(name: "y", strides: outStrides)]) { idx in
            var lines = ["src = 0;", "inside = 1;"]
            for d in x.indices {
                let coordinate = "((\(idx[0])) / \(outStrides[d]) % \(y[d]) - \(begin[d]))"
                let n = x[d]
                switch mode {
                case "edge": lines.append("{ int c = \(coordinate); c = c < 0 ? 0 : (c >= \(n) ? \(n - 1) : c); src += c * \(inStrides[d]); }")
                case "wrap": lines.append("{ int c = \(coordinate) % \(n); if (c < 0) c += \(n); src += c * \(inStrides[d]); }")
                case "reflect":
                    let period = max(2 * (n - 1), 1)
                    lines.append("{ int c = \(coordinate) % \(period); if (c < 0) c += \(period); if (c >= \(n)) c = \(period) - c; src += c * \(inStrides[d]); }")
                // An empty input axis: every output position is padding.
                default: lines.append(n == 0 ? "inside = 0;" : "{ int c = \(coordinate); if (c < 0 || c >= \(n)) inside = 0; else src += c * \(inStrides[d]); }")
                }
            }
            let fill = runtimeValue ? "\(e.x(2))[0]" : "(\(t))\(e.literal(value))"
            lines.append("\(e.y(0))[\(idx[0])] = inside ? \(e.x(0))[src] : \(fill);")
            return lines
        }
    }

    /// Reductions: loops over kept output positions, then over the reduced axes.
    static func reduceKernel(_ name: String) -> CKernel {
        { e, w in
            let x = try e.inputShape(0)
            let integer = !e.elementType.isFloatingPoint
            guard !integer || ["ReduceMax", "ReduceMin", "ReduceL1"].contains(name) else {
                throw WhittleError(.unsupported, "integer \(name) is not supported by the C back end")
            }
            let t = try e.cType(output: 0)
            let (lowest, highest) = e.elementType.integerRange
            let axes = try OperatorHelpers.reductionAxes(e.context, inputFrom: name == "ReduceSum" ? 13 : 18)
            let noop = try e.context.int("noop_with_empty_axes", default: 0) != 0
            var reduced: [Int]
            if let axes, !axes.isEmpty {
                reduced = Set(try axes.map { try Shape.normalizeAxis($0, rank: x.count) }).sorted()
            } else {
                reduced = noop ? [] : Array(x.indices)
            }
            let strides = Shape.strides(x)
            let kept = x.indices.filter { !reduced.contains($0) }
            let keptShape = kept.map { x[$0] }, reducedShape = reduced.map { x[$0] }
            let count = reducedShape.reduce(1, *)
            let (initial, step, finish): (String, String, String) = switch name {
            // A NaN among the values makes the result NaN, as in ONNX's reference and ONNX Runtime.
            case "ReduceMax": (integer ? CSyntax.constant(lowest, e.elementType) : "(\(t))-INFINITY", integer ? "if (v > acc) acc = v;" : "if (v > acc || v != v) acc = v;", "acc")
            case "ReduceMin": (integer ? CSyntax.constant(highest, e.elementType) : "(\(t))INFINITY", integer ? "if (v < acc) acc = v;" : "if (v < acc || v != v) acc = v;", "acc")
            case "ReduceProd": (e.literal(1), "acc *= v;", "acc")
            case "ReduceL2": (e.literal(0), "acc += v * v;", "\(e.math("sqrt"))(acc)")
            case "ReduceSumSquare": (e.literal(0), "acc += v * v;", "acc")
            case "ReduceL1": (e.literal(0), integer ? "acc += v < 0 ? -v : v;" : "acc += \(e.math("fabs"))(v);", "acc")
            case "ReduceLogSum": (e.literal(0), "acc += v;", "\(e.math("log"))(acc)")
            // Summed after the maximum m (a first pass) is subtracted, so that large values do not overflow.
            case "ReduceLogSumExp": (e.literal(0), "acc += \(e.math("exp"))(v - m);", "(m == (\(t))-INFINITY ? m : m + \(e.math("log"))(acc))")
            case "ReduceMean": (e.literal(0), "acc += v;", count == 0 ? "NAN" : "acc / \(e.literal(Double(count)))")
            default: (e.literal(0), "acc += v;", "acc")
            }
            w.line("int out = 0;")
            w.line("(void)out;")
            w.loopNest(keptShape, [StridedOperand(name: "x", strides: kept.map { strides[$0] })]) { outer in
                var inner = CWriter()
                if name == "ReduceLogSumExp" {
                    inner.line("\(t) m = (\(t))-INFINITY;")
                    inner.loopNest(reducedShape, [StridedOperand(name: "x", strides: reduced.map { strides[$0] })], prefix: "r") { r in
                        ["const \(t) v = \(e.x(0))[\(outer[0]) + \(r[0])];", "if (v > m || v != v) m = v;"]
                    }
                }
                inner.line("\(t) acc = \(initial);")
                // Reducing nothing: the result is the initial value's (NaN for a mean).
                if count == 0 { inner.line("(void)acc;") }
                inner.loopNest(reducedShape, [StridedOperand(name: "x", strides: reduced.map { strides[$0] })], prefix: "r") { r in
                    ["const \(t) v = \(e.x(0))[\(outer[0]) + \(r[0])];", step]
                }
                inner.line("\(e.y(0))[out++] = \(finish);")
                return inner.lines
            }
        }
    }

    static func argKernel(max: Bool) -> CKernel {
        { e, w in
            let x = try e.inputShape(0)
            let axis = try Shape.normalizeAxis(e.context.int("axis", default: 0), rank: x.count)
            let last = try e.context.int("select_last_index", default: 0) != 0
            let (outer, size, inner) = Indexing.split(x, at: axis)
            let compare = max ? (last ? ">=" : ">") : (last ? "<=" : "<")
            w.block("for (int o = 0; o < \(outer); ++o)") { w in
                w.block("for (int i = 0; i < \(inner); ++i)") { w in
                    w.line("int best = 0;")
                    w.line("for (int k = 1; k < \(size); ++k) if (\(e.x(0))[(o * \(size) + k) * \(inner) + i] \(compare) \(e.x(0))[(o * \(size) + best) * \(inner) + i]) best = k;")
                    w.line("\(e.y(0))[o * \(inner) + i] = best;")
                }
            }
        }
    }
}
