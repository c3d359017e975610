import WhittleIR
import WhittleOps

/// What a C kernel generator knows about the node it writes: attributes, static
/// types and shapes, and the values of constant inputs.
struct NodeEmission {
    let node: Node
    /// Attribute accessors, opset and input constants, as during shape inference.
    let context: InferenceContext
    let outputTypes: [TensorType]
    /// Requantize with integer arithmetic only (cores without an FPU).
    var integerOnly = false
    /// How the int8 convolution and matrix kernels keep their weights.
    var weightLayout = WeightLayout.pairs
    /// Float convolutions on the tiled kernels (eight channels by eight pixels).
    var floatTiles = false
    /// The device has NEON.
    var neon = false
    /// Int16 paired rows (cores with the DSP extension: SMLAD takes them without unpacking, at twice the flash).
    var wideWeights: Bool { weightLayout == .widePairs }
    /// Whether weights whose values all fit 4 bits are stored two per byte (every layout but the
    /// int16 one, which is chosen for speed over flash).
    var packsNibbles: Bool { weightLayout != .widePairs }
    /// When weights with zeros get a sparse form (`--sparse`).
    var sparse = SparsePolicy.auto
    /// Constant arrays the kernel adds to the weights file, and its note for the report.
    let extras = EmissionExtras()
    /// The C name of the node's planned scratch memory (`void *`), when the plan gave it some.
    var scratch: String?
    /// The prefix of symbols the kernel adds (unique per node).
    var symbolPrefix = "w"

    /// Adds a float array to the weights and returns its C symbol.
    func weightArray(_ suffix: String, floats: [Float]) -> String {
        let symbol = "\(symbolPrefix)_\(suffix)"
        extras.arrays.append(.init(symbol: symbol, type: .float, values: .floats(floats)))
        return symbol
    }

    /// Adds an integer array of `type` to the weights and returns its C symbol.
    func weightArray(_ suffix: String, _ type: ElementType, integers: [Int64]) -> String {
        let symbol = "\(symbolPrefix)_\(suffix)"
        extras.arrays.append(.init(symbol: symbol, type: type, values: .integers(integers)))
        return symbol
    }

    /// The C parameter name of input `i` (present only when the kernel reads it at run time).
    func x(_ i: Int) -> String { "x\(i)" }
    /// The C parameter name of output `i`.
    func y(_ i: Int) -> String { "y\(i)" }

    func has(_ i: Int) -> Bool { context.has(i) }

    func inputType(_ i: Int) throws -> TensorType { try context.type(i) }

    func inputShape(_ i: Int) throws -> [Int] { try context.shape(i) }

    func outputShape(_ i: Int = 0) throws -> [Int] {
        guard i < outputTypes.count, let shape = outputTypes[i].shape else {
            throw WhittleError(.shapeMismatch, "the shape of output \(i) is unknown")
        }
        return shape
    }

    /// The C type of input `i`.
    func cType(input i: Int) throws -> String { try Self.cType(inputType(i).elementType) }

    func cType(output i: Int = 0) throws -> String { try Self.cType(outputTypes[i].elementType) }

    static func cType(_ type: ElementType) throws -> String {
        guard let c = CSyntax.type(type) else {
            throw WhittleError(.unsupported, "the C back end does not support \(type.name) tensors")
        }
        return c
    }

    /// The compile-time value of input `i`, if it is a constant.
    func constant(_ i: Int) -> Tensor? { context.value(i) }

    var elementType: ElementType { outputTypes.first?.elementType ?? .float }

    /// C math for the element type: `expf` for float, `exp` for double.
    func math(_ function: String, _ type: ElementType? = nil) -> String {
        (type ?? elementType) == .float ? function + "f" : function
    }

    /// A constant in the element type's C form.
    func literal(_ value: Double, _ type: ElementType? = nil) -> String {
        CSyntax.constant(value, type ?? elementType)
    }
}

/// What a kernel adds beside its function: constant arrays for the weights file, a note for the report.
final class EmissionExtras: @unchecked Sendable {
    struct Array {
        var symbol: String
        var type: ElementType
        var values: WeightValues
    }
    var arrays: [Array] = []
    /// How the layer's weights are stored, and why (dense or sparse, with the cost model's numbers).
    var weightForm: WeightForm?
    /// Set by a kernel whose C copies each channel of its input into scratch before writing that
    /// channel's output (the library depthwise kernels), so the planner may put the output over the input.
    var overwritesInput = false
    /// Bits per stored weight of a library int8 layer (4: two per byte; 8; 16: the wide layout).
    var weightBits: Int?
}

