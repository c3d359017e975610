import WhittleIR

/// Attribute and input interpretation shared with the C back end, so both read a node the same way.
public enum OperatorHelpers {
    /// Start, step and element count per axis of a Slice node, after the specification's clamping.
    public static func slicePlan(_ ctx: InferenceContext, shape: [Int]) throws -> [(start: Int, step: Int, count: Int)] {
        try ShapeManipulationOperators.slicePlan(ctx, shape: shape)
    }

    /// The axes of a reduction (an attribute before `opset`, an input from it); nil when none are given.
    public static func reductionAxes(_ ctx: InferenceContext, inputFrom opset: Int) throws -> [Int]? {
        try ShapeManipulationOperators.axes(ctx, inputFrom: opset)
    }

    /// The taps of every output coordinate of a Resize/Upsample node along each axis (index -1 where
    /// tf_crop_and_resize extrapolates), computed as the interpreter computes them; `values(i)` gives the
    /// values of input i (scales, roi) when known.
    public static func resizeTables(_ ctx: InferenceContext, input: [Int], output: [Int],
                                    values: (Int) -> [Double]?) throws -> [[[(index: Int, weight: Double)]]] {
        try GeneratorOperators.resizeTaps(ctx, input: input, output: output, values: values)
    }

    /// The shape MaxUnpool's indices address: the input un-pooled by kernel_shape, strides and pads.
    public static func unpooledShape(_ ctx: InferenceContext, input: [Int]) throws -> [Int] {
        try ScatterOperators.unpooledShape(ctx, input)
    }

    /// A DFT node's axis, transform length, directions and output shape, as the interpreter plans them.
    public static func dftPlan(_ ctx: InferenceContext) throws -> (axis: Int, length: Int, inverse: Bool, onesided: Bool, output: [Int]) {
        let plan = try SignalOperators.DFTPlan(ctx)
        return (plan.axis, plan.length, plan.inverse, plan.onesided, plan.outputShape)
    }

    /// An STFT node's frame step, frame length, frame count and frequency bins, as the interpreter plans them.
    public static func stftPlan(_ ctx: InferenceContext) throws -> (step: Int, length: Int, frames: Int, bins: Int) {
        let plan = try SignalOperators.STFTPlan(ctx)
        return (plan.step, plan.length, plan.frames, plan.bins)
    }

    /// A LinearAttention node's sizes and update rule, as the interpreter plans them.
    public static func linearAttentionPlan(_ ctx: InferenceContext) throws
        -> (batch: Int, steps: Int, qHeads: Int, kvHeads: Int, dk: Int, dv: Int, gated: Bool, delta: Bool) {
        let p = try LinearAttentionOperators.Plan(ctx)
        return (p.batch, p.steps, p.qHeads, p.kvHeads, p.dk, p.dv, p.gated, p.delta)
    }
}
