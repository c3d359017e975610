import WhittleIR

/// Reductions (ReduceMean, ReduceSum, ...) and ArgMax/ArgMin.
enum ReductionOperators {
    static var all: [OperatorDefinition] {
        ["ReduceMean", "ReduceSum", "ReduceMax", "ReduceMin", "ReduceProd", "ReduceL1", "ReduceL2", "ReduceSumSquare", "ReduceLogSum",
         "ReduceLogSumExp"].map(reduce)
            + [argReduce("ArgMax"), argReduce("ArgMin")]
    }

    static func reduce(_ name: String) -> OperatorDefinition {
        OperatorDefinition(name, infer: { ctx in
            let x = try ctx.shape(0)
            // ReduceSum takes axes as an input from opset 13, the others from opset 18.
            let axes = try ShapeManipulationOperators.axes(ctx, inputFrom: name == "ReduceSum" ? 13 : 18)
            let keep = try ctx.int("keepdims", default: 1) != 0
            let noopWhenEmpty = try ctx.int("noop_with_empty_axes", default: 0) != 0
            let reduced: Set<Int>
            if let axes, !axes.isEmpty {
                reduced = Set(try axes.map { try Shape.normalizeAxis($0, rank: x.count, name: "axes entry") })
            } else {
                reduced = noopWhenEmpty ? [] : Set(x.indices)
            }
            let out = x.indices.compactMap { reduced.contains($0) ? (keep ? 1 : nil) : x[$0] }
            return [TensorType(try ctx.type(0).elementType, out)]
        })
    }

    static func argReduce(_ name: String) -> OperatorDefinition {
        OperatorDefinition(name, infer: { ctx in
            try ctx.expectInputs(1, 1)
            let x = try ctx.shape(0)
            let axis = try Shape.normalizeAxis(ctx.int("axis", default: 0), rank: x.count)
            let keep = try ctx.int("keepdims", default: 1) != 0
            let out = x.indices.compactMap { $0 == axis ? (keep ? 1 : nil) : x[$0] }
            return [TensorType(.int64, out)]
        })
    }
}
