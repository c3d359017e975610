import WhittleIR
import WhittleOps

/// RNN, LSTM and GRU on the library kernel `whittle_recurrent_f32` (CKernels/recurrent.c): the emitter
/// bakes the layer's sizes and attributes into a `whittle_rnn` and passes the optional inputs and
/// outputs, or NULL.
enum RecurrentC {
    static var kernels: [String: CKernel] {
        ["RNN": { try emit($0, &$1, gates: 1) }, "LSTM": { try emit($0, &$1, gates: 4) }, "GRU": { try emit($0, &$1, gates: 3) }]
    }

    static var scratchNeeds: [String: @Sendable (NodeEmission) throws -> Int] {
        ["RNN": { try scratch($0, gates: 1) }, "LSTM": { try scratch($0, gates: 4) }, "GRU": { try scratch($0, gates: 3) }]
    }

    /// The kernel's working memory: states, gate sums and one more row (see whittle_kernels.h).
    static func scratch(_ e: NodeEmission, gates: Int) throws -> Int {
        4 * (3 + 2 * gates) * (try hidden(e))
    }

    static func hidden(_ e: NodeEmission) throws -> Int {
        if let h = try e.context.int("hidden_size") { return h }
        return try e.inputShape(2)[2]
    }

    /// Activation numbers of `whittle_rnn` (whittle_kernels.h), by ONNX name; whether it takes alpha/beta.
    static let activations: [String: (code: Int, parameters: Bool)] = [
        "Sigmoid": (0, false), "Tanh": (1, false), "Relu": (2, false), "Affine": (3, true), "LeakyRelu": (4, true),
        "ThresholdedRelu": (5, true), "ScaledTanh": (6, true), "HardSigmoid": (7, true), "Elu": (8, true),
        "Softsign": (9, false), "Softplus": (10, false),
    ]

    /// ONNX's defaults for an activation's alpha and beta when the node does not give them.
    static func defaults(_ name: String) -> (Float, Float) {
        switch name {
        case "LeakyRelu": (0.01, 0)
        case "HardSigmoid": (0.2, 0.5)
        case "Affine", "ThresholdedRelu", "ScaledTanh", "Elu": (1, name == "ScaledTanh" ? 1 : 0)
        default: (0, 0)
        }
    }

    static func emit(_ e: NodeEmission, _ w: inout CWriter, gates: Int) throws {
        let lstm = gates == 4, rnn = gates == 1
        guard e.elementType == .float, try e.inputType(0).elementType == .float else {
            throw WhittleError(.unsupported, "the C back end computes \(e.node.opType) in float32 only")
        }
        let x = try e.inputShape(0)
        guard x.count == 3 else { throw WhittleError(.shapeMismatch, "input X must have rank 3") }
        let layout = try e.context.int("layout", default: 0)
        let direction = try e.context.string("direction", default: "forward")
        let directions = direction == "bidirectional" ? 2 : 1
        let hidden = try hidden(e), per = lstm ? 3 : (rnn ? 1 : 2)
        let (steps, batch, inputs) = layout == 0 ? (x[0], x[1], x[2]) : (x[1], x[0], x[2])
        let names = try e.context.node.attributes["activations"].map { attribute -> [String] in
            guard case .strings(let s) = attribute else { throw WhittleError(.invalidAttribute, "activations must be STRINGS") }
            return s
        } ?? Array(repeating: lstm ? ["Sigmoid", "Tanh", "Tanh"] : (rnn ? ["Tanh"] : ["Sigmoid", "Tanh"]), count: directions).flatMap { $0 }
        guard names.count == per * directions else {
            throw WhittleError(.invalidAttribute, "activations lists \(names.count) functions; \(per * directions) expected")
        }
        // activation_alpha/beta apply, in order, to the listed functions that take them (as the interpreter reads them).
        let alphas = try e.context.floats("activation_alpha") ?? [], betas = try e.context.floats("activation_beta") ?? []
        var codes: [Int] = [], alpha: [Float] = [], beta: [Float] = [], index = 0
        for name in names {
            guard let a = activations[name] else { throw WhittleError(.unsupported, "activation \(name) is not supported") }
            let (da, db) = defaults(name)
            codes.append(a.code)
            alpha.append(a.parameters && index < alphas.count ? alphas[index] : da)
            beta.append(a.parameters && index < betas.count ? betas[index] : db)
            if a.parameters { index += 1 }
        }
        if e.has(4), try e.inputType(4).elementType != .int32 {
            throw WhittleError(.unsupported, "sequence_lens must be int32")
        }
        let clip = try e.context.float("clip").map { CSyntax.float($0) } ?? "0.0f"
        func list(_ values: [String]) -> String { "{" + (values + Array(repeating: "0", count: 6 - values.count)).joined(separator: ", ") + "}" }
        let fields = ["\(steps)", "\(batch)", "\(inputs)", "\(hidden)", "\(directions)", direction == "reverse" ? "1" : "0", "\(layout)",
                      "\(gates)", "\(try e.context.int("linear_before_reset", default: 0) != 0 ? 1 : 0)",
                      "\(try e.context.int("input_forget", default: 0) != 0 ? 1 : 0)", clip,
                      list(codes.map(String.init)), list(alpha.map(CSyntax.float)), list(beta.map(CSyntax.float))]
        w.line("/* \(names.joined(separator: ", ")) */")
        w.line("static const whittle_rnn g = {\(fields.joined(separator: ", "))};")
        func input(_ i: Int) -> String { e.has(i) ? e.x(i) : "NULL" }
        func output(_ i: Int) -> String { i < e.node.outputs.count && !e.node.outputs[i].isEmpty ? e.y(i) : "NULL" }
        guard let scratch = e.scratch else { throw WhittleError(.invalidGraph, "the recurrent layer has no planned scratch memory") }
        w.line("whittle_recurrent_f32(&g, \(e.x(0)), \(e.x(1)), \(e.x(2)), \(input(3)), \(input(4)), \(input(5)), "
            + "\(lstm ? input(6) : "NULL"), \(lstm ? input(7) : "NULL"), \(output(0)), \(output(1)), \(lstm ? output(2) : "NULL"), (float *)\(scratch));")
    }
}
