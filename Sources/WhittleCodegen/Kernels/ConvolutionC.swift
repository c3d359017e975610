import WhittleIR
import WhittleOps

/// C for Conv, the pools and the global pools (1-D and 2-D, NCHW; more axes in `ConvolutionNDC`).
enum ConvolutionC {
    static var kernels: [String: CKernel] {
        ["Conv": convKernel, "MaxPool": poolKernel(max: true), "AveragePool": poolKernel(max: false), "LpPool": lpPoolKernel,
         "GlobalAveragePool": globalPoolKernel(max: false), "GlobalMaxPool": globalPoolKernel(max: true)]
    }

    /// Window geometry with 1-D problems viewed as 2-D with height 1.
    struct Geometry {
        var n = 1, c = 1, h = 1, w = 1, m = 1, oh = 1, ow = 1, kh = 1, kw = 1
        var sh = 1, sw = 1, dh = 1, dw = 1, pt = 0, pl = 0, pb = 0, pr = 0

        init(_ e: NodeEmission, kernel: [Int]) throws {
            let x = try e.inputShape(0), y = try e.outputShape()
            guard x.count == 3 || x.count == 4 else {
                throw WhittleError(.unsupported, "the C back end supports 1-D and 2-D \(e.node.opType) only (input \(Shape.describe(x)))")
            }
            let spatial = x.count - 2
            let strides = try e.context.ints("strides") ?? Array(repeating: 1, count: spatial)
            let dilations = try e.context.ints("dilations") ?? Array(repeating: 1, count: spatial)
            let pads = Indexing.resolvedPads(autoPad: try e.context.string("auto_pad", default: "NOTSET"),
                                             pads: try e.context.ints("pads") ?? Array(repeating: 0, count: 2 * spatial),
                                             input: Array(x[2...]), output: Array(y[2...]), kernel: kernel,
                                             strides: strides, dilations: dilations)
            n = x[0]; c = x[1]; m = y[1]
            if spatial == 2 {
                (h, w, oh, ow, kh, kw) = (x[2], x[3], y[2], y[3], kernel[0], kernel[1])
                (sh, sw, dh, dw) = (strides[0], strides[1], dilations[0], dilations[1])
                (pt, pl, pb, pr) = (pads.begin[0], pads.begin[1], pads.end[0], pads.end[1])
            } else {
                (w, ow, kw, sw, dw, pl, pr) = (x[2], y[2], kernel[0], strides[0], dilations[0], pads.begin[0], pads.end[0])
            }
        }
    }

    /// Valid kernel range along one axis: `lo`/`hi` C expressions for the window starting at `start`.
    static func range(_ start: String, size: Int, kernel: Int, dilation: Int) -> (String, String) {
        let lo = dilation == 1 ? "(\(start) < 0 ? -\(start) : 0)" : "(\(start) < 0 ? (-\(start) + \(dilation - 1)) / \(dilation) : 0)"
        let reach = dilation == 1 ? "\(size) - \(start)" : "(\(size) - \(start) + \(dilation - 1)) / \(dilation)"
        return (lo, "(\(reach) < \(kernel) ? \(reach) : \(kernel))")
    }

