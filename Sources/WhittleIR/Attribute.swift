/// A node attribute, typed as in ONNX's `AttributeProto`.
public indirect enum Attribute: Sendable, Hashable {
    case int(Int)
    case float(Float)
    case string(String)
    case tensor(Tensor)
    case graph(Graph)
    case ints([Int])
    case floats([Float])
    case strings([String])
    case tensors([Tensor])
    case graphs([Graph])
    /// A kind Whittle keeps but does not interpret (sparse tensors, type protos); the payload names it.
    case opaque(String)

    /// The ONNX spelling of the attribute's kind, used in error messages.
    public var kindName: String {
        switch self {
        case .int: "INT"
        case .float: "FLOAT"
        case .string: "STRING"
        case .tensor: "TENSOR"
        case .graph: "GRAPH"
        case .ints: "INTS"
        case .floats: "FLOATS"
        case .strings: "STRINGS"
        case .tensors: "TENSORS"
        case .graphs: "GRAPHS"
        case .opaque(let kind): kind
        }
    }

    /// A short rendering for reports: `[3, 3]`, `0.1`, `"NOTSET"`, `<graph>`.
    public var summary: String {
        switch self {
        case .int(let v): String(v)
        case .float(let v): "\(v)"
        case .string(let v): "\"\(v)\""
        case .tensor(let t): "<tensor \(t.type)>"
        case .graph(let g): "<graph \(g.name)>"
        case .ints(let v): "[" + v.map(String.init).joined(separator: ", ") + "]"
        case .floats(let v): "[" + v.map { "\($0)" }.joined(separator: ", ") + "]"
        case .strings(let v): "[" + v.map { "\"\($0)\"" }.joined(separator: ", ") + "]"
        case .tensors(let v): "<\(v.count) tensors>"
        case .graphs(let v): "<\(v.count) graphs>"
        case .opaque(let kind): "<\(kind)>"
        }
    }
}
