import WhittleIR
import WhittleOps

/// C for Conv, ConvTranspose and the pools over three or more spatial axes (NCDHW and beyond): one loop
/// per output axis, the window's taps clipped to the input per axis. The 1-D and 2-D forms keep their
/// own tuned kernels (`ConvolutionC`).
enum ConvolutionNDC {
    /// The window of one node, axis by axis.
    struct Window {
        var input: [Int]
        var output: [Int]
        var kernel: [Int]
        var strides: [Int]
        var dilations: [Int]
        var begin: [Int]
        var end: [Int]
        var rank: Int { input.count }

        init(_ e: NodeEmission, kernel: [Int]) throws {
            let x = try e.inputShape(0), y = try e.outputShape()
            let spatial = x.count - 2
            input = Array(x[2...]); output = Array(y[2...]); self.kernel = kernel
            strides = try e.context.ints("strides") ?? Array(repeating: 1, count: spatial)
            dilations = try e.context.ints("dilations") ?? Array(repeating: 1, count: spatial)
            let pads = Indexing.resolvedPads(autoPad: try e.context.string("auto_pad", default: "NOTSET"),
                                             pads: try e.context.ints("pads") ?? Array(repeating: 0, count: 2 * spatial),
                                             input: input, output: output, kernel: kernel, strides: strides, dilations: dilations)
            (begin, end) = (pads.begin, pads.end)
            guard kernel.count == spatial, strides.count == spatial, dilations.count == spatial else {
                throw WhittleError(.invalidAttribute, "kernel_shape, strides and dilations must have \(spatial) values")
            }
        }

        /// `((i0 * s1 + i1) * s2 + i2)…`: the row-major index of per-axis C expressions in `sizes`.
        static func flat(_ parts: [String], _ sizes: [Int]) -> String {
            var text = parts[0]
            for d in 1..<parts.count { text = "(\(text)) * \(sizes[d]) + \(parts[d])" }
            return text
        }

        /// Loops over every output position, with `i<d>` the window's first input index and `k<d>_lo`/`k<d>_hi`
        /// the taps inside the input on each axis; `body` gets the output position's flat index.
        func outputLoops(_ w: inout CWriter, body: (inout CWriter, _ out: String) -> Void) {
            func level(_ d: Int, _ w: inout CWriter) {
                if d == rank {
                    body(&w, Window.flat((0..<rank).map { "o\($0)" }, output))
                    return
                }
                w.block("for (int o\(d) = 0; o\(d) < \(output[d]); ++o\(d))") { w in
                    let (lo, hi) = ConvolutionC.range("i\(d)", size: input[d], kernel: kernel[d], dilation: dilations[d])
                    w.line("const int i\(d) = o\(d) * \(strides[d]) - \(begin[d]);")
                    w.line("const int k\(d)_lo = \(lo), k\(d)_hi = \(hi);")
                    level(d + 1, &w)
                }
            }
            level(0, &w)
        }

        /// Loops over the taps inside the input; `body` gets the flat input index and the flat tap index.
        func tapLoops(_ w: inout CWriter, body: (inout CWriter, _ input: String, _ tap: String) -> Void) {
            func level(_ d: Int, _ w: inout CWriter) {
                if d == rank {
                    body(&w, Window.flat((0..<rank).map { "i\($0) + k\($0) * \(dilations[$0])" }, input),
                         Window.flat((0..<rank).map { "k\($0)" }, kernel))
                    return
                }
                w.block("for (int k\(d) = k\(d)_lo; k\(d) < k\(d)_hi; ++k\(d))") { w in level(d + 1, &w) }
            }
            level(0, &w)
        }

        /// The product of the taps inside the input (padding excluded) or inside the padded input.
        func count(includePad: Bool) -> String {
            (0..<rank).map { d in
                includePad ? ConvolutionC.paddedCount("i\(d)", size: input[d], padEnd: end[d], kernel: kernel[d], dilation: dilations[d])
                    : "(k\(d)_hi - k\(d)_lo)"
            }.joined(separator: " * ")
        }
    }

