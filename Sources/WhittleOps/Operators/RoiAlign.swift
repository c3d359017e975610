import Foundation
import WhittleIR

/// RoiAlign (opsets 10 and 16): pools each region of interest of a feature map into a fixed grid of bins,
/// averaging (or taking the largest of) bilinear samples taken on a regular grid inside each bin.
enum RoiAlignOperators {
    static var all: [OperatorDefinition] { [roiAlign] }
    static var kernels: [String: Kernel] { ["RoiAlign": kernel] }

    /// X [N, C, H, W], rois [R, 4] as (x1, y1, x2, y2), batch_indices [R]: Y [R, C, output_height, output_width].
    static let roiAlign = OperatorDefinition("RoiAlign", infer: { ctx in
        try ctx.expectInputs(3, 3)
        let x = try ctx.type(0), xs = try ctx.shape(0), rois = try ctx.shape(1), indices = try ctx.shape(2)
        guard x.elementType.isFloatingPoint, xs.count == 4, rois.count == 2, rois[1] == 4, indices == [rois[0]],
              try ctx.type(2).elementType.isInteger else {
            throw WhittleError(.shapeMismatch, "X \(Shape.describe(xs)), rois \(Shape.describe(rois)) and batch_indices "
                               + "\(Shape.describe(indices)) do not fit (X: N×C×H×W, rois: R×4, batch_indices: R integers)")
        }
        let height = try ctx.int("output_height", default: 1), width = try ctx.int("output_width", default: 1)
        guard height >= 1, width >= 1, try ctx.int("sampling_ratio", default: 0) >= 0 else {
            throw WhittleError(.invalidAttribute, "output_height and output_width must be at least 1 and sampling_ratio not negative")
        }
        guard ["avg", "max"].contains(try ctx.string("mode", default: "avg")),
              ["half_pixel", "output_half_pixel"].contains(try ctx.string("coordinate_transformation_mode", default: "half_pixel")) else {
            throw WhittleError(.invalidAttribute, "mode must be avg or max and coordinate_transformation_mode half_pixel or output_half_pixel")
        }
        return [TensorType(x.elementType, [rois[0], xs[1], height, width])]
    }, macs: { ctx, outputs in
        // Four multiply-adds per bilinear sample; count one sample per bin as a lower bound.
        (outputs.first?.shape?.reduce(1, *) ?? 0) * 4
    })

    /// Regions needing more samples than this are refused rather than allocated.
    static let maximumSamples = Double(1 << 26)

    /// A bilinear sample: four element offsets in one channel plane and their weights.
    struct Sample {
        var offsets: (Int, Int, Int, Int) = (0, 0, 0, 0)
        var weights: (Double, Double, Double, Double) = (0, 0, 0, 0)
    }

    /// The bilinear sample at (y, x) in an H×W plane; outside [-1, H] × [-1, W] it contributes nothing.
    static func sample(y: Double, x: Double, height: Int, width: Int) -> Sample {
        guard y >= -1, y <= Double(height), x >= -1, x <= Double(width) else { return Sample() }
        var y = Swift.max(y, 0), x = Swift.max(x, 0)
        var y0 = Int(y), x0 = Int(x), y1 = y0 + 1, x1 = x0 + 1
        if y0 >= height - 1 { y0 = height - 1; y1 = y0; y = Double(y0) }
        if x0 >= width - 1 { x0 = width - 1; x1 = x0; x = Double(x0) }
        let ly = y - Double(y0), lx = x - Double(x0), hy = 1 - ly, hx = 1 - lx
        return Sample(offsets: (y0 * width + x0, y0 * width + x1, y1 * width + x0, y1 * width + x1),
                      weights: (hy * hx, hy * lx, ly * hx, ly * lx))
    }

