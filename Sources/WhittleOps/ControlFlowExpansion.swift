import WhittleIR

/// If, Loop and Scan, expanded into the graph around them once what decides their course is known:
/// an If whose condition is a constant becomes its branch; a Loop whose trip count is known (and whose
/// body passes its condition through) and a Scan over a static sequence are unrolled, one copy of the
/// body per iteration. The interpreter and the C back end then run the plain operators; with every
/// input bound (`whittle run`), data-dependent conditions and trip counts become constants too.
///
/// Expansion works outward-in, one node per round, so nested control flow is expanded by later rounds
/// without recursion; the nesting of subgraphs a file may have is bounded by the reader.
public enum ControlFlowExpansion {
    /// The most nodes expansion may add to a model (a Loop of a billion iterations is refused, not unrolled).
    public static let maximumAddedNodes = 1 << 20

    static let operators: Set<String> = ["If", "Loop", "Scan"]

    /// Whether `node` is control flow this expansion handles.
    public static func isControlFlow(_ node: Node) -> Bool {
        Node.isDefaultDomain(node.domain) && operators.contains(node.opType)
    }

    /// `model` with every control-flow node whose course is known expanded; the others stay, and
    /// `reasons` says for each (by node index) why it was not expanded. `specializing` is passed to
    /// shape inference between rounds.
    ///
    /// With `rolling`, a Loop or Scan whose trip count is known becomes a loop region (`LoopRegion`: one
    /// copy of its body between LoopBegin and LoopEnd) instead of being unrolled: the C back end makes
    /// it a C loop. Scan-8's batched form is still unrolled.
    public static func expand(_ model: Model, specializing: Int? = nil, rolling: Bool = false) throws -> (model: Model, reasons: [Int: String]) {
        var model = model
        guard model.graph.nodes.contains(where: isControlFlow) else { return (model, [:]) }
        var added = 0, regions = 0
        var names = Names(model.graph)
        while true {
            let types = try ShapeInference.run(model, specializing: specializing)
            var expanded = false, reasons: [Int: String] = [:]
            for (index, node) in model.graph.nodes.enumerated() where isControlFlow(node) {
                let context = model.graph.context(ofNode: index)
                var expansion = Expansion(types: types, initializers: model.graph.initializers, opset: model.opset(for: ""),
                                          prefix: node.name.isEmpty ? "\(node.opType.lowercased())\(index)" : node.name,
                                          region: rolling ? regions : nil)
                let done: Bool
                do {
                    done = try WhittleError.attaching(context) { try expansion.expand(node, names: &names) }
                } catch let error as WhittleError where error.kind == .unsupported {
                    reasons[index] = error.reason
                    continue
                }
                guard done else {
                    reasons[index] = node.opType == "If" ? "control flow (If) whose condition is only known at run time"
                        : "control flow (\(node.opType)) whose trip count or sequence length is only known at run time"
                    continue
                }
                added += expansion.nodes.count
                guard added <= maximumAddedNodes else {
                    throw WhittleError(.unsupported, "expanding control flow would add more than \(maximumAddedNodes) nodes").inNode(context)
                }
                if expansion.nodes.contains(where: LoopRegion.isBegin) {
                    regions += 1
                    if model.opsets[LoopRegion.domain] == nil { model.opsets[LoopRegion.domain] = 1 }
                }
                model.graph.nodes.replaceSubrange(index...index, with: expansion.nodes)
                model.graph.initializers.merge(expansion.newInitializers) { first, _ in first }
                if let note = expansion.note { model.notes.append("\(node.opType) \"\(expansion.prefix)\": \(note)") }
                expanded = true
                break
            }
            if !expanded { return (model, reasons) }
        }
    }

    /// Value names in use, to make fresh ones.
    struct Names {
        var taken: Set<String>

        init(_ graph: Graph) {
            taken = Set(graph.inputs.map(\.name)).union(graph.initializers.keys).union(graph.outputs.map(\.name))
            var pending = [graph]
            while let g = pending.popLast() {
                for node in g.nodes {
                    taken.formUnion(node.outputs)
                    pending.append(contentsOf: node.subgraphs)
                }
                taken.formUnion(g.inputs.map(\.name))
                taken.formUnion(g.initializers.keys)
            }
        }

        mutating func fresh(_ base: String) -> String {
            var name = base, suffix = 1
            while taken.contains(name) {
                suffix += 1
                name = "\(base)_\(suffix)"
            }
            taken.insert(name)
            return name
        }
    }

