/// A dataflow graph: nodes in topological order, named values, constant initializers.
///
/// Subgraphs (If/Loop/Scan bodies) are graphs too; their nodes may read values
/// of the enclosing graphs by name.
public struct Graph: Sendable, Hashable {
    public var name: String
    /// Runtime inputs, in declaration order; initializers are not listed here.
    public var inputs: [ValueInfo] { didSet { inputTypes = Self.typesByName(inputs) } }
    /// The declared type of each input (the first one of a name), so `type(of:)` does not scan them.
    private var inputTypes: [String: TensorType]
    public var outputs: [ValueInfo]
    public var nodes: [Node]
    /// Constant tensors by value name.
    public var initializers: [String: Tensor]
    /// Known types of values: declared ones from the model, then inferred ones.
    public var valueTypes: [String: TensorType]

    public init(name: String, inputs: [ValueInfo] = [], outputs: [ValueInfo] = [], nodes: [Node] = [],
                initializers: [String: Tensor] = [:], valueTypes: [String: TensorType] = [:]) {
        self.name = name
        self.inputs = inputs
        self.inputTypes = Self.typesByName(inputs)
        self.outputs = outputs
        self.nodes = nodes
        self.initializers = initializers
        self.valueTypes = valueTypes
    }

    /// The type of `value`: an initializer's, a graph input's, or a recorded one.
    public func type(of value: String) -> TensorType? {
        if let t = initializers[value] { return t.type }
        if let type = inputTypes[value] { return type }
        return valueTypes[value]
    }

    static func typesByName(_ inputs: [ValueInfo]) -> [String: TensorType] {
        var types: [String: TensorType] = [:]
        var seen = Set<String>()
        for input in inputs where seen.insert(input.name).inserted { if let type = input.type { types[input.name] = type } }
        return types
    }

    /// Initializer names in a fixed order (sorted), for deterministic output.
    public var initializerNames: [String] { initializers.keys.sorted() }

    /// The context used in errors about node `index`.
    public func context(ofNode index: Int) -> NodeContext {
        NodeContext(index: index, name: nodes[index].name, opType: nodes[index].qualifiedOpType)
    }
}

/// A whole model: the main graph plus the metadata ONNX keeps with it.
public struct Model: Sendable {
    public var irVersion: Int
    public var producerName: String
    public var producerVersion: String
    public var domain: String
    public var modelVersion: Int
    public var docString: String
    /// Imported operator set versions by domain; the default domain is "".
    public var opsets: [String: Int]
    public var graph: Graph
    /// Things the import decided that a user should know (pinned dimensions, inlined functions).
    public var notes: [String]

    public init(irVersion: Int = 0, producerName: String = "", producerVersion: String = "", domain: String = "",
                modelVersion: Int = 0, docString: String = "", opsets: [String: Int] = ["": 13],
                graph: Graph, notes: [String] = []) {
        self.irVersion = irVersion
        self.producerName = producerName
        self.producerVersion = producerVersion
        self.domain = domain
        self.modelVersion = modelVersion
        self.docString = docString
        self.opsets = opsets
        self.graph = graph
        self.notes = notes
    }

    /// The operator set version a node of `domain` is interpreted with (0 when not imported).
    public func opset(for domain: String) -> Int {
        Node.isDefaultDomain(domain) ? (opsets[""] ?? opsets["ai.onnx"] ?? 0) : (opsets[domain] ?? 0)
    }
}