    static let convKernel: CKernel = { e, w in
        if try e.inputShape(0).count > 4 { return try ConvolutionNDC.conv(e, &w) }
        if try FloatLibraryC.conv(e, &w) { return }
        let weights = try e.inputShape(1)
        let g = try Geometry(e, kernel: Array(weights[2...]))
        let group = try e.context.int("group", default: 1)
        guard e.elementType.isFloatingPoint else { throw WhittleError(.unsupported, "integer Conv is not supported by the C back end") }
        let t = try e.cType(output: 0)
        let cg = g.c / group, mg = g.m / group
        let activation = FusedActivation(e.node)
        let zero = e.literal(0)
        let pointwise = g.kh == 1 && g.kw == 1 && g.sh == 1 && g.sw == 1 && g.pt + g.pl + g.pb + g.pr == 0 && group == 1
        if pointwise {
            // 1×1 convolution: a matrix product over channels; the inner loop runs over contiguous pixels.
            let pixels = g.oh * g.ow
            w.block("for (int n = 0; n < \(g.n); ++n)") { w in
                w.block("for (int m = 0; m < \(g.m); ++m)") { w in
                    w.line("\(t) *out = \(e.y(0)) + (n * \(g.m) + m) * \(pixels);")
                    w.line("const \(t) *in = \(e.x(0)) + n * \(g.c * pixels);")
                    w.line("const \(t) *wm = \(e.x(1)) + m * \(g.c);")
                    w.line("for (int p = 0; p < \(pixels); ++p) out[p] = \(e.has(2) ? "\(e.x(2))[m]" : zero);")
                    w.block("for (int c = 0; c < \(g.c); ++c)") { w in
                        w.line("const \(t) wv = wm[c];")
                        w.line("const \(t) *ic = in + c * \(pixels);")
                        // A trip count that is a multiple of 8, then the rest: compilers vectorize the first
                        // loop even at -O2, where they will not add a scalar epilogue themselves.
                        let main = pixels / 8 * 8
                        if main > 0 { w.line("for (int p = 0; p < \(main); ++p) out[p] += wv * ic[p];") }
                        if main < pixels { w.line("for (int p = \(main); p < \(pixels); ++p) out[p] += wv * ic[p];") }
                    }
                    if activation != nil {
                        w.block("for (int p = 0; p < \(pixels); ++p)") { w in w.lines(ActivationC.store("out[p]", "out[p]", activation, e)) }
                    }
                }
            }
            return
        }
        let (khLo, khHi) = range("ih0", size: g.h, kernel: g.kh, dilation: g.dh)
        w.block("for (int n = 0; n < \(g.n); ++n)") { w in
            w.block("for (int m = 0; m < \(g.m); ++m)") { w in
                w.line("const \(t) *wm = \(e.x(1)) + m * \(cg * g.kh * g.kw);")
                w.line("const \(t) *in = \(e.x(0)) + (n * \(g.c) + (m / \(mg)) * \(cg)) * \(g.h * g.w);")
                w.line("\(t) *out = \(e.y(0)) + (n * \(g.m) + m) * \(g.oh * g.ow);")
                w.block("for (int oh = 0; oh < \(g.oh); ++oh)") { w in
                    w.line("\(t) *orow = out + oh * \(g.ow);")
                    w.line("const int ih0 = oh * \(g.sh) - \(g.pt);")
                    w.line("const int kh_lo = \(khLo), kh_hi = \(khHi);")
                    w.line("for (int ow = 0; ow < \(g.ow); ++ow) orow[ow] = \(e.has(2) ? "\(e.x(2))[m]" : zero);")
                    // A row of partial sums per input channel, taps added in (kh, kw) order and channels in
                    // order: the interpreter's summation order, with a contiguous inner loop the compiler vectorizes.
                    w.block("for (int c = 0; c < \(cg); ++c)") { w in
                        w.line("const \(t) *ic = in + c * \(g.h * g.w);")
                        w.line("const \(t) *wc = wm + c * \(g.kh * g.kw);")
                        w.line("\(t) part[\(g.ow)];")
                        w.line("for (int ow = 0; ow < \(g.ow); ++ow) part[ow] = \(zero);")
                        w.block("for (int kh = kh_lo; kh < kh_hi; ++kh)") { w in
                            w.line("const \(t) *row = ic + (ih0 + kh * \(g.dh)) * \(g.w);")
                            // Kernel columns unrolled: each gets constant output bounds (the columns whose input is
                            // inside the image), split into a multiple of 8 and the rest so the loops vectorize.
                            for kw in 0..<g.kw {
                                let offset = kw * g.dw - g.pl
                                let lo = max(0, (g.pl - kw * g.dw + g.sw - 1) / g.sw)
                                let hi = min(g.ow, (g.w + g.pl - kw * g.dw + g.sw - 1) / g.sw)
                                guard lo < hi else { continue }
                                let index = g.sw == 1 ? "ow\(offset == 0 ? "" : offset > 0 ? " + \(offset)" : " - \(-offset)")"
                                    : "ow * \(g.sw)\(offset == 0 ? "" : offset > 0 ? " + \(offset)" : " - \(-offset)")"
                                w.line("const \(t) w\(kw) = wc[kh * \(g.kw) + \(kw)];")
                                let split = lo + (hi - lo) / 8 * 8
                                if split > lo { w.line("for (int ow = \(lo); ow < \(split); ++ow) part[ow] += w\(kw) * row[\(index)];") }
                                if split < hi { w.line("for (int ow = \(split); ow < \(hi); ++ow) part[ow] += w\(kw) * row[\(index)];") }
                            }
                        }
                        w.line("for (int ow = 0; ow < \(g.ow); ++ow) orow[ow] += part[ow];")
                    }
                    if activation != nil {
                        w.block("for (int ow = 0; ow < \(g.ow); ++ow)") { w in w.lines(ActivationC.store("orow[ow]", "orow[ow]", activation, e)) }
                    }
                }
            }
        }
    }

