import WhittleIR

/// What Whittle knows about one operator: how to infer its output types, how to
/// fold it when its inputs are constants, and how many multiply-accumulates it costs.
public struct OperatorDefinition: Sendable {
    public typealias Infer = @Sendable (InferenceContext) throws -> [TensorType]
    public typealias Fold = @Sendable (InferenceContext) throws -> [Tensor]?
    public typealias CountMACs = @Sendable (InferenceContext, [TensorType]) -> Int

    /// The operator set domain ("" for the default ONNX domain).
    public let domain: String
    public let name: String
    /// Output types from input types, attributes and (when known) constant input values.
    public let infer: Infer
    /// Output values when they can be computed at compile time; nil when not foldable.
    public let fold: Fold?
    /// Multiply-accumulates of one run; nil for operators counted as free (as MLPerf Tiny counts).
    public let macs: CountMACs?
    /// The reference kernel the interpreter runs; set by the registry from the family's kernel table.
    public internal(set) var evaluate: Kernel?

    public init(_ name: String, domain: String = "", infer: @escaping Infer, fold: Fold? = nil, macs: CountMACs? = nil) {
        self.domain = domain
        self.name = name
        self.infer = infer
        self.fold = fold
        self.macs = macs
    }
}

extension OperatorDefinition {
    /// This operator with ONNX's 8-bit type constraint on groups of its inputs (a tensor and its zero
    /// point): each group present must be all int8 or all uint8. Whittle's integer kernels read such
    /// inputs one byte per value, so any other type (int4 packed two to a byte, int16) is refused
    /// here, where the node and the reason can be named, instead of reaching a kernel.
    ///
    /// `wide` groups (activations and their zero points) may also be int16 or uint16: Whittle's own
    /// extension for 16×8 layers (16-bit activations, 8-bit weights), which the fuse-qdq pass makes
    /// from QDQ models with 16-bit activations and whose kernels accumulate in 64 bits where 32 could
    /// overflow.
    public func requiringEightBitIntegers(_ groups: [[Int]], wide: [[Int]] = []) -> OperatorDefinition {
        let inner = infer
        return OperatorDefinition(name, domain: domain, infer: { ctx in
            for group in groups {
                try ctx.expectTypes(group, in: wide.contains(group) ? InferenceContext.activationIntegers : InferenceContext.eightBitIntegers)
                try ctx.expectSameType(group)
            }
            return try inner(ctx)
        }, fold: fold, macs: macs)
    }
}

/// Everything an operator definition may look at for one node.
public struct InferenceContext: Sendable {
    public let node: Node
    /// The opset version of the node's domain.
    public let opset: Int
    /// Types of the node's inputs; nil where an optional input is absent.
    public let inputTypes: [TensorType?]
    /// Constant values of the inputs where known (initializers, Constant nodes, folded shape arithmetic).
    public let inputValues: [Tensor?]

    public init(node: Node, opset: Int, inputTypes: [TensorType?], inputValues: [Tensor?]) {
        self.node = node
        self.opset = opset
        self.inputTypes = inputTypes
        self.inputValues = inputValues
    }

    // MARK: Inputs

    /// Whether input `index` is given.
    public func has(_ index: Int) -> Bool { index < inputTypes.count && inputTypes[index] != nil }

    /// The type of input `index`, which must be given.
    public func type(_ index: Int) throws -> TensorType {
        guard index < inputTypes.count, let type = inputTypes[index] else {
            throw WhittleError(.invalidGraph, "required input \(index) is missing")
        }
        return type
    }

    /// The shape of input `index`, which must be given and known.
    public func shape(_ index: Int) throws -> [Int] {
        guard let shape = try type(index).shape else {
            throw WhittleError(.shapeMismatch, "the shape of input \(index) is unknown")
        }
        return shape
    }

    /// The constant value of input `index`, if it is given and known.
    public func value(_ index: Int) -> Tensor? {
        index < inputValues.count ? inputValues[index] : nil
    }

    /// The constant integer values of input `index`; throws when it is not a known integer tensor.
    public func constantInts(_ index: Int, what: String) throws -> [Int] {
        guard let tensor = value(index) else {
            throw WhittleError(.unsupported, "\(what) (input \(index)) must be a constant or computable from static shapes")
        }
        guard let values = tensor.int64s() else {
            throw WhittleError(.shapeMismatch, "\(what) (input \(index)) must be an integer tensor, found \(tensor.elementType.name)")
        }
        return values.map { Int(clamping: $0) }
    }

