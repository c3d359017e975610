import WhittleIR

/// Einsum (sums of products over labelled axes, with "..." for broadcast axes and repeated labels for
/// diagonals) and Det.
public enum LinearAlgebraOperators {
    static var all: [OperatorDefinition] { [einsum, det] }
    static var kernels: [String: Kernel] { ["Einsum": einsumKernel, "Det": detKernel] }

    /// Determinants of the trailing square matrices.
    static let det = OperatorDefinition("Det", infer: { ctx in
        try ctx.expectInputs(1, 1)
        let x = try ctx.type(0), xs = try ctx.shape(0)
        guard x.elementType.isFloatingPoint, xs.count >= 2, xs[xs.count - 1] == xs[xs.count - 2] else {
            throw WhittleError(.shapeMismatch, "Det takes floating-point square matrices, found \(x)")
        }
        return [TensorType(x.elementType, Array(xs.dropLast(2)))]
    })

    /// LU decomposition with partial pivoting, in double precision.
    static let detKernel: Kernel = { ctx in
        let x = try ctx.input(0), v = x.doubles
        let n = x.shape[x.rank - 1], count = x.shape.dropLast(2).reduce(1, *)
        var out: [Double] = []
        for m in 0..<count {
            var a = Array(v[(m * n * n)..<((m + 1) * n * n)])
            var det = 1.0
            for c in 0..<n {
                var pivot = c
                for r in (c + 1)..<Swift.max(n, c + 1) where abs(a[r * n + c]) > abs(a[pivot * n + c]) { pivot = r }
                if a[pivot * n + c] == 0 { det = 0; break }
                if pivot != c {
                    for k in 0..<n { a.swapAt(c * n + k, pivot * n + k) }
                    det = -det
                }
                det *= a[c * n + c]
                for r in (c + 1)..<Swift.max(n, c + 1) {
                    let f = a[r * n + c] / a[c * n + c]
                    for k in c..<n { a[r * n + k] -= f * a[c * n + k] }
                }
            }
            out.append(det)
        }
        return [NDArray(x.elementType, shape: Array(x.shape.dropLast(2)), values: out)]
    }

    static let einsum = OperatorDefinition("Einsum", infer: { ctx in
        guard ctx.node.inputs.count >= 1 else { throw WhittleError(.invalidGraph, "Einsum needs inputs") }
        let plan = try EinsumPlan(ctx)
        let type = try ctx.type(0).elementType
        for i in 1..<ctx.node.inputs.count where try ctx.type(i).elementType != type {
            throw WhittleError(.shapeMismatch, "Einsum inputs must share one type")
        }
        return [TensorType(type, plan.outputShape)]
    }, macs: { ctx, _ in
        guard let plan = try? EinsumPlan(ctx) else { return 0 }
        return Shape.saturatingProduct(plan.sizes)
    })

    static let einsumKernel: Kernel = { ctx in
        let plan = try EinsumPlan(ctx.node)
        let inputs = try (0..<ctx.node.node.inputs.count).map { try ctx.input($0) }
        let values = inputs.map(\.doubles)
        let type = inputs[0].elementType
        let outputStrides = plan.outputStrides
        var out = [Double](repeating: 0, count: plan.outputShape.reduce(1, *))
        let total = plan.sizes.reduce(1, *)
        let labelStrides = Shape.strides(plan.sizes)
        for f in 0..<total {
            var product = 1.0, at = 0
            for (k, strides) in plan.inputStrides.enumerated() {
                var index = 0
                for (l, stride) in strides.enumerated() where stride != 0 { index += f / labelStrides[l] % plan.sizes[l] * stride }
                product *= values[k][index]
            }
            for (l, stride) in outputStrides.enumerated() where stride != 0 { at += f / labelStrides[l] % plan.sizes[l] * stride }
            out[at] += product
        }
        return [NDArray(type, shape: plan.outputShape, values: out)]
    }
}

/// An Einsum equation resolved against its input shapes: every label (ellipsis axes included) with its
/// size, the output's labels, and for each input and the output the stride of each label.
public struct EinsumPlan: Sendable {
    /// The size of each label, in label order.
    public var sizes: [Int] = []
    public var outputShape: [Int] = []
    /// For each input, the element stride of each label in it (0 where it does not appear).
    public var inputStrides: [[Int]] = []
    public var outputStrides: [Int] = []

