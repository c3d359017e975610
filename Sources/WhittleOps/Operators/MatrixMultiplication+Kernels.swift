import WhittleIR

/// Reference kernels of Gemm, MatMul and their integer forms.
extension MatrixOperators {
    static var kernels: [String: Kernel] {
        ["Gemm": gemmKernel, "MatMul": matMulKernel, "MatMulInteger": matMulIntegerKernel, "QLinearMatMul": qlinearMatMulKernel]
    }

    /// Batched matrix product with NumPy broadcasting of the batch dimensions.
    static func product<T: FloatingPoint>(_ a: [T], _ aShape: [Int], _ b: [T], _ bShape: [Int], outShape: [Int]) -> [T] {
        let a2 = aShape.count == 1 ? [1] + aShape : aShape
        let b2 = bShape.count == 1 ? bShape + [1] : bShape
        let m = a2[a2.count - 2], k = a2[a2.count - 1], n = b2[b2.count - 1]
        let aBatch = Array(a2.dropLast(2)), bBatch = Array(b2.dropLast(2))
        let batch = Shape.broadcast(aBatch, bBatch) ?? []
        let ia = Indexing.broadcast(from: aBatch, to: batch), ib = Indexing.broadcast(from: bBatch, to: batch)
        var out = [T](repeating: 0, count: ia.count * m * n)
        a.withUnsafeBufferPointer { ap in
            b.withUnsafeBufferPointer { bp in
                out.withUnsafeMutableBufferPointer { op in
                    for t in 0..<ia.count {
                        let aBase = ia[t] * m * k, bBase = ib[t] * k * n, oBase = t * m * n
                        // i-p-j order walks B and the output row by row.
                        for i in 0..<m {
                            for p in 0..<k {
                                let av = ap[aBase + i * k + p]
                                for j in 0..<n { op[oBase + i * n + j] += av * bp[bBase + p * n + j] }
                            }
                        }
                    }
                }
            }
        }
        return out
    }

    static let gemmKernel: Kernel = { ctx in
        let a = try ctx.input(0), b = try ctx.input(1)
        let transA = try ctx.node.int("transA", default: 0) != 0, transB = try ctx.node.int("transB", default: 0) != 0
        let alpha = try ctx.node.float("alpha", default: 1), beta = try ctx.node.float("beta", default: 1)
        let outShape = try ctx.outputShape()
        func transposed(_ x: NDArray) -> ([Float], [Int]) {
            let v = x.floats, r = x.shape[0], c = x.shape[1]
            return ((0..<(r * c)).map { v[($0 % r) * c + $0 / r] }, [c, r])
        }
        let (av, aShape) = transA ? transposed(a) : (a.floats, a.shape)
        let (bv, bShape) = transB ? transposed(b) : (b.floats, b.shape)
        var out = product(av, aShape, bv, bShape, outShape: outShape)
        if alpha != 1 { out = out.map { $0 * alpha } }
        if let c = ctx.optionalInput(2) {
            let index = Indexing.broadcast(from: c.shape, to: outShape)
            let cv = c.floats
            for i in out.indices { out[i] += beta * cv[index[i]] }
        }
        return [NDArray(a.elementType, shape: outShape, floats: out)]
    }

    static let matMulKernel: Kernel = { ctx in
        let a = try ctx.input(0), b = try ctx.input(1)
        let outShape = try ctx.outputShape()
        switch (a.storage, b.storage) {
        case (.double(let x), .double(let y)):
            return [NDArray(shape: outShape, doubles: product(x, a.shape, y, b.shape, outShape: outShape))]
        case (.int, .int):
            return [NDArray(a.elementType, shape: outShape, values: product(a.doubles, a.shape, b.doubles, b.shape, outShape: outShape))]
        default:
            return [NDArray(a.elementType, shape: outShape, floats: product(a.floats, a.shape, b.floats, b.shape, outShape: outShape))]
        }
    }

    /// `a - a_zero_point` (scalar or one per row of A) and `b - b_zero_point` (scalar or one per column of B).
    static func centeredOperands(_ ctx: EvaluationContext, a: Int, aZero: Int, b: Int, bZero: Int) throws -> ([Double], [Double]) {
        let x = try ctx.input(a), y = try ctx.input(b)
        var xv = x.doubles, yv = y.doubles
        if let z = ctx.optionalInput(aZero)?.doubles, !z.isEmpty {
            let k = x.shape.last ?? 1
            for i in xv.indices { xv[i] -= z.count == 1 ? z[0] : z[(i / k) % z.count] }
        }
        if let z = ctx.optionalInput(bZero)?.doubles, !z.isEmpty {
            let n = y.shape.last ?? 1
            for i in yv.indices { yv[i] -= z.count == 1 ? z[0] : z[(i % n) % z.count] }
        }
        return (xv, yv)
    }

    static let matMulIntegerKernel: Kernel = { ctx in
        let (x, y) = try centeredOperands(ctx, a: 0, aZero: 2, b: 1, bZero: 3)
        let outShape = try ctx.outputShape()
        return [NDArray(.int32, shape: outShape, values: product(x, try ctx.input(0).shape, y, try ctx.input(1).shape, outShape: outShape))]
    }

    /// QLinearMatMul as ONNX Runtime computes it: exact accumulation, float multiplier, round half to even, saturate.
    static let qlinearMatMulKernel: Kernel = { ctx in
        let (x, y) = try centeredOperands(ctx, a: 0, aZero: 2, b: 3, bZero: 5)
        let outShape = try ctx.outputShape()
        let acc = product(x, try ctx.input(0).shape, y, try ctx.input(3).shape, outShape: outShape)
        let n = outShape.last ?? 1
        let aScale = try ctx.parameters(1, what: "a_scale", count: 1)[0], yScale = try ctx.parameters(6, what: "y_scale", count: 1)[0]
        let bScale = try ctx.parameters(4, what: "b_scale", count: n)
        let yZero = Double(ctx.optionalInput(7)?.ints.first ?? 0)
        let type = ctx.outputType()
        let out = acc.indices.map { i -> Int64 in
            let multiplier = aScale * bScale[bScale.count == 1 ? 0 : (i % n)] / yScale
            return QuantizationOperators.saturate(Double((Float(acc[i]) * multiplier).rounded(.toNearestOrEven)) + yZero, type)
        }
        return [NDArray(type, shape: outShape, ints: out)]
    }
}
