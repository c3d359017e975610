import Foundation
import WhittleIR

/// Reference kernels of the convolutions and pools.
///
/// All of them go through a window table: for every output position and kernel
/// position, the offset of the input element it reads (or a marker for padding),
/// which handles any rank, stride, dilation and padding in one place.
extension ConvolutionOperators {
    static var kernels: [String: Kernel] {
        [
            "Conv": convKernel,
            "ConvInteger": convIntegerKernel,
            "QLinearConv": qlinearConvKernel,
            "ConvTranspose": convTransposeKernel,
            "MaxPool": maxPoolKernel,
            "AveragePool": averagePoolKernel,
            "LpPool": lpPoolKernel,
            "GlobalAveragePool": globalPoolKernel(max: false),
            "GlobalMaxPool": globalPoolKernel(max: true),
        ]
    }

    /// Offsets of the padding region inside the padded input, and beyond it (ceil_mode windows).
    static let padding = -1, beyond = -2

    /// For output position p and kernel position q, `table[p * Q + q]` is the flat spatial input offset,
    /// ``padding`` or ``beyond``.
    struct WindowTable {
        var table: [Int]
        var positions: Int
        var taps: Int

        init(input: [Int], output: [Int], kernel: [Int], strides: [Int], dilations: [Int], padBegin: [Int], padEnd: [Int]) {
            let rank = input.count
            positions = output.reduce(1, *)
            taps = kernel.reduce(1, *)
            let inputStrides = Shape.strides(input), outputStrides = Shape.strides(output), kernelStrides = Shape.strides(kernel)
            table = [Int](repeating: 0, count: positions * taps)
            for p in 0..<positions {
                for q in 0..<taps {
                    var offset = 0
                    var state = 0  // 0 inside, 1 padding, 2 beyond the padding
                    for d in 0..<rank {
                        let o = (p / outputStrides[d]) % output[d]
                        let k = (q / kernelStrides[d]) % kernel[d]
                        let i = o * strides[d] - padBegin[d] + k * dilations[d]
                        if i < -padBegin[d] || i >= input[d] + padEnd[d] {
                            state = 2
                        } else if i < 0 || i >= input[d] {
                            state = Swift.max(state, 1)
                        } else {
                            offset += i * inputStrides[d]
                        }
                    }
                    table[p * taps + q] = state == 0 ? offset : (state == 1 ? ConvolutionOperators.padding : ConvolutionOperators.beyond)
                }
            }
        }
    }

    /// The window geometry of a Conv-like node with input spatial sizes `input` and output `output`.
    static func table(_ ctx: EvaluationContext, input: [Int], output: [Int], kernel: [Int], allowCeil: Bool) throws -> WindowTable {
        let window = try Window(ctx.node, kernel: kernel, spatial: input.count, allowCeil: allowCeil)
        let pads = Indexing.resolvedPads(autoPad: window.autoPad, pads: window.pads, input: input, output: output,
                                         kernel: kernel, strides: window.strides, dilations: window.dilations)
        return WindowTable(input: input, output: output, kernel: kernel, strides: window.strides,
                           dilations: window.dilations, padBegin: pads.begin, padEnd: pads.end)
    }

