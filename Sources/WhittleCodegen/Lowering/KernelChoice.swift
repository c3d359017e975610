/// How the C computes one node of the compiled graph, decided once by ``Lowering`` before memory is
/// planned: the planner reads its scratch and in-place facts, the emitter renders it, and the reports
/// (`inspect --target`, the compile report, `compile --explain`) describe it.
public struct KernelChoice: Sendable {
    public enum Kind: Sendable, Equatable {
        /// A view of its input (Reshape, Flatten, ... in place): no code.
        case view
        /// Every output has no elements: nothing to compute.
        case noCode
        /// The start or end of a Loop/Scan kept as a C loop.
        case loopRegion
        /// Hand-written kernels of the library (their names).
        case library([String])
        /// Loops written for this node.
        case generatedLoops
    }

    public var kind: Kind
    /// Working memory the kernel needs while it runs (planned in the arena), in bytes.
    public var scratchBytes = 0
    /// Whether the kernel may write its output over its input (it copies what it still needs first).
    public var writesOverInput = false
    /// How the layer's weights are stored, when they have zeros (dense or sparse rows, with the numbers).
    public var weightForm: WeightForm?
    /// Bits per stored weight of an int8 library layer: 4 (two per byte, when every value fits), 8,
    /// or 16 (the wide layout).
    public var weightBits: Int?

    /// The library kernels it calls (empty for generated loops and nodes without code).
    public var kernels: [String] {
        if case .library(let names) = kind { return names }
        return []
    }

    /// Why this form, in a few words.
    public var reason: String {
        var parts: [String]
        switch kind {
        case .view: parts = ["same bytes as its input, another shape: no code"]
        case .noCode: parts = ["its outputs have no elements"]
        case .loopRegion: parts = ["a Loop or Scan whose body keeps its shapes, kept as a C loop"]
        case .library: parts = ["the layer has the library kernel's form"]
        case .generatedLoops: parts = ["no library kernel has this layer's form"]
        }
        if writesOverInput { parts.append("each channel is copied to scratch before its output is written, so the output may overlay the input") }
        if let weightForm { parts.append(weightForm.description) }
        if weightBits == 4 { parts.append("every weight fits 4 bits: two per byte, unpacked in registers") }
        return parts.joined(separator: "; ")
    }
}

/// How a layer with zero weights stores them, and the cost model's numbers behind the choice.
public struct WeightForm: Sendable, CustomStringConvertible {
    /// Delta-encoded rows of the nonzero weights (else the dense layout).
    public var sparse: Bool
    public var zeros: Int
    public var total: Int
    public var denseBytes: Int
    public var sparseBytes: Int
    /// Estimated work of the sparse kernel over the dense one.
    public var workRatio: Double
    /// How the sparse form stores the nonzero weights' places ("delta rows", "bitmask rows").
    public var layout = "delta rows"

    /// The weight bytes as stored.
    public var storedBytes: Int { sparse ? sparseBytes : denseBytes }

    public var description: String {
        let density = Double(total - zeros) / Double(max(total, 1)) * 100
        return "\(sparse ? "sparse (\(layout))" : "dense"): \(String(format: "%.1f", 100 - density)) % zeros; dense \(denseBytes) B, "
            + "sparse \(sparseBytes) B; estimated work sparse/dense \(String(format: "%.2f", workRatio))"
    }
}