    static func conv(_ e: NodeEmission, _ w: inout CWriter) throws {
        guard e.elementType.isFloatingPoint else { throw WhittleError(.unsupported, "integer Conv is not supported by the C back end") }
        let x = try e.inputShape(0), weights = try e.inputShape(1), y = try e.outputShape()
        let g = try Window(e, kernel: Array(weights[2...]))
        let group = try e.context.int("group", default: 1)
        let t = try e.cType(output: 0), activation = FusedActivation(e.node)
        let (c, m) = (x[1], y[1]), cg = c / group, mg = m / group
        let inPlane = g.input.reduce(1, *), outPlane = g.output.reduce(1, *), taps = g.kernel.reduce(1, *)
        w.block("for (int n = 0; n < \(x[0]); ++n)") { w in
            w.block("for (int m = 0; m < \(m); ++m)") { w in
                w.line("const \(t) *wm = \(e.x(1)) + m * \(cg * taps);")
                w.line("const \(t) *in = \(e.x(0)) + (n * \(c) + (m / \(mg)) * \(cg)) * \(inPlane);")
                w.line("\(t) *out = \(e.y(0)) + (n * \(m) + m) * \(outPlane);")
                g.outputLoops(&w) { w, out in
                    w.line("\(t) acc = \(e.has(2) ? "\(e.x(2))[m]" : e.literal(0));")
                    w.block("for (int c = 0; c < \(cg); ++c)") { w in
                        w.line("const \(t) *ic = in + c * \(inPlane);")
                        w.line("const \(t) *wc = wm + c * \(taps);")
                        g.tapLoops(&w) { w, input, tap in w.line("acc += wc[\(tap)] * ic[\(input)];") }
                    }
                    w.lines(ActivationC.store("out[\(out)]", "acc", activation, e))
                }
            }
        }
    }

    /// MaxPool, AveragePool (with or without the padding counted) and LpPool.
    static func pool(_ e: NodeEmission, _ w: inout CWriter, kind: String) throws {
        guard let kernel = try e.context.ints("kernel_shape") else { throw WhittleError(.invalidAttribute, "kernel_shape is required") }
        guard e.elementType.isFloatingPoint || kind == "MaxPool" else {
            throw WhittleError(.unsupported, "integer \(kind) is not supported by the C back end")
        }
        let x = try e.inputShape(0), g = try Window(e, kernel: kernel)
        let t = try e.cType(output: 0)
        let inPlane = g.input.reduce(1, *), outPlane = g.output.reduce(1, *)
        let lowest = e.elementType.isFloatingPoint ? "-INFINITY" : CSyntax.constant(e.elementType.integerRange.0, e.elementType)
        let includePad = try e.context.int("count_include_pad", default: 0) != 0
        let p = e.literal(Double(try e.context.int("p", default: 2)))
        // MaxPool's Indices: the flat index of each window's first maximum, row-major or (storage_order 1)
        // with the first spatial axis fastest.
        let indices = kind == "MaxPool" && e.node.outputs.count > 1 && !e.node.outputs[1].isEmpty
        let columnMajor = try e.context.int("storage_order", default: 0) == 1
        let columnStrides = g.input.indices.map { g.input[..<$0].reduce(1, *) }
        let columnIndex = g.input.indices.map { "(i\($0) + k\($0) * \(g.dilations[$0])) * \(columnStrides[$0])" }.joined(separator: " + ")
        w.block("for (int plane = 0; plane < \(x[0] * x[1]); ++plane)") { w in
            w.line("const \(t) *in = \(e.x(0)) + plane * \(inPlane);")
            w.line("\(t) *out = \(e.y(0)) + plane * \(outPlane);")
            g.outputLoops(&w) { w, out in
                w.line("\(t) acc = \(kind == "MaxPool" ? lowest : e.literal(0));")
                if indices { w.line("int best = -1;") }
                g.tapLoops(&w) { w, input, _ in
                    switch kind {
                    case "MaxPool" where indices:
                        w.line("if (best < 0 || in[\(input)] > acc) { acc = in[\(input)]; best = \(columnMajor ? columnIndex : input); }")
                    case "MaxPool": w.line("if (in[\(input)] > acc) acc = in[\(input)];")
                    case "LpPool": w.line("acc += \(e.math("pow"))(\(e.math("fabs"))(in[\(input)]), \(p));")
                    default: w.line("acc += in[\(input)];")
                    }
                }
                switch kind {
                case "MaxPool":
                    w.line("out[\(out)] = acc;")
                    if indices { w.line("\(e.y(1))[plane * \(outPlane) + \(out)] = (int64_t)plane * \(inPlane) + best;") }
                case "LpPool": w.line("out[\(out)] = \(e.math("pow"))(acc, \(e.literal(1)) / \(p));")
                default:
                    w.line("const int count = \(g.count(includePad: includePad));")
                    w.line("out[\(out)] = count > 0 ? acc / (\(t))count : \(e.literal(0));")
                }
            }
        }
    }

