import Foundation
import WhittleIR

/// Reference kernels of RNN, LSTM and GRU, following the equations of the ONNX specification.
extension RecurrentOperators {
    static var kernels: [String: Kernel] {
        ["RNN": { try run($0, gates: 1) }, "LSTM": { try run($0, gates: 4) }, "GRU": { try run($0, gates: 3) }]
    }

    /// An activation function by its ONNX name, with its alpha/beta.
    static func activation(_ name: String, alpha: Double?, beta: Double?) throws -> (Double) -> Double {
        switch name {
        case "Sigmoid": return { 1 / (1 + Foundation.exp(-$0)) }
        case "Tanh": return { Foundation.tanh($0) }
        case "Relu": return { $0 < 0 ? 0 : $0 }
        case "Affine": let a = alpha ?? 1, b = beta ?? 0; return { a * $0 + b }
        case "LeakyRelu": let a = alpha ?? 0.01; return { $0 < 0 ? a * $0 : $0 }
        case "ThresholdedRelu": let a = alpha ?? 1; return { $0 > a ? $0 : 0 }
        case "ScaledTanh": let a = alpha ?? 1, b = beta ?? 1; return { a * Foundation.tanh(b * $0) }
        case "HardSigmoid": let a = alpha ?? 0.2, b = beta ?? 0.5; return { Swift.max(0, Swift.min(1, a * $0 + b)) }
        case "Elu": let a = alpha ?? 1; return { $0 < 0 ? a * (Foundation.exp($0) - 1) : $0 }
        case "Softsign": return { $0 / (1 + Swift.abs($0)) }
        case "Softplus": return { Foundation.log(1 + Foundation.exp($0)) }
        default: throw WhittleError(.unsupported, "activation \(name) is not supported")
        }
    }