    /// The loops every pooling kernel shares: over planes and output positions, with the window's rows
    /// and columns clipped to the image. `body` gets the expression of one tap (inside `kh`/`kw` loops
    /// it writes itself) and of the output element's index.
    static func poolLoops(_ g: Geometry, inputType: String, input: String, _ w: inout CWriter,
                          body: (inout CWriter, _ tap: String, _ out: String) -> Void) {
        let (khLo, khHi) = range("ih0", size: g.h, kernel: g.kh, dilation: g.dh)
        let (kwLo, kwHi) = range("iw0", size: g.w, kernel: g.kw, dilation: g.dw)
        w.block("for (int plane = 0; plane < \(g.n * g.c); ++plane)") { w in
            w.line("const \(inputType) *in = \(input) + plane * \(g.h * g.w);")
            w.block("for (int oh = 0; oh < \(g.oh); ++oh)") { w in
                w.line("const int ih0 = oh * \(g.sh) - \(g.pt);")
                w.line("const int kh_lo = \(khLo), kh_hi = \(khHi);")
                w.block("for (int ow = 0; ow < \(g.ow); ++ow)") { w in
                    w.line("const int iw0 = ow * \(g.sw) - \(g.pl);")
                    w.line("const int kw_lo = \(kwLo), kw_hi = \(kwHi);")
                    body(&w, "in[(ih0 + kh * \(g.dh)) * \(g.w) + iw0 + kw * \(g.dw)]", "plane * \(g.oh * g.ow) + oh * \(g.ow) + ow")
                }
            }
        }
    }

    static func poolKernel(max: Bool) -> CKernel {
        { e, w in
            guard let kernel = try e.context.ints("kernel_shape") else {
                throw WhittleError(.invalidAttribute, "kernel_shape is required")
            }
            // More than two spatial axes, or MaxPool's Indices output: the N-D kernel.
            if try e.inputShape(0).count > 4 || (e.node.outputs.count > 1 && !e.node.outputs[1].isEmpty) {
                return try ConvolutionNDC.pool(e, &w, kind: e.node.opType)
            }
            guard e.elementType.isFloatingPoint || max else { throw WhittleError(.unsupported, "integer AveragePool is not supported by the C back end") }
            let g = try Geometry(e, kernel: kernel)
            let t = try e.cType(output: 0)
            let includePad = try e.context.int("count_include_pad", default: 0) != 0
            let lowest = e.elementType.isFloatingPoint ? "-INFINITY" : CSyntax.constant(e.elementType.integerRange.0, e.elementType)
            poolLoops(g, inputType: t, input: e.x(0), &w) { w, tap, out in
                w.line("\(t) acc = \(max ? lowest : e.literal(0));")
                w.block("for (int kh = kh_lo; kh < kh_hi; ++kh)") { w in
                    w.block("for (int kw = kw_lo; kw < kw_hi; ++kw)") { w in
                        w.line("const \(t) v = \(tap);")
                        w.line(max ? "if (v > acc) acc = v;" : "acc += v;")
                    }
                }
                if max {
                    w.line("\(e.y(0))[\(out)] = acc;")
                } else if includePad {
                    // Padding counts, but not the part of a ceil_mode window beyond the padding.
                    w.line("const int rows = \(paddedCount("ih0", size: g.h, padEnd: g.pb, kernel: g.kh, dilation: g.dh));")
                    w.line("const int cols = \(paddedCount("iw0", size: g.w, padEnd: g.pr, kernel: g.kw, dilation: g.dw));")
                    w.line("const int count = rows * cols;")
                    w.line("\(e.y(0))[\(out)] = acc / (\(t))count;")
                } else {
                    w.line("const int count = (kh_hi - kh_lo) * (kw_hi - kw_lo);")
                    w.line("\(e.y(0))[\(out)] = count > 0 ? acc / (\(t))count : \(e.literal(0));")
                }
            }
        }
    }

