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