    public init(_ ctx: InferenceContext) throws {
        guard let equation = try ctx.string("equation") else { throw WhittleError(.invalidAttribute, "Einsum needs an equation") }
        let text = equation.filter { $0 != " " }
        let parts = text.components(separatedBy: "->")
        guard parts.count <= 2 else { throw WhittleError(.invalidAttribute, "equation \"\(equation)\" has more than one ->") }
        let terms = parts[0].components(separatedBy: ",")
        guard terms.count == ctx.node.inputs.count else {
            throw WhittleError(.invalidAttribute, "equation \"\(equation)\" names \(terms.count) inputs, the node has \(ctx.node.inputs.count)")
        }
        // Labels: letters, and "0", "1", ... for the ellipsis axes counted from the right.
        var labelSize: [String: Int] = [:], order: [String] = [], ellipsisRank = 0
        var inputLabels: [[String]] = []
        for (i, term) in terms.enumerated() {
            let shape = try ctx.shape(i)
            let explicit = term.replacingOccurrences(of: "...", with: "").map(String.init)
            guard explicit.allSatisfy({ $0.count == 1 && $0.first!.isLetter }) else {
                throw WhittleError(.invalidAttribute, "equation term \"\(term)\" must be letters and at most one ...")
            }
            let hasEllipsis = term.contains("...")
            let ellipsis = shape.count - explicit.count
            guard ellipsis >= 0, hasEllipsis || ellipsis == 0 else {
                throw WhittleError(.shapeMismatch, "term \"\(term)\" does not match input \(i) of shape \(Shape.describe(shape))")
            }
            ellipsisRank = Swift.max(ellipsisRank, ellipsis)
            var labels: [String] = []
            let pieces = term.components(separatedBy: "...")
            labels += pieces[0].map(String.init)
            if hasEllipsis { labels += (0..<ellipsis).reversed().map { "\($0)" } }
            if pieces.count > 1 { labels += pieces[1].map(String.init) }
            for (label, size) in zip(labels, shape) {
                if let known = labelSize[label], known != size {
                    // Ellipsis axes broadcast; a letter's sizes must agree.
                    guard label.first!.isNumber, known == 1 || size == 1 else {
                        throw WhittleError(.shapeMismatch, "label \(label) has sizes \(known) and \(size)")
                    }
                    labelSize[label] = Swift.max(known, size)
                } else if labelSize[label] == nil {
                    labelSize[label] = size
                    order.append(label)
                }
            }
            inputLabels.append(labels)
        }
        let ellipsisLabels = (0..<ellipsisRank).reversed().map { "\($0)" }
        var outputLabels: [String]
        if parts.count == 2 {
            let pieces = parts[1].components(separatedBy: "...")
            outputLabels = pieces[0].map(String.init) + (pieces.count > 1 ? ellipsisLabels + pieces[1].map(String.init) : [])
            for label in outputLabels where labelSize[label] == nil {
                throw WhittleError(.invalidAttribute, "output label \(label) appears in no input")
            }
        } else {
            // Implicit output: the ellipsis axes, then the letters used once, in alphabetical order.
            let counts = inputLabels.flatMap { $0 }.reduce(into: [String: Int]()) { $0[$1, default: 0] += 1 }
            outputLabels = ellipsisLabels + counts.keys.filter { $0.first!.isLetter && counts[$0] == 1 }.sorted()
        }
        let labels = order.sorted { a, b in (outputLabels.firstIndex(of: a) ?? Int.max, a) < (outputLabels.firstIndex(of: b) ?? Int.max, b) }
        sizes = labels.map { labelSize[$0] ?? 1 }
        outputShape = outputLabels.map { labelSize[$0] ?? 1 }
        for (i, own) in inputLabels.enumerated() {
            let shape = try ctx.shape(i), strides = Shape.strides(shape)
            var perLabel = [Int](repeating: 0, count: labels.count)
            for (axis, label) in own.enumerated() where shape[axis] != 1 || labelSize[label] == 1 {
                if let l = labels.firstIndex(of: label) { perLabel[l] += strides[axis] }
            }
            inputStrides.append(perLabel)
        }
        let strides = Shape.strides(outputShape)
        outputStrides = labels.map { label in outputLabels.firstIndex(of: label).map { strides[$0] } ?? 0 }
    }
}