    /// The nodes and initializers one control-flow node becomes.
    struct Expansion {
        let types: InferenceResult
        let initializers: [String: Tensor]
        let opset: Int
        let prefix: String
        /// The region number to give a rolled loop; nil to unroll.
        let region: Int?
        var nodes: [Node] = []
        var newInitializers: [String: Tensor] = [:]
        /// What the expansion did, for the model's notes (inspect shows them).
        var note: String?

        func value(_ name: String) -> Tensor? { name.isEmpty ? nil : types.constants[name] ?? initializers[name] }

        mutating func constant(_ tensor: Tensor, _ base: String, names: inout Names) -> String {
            let name = names.fresh("\(prefix)/\(base)")
            newInitializers[name] = tensor
            return name
        }

        mutating func add(_ opType: String, _ inputs: [String], _ outputs: [String], _ attributes: [String: Attribute] = [:]) {
            nodes.append(Node(name: "\(prefix)/\(opType.lowercased())\(nodes.count)", opType: opType, inputs: inputs, outputs: outputs,
                              attributes: attributes))
        }

        /// Returns false when the node's course is not known yet.
        mutating func expand(_ node: Node, names: inout Names) throws -> Bool {
            switch node.opType {
            case "If": return try expandIf(node, names: &names)
            case "Loop": return try expandLoop(node, names: &names)
            default: return try expandScan(node, names: &names)
            }
        }

        static func graph(_ node: Node, _ name: String) throws -> Graph {
            guard case .graph(let g)? = node.attributes[name] else {
                throw WhittleError(.invalidAttribute, "\(node.opType) needs the graph attribute \(name)")
            }
            return g
        }

        /// Copies `body` once: its inputs read `arguments`; returns the names of its outputs' copies.
        mutating func inline(_ body: Graph, arguments: [String], iteration: String, names: inout Names) throws -> [String] {
            guard arguments.count == body.inputs.count else {
                throw WhittleError(.invalidGraph, "the body takes \(body.inputs.count) inputs, \(arguments.count) given")
            }
            var rename: [String: String] = [:]
            for (input, argument) in zip(body.inputs, arguments) { rename[input.name] = argument }
            for (name, tensor) in body.initializers.sorted(by: { $0.key < $1.key }) where rename[name] == nil {
                rename[name] = constant(tensor, "\(iteration)\(name)", names: &names)
            }
            for node in body.nodes {
                for output in node.outputs where !output.isEmpty { rename[output] = names.fresh("\(prefix)/\(iteration)\(output)") }
            }
            for node in body.nodes {
                var copy = node
                copy.name = "\(prefix)/\(iteration)\(node.name.isEmpty ? node.opType : node.name)"
                copy.inputs = node.inputs.map { $0.isEmpty ? "" : rename[$0] ?? $0 }
                copy.outputs = node.outputs.map { $0.isEmpty ? "" : rename[$0] ?? $0 }
                for (key, attribute) in node.attributes {
                    switch attribute {
                    case .graph(let g): copy.attributes[key] = .graph(Self.renamingFreeNames(g, rename))
                    case .graphs(let gs): copy.attributes[key] = .graphs(gs.map { Self.renamingFreeNames($0, rename) })
                    default: break
                    }
                }
                nodes.append(copy)
            }
            return body.outputs.map { rename[$0.name] ?? $0.name }
        }

        /// `graph` with the names it reads from enclosing scopes renamed (names it defines stay).
        /// The depth is bounded by the nesting the reader accepts.
        static func renamingFreeNames(_ graph: Graph, _ rename: [String: String]) -> Graph {
            var local = Set(graph.inputs.map(\.name)).union(graph.initializers.keys)
            for node in graph.nodes { local.formUnion(node.outputs) }
            let outer = rename.filter { !local.contains($0.key) }
            guard !outer.isEmpty else { return graph }
            var copy = graph
            for i in copy.nodes.indices {
                copy.nodes[i].inputs = copy.nodes[i].inputs.map { outer[$0] ?? $0 }
                for (key, attribute) in copy.nodes[i].attributes {
                    switch attribute {
                    case .graph(let g): copy.nodes[i].attributes[key] = .graph(renamingFreeNames(g, outer))
                    case .graphs(let gs): copy.nodes[i].attributes[key] = .graphs(gs.map { renamingFreeNames($0, outer) })
                    default: break
                    }
                }
            }
            copy.outputs = copy.outputs.map { output in
                var o = output
                if !local.contains(o.name), let r = outer[o.name] { o.name = r }
                return o
            }
            return copy
        }

        /// An int64 scalar constant (a Gather index).
        mutating func index(_ i: Int, names: inout Names) throws -> String {
            constant(try Tensor(int64s: [Int64(i)], shape: []), "step\(i)", names: &names)
        }

