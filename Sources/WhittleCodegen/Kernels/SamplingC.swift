import WhittleIR
import WhittleOps

/// C for the operators that read a feature map at fractional positions with bilinear weights:
/// RoiAlign (regions given at run time) and DeformConv (taps moved by run-time offsets). Both
/// compute in double precision, in the interpreter's order.
enum SamplingC {
    static var kernels: [String: CKernel] { ["RoiAlign": roiAlign, "DeformConv": deformConv] }

    static func literal(_ v: Double) -> String { CSyntax.constant(v, .double) }

    static let roiAlign: CKernel = { e, w in
        guard e.elementType == .float || e.elementType == .double else {
            throw WhittleError(.unsupported, "RoiAlign on \(e.elementType.name) is not supported by the C back end")
        }
        let x = try e.inputShape(0), y = try e.outputShape(), t = try e.cType(output: 0)
        let (batch, channels, height, width) = (x[0], x[1], x[2], x[3])
        let (bins, binsWide) = (y[2], y[3])
        let average = try e.context.string("mode", default: "avg") == "avg"
        let ratio = try e.context.int("sampling_ratio", default: 0)
        let scale = Double(try e.context.float("spatial_scale", default: 1))
        let halfPixel = try e.context.string("coordinate_transformation_mode",
                                             default: e.context.opset < 16 ? "output_half_pixel" : "half_pixel") == "half_pixel"
        guard y.reduce(1, *) > 0 else { return }
        w.block("for (int r = 0; r < \(y[0]); ++r)") { w in
            w.line("const int b = (int)\(e.x(2))[r];")
            w.line("\(t) *out = \(e.y(0)) + r * \(channels * bins * binsWide);")
            // The interpreter refuses a batch index outside the batch; here the region reads as zeros.
            w.block("if (b < 0 || b >= \(batch))") { w in
                w.line("for (int i = 0; i < \(channels * bins * binsWide); ++i) out[i] = \(e.literal(0));")
                w.line("continue;")
            }
            let shift = halfPixel ? " - 0.5" : ""
            w.line("const double left = (double)\(e.x(1))[r * 4] * \(literal(scale))\(shift), top = (double)\(e.x(1))[r * 4 + 1] * \(literal(scale))\(shift);")
            w.line("double rw = (double)\(e.x(1))[r * 4 + 2] * \(literal(scale))\(shift) - left, rh = (double)\(e.x(1))[r * 4 + 3] * \(literal(scale))\(shift) - top;")
            if !halfPixel { w.line("if (rw < 1.0) rw = 1.0;"); w.line("if (rh < 1.0) rh = 1.0;") }
            w.line("const double bh = rh / \(bins).0, bw = rw / \(binsWide).0;")
            if ratio > 0 {
                w.line("const int gy = \(ratio), gx = \(ratio);")
            } else {
                // One sample per unit of the bin's size; at most 65,536 per axis.
                w.line("const double wy = ceil(bh), wx = ceil(bw);")
                w.line("const int gy = wy > 0.0 ? (wy < 65536.0 ? (int)wy : 65536) : 0, gx = wx > 0.0 ? (wx < 65536.0 ? (int)wx : 65536) : 0;")
            }
            if average { w.line("const double count = gy * gx > 1 ? (double)(gy * gx) : 1.0;") }
            w.block("for (int c = 0; c < \(channels); ++c)") { w in
                w.line("const \(t) *in = \(e.x(0)) + (b * \(channels) + c) * \(height * width);")
                w.block("for (int ph = 0; ph < \(bins); ++ph) for (int pw = 0; pw < \(binsWide); ++pw)") { w in
                    w.line("double value = 0.0;")
                    if !average { w.line("int first = 1;") }
                    w.block("for (int iy = 0; iy < gy; ++iy) for (int ix = 0; ix < gx; ++ix)") { w in
                        w.line("double sy = top + ph * bh + (iy + 0.5) * bh / gy, sx = left + pw * bw + (ix + 0.5) * bw / gx;")
                        w.line("double v1 = 0.0, v2 = 0.0, v3 = 0.0, v4 = 0.0;")
                        // Samples beyond one element outside the map contribute nothing.
                        w.block("if (!(sy < -1.0 || sy > \(height).0 || sx < -1.0 || sx > \(width).0))") { w in
                            w.line("if (sy < 0.0) sy = 0.0;")
                            w.line("if (sx < 0.0) sx = 0.0;")
                            w.line("int ylo = (int)sy, xlo = (int)sx, yhi = ylo + 1, xhi = xlo + 1;")
                            w.line("if (ylo >= \(height - 1)) { ylo = yhi = \(height - 1); sy = ylo; }")
                            w.line("if (xlo >= \(width - 1)) { xlo = xhi = \(width - 1); sx = xlo; }")
                            w.line("const double ly = sy - ylo, lx = sx - xlo, hy = 1.0 - ly, hx = 1.0 - lx;")
                            w.line("v1 = hy * hx * (double)in[ylo * \(width) + xlo]; v2 = hy * lx * (double)in[ylo * \(width) + xhi];")
                            w.line("v3 = ly * hx * (double)in[yhi * \(width) + xlo]; v4 = ly * lx * (double)in[yhi * \(width) + xhi];")
                        }
                        if average {
                            w.line("value += v1 + v2 + v3 + v4;")
                        } else {
                            // The largest weighted corner, as ONNX Runtime defines max mode.
                            w.line("double m = v1 > v2 ? v1 : v2;")
                            w.line("if (v3 > m) m = v3;")
                            w.line("if (v4 > m) m = v4;")
                            w.line("if (first || m > value) value = m;")
                            w.line("first = 0;")
                        }
                    }
                    w.line("out[(c * \(bins) + ph) * \(binsWide) + pw] = (\(t))(\(average ? "value / count" : "value"));")
                }
            }
        }
    }