    static let kernel: Kernel = { ctx in
        let x = try ctx.input(0), rois = try ctx.input(1).doubles, batches = try ctx.input(2).ints
        let shape = try ctx.outputShape()
        let (channels, height, width) = (x.shape[1], x.shape[2], x.shape[3])
        let (bins, binsWide) = (shape[2], shape[3])
        let average = try ctx.node.string("mode", default: "avg") == "avg"
        let ratio = try ctx.node.int("sampling_ratio", default: 0)
        let scale = Double(try ctx.node.float("spatial_scale", default: 1))
        let halfPixel = try ctx.node.string("coordinate_transformation_mode",
                                            default: ctx.node.opset < 16 ? "output_half_pixel" : "half_pixel") == "half_pixel"
        let v = x.doubles, plane = height * width
        var out = [Double](repeating: 0, count: shape.reduce(1, *))
        for r in 0..<shape[0] {
            let batch = Int(batches[r])
            guard batch >= 0, batch < x.shape[0] else {
                throw WhittleError(.invalidGraph, "batch_indices[\(r)] = \(batch) is outside the batch of \(x.shape[0])")
            }
            let shift = halfPixel ? 0.5 : 0
            let startX = rois[r * 4] * scale - shift, startY = rois[r * 4 + 1] * scale - shift
            var roiWidth = rois[r * 4 + 2] * scale - shift - startX, roiHeight = rois[r * 4 + 3] * scale - shift - startY
            if !halfPixel { roiWidth = Swift.max(roiWidth, 1); roiHeight = Swift.max(roiHeight, 1) }
            let binHeight = roiHeight / Double(bins), binWidth = roiWidth / Double(binsWide)
            // Samples per bin: given, or one per unit of the bin's size.
            let wantY = ratio > 0 ? Double(ratio) : (roiHeight / Double(bins)).rounded(.up)
            let wantX = ratio > 0 ? Double(ratio) : (roiWidth / Double(binsWide)).rounded(.up)
            guard wantY.isFinite, wantX.isFinite, Swift.max(wantY, 0) * Swift.max(wantX, 0) * Double(bins * binsWide) <= maximumSamples else {
                throw WhittleError(.invalidGraph, "region \(r) (\(rois[(r * 4)..<(r * 4 + 4)].map { $0 })) needs more than "
                                   + "\(Int(maximumSamples)) bilinear samples")
            }
            let gridY = Swift.max(Int(wantY), 0), gridX = Swift.max(Int(wantX), 0)
            let count = Double(Swift.max(gridY * gridX, 1))
            var samples: [Sample] = []
            samples.reserveCapacity(bins * binsWide * gridY * gridX)
            for by in 0..<bins {
                for bx in 0..<binsWide {
                    for iy in 0..<gridY {
                        let y = startY + Double(by) * binHeight + (Double(iy) + 0.5) * binHeight / Double(gridY)
                        for ix in 0..<gridX {
                            let xx = startX + Double(bx) * binWidth + (Double(ix) + 0.5) * binWidth / Double(gridX)
                            samples.append(sample(y: y, x: xx, height: height, width: width))
                        }
                    }
                }
            }
            let perBin = gridY * gridX
            for c in 0..<channels {
                let base = (batch * channels + c) * plane
                for bin in 0..<(bins * binsWide) {
                    var value = 0.0, first = true
                    for s in samples[(bin * perBin)..<((bin + 1) * perBin)] {
                        let o = s.offsets, w = s.weights
                        if average {
                            value += w.0 * v[base + o.0] + w.1 * v[base + o.1] + w.2 * v[base + o.2] + w.3 * v[base + o.3]
                        } else {
                            // The largest weighted corner, as ONNX Runtime defines max mode.
                            let m = Swift.max(w.0 * v[base + o.0], w.1 * v[base + o.1], w.2 * v[base + o.2], w.3 * v[base + o.3])
                            value = first ? m : Swift.max(value, m)
                            first = false
                        }
                    }
                    out[(r * channels + c) * bins * binsWide + bin] = average ? value / count : value
                }
            }
        }
        return [NDArray(x.elementType, shape: shape, values: out)]
    }
}