        /// The attributes of a region's LoopBegin or LoopEnd (directions all forward unless set after).
        func regionAttributes(_ region: Int, trips: Int, carried: Int, prefix: String, axes: [Int]) -> [String: Attribute] {
            ["region": .int(region), "trip_count": .int(trips), "carried": .int(carried),
             "\(prefix)_axes": .ints(axes), "\(prefix)_directions": .ints(Array(repeating: 0, count: axes.count))]
        }

        /// `outputs` extended with empty names (outputs the model leaves out) to `count`.
        func padded(_ outputs: [String], _ count: Int) -> [String] {
            Array(outputs.prefix(count)) + Array(repeating: "", count: Swift.max(0, count - outputs.count))
        }

        /// The node's outputs as copies of `values`.
        mutating func bind(_ outputs: [String], to values: [String]) {
            for (output, value) in zip(outputs, values) where !output.isEmpty { add("Identity", [value], [output]) }
        }

        mutating func expandIf(_ node: Node, names: inout Names) throws -> Bool {
            guard let condition = value(node.inputs.first ?? "") else { return false }
            guard condition.count == 1, let flag = condition.int64s()?.first else {
                throw WhittleError(.shapeMismatch, "the condition of If must hold one value")
            }
            let branch = try Self.graph(node, flag != 0 ? "then_branch" : "else_branch")
            guard branch.outputs.count == node.outputs.count else {
                throw WhittleError(.invalidGraph, "the branch gives \(branch.outputs.count) outputs; If has \(node.outputs.count)")
            }
            let results = try inline(branch, arguments: [], iteration: flag != 0 ? "then/" : "else/", names: &names)
            note = "the condition is known: the \(flag != 0 ? "then" : "else") branch is taken"
            bind(node.outputs, to: results)
            return true
        }

        /// Axis `axis` inserted into `value` (Unsqueeze's axes moved from attribute to input at opset 13).
        mutating func unsqueeze(_ value: String, axis: Int, names: inout Names) throws -> String {
            let out = names.fresh("\(prefix)/\(value)_stacked")
            if opset >= 13 {
                add("Unsqueeze", [value, constant(try Tensor(int64s: [Int64(axis)], shape: [1]), "axis", names: &names)], [out])
            } else {
                add("Unsqueeze", [value], [out], ["axes": .ints([axis])])
            }
            return out
        }

        /// The body's condition output is its condition input, passed through (or a constant true):
        /// the trip count alone decides how often it runs.
        static func passesConditionThrough(_ body: Graph) -> Bool {
            guard body.inputs.count >= 2, let out = body.outputs.first?.name else { return false }
            let input = body.inputs[1].name
            if out == input { return true }
            if let t = body.initializers[out], t.int64s() == [1] { return true }
            guard let producer = body.nodes.first(where: { $0.outputs.contains(out) }) else { return false }
            if producer.opType == "Identity" && producer.inputs.first == input { return true }
            if producer.opType == "Constant", case .tensor(let t)? = producer.attributes["value"], t.int64s() == [1] { return true }
            return false
        }