    /// ConvTranspose: every input element is scattered through the kernel, in the interpreter's order.
    static func convTranspose(_ e: NodeEmission, _ w: inout CWriter, begin: [Int]) throws {
        let x = try e.inputShape(0), weights = try e.inputShape(1), y = try e.outputShape()
        let t = try e.cType(output: 0)
        let input = Array(x[2...]), output = Array(y[2...]), kernel = Array(weights[2...]), rank = input.count
        let strides = try e.context.ints("strides") ?? Array(repeating: 1, count: rank)
        let dilations = try e.context.ints("dilations") ?? Array(repeating: 1, count: rank)
        let group = try e.context.int("group", default: 1)
        let c = x[1], mg = weights[1], m = mg * group, cg = c / group
        let inPlane = input.reduce(1, *), outPlane = output.reduce(1, *), taps = kernel.reduce(1, *)
        w.block("for (int n = 0; n < \(x[0]); ++n)") { w in
            w.block("for (int oc = 0; oc < \(m); ++oc)") { w in
                w.line("\(t) *out = \(e.y(0)) + (n * \(m) + oc) * \(outPlane);")
                w.line("for (int i = 0; i < \(outPlane); ++i) out[i] = \(e.has(2) ? "\(e.x(2))[oc]" : e.literal(0));")
                w.block("for (int ci = 0; ci < \(cg); ++ci)") { w in
                    w.line("const int ic = (oc / \(mg)) * \(cg) + ci;")
                    w.line("const \(t) *in = \(e.x(0)) + (n * \(c) + ic) * \(inPlane);")
                    w.line("const \(t) *wk = \(e.x(1)) + (ic * \(mg) + oc % \(mg)) * \(taps);")
                    func inputLevel(_ d: Int, _ w: inout CWriter) {
                        if d == rank {
                            w.line("const \(t) v = in[\(Window.flat((0..<rank).map { "i\($0)" }, input))];")
                            kernelLevel(0, &w)
                            return
                        }
                        w.block("for (int i\(d) = 0; i\(d) < \(input[d]); ++i\(d))") { w in inputLevel(d + 1, &w) }
                    }
                    func kernelLevel(_ d: Int, _ w: inout CWriter) {
                        if d == rank {
                            w.line("out[\(Window.flat((0..<rank).map { "at\($0)" }, output))] += v * wk[\(Window.flat((0..<rank).map { "k\($0)" }, kernel))];")
                            return
                        }
                        w.block("for (int k\(d) = 0; k\(d) < \(kernel[d]); ++k\(d))") { w in
                            w.line("const int at\(d) = i\(d) * \(strides[d]) - \(begin[d]) + k\(d) * \(dilations[d]);")
                            w.line("if (at\(d) < 0 || at\(d) >= \(output[d])) continue;")
                            kernelLevel(d + 1, &w)
                        }
                    }
                    inputLevel(0, &w)
                }
            }
        }
    }
}
