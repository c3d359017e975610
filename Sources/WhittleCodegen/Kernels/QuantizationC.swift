import WhittleIR
import WhittleOps

/// C for QuantizeLinear and DequantizeLinear (per tensor or per axis): round half to even, saturate.
enum QuantizationC {
    static var kernels: [String: CKernel] { ["QuantizeLinear": quantizeKernel, "DequantizeLinear": dequantizeKernel] }

    /// Loops over (outer, axis, inner) so the parameter index is the axis coordinate.
    static func loops(_ e: NodeEmission, shape: [Int], perAxis: Bool, _ body: (inout CWriter, String) -> Void, _ w: inout CWriter) throws {
        guard perAxis else {
            w.block("for (int i = 0; i < \(shape.reduce(1, *)); ++i)") { body(&$0, "0") }
            return
        }
        let axis = try Shape.normalizeAxis(e.context.int("axis", default: 1), rank: shape.count)
        let (outer, size, inner) = Indexing.split(shape, at: axis)
        // Blocked (opset 21): the parameters have the input's shape with `axis` divided into blocks.
        let block = try e.context.int("block_size", default: 0)
        if block > 0, try e.inputShape(1) != shape.enumerated().map({ $0.offset == axis ? ($0.element + block - 1) / block : $0.element }) {
            throw WhittleError(.shapeMismatch, "blocked scale \(Shape.describe(try e.inputShape(1))) does not fit the input with block_size \(block)")
        }
        let index = block > 0 ? "(o * \((size + block - 1) / block) + k / \(block)) * \(inner) + j" : "k"
        w.block("for (int o = 0; o < \(outer); ++o)") { w in
            w.block("for (int k = 0; k < \(size); ++k)") { w in
                w.block("for (int j = 0; j < \(inner); ++j)") { w in
                    w.line("const int i = (o * \(size) + k) * \(inner) + j;")
                    if block > 0 { w.line("const int p = \(index);") }
                    body(&w, block > 0 ? "p" : "k")
                }
            }
        }
    }

    /// Whether the zero point (input 2) has one value per axis element rather than one for the tensor.
    static func zeroPointIndexed(_ e: NodeEmission) throws -> Bool {
        e.has(2) ? try e.inputShape(2).reduce(1, *) > 1 : false
    }

    static let quantizeKernel: CKernel = { e, w in
        let x = try e.inputShape(0)
        let type = e.elementType
        if NarrowC.isNarrow(type) { return try narrowQuantize(e, &w) }
        guard type.isInteger, try e.inputType(0).elementType == .float else {
            throw WhittleError(.unsupported, "QuantizeLinear from \(try e.inputType(0).elementType.name) to \(type.name) is not supported by the C back end")
        }
        let t = try e.cType(output: 0)
        let (low, high) = type.integerRange
        let perAxis = (try e.inputShape(1)).reduce(1, *) > 1
        let zeroIndex = try zeroPointIndexed(e)
        try loops(e, shape: x, perAxis: perAxis, { w, k in
            let zero = e.has(2) ? "(float)\(e.x(2))[\(zeroIndex ? k : "0")]" : "0.0f"
            if high - low <= 65535 {
                // Saturated first to [low − zero, high − zero] (the same result: rounding is monotonic),
                // then rounded half to even without a call to rintf.
                w.line("const float z = \(zero);")
                w.line("float q = \(e.x(0))[i] / \(e.x(1))[\(k)];")
                w.line("if (q < \(CSyntax.float(Float(low))) - z) q = \(CSyntax.float(Float(low))) - z;")
                w.line("if (q > \(CSyntax.float(Float(high))) - z) q = \(CSyntax.float(Float(high))) - z;")
                w.line("const float rounded = whittle_round_small(q) + z;")
                w.line("\(e.y(0))[i] = (\(t))rounded;")
                return
            }
            // rintf rounds half to even in the default rounding mode.
            w.line("float q = rintf(\(e.x(0))[i] / \(e.x(1))[\(k)]) + \(zero);")
            w.line("if (q < \(CSyntax.float(Float(low)))) q = \(CSyntax.float(Float(low)));")
            w.line("if (q > \(CSyntax.float(Float(high)))) q = \(CSyntax.float(Float(high)));")
            w.line("\(e.y(0))[i] = (\(t))q;")
        }, &w)
    }

