import Foundation
import WhittleIR
import WhittleOps

/// C for DFT and STFT on signals known only at run time: direct transforms in double precision, in the
/// interpreter's order, with the cosines and sines of the n roots of unity baked as tables (so the C
/// uses the very values the interpreter does, whatever the target's libm).
enum SignalC {
    static var kernels: [String: CKernel] { ["DFT": dft, "STFT": stft] }

    /// Transforms longer than this are refused: the two tables take 16 bytes per point.
    static let maximumLength = 1 << 14

    /// `static const double cosine[n], sine[n]` for angles sign · 2π j / n.
    static func tables(_ n: Int, sign: Double, _ w: inout CWriter) {
        let angles = (0..<n).map { sign * 2 * Double.pi * Double($0) / Double(n) }
        w.line("static const double cosine[\(n)] = {\(angles.map { CSyntax.constant(Foundation.cos($0), .double) }.joined(separator: ", "))};")
        w.line("static const double sine[\(n)] = {\(angles.map { CSyntax.constant(Foundation.sin($0), .double) }.joined(separator: ", "))};")
    }

    static let dft: CKernel = { e, w in
        guard e.elementType == .float || e.elementType == .double else {
            throw WhittleError(.unsupported, "DFT on \(e.elementType.name) is not supported by the C back end")
        }
        let plan = try OperatorHelpers.dftPlan(e.context)
        let x = try e.inputShape(0), t = try e.cType(output: 0), n = plan.length
        guard n <= maximumLength else { throw WhittleError(.unsupported, "a DFT of \(n) points is longer than the C back end's \(maximumLength)") }
        let parts = x[x.count - 1], size = x[plan.axis]
        let outer = x[..<plan.axis].reduce(1, *), inner = x[(plan.axis + 1)..<(x.count - 1)].reduce(1, *)
        let outParts = plan.output[x.count - 1], outSize = plan.output[plan.axis]
        guard outer * inner * outSize > 0 else { return }
        let irfft = plan.inverse && plan.onesided
        tables(n, sign: plan.inverse ? 1 : -1, &w)
        func sample(_ k: String) -> (String, String) {
            let at = "((o * \(size) + \(k)) * \(inner) + i) * \(parts)"
            return ("(double)\(e.x(0))[\(at)]", parts == 2 ? "(double)\(e.x(0))[\(at) + 1]" : "0.0")
        }
        w.block("for (int o = 0; o < \(outer); ++o) for (int i = 0; i < \(inner); ++i) for (int f = 0; f < \(outSize); ++f)") { w in
            w.line("double re = 0.0\(irfft ? "" : ", im = 0.0");")
            if irfft {
                // irfft: the spectrum's first n/2 + 1 values, extended by Hermitian symmetry.
                w.block("for (int k = 0; k < \(n); ++k)") { w in
                    w.line("const int m = k <= \(n / 2) ? k : \(n) - k;")
                    w.line("if (m >= \(size)) continue;")
                    let (a, b) = sample("m")
                    w.line("const double a = \(a);")
                    w.line("double b = \(b);")
                    w.line("if (k > \(n / 2)) b = -b;")
                    w.line("if (k == 0\(n % 2 == 0 ? " || k == \(n / 2)" : "")) b = 0.0;")
                    w.line("const int j = (int)(((long)k * f) % \(n));")
                    w.line("re += a * cosine[j] - b * sine[j];")
                }
                w.line("re /= \(n).0;")
            } else {
                w.block("for (int k = 0; k < \(min(n, size)); ++k)") { w in
                    let (a, b) = sample("k")
                    w.line("const double a = \(a), b = \(b);")
                    w.line("const int j = (int)(((long)k * f) % \(n));")
                    w.line("re += a * cosine[j] - b * sine[j];")
                    w.line("im += a * sine[j] + b * cosine[j];")
                }
                if plan.inverse { w.line("re /= \(n).0;"); w.line("im /= \(n).0;") }
            }
            w.line("const int at = ((o * \(outSize) + f) * \(inner) + i) * \(outParts);")
            w.line("\(e.y(0))[at] = (\(t))re;")
            if outParts == 2 { w.line("\(e.y(0))[at + 1] = (\(t))\(irfft ? "0.0" : "im");") }
        }
    }

    static let stft: CKernel = { e, w in
        guard e.elementType == .float || e.elementType == .double else {
            throw WhittleError(.unsupported, "STFT on \(e.elementType.name) is not supported by the C back end")
        }
        let plan = try OperatorHelpers.stftPlan(e.context)
        let x = try e.inputShape(0), t = try e.cType(output: 0), n = plan.length
        guard n <= maximumLength else { throw WhittleError(.unsupported, "an STFT frame of \(n) points is longer than the C back end's \(maximumLength)") }
        let (batch, length, parts) = (x[0], x[1], x[2])
        guard batch * plan.frames * plan.bins > 0 else { return }
        tables(n, sign: -1, &w)
        w.block("for (int b = 0; b < \(batch); ++b) for (int f = 0; f < \(plan.frames); ++f) for (int bin = 0; bin < \(plan.bins); ++bin)") { w in
            w.line("double re = 0.0, im = 0.0;")
            w.block("for (int k = 0; k < \(n); ++k)") { w in
                w.line("const int at = (b * \(length) + f * \(plan.step) + k) * \(parts);")
                let weight = e.has(2) ? " * (double)\(e.x(2))[k]" : ""
                w.line("const double a = (double)\(e.x(0))[at]\(weight), c = \(parts == 2 ? "(double)\(e.x(0))[at + 1]\(weight)" : "0.0");")
                w.line("const int j = (int)(((long)k * bin) % \(n));")
                w.line("re += a * cosine[j] - c * sine[j];")
                w.line("im += a * sine[j] + c * cosine[j];")
            }
            w.line("\(e.y(0))[((b * \(plan.frames) + f) * \(plan.bins) + bin) * 2] = (\(t))re;")
            w.line("\(e.y(0))[((b * \(plan.frames) + f) * \(plan.bins) + bin) * 2 + 1] = (\(t))im;")
        }
    }
}
