import WhittleIR

/// RNN, LSTM and GRU, with their optional inputs and outputs and the `layout` attribute (opset 14).
enum RecurrentOperators {
    static var all: [OperatorDefinition] { [recurrent("RNN", gates: 1), recurrent("LSTM", gates: 4), recurrent("GRU", gates: 3)] }

    static func recurrent(_ name: String, gates: Int) -> OperatorDefinition {
        OperatorDefinition(name, infer: { ctx in
            try ctx.expectInputs(3, name == "LSTM" ? 8 : 6)
            guard ctx.node.outputs.count <= (name == "LSTM" ? 3 : 2) else {
                throw WhittleError(.invalidGraph, "\(name) has at most \(name == "LSTM" ? 3 : 2) outputs, found \(ctx.node.outputs.count)")
            }
            let x = try ctx.shape(0), w = try ctx.shape(1), r = try ctx.shape(2)
            let layout = try ctx.int("layout", default: 0)
            guard x.count == 3, w.count == 3, r.count == 3 else {
                throw WhittleError(.shapeMismatch, "X, W and R must have rank 3")
            }
            let direction = try ctx.string("direction", default: "forward")
            guard ["forward", "reverse", "bidirectional"].contains(direction) else {
                throw WhittleError(.invalidAttribute, "direction \"\(direction)\" is not forward, reverse or bidirectional")
            }
            let directions = direction == "bidirectional" ? 2 : 1
            let hidden = try ctx.int("hidden_size") ?? (r[2])
            guard hidden > 0, hidden <= 1 << 31 else {
                throw WhittleError(.invalidAttribute, "hidden_size \(hidden) is out of range")
            }
            let (sequence, batch) = layout == 0 ? (x[0], x[1]) : (x[1], x[0])
            guard w == [directions, gates * hidden, x[2]], r == [directions, gates * hidden, hidden] else {
                throw WhittleError(.shapeMismatch,
                    "W \(Shape.describe(w)) / R \(Shape.describe(r)) do not match \(directions) direction(s), hidden size \(hidden) and input size \(x[2])")
            }
            // The optional inputs' shapes, checked here so that no kernel reads past them.
            let state0 = layout == 0 ? [directions, batch, hidden] : [batch, directions, hidden]
            let expected: [(Int, String, [Int])] = [(3, "B", [directions, 2 * gates * hidden]), (4, "sequence_lens", [batch]),
                                                    (5, "initial_h", state0), (6, "initial_c", state0), (7, "P", [directions, 3 * hidden])]
            for (index, label, shape) in expected where ctx.has(index) {
                guard try ctx.shape(index) == shape else {
                    throw WhittleError(.shapeMismatch, "\(label) is \(Shape.describe(try ctx.shape(index))), not \(Shape.describe(shape))")
                }
            }
            if ctx.has(4), try ctx.type(4).elementType != .int32 { throw WhittleError(.shapeMismatch, "sequence_lens must be int32") }
            let type = try ctx.type(0).elementType
            let y = layout == 0 ? [sequence, directions, batch, hidden] : [batch, sequence, directions, hidden]
            let state = layout == 0 ? [directions, batch, hidden] : [batch, directions, hidden]
            let shapes = [y, state, state]
            return (0..<ctx.node.outputs.count).map { TensorType(type, shapes[Swift.min($0, 2)]) }
        }, macs: { ctx, _ in
            guard let x = try? ctx.shape(0), let w = try? ctx.shape(1), let r = try? ctx.shape(2),
                  let layout = try? ctx.int("layout", default: 0) else { return 0 }
            let (sequence, batch) = layout == 0 ? (x[0], x[1]) : (x[1], x[0])
            // Per step and direction: gates*hidden outputs, each a dot over input + hidden.
            return Shape.saturatingProduct([sequence, batch, w[0], w[1], x[2] + r[2]])
        })
    }
}
