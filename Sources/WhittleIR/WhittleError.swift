/// Where in a graph something went wrong.
public struct NodeContext: Sendable, Hashable, CustomStringConvertible {
    public var index: Int
    public var name: String
    public var opType: String

    public init(index: Int, name: String, opType: String) {
        self.index = index
        self.name = name
        self.opType = opType
    }

    public var description: String {
        name.isEmpty ? "node \(index) (\(opType))" : "node \(index) \"\(name)\" (\(opType))"
    }
}

/// The one error type of Whittle: what went wrong, and where (file, node) when known.
///
/// Operators and decoders throw it without context; the loop that drives them
/// (import, inference, a pass) attaches the node once with ``inNode(_:)``, and the
/// entry point attaches the file with ``inFile(_:)``. Attaching never overwrites
/// a context that is already set, so the innermost, most precise one wins.
public struct WhittleError: Error, Sendable, CustomStringConvertible, Equatable {
    /// Broad category, stable for tests and for programs that embed Whittle.
    public enum Kind: String, Sendable, Equatable {
        /// The file could not be read, or a referenced file is missing.
        case io
        /// The bytes are not a well-formed ONNX model.
        case malformedModel
        /// The model is well-formed but breaks an ONNX rule (cycle, undefined name, ...).
        case invalidGraph
        /// An attribute is missing, of the wrong type, or out of range.
        case invalidAttribute
        /// Shapes or element types do not fit the operator.
        case shapeMismatch
        /// A feature that Whittle does not (yet) handle.
        case unsupported
        /// A command-line argument is wrong.
        case usage
    }

    public var kind: Kind
    public var reason: String
    public var file: String?
    public var node: NodeContext?
    /// The setting the error is about, or that would fix it. The reason names it in plain words;
    /// a front end adds its own name for it (the command line adds the flag).
    public var setting: WhittleSetting?

    public init(_ kind: Kind, _ reason: String, file: String? = nil, node: NodeContext? = nil, setting: WhittleSetting? = nil) {
        self.kind = kind
        self.reason = reason
        self.file = file
        self.node = node
        self.setting = setting
    }

    /// The same error with `node` attached, unless a node is already attached.
    public func inNode(_ node: NodeContext) -> WhittleError {
        var copy = self
        if copy.node == nil { copy.node = node }
        return copy
    }

    /// The same error with `file` attached, unless a file is already attached.
    public func inFile(_ file: String) -> WhittleError {
        var copy = self
        if copy.file == nil { copy.file = file }
        return copy
    }

    /// One line: `FILE: node 3 "conv1" (Conv): reason`.
    public var description: String {
        var parts: [String] = []
        if let file { parts.append(file) }
        if let node { parts.append(node.description) }
        parts.append(reason.split(separator: "\n").joined(separator: " "))
        return parts.joined(separator: ": ")
    }
}

extension WhittleError {
    /// Runs `body`, attaching `node` to any Whittle error it throws.
    public static func attaching<T>(_ node: NodeContext, _ body: () throws -> T) throws -> T {
        do {
            return try body()
        } catch let error as WhittleError {
            throw error.inNode(node)
        }
    }
}