    /// The 8-bit integer types the ONNX quantized operators (QLinearConv, QLinearMatMul, ConvInteger,
    /// MatMulInteger and ONNX Runtime's QGemm, QLinearAdd, ...) accept for data and zero points.
    public static let eightBitIntegers: Set<ElementType> = [.int8, .uint8]

    /// The integer types quantized activations may have in Whittle's integer operators: 8 bits, or
    /// 16 bits in the 16×8 scheme.
    public static let activationIntegers: Set<ElementType> = [.int8, .uint8, .int16, .uint16]

    /// Requires the given inputs (those present) to have one of `allowed` element types, as an
    /// operator's type constraint says: a kernel written for bytes must never see 4-bit packed
    /// data, 16-bit integers or floats in their place.
    public func expectTypes(_ indices: [Int], in allowed: Set<ElementType>) throws {
        for index in indices where has(index) {
            let type = try self.type(index).elementType
            guard allowed.contains(type) else {
                let names = allowed.map(\.name).sorted().joined(separator: " or ")
                throw WhittleError(.unsupported, "input \(index) (\"\(node.inputs[index])\") must be \(names) for \(node.opType), found \(type.name)")
            }
        }
    }

    /// Requires the given inputs (those present) to share one element type.
    public func expectSameType(_ indices: [Int]) throws {
        let present = indices.filter(has)
        let types = try present.map { try self.type($0).elementType }
        guard let first = types.first, let other = types.firstIndex(where: { $0 != first }) else { return }
        throw WhittleError(.shapeMismatch, "inputs \(present[0]) and \(present[other]) must have one element type, found "
            + "\(first.name) and \(types[other].name)")
    }

    /// Requires between `min` and `max` inputs.
    public func expectInputs(_ min: Int, _ max: Int) throws {
        let given = node.inputs.count
        guard given >= min, given <= max else {
            let range = min == max ? "\(min)" : "\(min) to \(max)"
            throw WhittleError(.invalidGraph, "expects \(range) inputs, found \(given)")
        }
    }

    // MARK: Attributes

    private func wrongType(_ name: String, _ expected: String, _ found: Attribute) -> WhittleError {
        WhittleError(.invalidAttribute, "attribute \(name) must be \(expected), found \(found.kindName)")
    }

    public func int(_ name: String) throws -> Int? {
        guard let a = node.attributes[name] else { return nil }
        guard case .int(let v) = a else { throw wrongType(name, "INT", a) }
        return v
    }

    public func int(_ name: String, default value: Int) throws -> Int { try int(name) ?? value }

    public func float(_ name: String) throws -> Float? {
        guard let a = node.attributes[name] else { return nil }
        switch a {
        case .float(let v): return v
        default: throw wrongType(name, "FLOAT", a)
        }
    }

    public func float(_ name: String, default value: Float) throws -> Float { try float(name) ?? value }

    public func string(_ name: String) throws -> String? {
        guard let a = node.attributes[name] else { return nil }
        guard case .string(let v) = a else { throw wrongType(name, "STRING", a) }
        return v
    }

    public func string(_ name: String, default value: String) throws -> String { try string(name) ?? value }

    public func ints(_ name: String) throws -> [Int]? {
        guard let a = node.attributes[name] else { return nil }
        guard case .ints(let v) = a else { throw wrongType(name, "INTS", a) }
        return v
    }

    public func floats(_ name: String) throws -> [Float]? {
        guard let a = node.attributes[name] else { return nil }
        guard case .floats(let v) = a else { throw wrongType(name, "FLOATS", a) }
        return v
    }

    public func tensor(_ name: String) throws -> Tensor? {
        guard let a = node.attributes[name] else { return nil }
        guard case .tensor(let v) = a else { throw wrongType(name, "TENSOR", a) }
        return v
    }

    /// An element type given as an integer attribute (Cast's `to`, ...).
    public func elementType(_ name: String) throws -> ElementType? {
        guard let raw = try int(name) else { return nil }
        guard let type = ElementType(onnx: Int32(clamping: raw)) else {
            throw WhittleError(.invalidAttribute, "attribute \(name) = \(raw) is not an ONNX element type")
        }
        return type
    }
}