    static let deformConv: CKernel = { e, w in
        guard e.elementType == .float || e.elementType == .double else {
            throw WhittleError(.unsupported, "DeformConv on \(e.elementType.name) is not supported by the C back end")
        }
        let x = try e.inputShape(0), weights = try e.inputShape(1), t = try e.cType(output: 0)
        let kernel = Array(weights[2...]), window = try ConvolutionNDC.Window(e, kernel: kernel)
        let group = try e.context.int("group", default: 1), offsetGroup = try e.context.int("offset_group", default: 1)
        let spatial = x.count - 2, inDims = Array(x[2...]), inStrides = Shape.strides(inDims), plane = inDims.reduce(1, *)
        let outDims = window.output, points = outDims.reduce(1, *), outStrides = Shape.strides(outDims)
        let kernelStrides = Shape.strides(kernel), taps = kernel.reduce(1, *)
        let (channels, outChannels) = (x[1], weights[0])
        let perGroup = channels / group, outPerGroup = outChannels / group, perOffsetGroup = channels / offsetGroup
        let offsets = offsetGroup * taps * spatial
        guard x[0] * outChannels * points > 0 else { return }
        w.line("static const int size[\(spatial)] = {\(inDims.map(String.init).joined(separator: ", "))};")
        w.line("static const int stride[\(spatial)] = {\(inStrides.map(String.init).joined(separator: ", "))};")
        w.block("for (int n = 0; n < \(x[0]); ++n) for (int oc = 0; oc < \(outChannels); ++oc) for (int p = 0; p < \(points); ++p)") { w in
            w.line("double acc = \(e.has(3) ? "(double)\(e.x(3))[oc]" : "0.0");")
            w.block("for (int ci = 0; ci < \(perGroup); ++ci)") { w in
                w.line("const int c = (oc / \(outPerGroup)) * \(perGroup) + ci, group = c / \(perOffsetGroup);")
                w.line("const \(t) *in = \(e.x(0)) + (n * \(channels) + c) * \(plane);")
                w.block("for (int t = 0; t < \(taps); ++t)") { w in
                    // Per axis: the tap's position (window start, dilated tap, learned offset), its floor and fraction.
                    w.line("int low[\(spatial)];")
                    w.line("double fraction[\(spatial)];")
                    for d in 0..<spatial {
                        let o = "(p / \(outStrides[d]) % \(outDims[d]))", k = "(t / \(kernelStrides[d]) % \(kernel[d]))"
                        w.block("") { w in
                            w.line("const double at = (double)(\(o) * \(window.strides[d]) - \(window.begin[d]) + \(k) * \(window.dilations[d]))"
                                   + " + (double)\(e.x(2))[(n * \(offsets) + (group * \(taps) + t) * \(spatial) + \(d)) * \(points) + p];")
                            w.line("const double f = floor(at);")
                            // Positions far outside read zeros; keep the floor in int range.
                            w.line("low[\(d)] = f > -2.0 && f < \(inDims[d]).0 ? (int)f : -2;")
                            w.line("fraction[\(d)] = at - f;")
                        }
                    }
                    w.line("double sample = 0.0;")
                    w.block("for (int corner = 0; corner < \(1 << spatial); ++corner)") { w in
                        w.line("double weight = 1.0;")
                        w.line("int index = 0, inside = 1;")
                        w.block("for (int d = 0; d < \(spatial); ++d)") { w in
                            w.line("const int step = (corner >> (\(spatial - 1) - d)) & 1, i = low[d] + step;")
                            w.line("if (i < 0 || i >= size[d]) { inside = 0; break; }")
                            w.line("weight *= step ? fraction[d] : 1.0 - fraction[d];")
                            w.line("index += i * stride[d];")
                        }
                        w.line("if (inside) sample += weight * (double)in[index];")
                    }
                    if e.has(4) {
                        w.line("sample *= (double)\(e.x(4))[(n * \(offsetGroup * taps) + group * \(taps) + t) * \(points) + p];")
                    }
                    w.line("acc += (double)\(e.x(1))[(oc * \(perGroup) + ci) * \(taps) + t] * sample;")
                }
            }
            w.line("\(e.y(0))[(n * \(outChannels) + oc) * \(points) + p] = (\(t))acc;")
        }
    }
}