/// A C kernel generator: writes the body of the node's function.
typealias CKernel = @Sendable (NodeEmission, inout CWriter) throws -> Void

/// An operand of a strided loop nest: for each output dimension, how far the operand moves.
struct StridedOperand {
    var name: String
    var strides: [Int]
    var offset: Int = 0

    /// Row-major strides of `shape` broadcast to `output` (0 where the operand repeats).
    static func broadcast(_ name: String, shape: [Int], to output: [Int]) -> StridedOperand {
        let own = Shape.strides(shape)
        let rankOffset = output.count - shape.count
        let strides = output.indices.map { d -> Int in
            let k = d - rankOffset
            return k < 0 || shape[k] == 1 ? 0 : own[k]
        }
        return StridedOperand(name: name, strides: strides)
    }
}

extension CWriter {
    /// Nested loops over `shape`; `body` gets, for each operand, its index expression.
    /// Dimensions that all operands traverse contiguously are merged into one loop.
    mutating func loopNest(_ shape: [Int], _ operands: [StridedOperand], prefix: String = "i", body: ([String]) -> [String]) {
        var dims: [(size: Int, strides: [Int])] = []
        for d in shape.indices where shape[d] != 1 {
            let strides = operands.map { $0.strides[d] }
            if let last = dims.last, zip(last.strides, strides).allSatisfy({ $0 == $1 * shape[d] }) {
                dims[dims.count - 1] = (last.size * shape[d], strides)
            } else {
                dims.append((shape[d], strides))
            }
        }
        let indices = operands.indices.map { k -> String in
            var terms: [String] = []
            for (level, dim) in dims.enumerated() where dim.strides[k] != 0 {
                terms.append(dim.strides[k] == 1 ? "\(prefix)\(level)" : "\(prefix)\(level) * \(dim.strides[k])")
            }
            if operands[k].offset != 0 || terms.isEmpty { terms.insert(String(operands[k].offset), at: 0) }
            return terms.joined(separator: " + ")
        }
        func emit(_ level: Int, _ w: inout CWriter) {
            if level == dims.count {
                w.lines(body(indices))
                return
            }
            w.block("for (int \(prefix)\(level) = 0; \(prefix)\(level) < \(dims[level].size); ++\(prefix)\(level))") { emit(level + 1, &$0) }
        }
        if shape.contains(0) { return }
        emit(0, &self)
    }
}

/// How the int8 convolution and matrix kernels keep their weights (`whittle_kernels.h`), chosen per
/// target: each layout has its kernels, and every layout gives the same outputs.
public enum WeightLayout: Sendable, Hashable {
    /// Paired rows of int8 (`whittle_conv_s8`): the portable layout, and the smallest.
    case pairs
    /// Paired rows of int16: SMLAD multiplies them without unpacking (cores with the DSP extension).
    case widePairs
    /// Blocks of eight channels of int8, taps in pairs (`whittle_conv_s8_tiles`), with the input zero
    /// point folded into the bias: eight channels by eight pixels per pass (AArch64 NEON, and hosts
    /// whose compilers vectorize the portable loops).
    case tiles
    /// The tiles with the convolutions' weights as int8 in quads of taps, for SDOT (cores with the
    /// Armv8.2 dot product); layers with uint8 inputs and fully connected layers keep `tiles`.
    case dotTiles

    /// Whether the layout is one of the tiles.
    var isTiled: Bool { self == .tiles || self == .dotTiles }

    /// The flash an int8 convolution or matrix weight takes in this layout.
    public var bytesPerWeight: Int { self == .widePairs ? 2 : 1 }

    /// The library kernels that read convolution and matrix weights in this layout.
    public static let kernels: Set<String> = ["whittle_conv_s8", "whittle_fully_connected_s8", "whittle_conv_s8_tiles",
                                              "whittle_fully_connected_s8_tiles"]

    /// The layout in words: how an int8 weight is stored.
    public var name: String {
        switch self {
        case .pairs: "int8 pairs"
        case .widePairs: "int16 pairs"
        case .tiles: "int8 tiles"
        case .dotTiles: "int8 quads"
        }
    }
}