    static let dequantizeKernel: CKernel = { e, w in
        let x = try e.inputShape(0)
        if try NarrowC.isNarrow(e.inputType(0).elementType) { return try narrowDequantize(e, &w) }
        guard e.elementType == .float, try e.inputType(0).elementType.isInteger else {
            throw WhittleError(.unsupported, "DequantizeLinear to \(e.elementType.name) is not supported by the C back end")
        }
        let perAxis = (try e.inputShape(1)).reduce(1, *) > 1
        let zeroIndex = try zeroPointIndexed(e)
        let (low, high) = try e.inputType(0).elementType.integerRange
        try loops(e, shape: x, perAxis: perAxis, { w, k in
            let zero = "\(e.x(2))[\(zeroIndex ? k : "0")]"
            if !e.has(2) {
                w.line("\(e.y(0))[i] = (float)\(e.x(0))[i] * \(e.x(1))[\(k)];")
            } else if high - low <= 65535 {
                // Both converted first: exact for types of at most 16 bits (differences below 2^24).
                w.line("\(e.y(0))[i] = ((float)\(e.x(0))[i] - (float)\(zero)) * \(e.x(1))[\(k)];")
            } else {
                // 32-bit inputs: the difference in int64 (no overflow), rounded to float once.
                w.line("const int64_t d = (int64_t)\(e.x(0))[i] - (int64_t)\(zero);")
                w.line("\(e.y(0))[i] = (float)d * \(e.x(1))[\(k)];")
            }
        }, &w)
    }

    /// QuantizeLinear to 4- or 2-bit integers (rounded, saturated to the type, packed) or to the
    /// 8- and 4-bit floats (x / scale + zero point, encoded with the node's saturation).
    static func narrowQuantize(_ e: NodeEmission, _ w: inout CWriter) throws {
        let x = try e.inputShape(0), type = e.elementType
        guard try e.inputType(0).elementType == .float else {
            throw WhittleError(.unsupported, "QuantizeLinear from \(try e.inputType(0).elementType.name) is not supported by the C back end")
        }
        let perAxis = (try e.inputShape(1)).reduce(1, *) > 1
        let zeroIndex = try zeroPointIndexed(e)
        try NarrowC.clear(e, &w)
        let (low, high) = type.integerRange
        let zeroType = e.has(2) ? try e.inputType(2).elementType : type
        let encoded = try NarrowC.encode("q", type, e)
        try loops(e, shape: x, perAxis: perAxis, { w, k in
            let zero = e.has(2) ? "(float)\(NarrowC.read(e.x(2), zeroIndex ? k : "0", zeroType))" : "0.0f"
            if type.isMiniFloat {
                w.line("const float q = \(e.x(0))[i] / \(e.x(1))[\(k)] + \(zero);")
                w.line(NarrowC.write(e.y(0), "i", type, encoded))
            } else {
                w.line("float q = rintf(\(e.x(0))[i] / \(e.x(1))[\(k)]) + \(zero);")
                w.line("q = q < \(CSyntax.float(Float(low))) ? \(CSyntax.float(Float(low))) : (q > \(CSyntax.float(Float(high))) ? \(CSyntax.float(Float(high))) : q);")
                w.line(NarrowC.write(e.y(0), "i", type, "(int)q"))
            }
        }, &w)
    }

    /// DequantizeLinear from the narrow types: (x - zero point) * scale.
    static func narrowDequantize(_ e: NodeEmission, _ w: inout CWriter) throws {
        let x = try e.inputShape(0), type = try e.inputType(0).elementType
        guard e.elementType == .float else { throw WhittleError(.unsupported, "DequantizeLinear to \(e.elementType.name) is not supported by the C back end") }
        let perAxis = (try e.inputShape(1)).reduce(1, *) > 1
        let zeroIndex = try zeroPointIndexed(e)
        try loops(e, shape: x, perAxis: perAxis, { w, k in
            let zero = e.has(2) ? " - (float)\(NarrowC.read(e.x(2), zeroIndex ? k : "0", type))" : ""
            w.line("\(e.y(0))[i] = ((float)\(NarrowC.read(e.x(0), "i", type))\(zero)) * \(e.x(1))[\(k)];")
        }, &w)
    }
}