        mutating func expandLoop(_ node: Node, names: inout Names) throws -> Bool {
            let body = try Self.graph(node, "body")
            let carried = Array(node.inputs.dropFirst(2))
            guard body.inputs.count == carried.count + 2, body.outputs.count >= carried.count + 1,
                  node.outputs.count <= body.outputs.count - 1 else {
                throw WhittleError(.invalidGraph, "the Loop body's inputs and outputs do not match the node's")
            }
            let tripName = node.inputs.first ?? "", conditionName = node.inputs.count > 1 ? node.inputs[1] : ""
            var trip: Int64?
            if !tripName.isEmpty {
                guard let t = value(tripName) else { return false }
                guard let v = t.int64s()?.first, t.count == 1 else { throw WhittleError(.shapeMismatch, "the trip count must be one integer") }
                trip = v
            }
            var running = true
            if !conditionName.isEmpty {
                guard let c = value(conditionName) else { return false }
                guard let v = c.int64s()?.first, c.count == 1 else { throw WhittleError(.shapeMismatch, "the condition must be one bool") }
                running = v != 0
            }
            guard Self.passesConditionThrough(body) else {
                throw WhittleError(.unsupported, "a Loop whose body decides when to stop is not supported (only trip counts known when the model is compiled)")
            }
            guard let trip else { throw WhittleError(.unsupported, "a Loop without a trip count that only stops on its condition would never end") }
            let count = running ? Int(clamping: Swift.max(0, trip)) : 0
            let scanCount = body.outputs.count - 1 - carried.count
            guard count > 0 || scanCount == 0 else {
                throw WhittleError(.unsupported, "a Loop that runs no iteration and has scan outputs (their element shape is unknown)")
            }
            guard count <= maximumAddedNodes else {
                throw WhittleError(.unsupported, "a Loop of \(count) iterations is too long to unroll")
            }
            let yes = constant(try Tensor(int64s: [1], shape: [], as: .bool), "true", names: &names)
            if let region {
                // The iteration number is only given a buffer when the body reads it.
                let counter = body.inputs[0].name
                let reads = body.nodes.contains { $0.inputs.contains(counter) || Verifier.subgraphFreeNames($0).contains(counter) }
                    || body.outputs.contains { $0.name == counter }
                let iteration = reads ? names.fresh("\(prefix)/iteration") : ""
                let states = carried.map { names.fresh("\(prefix)/\($0)_carried") }
                add(LoopRegion.begin, carried, [iteration] + states, regionAttributes(region, trips: count, carried: carried.count, prefix: "scan_input", axes: []))
                nodes[nodes.count - 1].domain = LoopRegion.domain
                let outputs = try inline(body, arguments: [iteration, yes] + states, iteration: "body/", names: &names)
                add(LoopRegion.end, Array(outputs.dropFirst()) + states, padded(node.outputs, carried.count + scanCount),
                    regionAttributes(region, trips: count, carried: carried.count, prefix: "scan_output", axes: Array(repeating: 0, count: scanCount)))
                nodes[nodes.count - 1].domain = LoopRegion.domain
                note = "a loop of \(count) iteration\(count == 1 ? "" : "s")"
                return true
            }
            var state = carried
            var scans = Array(repeating: [String](), count: scanCount)
            for i in 0..<count {
                let iteration = constant(try Tensor(int64s: [Int64(i)], shape: []), "iteration\(i)", names: &names)
                let outputs = try inline(body, arguments: [iteration, yes] + state, iteration: "\(i)/", names: &names)
                state = Array(outputs[1..<(1 + carried.count)])
                for k in 0..<scanCount { scans[k].append(try unsqueeze(outputs[1 + carried.count + k], axis: 0, names: &names)) }
            }
            note = "unrolled, \(count) iteration\(count == 1 ? "" : "s")"
            bind(Array(node.outputs.prefix(carried.count)), to: state)
            for (k, output) in node.outputs.dropFirst(carried.count).enumerated() where !output.isEmpty {
                add("Concat", scans[k], [output], ["axis": .int(0)])
            }
            return true
        }

