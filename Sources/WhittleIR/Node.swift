/// One operator application in a graph.
///
/// Inputs and outputs are value names; an empty name marks an optional input or
/// output that is not given, as in ONNX.
public struct Node: Sendable, Hashable {
    public var name: String
    public var opType: String
    /// The operator set domain; "" is the default ONNX domain (also spelled "ai.onnx").
    public var domain: String
    public var inputs: [String]
    public var outputs: [String]
    public var attributes: [String: Attribute]
    /// Which overload of a model-local function the node calls (IR version 10); usually empty.
    public var overload: String

    public init(name: String, opType: String, domain: String = "", inputs: [String], outputs: [String],
                attributes: [String: Attribute] = [:], overload: String = "") {
        self.overload = overload
        self.name = name
        self.opType = opType
        self.domain = domain
        self.inputs = inputs
        self.outputs = outputs
        self.attributes = attributes
    }

    /// `opType`, qualified with the domain when it is not the default one.
    public var qualifiedOpType: String {
        Node.isDefaultDomain(domain) ? opType : "\(domain).\(opType)"
    }

    /// Whether `domain` names the default ONNX operator set.
    public static func isDefaultDomain(_ domain: String) -> Bool {
        domain.isEmpty || domain == "ai.onnx"
    }

    /// The node's subgraphs (If branches, Loop/Scan bodies), in attribute-name order.
    public var subgraphs: [Graph] {
        attributes.keys.sorted().flatMap { key -> [Graph] in
            switch attributes[key] {
            case .graph(let g): [g]
            case .graphs(let gs): gs
            default: []
            }
        }
    }
}