    /// LpPool: (Σ |x|^p)^(1/p) over each window; padding contributes nothing.
    static let lpPoolKernel: CKernel = { e, w in
        guard let kernel = try e.context.ints("kernel_shape"), e.elementType.isFloatingPoint else {
            throw WhittleError(.unsupported, "LpPool needs kernel_shape and a float input")
        }
        if try e.inputShape(0).count > 4 { return try ConvolutionNDC.pool(e, &w, kind: "LpPool") }
        let g = try Geometry(e, kernel: kernel)
        let t = try e.cType(output: 0)
        let p = e.literal(Double(try e.context.int("p", default: 2)))
        poolLoops(g, inputType: t, input: e.x(0), &w) { w, tap, out in
            w.line("\(t) acc = \(e.literal(0));")
            w.line("for (int kh = kh_lo; kh < kh_hi; ++kh) for (int kw = kw_lo; kw < kw_hi; ++kw) acc += \(e.math("pow"))(\(e.math("fabs"))(\(tap)), \(p));")
            w.line("\(e.y(0))[\(out)] = \(e.math("pow"))(acc, \(e.literal(1)) / \(p));")
        }
    }

    /// Window taps inside the padded input along one axis (for count_include_pad).
    static func paddedCount(_ start: String, size: Int, padEnd: Int, kernel: Int, dilation: Int) -> String {
        let reach = dilation == 1 ? "\(size + padEnd) - \(start)" : "(\(size + padEnd) - \(start) + \(dilation - 1)) / \(dilation)"
        return "(\(reach) < \(kernel) ? \(reach) : \(kernel))"
    }

    static func globalPoolKernel(max: Bool) -> CKernel {
        { e, w in
            let x = try e.inputShape(0)
            guard e.elementType.isFloatingPoint else { throw WhittleError(.unsupported, "integer pooling is not supported by the C back end") }
            let t = try e.cType(output: 0)
            let planes = x[0] * x[1], size = x[2...].reduce(1, *)
            w.block("for (int plane = 0; plane < \(planes); ++plane)") { w in
                w.line("const \(t) *in = \(e.x(0)) + plane * \(size);")
                w.line("\(t) acc = \(max ? "in[0]" : e.literal(0));")
                w.line(max ? "for (int i = 1; i < \(size); ++i) if (in[i] > acc) acc = in[i];" : "for (int i = 0; i < \(size); ++i) acc += in[i];")
                w.line(max ? "\(e.y(0))[plane] = acc;" : "\(e.y(0))[plane] = acc / \(e.literal(Double(size)));")
            }
        }
    }
}

/// C for ConvTranspose (1-D and 2-D here, more axes in `ConvolutionNDC`): every input pixel is scattered through the kernel,
/// in the interpreter's order.
enum ConvTransposeC {
    static var kernels: [String: CKernel] { ["ConvTranspose": kernel] }