        mutating func expandScan(_ node: Node, names: inout Names) throws -> Bool {
            let body = try Self.graph(node, "body")
            guard let scanInputs = node.attributes["num_scan_inputs"].flatMap({ if case .int(let v) = $0 { v } else { nil } }), scanInputs >= 1 else {
                throw WhittleError(.invalidAttribute, "Scan needs num_scan_inputs")
            }
            let batched = opset < 9
            var inputs = node.inputs
            if batched {
                // Opset 8: a first input of sequence lengths (only its absence is supported) and a batch axis 0.
                guard inputs.first?.isEmpty ?? false else {
                    throw WhittleError(.unsupported, "Scan-8 with sequence_lens is not supported")
                }
                inputs.removeFirst()
            }
            let stateCount = inputs.count - scanInputs
            guard stateCount >= 0, body.inputs.count == inputs.count, body.outputs.count >= stateCount,
                  node.outputs.count <= body.outputs.count else {
                throw WhittleError(.invalidGraph, "the Scan body's inputs and outputs do not match the node's")
            }
            func ints(_ name: String, _ count: Int) -> [Int] {
                if case .ints(let v)? = node.attributes[name], v.count == count { return v }
                return Array(repeating: 0, count: count)
            }
            let outputCount = body.outputs.count - stateCount
            var inputAxes = ints("scan_input_axes", scanInputs), outputAxes = ints("scan_output_axes", outputCount)
            let inputDirections = batched ? ints("directions", scanInputs) : ints("scan_input_directions", scanInputs)
            let outputDirections = ints("scan_output_directions", outputCount)
            var shapes: [[Int]] = []
            for k in 0..<scanInputs {
                guard let shape = types.graph.type(of: inputs[stateCount + k])?.shape else { return false }
                shapes.append(shape)
            }
            let batches = batched ? (shapes.first?.first ?? 0) : 1
            if batched { inputAxes = Array(repeating: 1, count: scanInputs); outputAxes = Array(repeating: 0, count: outputCount) }
            for k in 0..<scanInputs {
                inputAxes[k] = try Shape.normalizeAxis(inputAxes[k], rank: shapes[k].count)
            }
            let lengths = (0..<scanInputs).map { shapes[$0][inputAxes[$0]] }
            guard let length = lengths.first, lengths.allSatisfy({ $0 == length }) else {
                throw WhittleError(.shapeMismatch, "the scan inputs have different sequence lengths \(lengths)")
            }
            guard length * batches * Swift.max(body.nodes.count, 1) <= maximumAddedNodes else {
                throw WhittleError(.unsupported, "a Scan of \(length) steps is too long to unroll")
            }
            if let region, !batched {
                let states = inputs.prefix(stateCount).map { names.fresh("\(prefix)/\($0)_carried") }
                let slices = inputs.dropFirst(stateCount).map { names.fresh("\(prefix)/\($0)_slice") }
                var begin = regionAttributes(region, trips: length, carried: stateCount, prefix: "scan_input", axes: inputAxes)
                begin["scan_input_directions"] = .ints(inputDirections)
                add(LoopRegion.begin, inputs, [""] + states + slices, begin)
                nodes[nodes.count - 1].domain = LoopRegion.domain
                let outputs = try inline(body, arguments: states + slices, iteration: "body/", names: &names)
                var end = regionAttributes(region, trips: length, carried: stateCount, prefix: "scan_output", axes: outputAxes)
                end["scan_output_directions"] = .ints(outputDirections)
                add(LoopRegion.end, outputs + states, padded(node.outputs, stateCount + outputCount), end)
                nodes[nodes.count - 1].domain = LoopRegion.domain
                note = "a loop of \(length) step\(length == 1 ? "" : "s")"
                return true
            }
            note = "unrolled, \(length) step\(length == 1 ? "" : "s")\(batched ? " for each of \(batches) batch rows" : "")"
            var finalStates = Array(repeating: [String](), count: stateCount)
            var stacked = Array(repeating: [String](), count: outputCount)
            for b in 0..<batches {
                var state = Array(inputs.prefix(stateCount)), sequences = Array(inputs.dropFirst(stateCount))
                if batched {
                    let index = try index(b, names: &names)
                    state = state.map { s in let out = names.fresh("\(prefix)/\(s)_batch\(b)"); add("Gather", [s, index], [out], ["axis": .int(0)]); return out }
                    sequences = sequences.map { s in let out = names.fresh("\(prefix)/\(s)_batch\(b)"); add("Gather", [s, index], [out], ["axis": .int(0)]); return out }
                }
                var perStep = Array(repeating: [String](), count: outputCount)
                for t in 0..<length {
                    var slices: [String] = []
                    for k in 0..<scanInputs {
                        let step = inputDirections[k] == 1 ? length - 1 - t : t
                        let out = names.fresh("\(prefix)/\(sequences[k])_\(t)")
                        add("Gather", [sequences[k], try index(step, names: &names)], [out], ["axis": .int(batched ? 0 : inputAxes[k])])
                        slices.append(out)
                    }
                    let outputs = try inline(body, arguments: state + slices, iteration: batched ? "\(b)/\(t)/" : "\(t)/", names: &names)
                    state = Array(outputs.prefix(stateCount))
                    for k in 0..<outputCount { perStep[k].append(outputs[stateCount + k]) }
                }
                for k in 0..<outputCount {
                    let ordered = outputDirections[k] == 1 ? perStep[k].reversed() : perStep[k]
                    let axis = outputAxes[k]
                    let pieces = try ordered.map { try unsqueeze($0, axis: axis, names: &names) }
                    let joined = names.fresh("\(prefix)/scan_output\(k)_\(b)")
                    add("Concat", pieces, [joined], ["axis": .int(axis)])
                    stacked[k].append(batched ? try unsqueeze(joined, axis: 0, names: &names) : joined)
                }
                for j in 0..<stateCount { finalStates[j].append(batched ? try unsqueeze(state[j], axis: 0, names: &names) : state[j]) }
            }
            for (j, output) in node.outputs.prefix(stateCount).enumerated() where !output.isEmpty {
                if batched { add("Concat", finalStates[j], [output], ["axis": .int(0)]) } else { bind([output], to: [finalStates[j][0]]) }
            }
            for (k, output) in node.outputs.dropFirst(stateCount).enumerated() where !output.isEmpty {
                if batched { add("Concat", stacked[k], [output], ["axis": .int(0)]) } else { bind([output], to: [stacked[k][0]]) }
            }
            return true
        }
    }
}
