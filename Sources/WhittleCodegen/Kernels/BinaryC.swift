import WhittleIR
import WhittleOps

/// C for the binary operators of the fuse-binary pass: sign packing and the XNOR/popcount
/// convolution (`binary.c` of the kernel library, NEON where the compiler targets it).
enum BinaryC {
    static var kernels: [String: CKernel] {
        ["whittle.BitPack": bitPack, "whittle.BinaryConv": binaryConv, "whittle.BinaryWeightConv": binaryWeightConv]
    }

    static func geometry(_ g: WhittleBinaryOperators.BinaryGeometry) -> String {
        let fields = [g.channels, g.h, g.w, g.oh, g.ow, g.kh, g.kw, g.sh, g.sw, g.dh, g.dw, g.pt, g.pl]
        return "static const whittle_conv_geometry g = {\(fields.map(String.init).joined(separator: ", "))};"
    }

    static let binaryWeightConv: CKernel = { e, w in
        let x = try e.inputShape(0), y = try e.outputShape()
        let g = try WhittleBinaryOperators.BinaryGeometry(e.context, floatInput: x)
        let m = try e.inputShape(1)[0]
        w.line(geometry(g))
        w.line("for (int n = 0; n < \(y[0]); ++n) whittle_binary_weight_conv_f32(&g, \(m), \(e.x(0)) + n * \(g.channels * g.h * g.w), \(e.x(1)), \(e.x(2)), \(e.x(3)), \(e.y(0)) + n * \(m * g.oh * g.ow));")
    }

    static let bitPack: CKernel = { e, w in
        let x = try e.inputShape(0), y = try e.outputShape()
        let pixels = x.count == 4 ? x[2] * x[3] : 1, stride = y[3]
        let ternary = try e.context.int("ternary", default: 0)
        w.line("for (int n = 0; n < \(x[0]); ++n) whittle_bitpack_f32(\(x[1]), \(pixels), \(ternary), \(e.x(0)) + n * \(x[1] * pixels), \(e.y(0)) + n * \(pixels * stride));")
    }

    static let binaryConv: CKernel = { e, w in
        let p = try e.inputShape(0), y = try e.outputShape()
        let g = try WhittleBinaryOperators.BinaryGeometry(e.context, input: p)
        let m = try e.inputShape(1)[0]
        let ternary = try e.context.int("ternary", default: 0)
        w.line(geometry(g))
        w.line("uint32_t patch[\(g.kh * g.kw * g.planes * g.words)];")
        w.line("for (int n = 0; n < \(y[0]); ++n) whittle_binary_conv(&g, \(ternary), \(m), \(e.x(0)) + n * \(g.h * g.w * p[3]), \(e.x(1)), \(e.x(2)), \(e.x(3)), \(e.y(0)) + n * \(m * g.oh * g.ow), patch);")
    }
}