    /// Grouped convolution over flat arrays: `x` is N×C×spatial, `w` is M×(C/group)×kernel.
    static func convolve<T: FloatingPoint>(x: [T], xShape: [Int], w: [T], wShape: [Int], bias: [T]?, group: Int,
                                           table: WindowTable, outShape: [Int]) -> [T] {
        let n = xShape[0], c = xShape[1], m = wShape[0]
        let cg = c / group, mg = m / group
        let inSpatial = xShape[2...].reduce(1, *)
        let positions = table.positions, taps = table.taps
        var out = [T](repeating: 0, count: outShape.reduce(1, *))
        x.withUnsafeBufferPointer { xp in
            w.withUnsafeBufferPointer { wp in
                table.table.withUnsafeBufferPointer { tp in
                    out.withUnsafeMutableBufferPointer { op in
                        for b in 0..<n {
                            for oc in 0..<m {
                                let g = oc / mg
                                let outBase = (b * m + oc) * positions
                                let start = bias?[oc] ?? 0
                                for p in 0..<positions { op[outBase + p] = start }
                                for ci in 0..<cg {
                                    let xBase = (b * c + g * cg + ci) * inSpatial
                                    let wBase = (oc * cg + ci) * taps
                                    for p in 0..<positions {
                                        var acc: T = 0
                                        let row = p * taps
                                        for q in 0..<taps {
                                            let offset = tp[row + q]
                                            if offset >= 0 { acc += xp[xBase + offset] * wp[wBase + q] }
                                        }
                                        op[outBase + p] += acc
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        return out
    }

    static let convKernel: Kernel = { ctx in
        let x = try ctx.input(0), w = try ctx.input(1)
        let outShape = try ctx.outputShape()
        let table = try table(ctx, input: Array(x.shape[2...]), output: Array(outShape[2...]), kernel: Array(w.shape[2...]), allowCeil: false)
        let group = try ctx.node.int("group", default: 1)
        if x.elementType == .double {
            let out = convolve(x: x.doubles, xShape: x.shape, w: w.doubles, wShape: w.shape, bias: ctx.optionalInput(2)?.doubles,
                               group: group, table: table, outShape: outShape)
            return [NDArray(shape: outShape, doubles: out)]
        }
        let out = convolve(x: x.floats, xShape: x.shape, w: w.floats, wShape: w.shape, bias: ctx.optionalInput(2)?.floats,
                           group: group, table: table, outShape: outShape)
        return [NDArray(x.elementType, shape: outShape, floats: out)]
    }

    /// Subtracts a zero point given per tensor or (weights) per output channel, exactly, in Double.
    static func centered(_ a: NDArray, zeroPoint: NDArray?, channelAxisSize: Int? = nil) -> [Double] {
        let v = a.doubles
        guard let zp = zeroPoint?.doubles, !zp.isEmpty else { return v }
        if zp.count == 1 { return v.map { $0 - zp[0] } }
        // Per-channel zero point along axis 0.
        let per = v.count / Swift.max(zp.count, 1)
        return v.indices.map { v[$0] - zp[$0 / per] }
    }

    static let convIntegerKernel: Kernel = { ctx in
        let x = try ctx.input(0), w = try ctx.input(1)
        let outShape = try ctx.outputShape()
        let table = try table(ctx, input: Array(x.shape[2...]), output: Array(outShape[2...]), kernel: Array(w.shape[2...]), allowCeil: false)
        let out = convolve(x: centered(x, zeroPoint: ctx.optionalInput(2)), xShape: x.shape,
                           w: centered(w, zeroPoint: ctx.optionalInput(3)), wShape: w.shape, bias: nil,
                           group: try ctx.node.int("group", default: 1), table: table, outShape: outShape)
        return [NDArray(.int32, shape: outShape, values: out)]
    }

    /// QLinearConv as ONNX Runtime computes it: exact int32 accumulation, then
    /// `round_half_even(acc * x_scale * w_scale[c] / y_scale) + y_zero_point`, saturated.
    static let qlinearConvKernel: Kernel = { ctx in
        let x = try ctx.input(0), w = try ctx.input(3)
        let outShape = try ctx.outputShape()
        let table = try table(ctx, input: Array(x.shape[2...]), output: Array(outShape[2...]), kernel: Array(w.shape[2...]), allowCeil: false)
        let acc = convolve(x: centered(x, zeroPoint: ctx.optionalInput(2)), xShape: x.shape,
                           w: centered(w, zeroPoint: ctx.optionalInput(5)), wShape: w.shape,
                           bias: ctx.optionalInput(8)?.doubles, group: try ctx.node.int("group", default: 1),
                           table: table, outShape: outShape)
        let channels = outShape[1], spatial = outShape[2...].reduce(1, *)
        let xScale = try ctx.parameters(1, what: "x_scale", count: 1)[0], yScale = try ctx.parameters(6, what: "y_scale", count: 1)[0]
        let wScale = try ctx.parameters(4, what: "w_scale", count: channels)
        let yZero = ctx.optionalInput(7)?.ints.first ?? 0
        let type = ctx.outputType()
        let multipliers = (0..<channels).map { Float(xScale * wScale[wScale.count == 1 ? 0 : $0]) / yScale }
        let out = acc.indices.map { i -> Int64 in
            let scaled = (Float(acc[i]) * multipliers[(i / spatial) % channels]).rounded(.toNearestOrEven)
            return QuantizationOperators.saturate(Double(scaled) + Double(yZero), type, clampedBy: ctx.node.node)
        }
        return [NDArray(type, shape: outShape, ints: out)]
    }

    static let convTransposeKernel: Kernel = { ctx in
        let x = try ctx.input(0), w = try ctx.input(1)
        let outShape = try ctx.outputShape()
        let spatial = x.rank - 2
        let kernel = Array(w.shape[2...])
        let window = try Window(ctx.node, kernel: kernel, spatial: spatial, allowCeil: false)
        let group = try ctx.node.int("group", default: 1)
        let inSizes = Array(x.shape[2...]), outSizes = Array(outShape[2...])
        let outputPadding = try ctx.node.ints("output_padding") ?? Array(repeating: 0, count: spatial)
        var padBegin = Array(window.pads[0..<spatial])
        if try ctx.node.ints("output_shape") != nil || window.autoPad == "SAME_UPPER" || window.autoPad == "SAME_LOWER" {
            for i in 0..<spatial {
                let span = (kernel[i] - 1) * window.dilations[i] + 1
                let total = window.strides[i] * (inSizes[i] - 1) + outputPadding[i] + span - outSizes[i]
                // Floor division: an output_shape larger than the natural size makes the padding negative.
                let half = Int((Double(total) / 2).rounded(.down))
                padBegin[i] = window.autoPad == "SAME_UPPER" ? half : total - half
            }
        } else if window.autoPad == "VALID" {
            padBegin = Array(repeating: 0, count: spatial)
        }
        // Scatter form: input position p with kernel tap q writes output position o = p * stride - pad + q * dilation.
        let positions = inSizes.reduce(1, *), taps = kernel.reduce(1, *), outPositions = outSizes.reduce(1, *)
        let inStrides = Shape.strides(inSizes), kStrides = Shape.strides(kernel), oStrides = Shape.strides(outSizes)
        var table = [Int](repeating: -1, count: positions * taps)
        for p in 0..<positions {
            for q in 0..<taps {
                var offset = 0, inside = true
                for d in 0..<spatial {
                    let o = ((p / inStrides[d]) % inSizes[d]) * window.strides[d] - padBegin[d] + ((q / kStrides[d]) % kernel[d]) * window.dilations[d]
                    if o < 0 || o >= outSizes[d] { inside = false; break }
                    offset += o * oStrides[d]
                }
                if inside { table[p * taps + q] = offset }
            }
        }
        let n = x.shape[0], c = x.shape[1], mg = w.shape[1], cg = c / group, m = mg * group
        let xv = x.floats, wv = w.floats, bias = ctx.optionalInput(2)?.floats
        var out = [Float](repeating: 0, count: outShape.reduce(1, *))
        for b in 0..<n {
            for oc in 0..<m {
                let g = oc / mg, local = oc % mg
                let outBase = (b * m + oc) * outPositions
                if let bias { for o in 0..<outPositions { out[outBase + o] = bias[oc] } }
                for ci in 0..<cg {
                    let ic = g * cg + ci
                    let xBase = (b * c + ic) * positions, wBase = (ic * mg + local) * taps
                    for p in 0..<positions {
                        let value = xv[xBase + p]
                        for q in 0..<taps where table[p * taps + q] >= 0 {
                            out[outBase + table[p * taps + q]] += value * wv[wBase + q]
                        }
                    }
                }
            }
        }
        return [NDArray(x.elementType, shape: outShape, floats: out)]
    }

    /// Applies `reduce` to each pooling window of every (n, c) plane.
    static func pool(_ ctx: EvaluationContext, allowCeil: Bool,
                     reduce: (_ values: [Double], _ padded: Int, _ plane: Int) -> Double) throws -> NDArray {
        let x = try ctx.input(0)
        let outShape = try ctx.outputShape()
        guard let kernel = try ctx.node.ints("kernel_shape") else { throw WhittleError(.invalidAttribute, "kernel_shape is required") }
        let t = try table(ctx, input: Array(x.shape[2...]), output: Array(outShape[2...]), kernel: kernel, allowCeil: allowCeil)
        let planes = x.shape[0] * x.shape[1], inSpatial = x.shape[2...].reduce(1, *)
        let xv = x.doubles
        var out = [Double](repeating: 0, count: planes * t.positions)
        var window: [Double] = []
        window.reserveCapacity(t.taps)
        for plane in 0..<planes {
            for p in 0..<t.positions {
                window.removeAll(keepingCapacity: true)
                var padded = 0
                for q in 0..<t.taps {
                    let offset = t.table[p * t.taps + q]
                    if offset >= 0 { window.append(xv[plane * inSpatial + offset]) } else if offset == padding { padded += 1 }
                }
                out[plane * t.positions + p] = reduce(window, padded, plane)
            }
        }
        return NDArray(x.elementType, shape: outShape, values: out)
    }

    static let maxPoolKernel: Kernel = { ctx in
        let y = try pool(ctx, allowCeil: true) { values, _, _ in values.max() ?? -Double.infinity }
        guard ctx.node.node.outputs.count > 1, !ctx.node.node.outputs[1].isEmpty else { return [y] }
        // Indices: the flat input index of each maximum (first one on ties), row-major or column-major (storage_order 1).
        let x = try ctx.input(0)
        let outShape = try ctx.outputShape()
        guard let kernel = try ctx.node.ints("kernel_shape") else { throw WhittleError(.invalidAttribute, "kernel_shape is required") }
        let t = try table(ctx, input: Array(x.shape[2...]), output: Array(outShape[2...]), kernel: kernel, allowCeil: true)
        let columnMajor = try ctx.node.int("storage_order", default: 0) == 1
        let spatial = Array(x.shape[2...]), inSpatial = spatial.reduce(1, *)
        let rowStrides = Shape.strides(spatial)
        let xv = x.doubles
        var indices = [Int64](repeating: 0, count: y.count)
        for plane in 0..<(x.shape[0] * x.shape[1]) {
            for p in 0..<t.positions {
                var best = -Double.infinity, bestOffset = -1
                for q in 0..<t.taps {
                    let offset = t.table[p * t.taps + q]
                    if offset >= 0, bestOffset < 0 || xv[plane * inSpatial + offset] > best {
                        best = xv[plane * inSpatial + offset]
                        bestOffset = offset
                    }
                }
                var index = bestOffset
                if columnMajor {
                    // Column-major: the first spatial axis varies fastest.
                    var colStride = 1
                    index = 0
                    for d in 0..<spatial.count {
                        index += ((bestOffset / rowStrides[d]) % spatial[d]) * colStride
                        colStride *= spatial[d]
                    }
                }
                indices[plane * t.positions + p] = Int64(plane * inSpatial + index)
            }
        }
        return [y, NDArray(.int64, shape: outShape, ints: indices)]
    }

    static let averagePoolKernel: Kernel = { ctx in
        let includePad = try ctx.node.int("count_include_pad", default: 0) != 0
        let single = try ctx.input(0).elementType != .double
        return [try pool(ctx, allowCeil: true) { values, padded, _ in
            let count = values.count + (includePad ? padded : 0)
            guard count > 0 else { return 0 }
            // float32 inputs are summed in float32 in window order, as ONNX Runtime does: the last bit
            // matters when the result is quantized next.
            if single { return Double(values.reduce(Float(0)) { $0 + Float($1) } / Float(count)) }
            return values.reduce(0, +) / Double(count)
        }]
    }

    static let lpPoolKernel: Kernel = { ctx in
        let p = Double(try ctx.node.int("p", default: 2))
        return [try pool(ctx, allowCeil: true) { values, _, _ in
            Foundation.pow(values.reduce(0) { $0 + Foundation.pow(Swift.abs($1), p) }, 1 / p)
        }]
    }

    static func globalPoolKernel(max: Bool) -> Kernel {
        { ctx in
            let x = try ctx.input(0)
            let planes = x.shape[0] * x.shape[1], spatial = x.shape[2...].reduce(1, *)
            let v = x.doubles
            let single = x.elementType != .double
            let out = (0..<planes).map { plane -> Double in
                let slice = v[(plane * spatial)..<((plane + 1) * spatial)]
                if max { return slice.max() ?? 0 }
                // float32 sums run in float32, in order (as the emitted C does).
                if single { return Double(slice.reduce(Float(0)) { $0 + Float($1) } / Float(Swift.max(spatial, 1))) }
                return slice.reduce(0, +) / Double(Swift.max(spatial, 1))
            }
            return [NDArray(x.elementType, shape: try ctx.outputShape(), values: out)]
        }
    }
}
