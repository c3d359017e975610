import WhittleIR

/// Everything a kernel sees when the reference interpreter runs one node.
public struct EvaluationContext: Sendable {
    /// Attributes, opset and input types (with constant values where known), as during inference.
    public let node: InferenceContext
    /// The runtime values of the inputs; nil where an optional input is absent.
    public let inputs: [NDArray?]
    /// The inferred output types; kernels may rely on their shapes.
    public let outputTypes: [TensorType]

    public init(node: InferenceContext, inputs: [NDArray?], outputTypes: [TensorType]) {
        self.node = node
        self.inputs = inputs
        self.outputTypes = outputTypes
    }

    /// Input `index`, which must be given.
    public func input(_ index: Int) throws -> NDArray {
        guard index < inputs.count, let value = inputs[index] else {
            throw WhittleError(.invalidGraph, "required input \(index) is missing")
        }
        return value
    }

    /// Input `index` if it is given.
    public func optionalInput(_ index: Int) -> NDArray? {
        index < inputs.count ? inputs[index] : nil
    }

    /// The inferred shape of output `index`.
    public func outputShape(_ index: Int = 0) throws -> [Int] {
        guard index < outputTypes.count, let shape = outputTypes[index].shape else {
            throw WhittleError(.shapeMismatch, "the shape of output \(index) is unknown")
        }
        return shape
    }

    /// Input `index` as float32 values, with `count` elements or exactly one (a per-tensor value).
    public func parameters(_ index: Int, what: String, count: Int) throws -> [Float] {
        let values = try input(index).floats
        guard values.count == 1 || (values.count == count && count > 0) else {
            throw WhittleError(.shapeMismatch, "\(what) has \(values.count) values; 1 or \(count) expected")
        }
        return values
    }

    public func outputType(_ index: Int = 0) -> ElementType {
        index < outputTypes.count ? outputTypes[index].elementType : .float
    }
}

extension NDArray {
    /// The elements at `flat` indices, as an array of `shape` with the same type (data movement ops).
    public func gathered(_ flat: [Int], shape: [Int]) -> NDArray {
        switch storage {
        case .float(let v): NDArray(elementType, shape: shape, floats: flat.map { v[$0] })
        case .double(let v): NDArray(shape: shape, doubles: flat.map { v[$0] })
        case .int(let v): NDArray(elementType, shape: shape, ints: flat.map { v[$0] })
        }
    }

    /// Applies `float`/`double`/`int` element-wise, keeping the type.
    public func mapped(float: (Float) -> Float, double: (Double) -> Double, int: (Int64) -> Int64) -> NDArray {
        switch storage {
        case .float(let v): NDArray(elementType, shape: shape, floats: v.map(float))
        case .double(let v): NDArray(shape: shape, doubles: v.map(double))
        case .int(let v): NDArray(elementType, shape: shape, ints: v.map(int))
        }
    }

    /// The array converted to `type` (C-cast semantics; see ``NDArray/integer(from:as:)``).
    public func converted(to type: ElementType) -> NDArray {
        if type == elementType { return self }
        switch storage {
        case .int(let v) where !type.isFloatingPoint: return NDArray(type, shape: shape, ints: v)
        case .float(let v) where type == .float || type == .float16 || type == .bfloat16: return NDArray(type, shape: shape, floats: v)
        default: return NDArray(type, shape: shape, values: doubles)
        }
    }
}

/// A kernel: computes a node's outputs from its inputs.
public typealias Kernel = @Sendable (EvaluationContext) throws -> [NDArray]
