/// The choices of the C back end that a device implies, made once (from a target description and the
/// user's options) and passed as one value to the lowering stage and the emitter.
public struct CodegenOptions: Sendable, Hashable {
    /// Requantize integer layers without floating point (cores without an FPU).
    public var integerOnly = false
    /// How the int8 convolution and matrix kernels keep their weights.
    public var weightLayout = WeightLayout.pairs
    /// Float convolutions on the tiled kernels (eight channels by eight pixels).
    public var floatTiles = false
    /// The device has NEON (the library's vector code for Arm; other hosts get SSE2 or portable C),
    /// which the cost model of sparse layers tells apart.
    public var neon = false
    /// When weights with zeros get a sparse form (`--sparse`).
    public var sparse = SparsePolicy.auto
    /// The device these choices are for (named in the generated files).
    public var target = "host"

    public init(integerOnly: Bool = false, weightLayout: WeightLayout = .pairs, floatTiles: Bool = false, sparse: SparsePolicy = .auto) {
        self.integerOnly = integerOnly
        self.weightLayout = weightLayout
        self.floatTiles = floatTiles
        self.sparse = sparse
    }

    /// The options in words, for the first line of the generated files.
    public var summary: String {
        "int8 weights in \(weightLayout.name), float convolutions \(floatTiles ? "tiled" : "blocked"), "
            + "requantization \(integerOnly ? "integer-only" : "float"), sparse \(sparse.rawValue)"
    }
}
