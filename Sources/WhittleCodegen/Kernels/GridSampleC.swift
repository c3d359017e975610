import WhittleIR
import WhittleOps

/// C for GridSample in any number of spatial axes: per output point, the grid coordinate of each axis
/// is denormalized and padded, then the taps of every axis (1 nearest, 2 linear, 4 cubic) are
/// combined, in double precision as in the interpreter.
enum GridSampleC {
    static var kernels: [String: CKernel] { ["GridSample": kernel, "AffineGrid": affineGridKernel] }

    /// AffineGrid: each output point is theta times its homogeneous normalized coordinates (x, y[, z], 1).
    static let affineGridKernel: CKernel = { e, w in
        guard e.elementType == .float || e.elementType == .double else {
            throw WhittleError(.unsupported, "AffineGrid on \(e.elementType.name) is not supported by the C back end")
        }
        let shape = try e.outputShape(0), t = try e.cType(output: 0)
        let spatial = shape.count - 2, dims = Array(shape[1...spatial]), strides = Shape.strides(dims), points = dims.reduce(1, *)
        let align = try e.context.int("align_corners", default: 0) != 0
        guard shape.reduce(1, *) > 0 else { return }
        w.block("for (int n = 0; n < \(shape[0]); ++n) for (int p = 0; p < \(points); ++p)") { w in
            w.line("double h[\(spatial + 1)];")
            for k in 0..<spatial {
                let d = spatial - 1 - k, size = dims[d]
                let index = "(p / \(strides[d]) % \(size))"
                let value = align ? (size > 1 ? "-1.0 + 2.0 * \(index) / \(size - 1).0" : "-1.0") : "-1.0 + (2.0 * \(index) + 1.0) / \(size).0"
                w.line("h[\(k)] = \(value);")
            }
            w.line("h[\(spatial)] = 1.0;")
            w.block("for (int r = 0; r < \(spatial); ++r)") { w in
                w.line("double sum = 0.0;")
                w.line("for (int j = 0; j <= \(spatial); ++j) sum += (double)\(e.x(0))[(n * \(spatial) + r) * \(spatial + 1) + j] * h[j];")
                w.line("\(e.y(0))[(n * \(points) + p) * \(spatial) + r] = (\(t))sum;")
            }
        }
    }

