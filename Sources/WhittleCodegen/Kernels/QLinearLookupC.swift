import WhittleIR
import WhittleOps

/// ONNX Runtime's table-driven QOperator layers (QLinearLeakyRelu, QLinearSigmoid, QLinearConcat, QLinearWhere): the tables
/// `QLinearLookupOperators` builds are baked, and the loops map each input byte through them.
enum QLinearLookupC {
    static var kernels: [String: CKernel] {
        ["com.microsoft.QLinearLeakyRelu": leakyRelu, "com.microsoft.QLinearSigmoid": sigmoid, "com.microsoft.QLinearConcat": concat,
         "com.microsoft.QLinearWhere": qlinearWhere]
    }

    /// One table as a C array of the output type.
    static func table(_ name: String, _ values: [Int64], _ e: NodeEmission) -> String {
        "static const \(CSyntax.type(e.elementType) ?? "uint8_t") \(name)[256] = {\(values.map(String.init).joined(separator: ", "))};"
    }

    static func scale(_ e: NodeEmission, _ index: Int, _ what: String) throws -> Float {
        let t = try QuantizedC.constant(e, index, what: what)
        guard let first = t.floats().first, t.count == 1 else { throw WhittleError(.unsupported, "\(what) must be one value") }
        return first
    }

    static let leakyRelu: CKernel = { e, w in
        try lookup(e, &w, QLinearLookupOperators.leakyReluTable(
            alpha: try e.context.float("alpha", default: 0.01), xScale: try scale(e, 1, "X_scale"), xZero: QuantizedC.zero(e, 2),
            yScale: try scale(e, 3, "Y_scale"), yZero: QuantizedC.zero(e, 4), type: e.elementType))
    }

    static let sigmoid: CKernel = { e, w in
        try lookup(e, &w, QLinearLookupOperators.sigmoidTable(xScale: try scale(e, 1, "X_scale"), xZero: QuantizedC.zero(e, 2),
                                                              yScale: try scale(e, 3, "Y_scale"), yZero: QuantizedC.zero(e, 4),
                                                              type: e.elementType))
    }

    /// Every element of input 0 through one table.
    static func lookup(_ e: NodeEmission, _ w: inout CWriter, _ values: [Int64]) throws {
        let count = try e.outputShape().reduce(1, *)
        w.line(table("table", values, e))
        w.line("for (int i = 0; i < \(count); ++i) \(e.y(0))[i] = table[(uint8_t)\(e.x(0))[i]];")
    }

    static let concat: CKernel = { e, w in
        let shape = try e.outputShape(), count = (e.node.inputs.count - 2) / 3
        let axis = try Shape.normalizeAxis(try e.context.int("axis", default: 0), rank: shape.count)
        let inner = shape[(axis + 1)...].reduce(1, *), outer = shape[..<axis].reduce(1, *)
        let inputs = try (0..<count).map { k in (scale: try scale(e, 3 + 3 * k, "X_scale"), zero: QuantizedC.zero(e, 4 + 3 * k)) }
        let tables = QLinearLookupOperators.concatTables(inputs, yScale: try scale(e, 0, "Y_scale"), yZero: QuantizedC.zero(e, 1),
                                                         type: e.elementType)
        let pitches = try (0..<count).map { k in try e.inputShape(2 + 3 * k)[axis] * inner }
        for (k, values) in tables.enumerated() { if let values { w.line(table("table\(k)", values, e)) } }
        let type = CSyntax.type(e.elementType) ?? "uint8_t"
        // Each input's slice of every outer index, mapped through its table (or copied when its
        // scale and zero point are the output's).
        w.block("for (int o = 0; o < \(outer); ++o)") { w in
            w.line("\(type) *out = \(e.y(0)) + o * \(pitches.reduce(0, +));")
            for k in 0..<count where pitches[k] > 0 {
                let input = "\(e.x(2 + 3 * k)) + o * \(pitches[k])"
                if tables[k] != nil {
                    w.line("for (int i = 0; i < \(pitches[k]); ++i) out[\(pitches[..<k].reduce(0, +)) + i] = table\(k)[(uint8_t)(\(input))[i]];")
                } else {
                    w.line("memcpy(out + \(pitches[..<k].reduce(0, +)), \(input), \(pitches[k]));")
                }
            }
        }
    }

    /// Where over the broadcast inputs, X and Y each through its table (or as they are when they have Z's
    /// scale and zero point).
    static let qlinearWhere: CKernel = { e, w in
        let shape = try e.outputShape()
        let (tx, ty) = QLinearLookupOperators.whereTables(x: (try scale(e, 2, "X_scale"), QuantizedC.zero(e, 3)),
                                                          y: (try scale(e, 5, "Y_scale"), QuantizedC.zero(e, 6)),
                                                          zScale: try scale(e, 7, "Z_scale"), zZero: QuantizedC.zero(e, 8), type: e.elementType)
        if let tx { w.line(table("table_x", tx, e)) }
        if let ty { w.line(table("table_y", ty, e)) }
        let operands = [StridedOperand(name: "y", strides: Shape.strides(shape))]
            + [0, 1, 4].map { StridedOperand.broadcast("x\($0)", shape: (try? e.inputShape($0)) ?? [], to: shape) }
        w.loopNest(shape, operands) { idx in
            let x = tx == nil ? "\(e.x(1))[\(idx[2])]" : "table_x[(uint8_t)\(e.x(1))[\(idx[2])]]"
            let y = ty == nil ? "\(e.x(4))[\(idx[3])]" : "table_y[(uint8_t)\(e.x(4))[\(idx[3])]]"
            return ["\(e.y(0))[\(idx[0])] = \(e.x(0))[\(idx[1])] ? \(x) : \(y);"]
        }
    }
}
