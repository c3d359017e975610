import WhittleIR
import WhittleOps

/// Where every value of a compiled graph lives.
public struct MemoryPlan: Sendable {
    public enum Storage: Sendable, Equatable {
        /// The caller's buffer for graph input `index`.
        case input(Int)
        /// The caller's buffer for graph output `index`.
        case output(Int)
        /// A constant in flash.
        case weight(String)
        /// Arena buffer `buffer` (see ``MemoryPlan/buffers``).
        case arena(buffer: Int)
    }

    /// A region of the arena and the steps (node indices) during which it holds data.
    public struct Buffer: Sendable, Equatable {
        public var offset: Int
        public var bytes: Int
        public var firstStep: Int
        public var lastStep: Int
        /// The values stored in it (several through in-place execution and aliases).
        public var values: [String]
    }

    public var storage: [String: Storage]
    public var buffers: [Buffer]
    /// The arena buffer (index into ``buffers``) that serves as a node's scratch memory, by node
    /// index: live during that node only.
    public var scratch: [Int: Int] = [:]
    /// Bytes of the arena (a multiple of the alignment).
    public var arenaBytes: Int
    /// The most bytes live at once over the schedule: no plan of these buffers can use less.
    public var lowerBound: Int
    public var alignment: Int

    /// The byte offset of `value` in the arena, if it lives there.
    public func offset(of value: String) -> Int? {
        if case .arena(let b)? = storage[value] { return buffers[b].offset }
        return nil
    }
}