    static let kernel: CKernel = { e, w in
        guard e.elementType == .float || e.elementType == .double else {
            throw WhittleError(.unsupported, "GridSample on \(e.elementType.name) is not supported by the C back end")
        }
        let x = try e.inputShape(0), grid = try e.inputShape(1), t = try e.cType(output: 0)
        var mode = try e.context.string("mode", default: e.context.opset < 20 ? "bilinear" : "linear")
        mode = mode == "bilinear" ? "linear" : (mode == "bicubic" ? "cubic" : mode)
        let padding = try e.context.string("padding_mode", default: "zeros")
        let align = try e.context.int("align_corners", default: 0) != 0
        let dims = Array(x[2...]), rank = dims.count, strides = Shape.strides(dims), plane = dims.reduce(1, *)
        let points = grid[1..<(grid.count - 1)].reduce(1, *), channels = x[1]
        let taps = mode == "nearest" ? 1 : (mode == "cubic" ? 4 : 2)
        let combinations = Array(repeating: taps, count: rank).reduce(1, *)
        guard x[0] * channels * points > 0 else { return }
        func literal(_ v: Double) -> String { CSyntax.constant(v, .double) }
        w.block("for (int n = 0; n < \(x[0]); ++n) for (int p = 0; p < \(points); ++p)") { w in
            w.line("int base[\(rank)];")
            w.line("double weight[\(rank)][\(taps)];")
            for d in 0..<rank {
                let size = Double(dims[d]), low = align ? 0 : -0.5, high = align ? size - 1 : size - 0.5
                w.block("") { w in
                    w.line("const double g = (double)\(e.x(1))[(n * \(points) + p) * \(rank) + \(rank - 1 - d)];")
                    w.line(align ? "double c = (g + 1.0) / 2.0 * \(literal(size - 1));" : "double c = ((g + 1.0) * \(literal(size)) - 1.0) / 2.0;")
                    if mode == "nearest" { w.line("c = rint(c);") }
                    w.block("if (c < \(literal(low)) || c > \(literal(high)))") { w in
                        if padding == "border" {
                            w.line("c = c < 0.0 ? 0.0 : (c > \(literal(size - 1)) ? \(literal(size - 1)) : c);")
                        } else if padding == "reflection" {
                            w.lines(reflect("c", low: literal(low), high: literal(high)))
                        }
                    }
                    switch mode {
                    case "nearest":
                        w.line("base[\(d)] = (int)c;")
                        w.line("weight[\(d)][0] = 1.0;")
                    case "cubic":
                        w.line("const double f = floor(c), s = c - f, a = -0.75;")
                        w.line("base[\(d)] = (int)f - 1;")
                        w.line("weight[\(d)][0] = ((a * (s + 1.0) - 5.0 * a) * (s + 1.0) + 8.0 * a) * (s + 1.0) - 4.0 * a;")
                        w.line("weight[\(d)][1] = ((a + 2.0) * s - (a + 3.0)) * s * s + 1.0;")
                        w.line("weight[\(d)][2] = ((a + 2.0) * (1.0 - s) - (a + 3.0)) * (1.0 - s) * (1.0 - s) + 1.0;")
                        w.line("weight[\(d)][3] = ((a * (2.0 - s) - 5.0 * a) * (2.0 - s) + 8.0 * a) * (2.0 - s) - 4.0 * a;")
                    default:
                        w.line("const double f = floor(c);")
                        w.line("base[\(d)] = (int)f;")
                        w.line("weight[\(d)][0] = 1.0 - (c - f);")
                        w.line("weight[\(d)][1] = c - f;")
                    }
                }
            }
            w.block("for (int ch = 0; ch < \(channels); ++ch)") { w in
                w.line("const \(t) *plane = \(e.x(0)) + (n * \(channels) + ch) * \(plane);")
                w.line("double sum = 0.0;")
                w.block("for (int k = 0; k < \(combinations); ++k)") { w in
                    w.line("double wk = 1.0;")
                    w.line("int at = 0, inside = 1;")
                    for d in 0..<rank {
                        let divisor = Array(repeating: taps, count: rank - 1 - d).reduce(1, *)
                        w.block("") { w in
                            w.line("const int tap = k / \(divisor) % \(taps);")
                            w.line("int i = base[\(d)] + tap;")
                            w.line("wk *= weight[\(d)][tap];")
                            switch padding {
                            case "border": w.line("i = i < 0 ? 0 : (i > \(dims[d] - 1) ? \(dims[d] - 1) : i);")
                            case "reflection":
                                w.block("if (i < 0 || i > \(dims[d] - 1))") { w in
                                    w.line("double reflected = (double)i;")
                                    w.lines(reflect("reflected", low: literal(align ? 0 : -0.5), high: literal(align ? Double(dims[d] - 1) : Double(dims[d]) - 0.5)))
                                    w.line("i = (int)reflected;")
                                    w.line("i = i < 0 ? 0 : (i > \(dims[d] - 1) ? \(dims[d] - 1) : i);")
                                }
                            default: w.line("if (i < 0 || i > \(dims[d] - 1)) inside = 0;")
                            }
                            w.line("at += i * \(strides[d]);")
                        }
                    }
                    w.line("if (inside) sum += wk * (double)plane[at];")
                }
                w.line("\(e.y(0))[(n * \(channels) + ch) * \(points) + p] = (\(t))sum;")
            }
        }
    }

    /// Statements reflecting double `v` into [low, high] by the nearer border, as often as needed.
    static func reflect(_ v: String, low: String, high: String) -> [String] {
        ["{",
         "    const double range = \(high) - \(low);",
         "    if (range <= 0.0) \(v) = \(low);",
         "    else if (\(v) < \(low)) { const double dx = \(low) - \(v); const int q = (int)(dx / range); const double rest = dx - q * range; \(v) = q % 2 == 0 ? \(low) + rest : \(high) - rest; }",
         "    else if (\(v) > \(high)) { const double dx = \(v) - \(high); const int q = (int)(dx / range); const double rest = dx - q * range; \(v) = q % 2 == 0 ? \(high) - rest : \(low) + rest; }",
         "}"]
    }
}