    static func run(_ ctx: EvaluationContext, gates: Int) throws -> [NDArray] {
        let lstm = gates == 4, rnn = gates == 1
        let x = try ctx.input(0), w = try ctx.input(1).doubles, r = try ctx.input(2).doubles
        let layout = try ctx.node.int("layout", default: 0)
        let direction = try ctx.node.string("direction", default: "forward")
        let directions = direction == "bidirectional" ? 2 : 1
        let hidden = try ctx.node.int("hidden_size") ?? (try ctx.input(2).shape[2])
        let (steps, batch, inputSize) = layout == 0 ? (x.shape[0], x.shape[1], x.shape[2]) : (x.shape[1], x.shape[0], x.shape[2])
        let clip = try ctx.node.float("clip").map(Double.init)
        let linearBeforeReset = try ctx.node.int("linear_before_reset", default: 0) != 0
        let inputForget = try ctx.node.int("input_forget", default: 0) != 0
        let names = try ctx.node.node.attributes["activations"].map { attribute -> [String] in
            guard case .strings(let s) = attribute else { throw WhittleError(.invalidAttribute, "activations must be STRINGS") }
            return s
        } ?? Array(repeating: lstm ? ["Sigmoid", "Tanh", "Tanh"] : (rnn ? ["Tanh"] : ["Sigmoid", "Tanh"]), count: directions).flatMap { $0 }
        let alphas = try ctx.node.floats("activation_alpha") ?? [], betas = try ctx.node.floats("activation_beta") ?? []
        let perDirection = lstm ? 3 : (rnn ? 1 : 2)
        guard names.count == perDirection * directions else {
            throw WhittleError(.invalidAttribute, "activations lists \(names.count) functions; \(perDirection * directions) expected")
        }
        // activation_alpha/beta apply, in order, to the listed functions that take them.
        var functions: [(Double) -> Double] = []
        var parameterIndex = 0
        for name in names {
            let takesAlpha = ["Affine", "LeakyRelu", "ThresholdedRelu", "ScaledTanh", "HardSigmoid", "Elu"].contains(name)
            let alpha = takesAlpha && parameterIndex < alphas.count ? Double(alphas[parameterIndex]) : nil
            let beta = takesAlpha && parameterIndex < betas.count ? Double(betas[parameterIndex]) : nil
            if takesAlpha { parameterIndex += 1 }
            functions.append(try activation(name, alpha: alpha, beta: beta))
        }
        let b = ctx.optionalInput(3)?.doubles
        let lengths = ctx.optionalInput(4)?.ints.map { Int(clamping: $0) } ?? Array(repeating: steps, count: batch)
        let h0 = ctx.optionalInput(5)?.doubles, c0 = lstm ? ctx.optionalInput(6)?.doubles : nil
        let peephole = lstm ? ctx.optionalInput(7)?.doubles : nil
        let xv = x.doubles
        func input(_ t: Int, _ n: Int, _ k: Int) -> Double {
            layout == 0 ? xv[(t * batch + n) * inputSize + k] : xv[(n * steps + t) * inputSize + k]
        }
        // State index for layout 0: [direction][batch][hidden]; converted for layout 1 at the end.
        var y = [Double](repeating: 0, count: steps * directions * batch * hidden)
        var yh = [Double](repeating: 0, count: directions * batch * hidden), yc = yh
        for d in 0..<directions {
            let reverse = direction == "reverse" || d == 1
            let f = functions[d * perDirection], g = functions[d * perDirection + (rnn ? 0 : 1)]
            let h = lstm ? functions[d * perDirection + 2] : g
            let wBase = d * gates * hidden * inputSize, rBase = d * gates * hidden * hidden, bBase = d * 2 * gates * hidden
            for n in 0..<batch {
                var state = (0..<hidden).map { h0?[(d * batch + n) * hidden + $0] ?? 0 }
                var cell = (0..<hidden).map { c0?[(d * batch + n) * hidden + $0] ?? 0 }
                let length = Swift.max(0, Swift.min(lengths[n], steps))
                for s in 0..<length {
                    let t = reverse ? length - 1 - s : s
                    // Gate pre-activations: W x + Wb, and R h + Rb kept apart for GRU's reset handling.
                    var wx = [Double](repeating: 0, count: gates * hidden), rh = wx
                    for j in 0..<(gates * hidden) {
                        var a = b?[bBase + j] ?? 0
                        for k in 0..<inputSize { a += w[wBase + j * inputSize + k] * input(t, n, k) }
                        wx[j] = a
                        var c = b?[bBase + gates * hidden + j] ?? 0
                        for k in 0..<hidden { c += r[rBase + j * hidden + k] * state[k] }
                        rh[j] = c
                    }
                    func clipped(_ v: Double) -> Double { clip.map { Swift.min(Swift.max(v, -$0), $0) } ?? v }
                    if rnn {
                        state = (0..<hidden).map { f(clipped(wx[$0] + rh[$0])) }
                    } else if lstm {
                        // Gate order i, o, f, c.
                        var newState = state, newCell = cell
                        for j in 0..<hidden {
                            let p = peephole.map { ($0[d * 3 * hidden + j], $0[d * 3 * hidden + hidden + j], $0[d * 3 * hidden + 2 * hidden + j]) }
                            let iGate = f(clipped(wx[j] + rh[j] + (p?.0 ?? 0) * cell[j]))
                            var fGate = f(clipped(wx[2 * hidden + j] + rh[2 * hidden + j] + (p?.2 ?? 0) * cell[j]))
                            if inputForget { fGate = 1 - iGate }
                            let cGate = g(clipped(wx[3 * hidden + j] + rh[3 * hidden + j]))
                            newCell[j] = fGate * cell[j] + iGate * cGate
                            let oGate = f(clipped(wx[hidden + j] + rh[hidden + j] + (p?.1 ?? 0) * newCell[j]))
                            newState[j] = oGate * h(newCell[j])
                        }
                        state = newState
                        cell = newCell
                    } else {
                        // Gate order z, r, h.
                        var z = [Double](repeating: 0, count: hidden), rg = z
                        for j in 0..<hidden {
                            z[j] = f(clipped(wx[j] + rh[j]))
                            rg[j] = f(clipped(wx[hidden + j] + rh[hidden + j]))
                        }
                        var newState = state
                        for j in 0..<hidden {
                            let candidate: Double
                            if linearBeforeReset {
                                candidate = g(clipped(wx[2 * hidden + j] + rg[j] * rh[2 * hidden + j]))
                            } else {
                                var a = b?[bBase + gates * hidden + 2 * hidden + j] ?? 0
                                for k in 0..<hidden { a += r[rBase + (2 * hidden + j) * hidden + k] * rg[k] * state[k] }
                                candidate = g(clipped(wx[2 * hidden + j] + a))
                            }
                            newState[j] = (1 - z[j]) * candidate + z[j] * state[j]
                        }
                        state = newState
                    }
                    for j in 0..<hidden { y[((t * directions + d) * batch + n) * hidden + j] = state[j] }
                }
                for j in 0..<hidden {
                    yh[(d * batch + n) * hidden + j] = state[j]
                    yc[(d * batch + n) * hidden + j] = cell[j]
                }
            }
        }
        if layout == 1 {
            // Y becomes [batch, steps, directions, hidden]; the states [batch, directions, hidden].
            y = (0..<y.count).map { f in
                let j = f % hidden, d = (f / hidden) % directions, t = (f / (hidden * directions)) % steps, n = f / (hidden * directions * steps)
                return y[((t * directions + d) * batch + n) * hidden + j]
            }
            func states(_ s: [Double]) -> [Double] {
                (0..<s.count).map { f in
                    let j = f % hidden, d = (f / hidden) % directions, n = f / (hidden * directions)
                    return s[(d * batch + n) * hidden + j]
                }
            }
            yh = states(yh)
            yc = states(yc)
        }
        let type = x.elementType
        let yShape = layout == 0 ? [steps, directions, batch, hidden] : [batch, steps, directions, hidden]
        let stateShape = layout == 0 ? [directions, batch, hidden] : [batch, directions, hidden]
        return [NDArray(type, shape: yShape, values: y), NDArray(type, shape: stateShape, values: yh),
                NDArray(type, shape: stateShape, values: yc)]
    }
}