    static let kernel: CKernel = { e, w in
        let x = try e.inputShape(0), weights = try e.inputShape(1), y = try e.outputShape()
        guard e.elementType.isFloatingPoint, x.count >= 3 else {
            throw WhittleError(.unsupported, "the C back end supports float ConvTranspose only")
        }
        let t = try e.cType(output: 0)
        let spatial = x.count - 2
        let kernel = Array(weights[2...])
        let strides = try e.context.ints("strides") ?? Array(repeating: 1, count: spatial)
        let dilations = try e.context.ints("dilations") ?? Array(repeating: 1, count: spatial)
        var pads = try e.context.ints("pads") ?? Array(repeating: 0, count: 2 * spatial)
        let autoPad = try e.context.string("auto_pad", default: "NOTSET")
        let outputPadding = try e.context.ints("output_padding") ?? Array(repeating: 0, count: spatial)
        let inSizes = Array(x[2...]), outSizes = Array(y[2...])
        var begin = Array(pads[0..<spatial])
        if try e.context.ints("output_shape") != nil || autoPad == "SAME_UPPER" || autoPad == "SAME_LOWER" {
            for i in 0..<spatial {
                let total = strides[i] * (inSizes[i] - 1) + outputPadding[i] + (kernel[i] - 1) * dilations[i] + 1 - outSizes[i]
                let half = Int((Double(total) / 2).rounded(.down))
                begin[i] = autoPad == "SAME_UPPER" ? half : total - half
            }
        } else if autoPad == "VALID" {
            begin = Array(repeating: 0, count: spatial)
        }
        pads = begin
        if spatial > 2 { return try ConvolutionNDC.convTranspose(e, &w, begin: begin) }
        let group = try e.context.int("group", default: 1)
        let (h, wd) = spatial == 2 ? (inSizes[0], inSizes[1]) : (1, inSizes[0])
        let (oh, ow) = spatial == 2 ? (outSizes[0], outSizes[1]) : (1, outSizes[0])
        let (kh, kw) = spatial == 2 ? (kernel[0], kernel[1]) : (1, kernel[0])
        let (sh, sw) = spatial == 2 ? (strides[0], strides[1]) : (1, strides[0])
        let (dh, dw) = spatial == 2 ? (dilations[0], dilations[1]) : (1, dilations[0])
        let (pt, pl) = spatial == 2 ? (pads[0], pads[1]) : (0, pads[0])
        let c = x[1], mg = weights[1], m = mg * group, cg = c / group
        w.block("for (int n = 0; n < \(x[0]); ++n)") { w in
            w.block("for (int oc = 0; oc < \(m); ++oc)") { w in
                w.line("\(t) *out = \(e.y(0)) + (n * \(m) + oc) * \(oh * ow);")
                w.line("for (int i = 0; i < \(oh * ow); ++i) out[i] = \(e.has(2) ? "\(e.x(2))[oc]" : e.literal(0));")
                w.block("for (int ci = 0; ci < \(cg); ++ci)") { w in
                    w.line("const int ic = (oc / \(mg)) * \(cg) + ci;")
                    w.line("const \(t) *in = \(e.x(0)) + (n * \(c) + ic) * \(h * wd);")
                    w.line("const \(t) *wk = \(e.x(1)) + (ic * \(mg) + oc % \(mg)) * \(kh * kw);")
                    w.block("for (int ih = 0; ih < \(h); ++ih)") { w in
                        w.block("for (int iw = 0; iw < \(wd); ++iw)") { w in
                            w.line("const \(t) v = in[ih * \(wd) + iw];")
                            w.block("for (int a = 0; a < \(kh); ++a)") { w in
                                w.line("const int yh = ih * \(sh) - \(pt) + a * \(dh);")
                                w.line("if (yh < 0 || yh >= \(oh)) continue;")
                                w.block("for (int b = 0; b < \(kw); ++b)") { w in
                                    w.line("const int yw = iw * \(sw) - \(pl) + b * \(dw);")
                                    w.line("if (yw < 0 || yw >= \(ow)) continue;")
                                    w.line("out[yh * \(ow) + yw] += v * wk[a * \(kw) + b];")
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}
