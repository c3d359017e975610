import WhittleIR

/// Gemm, MatMul and their integer forms.
enum MatrixOperators {
    static var all: [OperatorDefinition] {
        [gemm, matMul("MatMul", a: 0, b: 1, inputs: 2...2), matMul("MatMulInteger", a: 0, b: 1, inputs: 2...4).requiringEightBitIntegers([[0, 2], [1, 3]]),
         matMul("QLinearMatMul", a: 0, b: 3, inputs: 8...8).requiringEightBitIntegers([[0, 2], [3, 5], [7]])]
    }

    static let gemm = OperatorDefinition("Gemm", infer: { ctx in
        try ctx.expectInputs(2, 3)
        let a = try ctx.shape(0), b = try ctx.shape(1)
        guard a.count == 2, b.count == 2 else {
            throw WhittleError(.shapeMismatch, "A \(Shape.describe(a)) and B \(Shape.describe(b)) must be matrices")
        }
        let transA = try ctx.int("transA", default: 0) != 0, transB = try ctx.int("transB", default: 0) != 0
        let (m, k) = transA ? (a[1], a[0]) : (a[0], a[1])
        let (kb, n) = transB ? (b[1], b[0]) : (b[0], b[1])
        guard k == kb else {
            throw WhittleError(.shapeMismatch,
                "inner dimensions differ: A\(transA ? "ᵀ" : "") is \(m)x\(k), B\(transB ? "ᵀ" : "") is \(kb)x\(n)")
        }
        if ctx.has(2) {
            let c = try ctx.shape(2)
            guard Shape.broadcast(c, [m, n]) == [m, n] else {
                throw WhittleError(.shapeMismatch, "C \(Shape.describe(c)) does not broadcast to \(m)x\(n)")
            }
        }
        return [TensorType(try ctx.type(0).elementType, [m, n])]
    }, macs: { ctx, outputs in
        guard let out = outputs.first?.shape, let a = try? ctx.shape(0) else { return 0 }
        let k = try? ctx.int("transA", default: 0) != 0 ? a[0] : a[1]
        return Shape.saturatingProduct(out + [k ?? 0])
    })

    /// MatMul with NumPy semantics: 1-D operands are promoted, batch dimensions broadcast.
    static func matMul(_ name: String, a: Int, b: Int, inputs: ClosedRange<Int>) -> OperatorDefinition {
        OperatorDefinition(name, infer: { ctx in
            try ctx.expectInputs(inputs.lowerBound, inputs.upperBound)
            let type: ElementType = switch name {
            case "MatMulInteger": .int32
            case "QLinearMatMul": try ctx.type(7).elementType
            default: try ctx.type(a).elementType
            }
            return [TensorType(type, try productShape(ctx.shape(a), ctx.shape(b)))]
        }, macs: { ctx, outputs in
            guard let out = outputs.first?.shape, let sa = try? ctx.shape(a) else { return 0 }
            return Shape.saturatingProduct(out + [sa.last ?? 1])
        })
    }

    static func productShape(_ a: [Int], _ b: [Int]) throws -> [Int] {
        guard !a.isEmpty, !b.isEmpty else { throw WhittleError(.shapeMismatch, "MatMul operands must not be scalars") }
        let a2 = a.count == 1 ? [1] + a : a
        let b2 = b.count == 1 ? b + [1] : b
        guard a2[a2.count - 1] == b2[b2.count - 2] else {
            throw WhittleError(.shapeMismatch, "inner dimensions differ: \(Shape.describe(a)) times \(Shape.describe(b))")
        }
        guard let batch = Shape.broadcast(Array(a2.dropLast(2)), Array(b2.dropLast(2))) else {
            throw WhittleError(.shapeMismatch, "batch dimensions of \(Shape.describe(a)) and \(Shape.describe(b)) do not broadcast")
        }
        var out = batch + [a2[a2.count - 2], b2[b2.count - 1]]
        if b.count == 1 { out.removeLast() }
        if a.count == 1 { out.remove(at: out.count - (b.count == 1 ? 1 : 2)) }
        return out
    }
}
