import WhittleIR
import WhittleOps
import WhittlePasses

/// C for loop regions (`LoopRegion`): LoopBegin copies the initial carried values into their buffers
/// and opens a `for` loop whose every iteration sets the iteration number and copies this step's scan
/// slices; the body's layers are called inside; LoopEnd copies the carried results back, writes this
/// step's scan outputs into the stacked outputs, closes the loop and copies out the final values.
enum LoopRegionC {
    /// LoopEnd stages several carried results through scratch memory: one result may be another's buffer.
    static var scratchNeeds: [String: @Sendable (NodeEmission) throws -> Int] {
        ["\(LoopRegion.domain).\(LoopRegion.end)": { e in
            let carried = try LoopRegion.Attributes(e.node).carried
            guard carried > 1 else { return 0 }
            return try (0..<carried).reduce(0) { $0 + ((try e.inputType($1).storageBytes) ?? 0) }
        }]
    }

    static func emit(_ node: Node, index: Int, graph: Graph, plan: MemoryPlan, pointer: (String) throws -> String,
                     into run: inout CWriter) throws {
        let a = try LoopRegion.Attributes(node), counter = "loop\(a.region)"
        func bytes(_ value: String) throws -> Int {
            guard let type = graph.type(of: value), let count = type.storageBytes else {
                throw WhittleError(.shapeMismatch, "the size of \"\(value)\" is unknown")
            }
            return count
        }
        func width(_ value: String) throws -> Int {
            guard let type = graph.type(of: value), let width = type.elementType.byteWidth, !type.elementType.isPacked else {
                throw WhittleError(.unsupported, "loop scan values of packed types are not supported by the C back end")
            }
            return width
        }
        func copy(_ target: String, _ source: String, _ count: Int, overlapping: Bool = false) throws -> String? {
            let (t, s) = (try pointer(target), try pointer(source))
            guard t != s, count > 0 else { return nil }
            return "\(overlapping ? "memmove" : "memcpy")(\(t), \(s), \(count));"
        }
        /// Copies slice `position` along `axis` between a sequence and one step's value (either way).
        func slices(sequence: String, step: String, axis: Int, position: String, gather: Bool) throws {
            guard let shape = graph.type(of: sequence)?.shape else { throw WhittleError(.shapeMismatch, "the shape of \"\(sequence)\" is unknown") }
            let (outer, size, inner) = Indexing.split(shape, at: axis), w = try width(sequence)
            guard outer * inner > 0 else { return }
            let (q, p) = (try pointer(sequence), try pointer(step))
            // Unsigned literals beside size_t operands (MISRA C:2012 rule 10.4).
            let far = outer == 1 ? "\(position) * \(inner)u" : "((size_t)o * \(size)u + \(position)) * \(inner)u"
            let near = outer == 1 ? "0" : "(size_t)o * \(inner)u"
            let step = near == "0" ? p : "\(p) + \(near)"
            let line = gather ? "memcpy(\(step), \(q) + \(far), \(inner * w));" : "memcpy(\(q) + \(far), \(step), \(inner * w));"
            run.line(outer == 1 ? line : "for (int o = 0; o < \(outer); ++o) \(line)")
        }
        /// The slice a step reads or writes, as a size_t: reversed scans count down from the last.
        func position(_ direction: Int) -> String { direction == 1 ? "(\(a.trips - 1)u - (size_t)\(counter))" : "(size_t)\(counter)" }

        if LoopRegion.isBegin(node) {
            run.line("/* Loop \"\(CEmitter.safe(node.name))\": \(a.trips) iteration\(a.trips == 1 ? "" : "s") of the layers up to its LoopEnd */")
            for k in 0..<a.carried where !node.outputs[1 + k].isEmpty {
                if let line = try copy(node.outputs[1 + k], node.inputs[k], try bytes(node.inputs[k])) { run.line(line) }
            }
            run.open("for (int \(counter) = 0; \(counter) < \(a.trips); ++\(counter))")
            if let iteration = node.outputs.first, !iteration.isEmpty { run.line("*\(try pointer(iteration)) = \(counter);") }
            for (s, sequence) in node.inputs.dropFirst(a.carried).enumerated() where !node.outputs[1 + a.carried + s].isEmpty {
                let rank = graph.type(of: sequence)?.shape?.count ?? 1
                try slices(sequence: sequence, step: node.outputs[1 + a.carried + s], axis: try Shape.normalizeAxis(a.axes[s], rank: rank),
                           position: position(a.directions[s]), gather: true)
            }
            return
        }
        let scans = a.axes.count, states = Array(node.inputs.suffix(a.carried))
        if a.carried == 1 {
            if let line = try copy(states[0], node.inputs[0], try bytes(states[0]), overlapping: true) { run.line(line) }
        } else if a.carried > 1 {
            // Staged: a result may be another carried value's buffer (a swap).
            guard let scratch = plan.scratch[index] else { throw WhittleError(.invalidGraph, "LoopEnd has no planned scratch memory") }
            var offset = 0, staged: [(String, Int, Int)] = []
            for k in 0..<a.carried {
                let n = try bytes(states[k])
                run.line("memcpy(base + \(plan.buffers[scratch].offset + offset), \(try pointer(node.inputs[k])), \(n));")
                staged.append((states[k], offset, n))
                offset += n
            }
            for (state, at, n) in staged { run.line("memcpy(\(try pointer(state)), base + \(plan.buffers[scratch].offset + at), \(n));") }
        }
        for m in 0..<scans where !node.outputs[a.carried + m].isEmpty {
            let result = node.inputs[a.carried + m], stacked = node.outputs[a.carried + m]
            let rank = graph.type(of: stacked)?.shape?.count ?? 1
            try slices(sequence: stacked, step: result, axis: try Shape.normalizeAxis(a.axes[m], rank: rank),
                       position: position(a.directions[m]), gather: false)
        }
        run.close()
        for k in 0..<a.carried where !node.outputs[k].isEmpty {
            if let line = try copy(node.outputs[k], states[k], try bytes(states[k])) { run.line(line) }
        }
    }
}
