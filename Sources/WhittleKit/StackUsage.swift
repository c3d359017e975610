import Foundation
import WhittleIR

/// The worst-case stack of a function, from the call-graph files GCC writes with
/// `-fcallgraph-info=su` (VCG: one node per function with its frame size, one edge per call).
/// The deepest path from the entry sums the frames along it; callees GCC did not compile (C library
/// functions such as `memset`) have no frame in the files and are listed as unmeasured.
public struct StackUsage: Sendable, Equatable {
    /// Bytes of the deepest path's frames.
    public var bytes: Int
    /// The functions along it, from the entry.
    public var path: [String]
    /// Functions called on some path whose frames the files do not give, sorted.
    public var unmeasured: [String]

    /// The line `compile` and `verify` print: the bytes, the deepest path from `entry`, and the
    /// library functions it could not see into.
    public func summary(entry: String, measuredBy compiler: String? = nil) -> String {
        let by = compiler.map { ", measured by \($0)" } ?? ""
        let library = unmeasured.isEmpty ? "" : "; not measured: \(unmeasured.joined(separator: ", ")) (C and compiler runtime libraries)"
        return "stack: \(bytes) B worst case from \(entry) (\(path.joined(separator: " -> "))\(by))\(library)"
    }

    struct Graph {
        var names: [String: String] = [:]
        var frames: [String: Int] = [:]
        var dynamic: Set<String> = []
        var calls: [String: [String]] = [:]
    }

    /// Reads the nodes and edges of call-graph files.
    static func parse(_ texts: [String]) -> Graph {
        var graph = Graph()
        func field(_ name: String, in line: Substring) -> String? {
            guard let start = line.range(of: name + ": \"") else { return nil }
            guard let end = line[start.upperBound...].firstIndex(of: "\"") else { return nil }
            return String(line[start.upperBound..<end])
        }
        for text in texts {
            for line in text.split(separator: "\n") {
                if line.hasPrefix("node:"), let title = field("title", in: line), let label = field("label", in: line) {
                    let parts = label.components(separatedBy: "\\n")
                    graph.names[title] = parts.first ?? title
                    // "N bytes (static)", "(dynamic,bounded)" (N bounds it) or "(dynamic)" (no bound).
                    if let size = parts.last, size.contains(" bytes ("), let bytes = Int(size.prefix { $0.isNumber }) {
                        graph.frames[title] = bytes
                        if size.hasSuffix("(dynamic)") { graph.dynamic.insert(title) }
                    }
                } else if line.hasPrefix("edge:"), let source = field("sourcename", in: line), let target = field("targetname", in: line) {
                    if graph.calls[source]?.contains(target) != true { graph.calls[source, default: []].append(target) }
                }
            }
        }
        return graph
    }

    /// The worst-case stack from `entry` (a function name) over the files' call graph. Refuses
    /// recursion and frames of run-time size, whose depth no file can bound.
    public static func worst(from entry: String, callGraphs texts: [String]) throws -> StackUsage {
        let graph = parse(texts)
        guard let root = graph.names.first(where: { $0.value == entry && graph.frames[$0.key] != nil })?.key else {
            throw WhittleError(.io, "the call graph has no function \(entry)")
        }
        // Depth-first with an explicit stack: `deepest` holds each finished function's own result.
        var deepest: [String: (bytes: Int, next: String?)] = [:]
        var onPath: Set<String> = [root]
        var stack: [(node: String, callee: Int)] = [(root, 0)]
        var unmeasured: Set<String> = []
        while let (node, index) = stack.last {
            let callees = graph.calls[node] ?? []
            if index < callees.count {
                stack[stack.count - 1].callee += 1
                let callee = callees[index]
                if graph.frames[callee] == nil {
                    unmeasured.insert(graph.names[callee] ?? callee)
                } else if onPath.contains(callee) {
                    throw WhittleError(.unsupported, "\(graph.names[callee] ?? callee) calls itself through \(graph.names[node] ?? node): the stack has no bound")
                } else if deepest[callee] == nil {
                    onPath.insert(callee)
                    stack.append((callee, 0))
                }
                continue
            }
            if graph.dynamic.contains(node) {
                throw WhittleError(.unsupported, "\(graph.names[node] ?? node) takes stack of a size known only at run time")
            }
            let best = callees.compactMap { callee in deepest[callee].map { (callee, $0.bytes) } }.max { $0.1 < $1.1 }
            deepest[node] = ((graph.frames[node] ?? 0) + (best?.1 ?? 0), best?.0)
            onPath.remove(node)
            stack.removeLast()
        }
        var path: [String] = [], at: String? = root
        while let node = at {
            path.append(graph.names[node] ?? node)
            at = deepest[node]?.next
        }
        return StackUsage(bytes: deepest[root]?.bytes ?? 0, path: path, unmeasured: unmeasured.sorted())
    }
}
