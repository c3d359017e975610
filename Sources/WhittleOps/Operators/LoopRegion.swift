import WhittleIR

/// A Loop or Scan kept as a loop for the C back end: `whittle.LoopBegin`, one copy of the body, then
/// `whittle.LoopEnd`, paired by their `region` attribute. The nodes between them run `trip_count`
/// times.
///
/// - LoopBegin: inputs are the K initial carried values, then the S scan input sequences; outputs are
///   the iteration number (int64 scalar, optional), the K carried values of this iteration and the S
///   slices of this iteration (`scan_input_axes`, `scan_input_directions`).
/// - LoopEnd: inputs are the body's K carried results, its M scan results, then the K carried values
///   LoopBegin gives (the buffers the results go back to); outputs are the K final carried values and
///   the M stacked scan outputs (`scan_output_axes`, `scan_output_directions`).
///
/// Shapes must not change from one iteration to the next. Neither node has a reference kernel: the
/// interpreter runs regions itself (jumping back from LoopEnd), and they are never folded.
public enum LoopRegion {
    public static let begin = "LoopBegin", end = "LoopEnd"
    public static var domain: String { WhittleBinaryOperators.domain }

    static var all: [OperatorDefinition] { [beginDefinition, endDefinition] }

    /// Whether `node` opens (`begin`) or closes (`end`) a region.
    public static func isBegin(_ node: Node) -> Bool { node.domain == domain && node.opType == begin }
    public static func isEnd(_ node: Node) -> Bool { node.domain == domain && node.opType == end }

    /// A region's attributes, read from either of its nodes.
    public struct Attributes: Sendable {
        public var region: Int
        public var trips: Int
        public var carried: Int
        public var axes: [Int]
        public var directions: [Int]

        public init(_ node: Node) throws {
            func int(_ name: String) throws -> Int {
                guard case .int(let v)? = node.attributes[name] else {
                    throw WhittleError(.invalidAttribute, "\(node.opType) needs the attribute \(name)")
                }
                return v
            }
            func ints(_ name: String) -> [Int] {
                if case .ints(let v)? = node.attributes[name] { return v }
                return []
            }
            region = try int("region")
            trips = try int("trip_count")
            carried = try int("carried")
            let prefix = node.opType == LoopRegion.begin ? "scan_input" : "scan_output"
            axes = ints("\(prefix)_axes")
            directions = ints("\(prefix)_directions")
            guard trips >= 0, carried >= 0, axes.count == directions.count else {
                throw WhittleError(.invalidAttribute, "\(node.opType) has a negative trip count or carried count, or axes and directions differ in number")
            }
        }
    }

    /// The (begin, end) node indices of every region of `graph`, paired by their region number.
    public static func regions(_ graph: Graph) throws -> [(begin: Int, end: Int)] {
        var open: [Int: Int] = [:], pairs: [(begin: Int, end: Int)] = []
        for (index, node) in graph.nodes.enumerated() {
            if isBegin(node) {
                open[try Attributes(node).region] = index
            } else if isEnd(node) {
                let region = try Attributes(node).region
                guard let start = open.removeValue(forKey: region) else {
                    throw WhittleError(.invalidGraph, "LoopEnd of region \(region) has no LoopBegin before it")
                }
                pairs.append((start, index))
            }
        }
        guard open.isEmpty else { throw WhittleError(.invalidGraph, "a LoopBegin has no LoopEnd after it") }
        return pairs
    }

    static let beginDefinition = OperatorDefinition(begin, domain: domain, infer: { ctx in
        let a = try Attributes(ctx.node)
        let sequences = ctx.node.inputs.count - a.carried
        guard sequences == a.axes.count, ctx.node.outputs.count == 1 + a.carried + sequences else {
            throw WhittleError(.invalidGraph, "LoopBegin's inputs and outputs do not match its carried and scan counts")
        }
        var types = [TensorType(.int64, [])]
        for k in 0..<a.carried { types.append(try ctx.type(k)) }
        for s in 0..<sequences {
            let type = try ctx.type(a.carried + s), shape = try ctx.shape(a.carried + s)
            let axis = try Shape.normalizeAxis(a.axes[s], rank: shape.count)
            guard shape[axis] == a.trips else {
                throw WhittleError(.shapeMismatch, "scan input \(s) has \(shape[axis]) steps along axis \(axis), not \(a.trips)")
            }
            var slice = shape
            slice.remove(at: axis)
            types.append(TensorType(type.elementType, slice))
        }
        return types
    })

    static let endDefinition = OperatorDefinition(end, domain: domain, infer: { ctx in
        let a = try Attributes(ctx.node)
        let scans = ctx.node.inputs.count - 2 * a.carried
        guard scans == a.axes.count, ctx.node.outputs.count == a.carried + scans else {
            throw WhittleError(.invalidGraph, "LoopEnd's inputs and outputs do not match its carried and scan counts")
        }
        var types: [TensorType] = []
        for k in 0..<a.carried {
            let result = try ctx.type(k), state = try ctx.type(a.carried + scans + k)
            guard result.elementType == state.elementType, try ctx.shape(k) == ctx.shape(a.carried + scans + k) else {
                throw WhittleError(.shapeMismatch, "carried value \(k) changes from \(state) to \(result) in one iteration")
            }
            types.append(state)
        }
        for m in 0..<scans {
            let type = try ctx.type(a.carried + m), shape = try ctx.shape(a.carried + m)
            let axis = try Shape.normalizeAxis(a.axes[m], rank: shape.count + 1)
            var stacked = shape
            stacked.insert(a.trips, at: axis)
            types.append(TensorType(type.elementType, stacked))
        }
        return types
    })
}
