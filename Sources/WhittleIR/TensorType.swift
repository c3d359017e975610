/// The static type of a value: element type and shape.
///
/// `shape` is nil while it is unknown (for example after an operator Whittle
/// does not know), so that a partly understood model can still be described.
public struct TensorType: Sendable, Hashable, CustomStringConvertible {
    public var elementType: ElementType
    public var shape: [Int]?

    /// Bytes a value of this type takes when its shape is known (packed types round up to bytes).
    public var storageBytes: Int? {
        guard let shape, let count = try? Shape.elementCount(shape) else { return nil }
        return try? elementType.storageBytes(count: count)
    }

    public init(_ elementType: ElementType, _ shape: [Int]?) {
        self.elementType = elementType
        self.shape = shape
    }

    /// `float32[1x3x32x32]`, or `float32[?]` when the shape is unknown.
    public var description: String {
        "\(elementType.name)[\(shape.map(Shape.describe) ?? "?")]"
    }
}

/// A named graph input or output and its type (nil when the model does not declare one).
public struct ValueInfo: Sendable, Hashable {
    public var name: String
    public var type: TensorType?

    public init(name: String, type: TensorType?) {
        self.name = name
        self.type = type
    }
}
