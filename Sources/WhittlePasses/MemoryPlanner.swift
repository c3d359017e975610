import WhittleIR
import WhittleOps

/// Plans the arena: one buffer per intermediate value, shared by aliases and by
/// in-place element-wise operators, placed greedily by size at the lowest offset
/// that does not overlap a buffer live at the same time.
public enum MemoryPlanner {
    /// Operators whose output may overwrite an input of the same size element by element.
    static let elementwise: Set<String> = [
        "Relu", "Sigmoid", "Tanh", "Sqrt", "Exp", "Log", "Erf", "Neg", "Abs", "LeakyRelu", "HardSigmoid", "HardSwish",
        "Gelu", "Floor", "Ceil", "Round", "Reciprocal", "Sign", "Sin", "Cos", "Elu", "Selu", "Softplus", "Softsign",
        "Clip", "Add", "Sub", "Mul", "Div", "Pow", "Min", "Max", "Sum", "Mean", "PRelu", "BatchNormalization",
    ]

    /// `scratch` gives the bytes of working memory a node's kernel needs while it runs (by node index);
    /// `inPlace` the nodes whose kernels may write their output over their input of the same shape
    /// (a depthwise kernel that copies each channel before it writes that channel's output).
    public static func plan(_ graph: Graph, alignment: Int = 16, scratch: [Int: Int] = [:], inPlace: Set<Int> = []) throws -> MemoryPlan {
        var storage: [String: MemoryPlan.Storage] = [:]
        for (i, input) in graph.inputs.enumerated() { storage[input.name] = .input(i) }
        for name in graph.initializers.keys { storage[name] = .weight(name) }
        // Outputs that are also inputs or weights are copied by the run function; they keep that storage.
        for (j, output) in graph.outputs.enumerated() where storage[output.name] == nil { storage[output.name] = .output(j) }

        var lastUse: [String: Int] = [:]
        for (step, node) in graph.nodes.enumerated() {
            for input in node.inputs + Verifier.subgraphFreeNames(node) where !input.isEmpty { lastUse[input] = step }
        }
        // Loop regions run their nodes again and again: what a region reads from before it, and what its
        // LoopBegin gives, must outlive its LoopEnd; its stacked scan outputs are written from the start.
        let regions = try LoopRegion.regions(graph)
        var producer: [String: Int] = [:]
        if !regions.isEmpty {
            for (step, node) in graph.nodes.enumerated() { for output in node.outputs where !output.isEmpty { producer[output] = step } }
        }
        var bornEarly: [Int: [String]] = [:]
        for (begin, end) in regions {
            // LoopBegin itself reads its scan sequences at every iteration.
            for step in begin...end {
                for input in graph.nodes[step].inputs + Verifier.subgraphFreeNames(graph.nodes[step]) where !input.isEmpty {
                    if (producer[input] ?? -1) < begin { lastUse[input] = max(lastUse[input] ?? end, end) }
                }
            }
            for output in graph.nodes[begin].outputs where !output.isEmpty { lastUse[output] = max(lastUse[output] ?? end, end) }
            let carried = try LoopRegion.Attributes(graph.nodes[end]).carried
            for output in graph.nodes[end].outputs.dropFirst(carried) where !output.isEmpty {
                bornEarly[begin, default: []].append(output)
                lastUse[output] = max(lastUse[output] ?? end, end)
            }
        }
        func bytes(_ value: String) -> Int {
            graph.type(of: value)?.storageBytes ?? 0
        }
        var buffers: [MemoryPlan.Buffer] = []
        // The last step that reads any value of each buffer, kept as values join it (a chain of
        // in-place nodes would otherwise rescan a growing list at every node).
        var latest: [Int] = []
        func join(_ b: Int, _ value: String) {
            buffers[b].values.append(value)
            latest[b] = max(latest[b], lastUse[value] ?? -1)
        }
        func allocate(_ output: String, at step: Int) {
            storage[output] = .arena(buffer: buffers.count)
            buffers.append(MemoryPlan.Buffer(offset: 0, bytes: bytes(output), firstStep: step, lastStep: step, values: [output]))
            latest.append(lastUse[output] ?? -1)
        }
        for (step, node) in graph.nodes.enumerated() {
            for output in bornEarly[step] ?? [] where storage[output] == nil { allocate(output, at: step) }
            for (k, output) in node.outputs.enumerated() where !output.isEmpty && storage[output] == nil {
                let input = node.inputs.first ?? ""
                if k == 0, node.attributes[WhittleAttribute.alias] == .int(1), let shared = storage[input] {
                    // A view: same storage as the input, which then lives as long as the view.
                    storage[output] = shared
                    if case .arena(let b) = shared { join(b, output) }
                    continue
                }
                if k == 0, (Node.isDefaultDomain(node.domain) && elementwise.contains(node.opType)) || inPlace.contains(step),
                   let b = inPlaceCandidate(node, step: step, graph: graph, storage: storage, latest: latest, bytes: bytes) {
                    storage[output] = .arena(buffer: b)
                    join(b, output)
                    continue
                }
                allocate(output, at: step)
            }
        }
        // A buffer lives until the last read of any value stored in it.
        for b in buffers.indices {
            buffers[b].lastStep = buffers[b].values.map { lastUse[$0] ?? buffers[b].firstStep }.max() ?? buffers[b].firstStep
        }
        // Scratch lives during its node only; it may overlap nothing the node reads or writes.
        var scratchBuffers: [Int: Int] = [:]
        for (step, bytes) in scratch.sorted(by: { $0.key < $1.key }) where bytes > 0 && step < graph.nodes.count {
            scratchBuffers[step] = buffers.count
            buffers.append(MemoryPlan.Buffer(offset: 0, bytes: bytes, firstStep: step, lastStep: step, values: []))
        }
        // An empty tensor still takes one aligned slot: two live tensors never share an address, so the
        // C never passes one pointer as two restrict-qualified arguments.
        let aligned = { (n: Int) in (Swift.max(n, 1) + alignment - 1) / alignment * alignment }
        // Greedy placement in a few orders (largest first, earliest first, longest-lived first, largest
        // size × lifetime first); the smallest arena wins. Ties break on the buffer number, so the result is stable.
        let first = buffers.map(\.firstStep), last = buffers.map(\.lastStep), sizes = buffers.map { aligned($0.bytes) }
        // The same, side by side, for the placement's inner scan.
        let spans = buffers.indices.map { (first: first[$0], last: last[$0], size: sizes[$0]) }
        let length = { (b: Int) in last[b] - first[b] + 1 }
        let keys: [(Int, Int) -> Bool] = [
            { (-buffers[$0].bytes, first[$0], $0) < (-buffers[$1].bytes, first[$1], $1) },
            { (first[$0], -buffers[$0].bytes, $0) < (first[$1], -buffers[$1].bytes, $1) },
            { (-length($0), -buffers[$0].bytes, $0) < (-length($1), -buffers[$1].bytes, $1) },
            { (-buffers[$0].bytes * length($0), first[$0], $0) < (-buffers[$1].bytes * length($1), first[$1], $1) },
        ]
        // Every pass looks at the placed buffers that live at the same time as the next one, so a graph
        // with thousands of values alive together (a Sum of 20,000 inputs) costs the square of that
        // count per pass: past `manyBuffers` only the earliest-first order runs, with the lowest gap.
        let passes: [(order: Int, mode: Int)] = buffers.count <= manyBuffers ? (0..<keys.count).flatMap { o in (0..<3).map { (o, $0) } } : [(1, 0)]
        let largest = buffers.map(\.bytes).max() ?? 0
        var best: (arena: Int, offsets: [Int]) = (Int.max, [Int](repeating: 0, count: buffers.count))
        var gaps: [(start: Int, size: Int)] = []
        for (key, mode) in passes {
            let order = buffers.indices.sorted(by: keys[key])
            var offsets = [Int](repeating: 0, count: buffers.count)
            // The placed buffers by offset (equal offsets in the order they were placed). In the
            // earliest-first order a buffer that has died before the next one starts conflicts with no
            // later one either, and leaves the list.
            var placed: [Int] = []
            let dropsDead = key == 1
            var arena = 0
            for b in order {
                let size = sizes[b]
                // Gaps between the conflicting buffers; the last one is open-ended.
                gaps.removeAll(keepingCapacity: true)
                var cursor = 0, kept = 0
                // (The scan runs once per buffer over the buffers alive with it: unchecked reads.)
                spans.withUnsafeBufferPointer { spans in
                    placed.withUnsafeMutableBufferPointer { list in
                        let span = spans[b]
                        for i in 0..<list.count {
                            let p = list[i], other = spans[p]
                            if dropsDead && other.last < span.first { continue }
                            list[kept] = p
                            kept += 1
                            guard other.first <= span.last && span.first <= other.last else { continue }
                            if offsets[p] > cursor { gaps.append((cursor, offsets[p] - cursor)) }
                            cursor = max(cursor, offsets[p] + other.size)
                        }
                    }
                }
                placed.removeLast(placed.count - kept)
                // Mode 0: lowest gap; 1: tightest gap; 2: small buffers at the top of the highest gap
                // inside the arena so far, which keeps the low offsets free for the large ones.
                if cursor < arena { gaps.append((cursor, arena - cursor)) }
                let fitting = gaps.filter { $0.size >= size }
                switch mode {
                case 1:
                    offsets[b] = fitting.min { ($0.size, $0.start) < ($1.size, $1.start) }?.start ?? cursor
                case 2 where 2 * buffers[b].bytes <= largest:
                    if let gap = fitting.last {
                        offsets[b] = (gap.start + gap.size - size) / alignment * alignment
                    } else {
                        offsets[b] = cursor
                    }
                default:
                    offsets[b] = fitting.first?.start ?? cursor
                }
                arena = max(arena, offsets[b] + size)
                // After the placed buffers at the same offset (a binary search for the first one above).
                var low = 0, high = placed.count
                while low < high {
                    let mid = (low + high) / 2
                    if offsets[placed[mid]] <= offsets[b] { low = mid + 1 } else { high = mid }
                }
                placed.insert(b, at: low)
            }
            if arena < best.arena { best = (arena, offsets) }
        }
        let arena = buffers.isEmpty ? 0 : best.arena
        for b in buffers.indices { buffers[b].offset = best.offsets[b] }
        // The most bytes alive at one step: a sweep over the steps where buffers start and end.
        var change: [Int: Int] = [:]
        for b in buffers.indices {
            change[first[b], default: 0] += sizes[b]
            change[last[b] + 1, default: 0] -= sizes[b]
        }
        var lowerBound = 0, live = 0
        for step in change.keys.sorted() {
            live += change[step] ?? 0
            lowerBound = max(lowerBound, live)
        }
        return MemoryPlan(storage: storage, buffers: buffers, scratch: scratchBuffers, arenaBytes: arena, lowerBound: lowerBound, alignment: alignment)
    }

    /// Past this many buffers the placement tries one order instead of four (see `plan`).
    public static let manyBuffers = 2048

    /// An arena buffer the node may overwrite: an input of the output's size, read for the last time here,
    /// and not read twice by this node through another operand.
    static func inPlaceCandidate(_ node: Node, step: Int, graph: Graph, storage: [String: MemoryPlan.Storage],
                                 latest: [Int], bytes: (String) -> Int) -> Int? {
        let output = node.outputs[0]
        guard graph.type(of: output)?.shape != nil else { return nil }
        for input in node.inputs where !input.isEmpty {
            guard case .arena(let b)? = storage[input], bytes(input) == bytes(output),
                  graph.type(of: input)?.shape == graph.type(of: output)?.shape,
                  graph.type(of: input)?.elementType == graph.type(of: output)?.elementType,
                  node.inputs.filter({ storage[$0] == .arena(buffer: b) }).count == 1,
                  latest[b] <= step else { continue }
            return b
        }
        return nil
    }
}

