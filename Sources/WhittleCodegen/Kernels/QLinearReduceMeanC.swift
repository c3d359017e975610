import WhittleIR
import WhittleOps

/// C for ONNX Runtime's QLinearReduceMean, in the interpreter's arithmetic: an exact integer sum of
/// data − zero point over the reduced axes, the mean data_scale · sum / count in float32, divided by
/// reduced_scale, rounded half to even, plus the zero point, saturated.
enum QLinearReduceMeanC {
    static var kernels: [String: CKernel] { ["com.microsoft.QLinearReduceMean": kernel] }

    static let kernel: CKernel = { e, w in
        let x = try e.inputShape(0)
        guard let axes = try e.context.ints("axes"), !axes.isEmpty else { throw WhittleError(.invalidAttribute, "attribute axes is required") }
        let reduced = Set(try axes.map { try Shape.normalizeAxis($0, rank: x.count) }).sorted()
        let dataScale = try QuantizedC.constant(e, 1, what: "data_scale").floats()[0]
        let reducedScale = try QuantizedC.constant(e, 3, what: "reduced_scale").floats()[0]
        let zero = QuantizedC.zero(e, 2), outZero = QuantizedC.zero(e, 4)
        let strides = Shape.strides(x)
        let kept = x.indices.filter { !reduced.contains($0) }
        let count = reduced.map { x[$0] }.reduce(1, *)
        let sum = QuantizedC.accumulator(reach: Double(count) * 255)
        w.line("int out = 0;")
        w.loopNest(kept.map { x[$0] }, [StridedOperand(name: "x", strides: kept.map { strides[$0] })]) { outer in
            var inner = CWriter()
            inner.line("\(sum) sum = 0;")
            inner.loopNest(reduced.map { x[$0] }, [StridedOperand(name: "x", strides: reduced.map { strides[$0] })], prefix: "r") { r in
                ["sum += (int32_t)\(e.x(0))[\(outer[0]) + \(r[0])] - \(zero);"]
            }
            inner.line("const float mean = (float)sum * \(CSyntax.hexFloat(dataScale)) / \(CSyntax.hexFloat(Float(max(count, 1))));")
            inner.block("") { w in w.lines(QuantizedC.store("\(e.y(0))[out]", "mean / \(CSyntax.hexFloat(reducedScale))", zero: outZero, e)) }
            inner.line("++out;")
            return inner.lines
        }
    }
}
