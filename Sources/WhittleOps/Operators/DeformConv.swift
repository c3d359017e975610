import Foundation
import WhittleIR

/// DeformConv (opset 19): a convolution whose taps are moved by learned offsets, read from the input by
/// (multi)linear interpolation with zeros outside, and optionally scaled by a mask.
enum DeformConvOperators {
    static var all: [OperatorDefinition] { [deformConv] }
    static var kernels: [String: Kernel] { ["DeformConv": kernel] }

    /// The checked geometry of one DeformConv node.
    struct Geometry {
        var window: ConvolutionOperators.Window
        var group: Int
        var offsetGroup: Int
        var output: [Int]

        init(_ ctx: InferenceContext) throws {
            let x = try ctx.shape(0), w = try ctx.shape(1), offset = try ctx.shape(2)
            let spatial = x.count - 2
            // Each tap reads 2^spatial corners: more than 8 axes is refused rather than run for ages.
            guard spatial >= 1, spatial <= 8, w.count == x.count, offset.count == x.count, offset[0] == x[0] else {
                throw WhittleError(.shapeMismatch, "X \(Shape.describe(x)), W \(Shape.describe(w)) and offset \(Shape.describe(offset)) "
                                   + "must share the rank (N × C × 1 to 8 spatial axes) and offset the batch")
            }
            let kernel = try ctx.ints("kernel_shape") ?? Array(w[2...])
            window = try ConvolutionOperators.Window(ctx, kernel: kernel, spatial: spatial, allowCeil: false)
            group = try ctx.int("group", default: 1)
            offsetGroup = try ctx.int("offset_group", default: 1)
            guard kernel == Array(w[2...]), group >= 1, offsetGroup >= 1, x[1] == w[1] * group, w[0] % group == 0,
                  x[1] % offsetGroup == 0 else {
                throw WhittleError(.shapeMismatch, "W \(Shape.describe(w)) does not fit X \(Shape.describe(x)) with group \(group) "
                                   + "and offset_group \(offsetGroup) (kernel_shape \(Shape.describe(kernel)))")
            }
            output = try window.outputSize(Array(x[2...]))
            let taps = try Shape.checked(offsetGroup, times: try Shape.elementCount(kernel), what: "offset_group × kernel taps")
            let offsets = try Shape.checked(taps, times: spatial, what: "offset channels")
            guard offset == [x[0], offsets] + output else {
                throw WhittleError(.shapeMismatch, "offset must be \(Shape.describe([x[0], offsets] + output)), "
                                   + "found \(Shape.describe(offset))")
            }
            if ctx.has(3), try ctx.shape(3) != [w[0]] {
                throw WhittleError(.shapeMismatch, "B must be [\(w[0])], found \(Shape.describe(try ctx.shape(3)))")
            }
            if ctx.has(4), try ctx.shape(4) != [x[0], taps] + output {
                throw WhittleError(.shapeMismatch, "mask must be \(Shape.describe([x[0], taps] + output)), "
                                   + "found \(Shape.describe(try ctx.shape(4)))")
            }
        }
    }

    static let deformConv = OperatorDefinition("DeformConv", infer: { ctx in
        try ctx.expectInputs(3, 5)
        let x = try ctx.type(0)
        guard x.elementType.isFloatingPoint, try ctx.type(1).elementType == x.elementType,
              try ctx.type(2).elementType == x.elementType else {
            throw WhittleError(.unsupported, "X, W and offset must share one floating-point type")
        }
        let geometry = try Geometry(ctx)
        return [TensorType(x.elementType, [try ctx.shape(0)[0], try ctx.shape(1)[0]] + geometry.output)]
    }, macs: { ctx, outputs in
        guard let w = try? ctx.shape(1), let out = outputs.first?.shape else { return 0 }
        return out.reduce(1, *) * w[1...].reduce(1, *)
    })

    static let kernel: Kernel = { ctx in
        let geometry = try Geometry(ctx.node)
        let x = try ctx.input(0), w = try ctx.input(1).doubles, offset = try ctx.input(2).doubles
        let bias = ctx.optionalInput(3)?.doubles, mask = ctx.optionalInput(4)?.doubles
        let window = geometry.window, spatial = x.rank - 2
        let inDims = Array(x.shape[2...]), inStrides = Shape.strides(inDims), plane = inDims.reduce(1, *)
        let outDims = geometry.output, points = outDims.reduce(1, *), outStrides = Shape.strides(outDims)
        let kernelStrides = Shape.strides(window.kernel), taps = window.kernel.reduce(1, *)
        let (batch, channels, outChannels) = (x.shape[0], x.shape[1], try ctx.input(1).shape[0])
        let perGroup = channels / geometry.group, outPerGroup = outChannels / geometry.group
        let perOffsetGroup = channels / geometry.offsetGroup
        let v = x.doubles
        var out = [Double](repeating: 0, count: batch * outChannels * points)
        // One column per (input channel, tap): the mask-scaled samples at every output point, then a product with W.
        var columns = [Double](repeating: 0, count: channels * taps * points)
        for n in 0..<batch {
            for g in 0..<geometry.offsetGroup {
                for t in 0..<taps {
                    for p in 0..<points {
                        // The tap's position: window start + dilated tap + learned offset, per axis.
                        var corners: [(Int, Double)] = [(0, 1)]
                        for d in 0..<spatial {
                            let o = p / outStrides[d] % outDims[d], k = t / kernelStrides[d] % window.kernel[d]
                            let channel = (g * taps + t) * spatial + d
                            let position = Double(o * window.strides[d] - window.pads[d] + k * window.dilations[d])
                                + offset[(n * geometry.offsetGroup * taps * spatial + channel) * points + p]
                            let low = position.rounded(.down), fraction = position - low
                            var next: [(Int, Double)] = []
                            for (index, weight) in corners where index >= 0 {
                                for (step, share) in [(0, 1 - fraction), (1, fraction)] {
                                    // Corners outside the input read zero.
                                    guard low.isFinite, low + Double(step) >= 0, low + Double(step) < Double(inDims[d]) else { continue }
                                    next.append((index + (Int(low) + step) * inStrides[d], weight * share))
                                }
                            }
                            corners = next
                        }
                        let scale = mask?[(n * geometry.offsetGroup * taps + g * taps + t) * points + p] ?? 1
                        for c in (g * perOffsetGroup)..<((g + 1) * perOffsetGroup) {
                            let base = (n * channels + c) * plane
                            var value = 0.0
                            for (index, weight) in corners { value += weight * v[base + index] }
                            columns[(c * taps + t) * points + p] = value * scale
                        }
                    }
                }
            }
            for oc in 0..<outChannels {
                let group = oc / outPerGroup
                var row = [Double](repeating: bias?[oc] ?? 0, count: points)
                for ci in 0..<perGroup {
                    let c = group * perGroup + ci
                    for t in 0..<taps {
                        let weight = w[(oc * perGroup + ci) * taps + t], column = (c * taps + t) * points
                        for p in 0..<points { row[p] += weight * columns[column + p] }
                    }
                }
                out.replaceSubrange(((n * outChannels + oc) * points)..<((n * outChannels + oc + 1) * points), with: row)
            }
        }
        return [NDArray(x.elementType, shape: try ctx.outputShape(), values: out)]
    }
}
