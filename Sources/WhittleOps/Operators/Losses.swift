import Foundation
import WhittleIR

/// NegativeLogLikelihoodLoss and SoftmaxCrossEntropyLoss: default-domain operators that evaluate a
/// classifier's loss on labels (models exported with their loss, or metrics computed on the device).
enum LossOperators {
    static var all: [OperatorDefinition] { [loss("NegativeLogLikelihoodLoss"), loss("SoftmaxCrossEntropyLoss")] }
    static var kernels: [String: Kernel] {
        ["NegativeLogLikelihoodLoss": lossKernel(softmax: false), "SoftmaxCrossEntropyLoss": lossKernel(softmax: true)]
    }

    /// Input (N, C, D1...), target (N, D1...), optional weight (C).
    static func loss(_ name: String) -> OperatorDefinition {
        OperatorDefinition(name, infer: { ctx in
            try ctx.expectInputs(2, 3)
            let x = try ctx.type(0), xs = try ctx.shape(0), target = try ctx.shape(1)
            guard x.elementType.isFloatingPoint else { throw WhittleError(.shapeMismatch, "\(name) takes floating-point scores") }
            guard xs.count >= 2, target == [xs[0]] + Array(xs[2...]) else {
                throw WhittleError(.shapeMismatch, "target \(Shape.describe(target)) must be the input \(Shape.describe(xs)) without its class axis")
            }
            let labels = try ctx.type(1).elementType
            guard labels == .int32 || labels == .int64 else { throw WhittleError(.shapeMismatch, "target must be int32 or int64") }
            if ctx.has(2) {
                guard try ctx.shape(2) == [xs[1]] else { throw WhittleError(.shapeMismatch, "weight must have one value per class (\(xs[1]))") }
            }
            let reduction = try ctx.string("reduction", default: "mean")
            guard ["none", "sum", "mean"].contains(reduction) else {
                throw WhittleError(.invalidAttribute, "reduction must be none, sum or mean, found \(reduction)")
            }
            let loss = TensorType(x.elementType, reduction == "none" ? target : [])
            return name == "SoftmaxCrossEntropyLoss" && ctx.node.outputs.count > 1 ? [loss, x] : [loss]
        })
    }

    static func lossKernel(softmax: Bool) -> Kernel {
        { ctx in
            let x = try ctx.input(0), target = try ctx.input(1).ints, weight = ctx.optionalInput(2)?.doubles
            let classes = x.shape[1], batch = x.shape[0], spatial = x.shape[2...].reduce(1, *)
            let ignore = try ctx.node.int("ignore_index").map(Int64.init)
            var scores = x.doubles
            if softmax {
                // Log-softmax over the class axis, the largest score subtracted first.
                for n in 0..<batch {
                    for d in 0..<spatial {
                        let at = { (c: Int) in (n * classes + c) * spatial + d }
                        let top = (0..<classes).map { scores[at($0)] }.max() ?? 0
                        let sum = (0..<classes).reduce(0.0) { $0 + Foundation.exp(scores[at($1)] - top) }
                        for c in 0..<classes { scores[at(c)] = scores[at(c)] - top - Foundation.log(sum) }
                    }
                }
            }
            var losses = [Double](repeating: 0, count: batch * spatial), weights = losses
            for n in 0..<batch {
                for d in 0..<spatial {
                    let label = target[n * spatial + d]
                    if label == ignore { continue }
                    guard label >= 0, label < Int64(classes) else {
                        throw WhittleError(.shapeMismatch, "label \(label) is out of range for \(classes) classes")
                    }
                    let w = weight?[Int(label)] ?? 1
                    losses[n * spatial + d] = -scores[(n * classes + Int(label)) * spatial + d] * w
                    weights[n * spatial + d] = w
                }
            }
            let type = x.elementType
            var results: [NDArray]
            switch try ctx.node.string("reduction", default: "mean") {
            case "none": results = [NDArray(type, shape: try ctx.outputShape(0), values: losses)]
            case "sum": results = [NDArray(type, shape: [], values: [losses.reduce(0, +)])]
            default:
                // The mean is weighted by the weights of the labels that count (ignored ones weigh nothing).
                let total = weight != nil || ignore != nil ? weights.reduce(0, +) : Double(losses.count)
                results = [NDArray(type, shape: [], values: [losses.reduce(0, +) / total])]
            }
            if softmax && ctx.node.node.outputs.count > 1 { results.append(NDArray(type, shape: x.shape, values: scores)) }
            return results
        }
    }
}
