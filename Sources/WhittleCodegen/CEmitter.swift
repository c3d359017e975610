import Foundation
import WhittleIR
import WhittleOps
import WhittlePasses

/// The files `whittle compile` writes for one model.
public struct CSourceBundle: Sendable {
    public var name: String
    /// `NAME.h`: the public API.
    public var header: String
    /// `NAME.c`: one function per node and the run functions.
    public var source: String
    /// `NAME_weights.c`: the constant tensors (empty in the binary form).
    public var weights: String
    /// How the weights are stored: `.c`, or `.binary` (`NAME_weights.S` and `NAME_weights.bin`).
    public var weightFormat: WeightFormat = .c
    /// `NAME_weights.S` in the binary form.
    public var weightAssembly = ""
    /// `NAME_weights.bin` in the binary form.
    public var weightBlob: [UInt8] = []
    public var plan: MemoryPlan
    /// Bytes of the weights the code reads.
    public var weightBytes: Int
    /// Per node of the compiled graph: C function, op, MACs, output offsets.
    public var layers: [Layer]

    public struct Layer: Sendable {
        public var function: String
        public var op: String
        public var name: String
        public var macs: Int
        public var outputs: [(value: String, bytes: Int, storage: String)]
        /// How the lowering stage decided to compute the node.
        public var choice = KernelChoice(kind: .generatedLoops)

        /// How the weights are stored when they have zeros (dense or sparse, and why).
        public var weightForm: String? { choice.weightForm?.description }
        /// Weight bytes dense and as stored, when they have zeros.
        public var weightBytes: (dense: Int, stored: Int)? { choice.weightForm.map { ($0.denseBytes, $0.storedBytes) } }
        /// The kernel-library functions the layer calls directly (empty: generated loops only).
        public var kernels: [String] { choice.kernels }
        /// A view of its input (Reshape and the like in place): no code.
        public var isView: Bool { choice.kind == .view }
    }

    /// The generated source files with their contents: header, code and weights.
    public var files: [(name: String, data: Data)] {
        var files = [("\(name).h", Data(header.utf8)), ("\(name).c", Data(source.utf8))]
        if weightFormat == .binary {
            files += [("\(name)_weights.S", Data(weightAssembly.utf8)), ("\(name)_weights.bin", Data(weightBlob))]
        } else {
            files.append(("\(name)_weights.c", Data(weights.utf8)))
        }
        return files
    }

    /// The files a build compiles (the binary weights are assembled from `NAME_weights.S`).
    public var compiledSources: [String] {
        ["\(name).c", weightFormat == .binary ? "\(name)_weights.S" : "\(name)_weights.c"]
    }

    /// Flags every compile of `compiledSources` needs when they are built from `folder`: the
    /// assembler's include path for `.incbin` in the binary form.
    public func buildFlags(folder: String) -> [String] {
        weightFormat == .binary ? ["-Wa,-I" + folder] : []
    }
}

/// Turns an optimized, planned graph into C99.
public enum CEmitter {
    // Sparse kernels come first: they wrap the dense kernels of the same operators.
    static let kernels: [String: CKernel] = [SparseC.kernels, ElementwiseC.kernels, ConvolutionC.kernels, MatrixC.kernels, NormalizationC.kernels,
                                             DataMovementC.kernels, QuantizationC.kernels, ResizeC.kernels,
                                             ConvTransposeC.kernels, QuantizedC.kernels, BinaryC.kernels, RecurrentC.kernels,
                                             SelectionC.kernels, ScatterC.kernels, IntegerC.kernels,
                                             AttentionC.kernels, TransformerC.kernels, LinearAlgebraC.kernels, GridSampleC.kernels,
                                             SamplingC.kernels, TfIdfVectorizerC.kernels, ReassemblyC.kernels, SignalC.kernels,
                                             LinearAttentionC.kernels, QLinearLookupC.kernels, QLinearReduceMeanC.kernels]
        .reduce(into: [:]) { $0.merge($1) { first, _ in first } }

    /// The C type that stores `type` in emitted code (bool is `uint8_t`); nil when the back end does not emit it.
    public static func cType(_ type: ElementType) -> String? { CSyntax.type(type) }

    /// Operators the C back end can emit.
    public static var supportedOperators: [String] { kernels.keys.sorted() }

    /// Renders a lowered graph whose memory is planned as C: the kernels' bodies as they were written
    /// during lowering, each in its function, with the arena offsets and the weights the plan gives.
    /// `provenance`, when given, is the first line of every file: one comment naming the Whittle version,
    /// the target and options that change the C, and the model file's SHA-256 (no dates, no paths, so the
    /// output stays the same for the same input).
    public static func emit(_ lowered: LoweredGraph, plan: MemoryPlan, source: String, withWeights: Bool = true,
                            weightFormat: WeightFormat = .c, provenance: String? = nil) throws -> CSourceBundle {
        let graph = lowered.types.graph
        let prefix = lowered.prefix
        let integerOnly = lowered.options.integerOnly
        let weightSymbols = lowered.weightSymbols, inputParams = lowered.inputParams, outputParams = lowered.outputParams

        func cType(_ value: String) throws -> String {
            guard let type = graph.type(of: value) else { throw WhittleError(.shapeMismatch, "the type of \"\(value)\" is unknown") }
            return try NodeEmission.cType(type.elementType)
        }
        // The run function's parameters that some call or copy passes on; the others are marked unused.
        var passedParams = Set<String>()
        func pointer(_ value: String) throws -> String {
            switch plan.storage[value] {
            case .input(let i)?:
                passedParams.insert(inputParams[i])
                return inputParams[i]
            case .output(let j)?:
                passedParams.insert(outputParams[j])
                return outputParams[j]
            case .weight(let w)?: return weightSymbols[w] ?? w
            case .arena(let b)?: return "(\(try cType(value)) *)(void *)(base + \(plan.buffers[b].offset))"
            case nil: throw WhittleError(.invalidGraph, "value \"\(value)\" has no storage")
            }
        }

        var functions = CWriter(), run = CWriter(), layers: [CSourceBundle.Layer] = []
        var usedWeights = Set<String>(), extraArrays: [EmissionExtras.Array] = []
        let macs = lowered.types.macs
        for lowered in lowered.nodes {
            let index = lowered.index, node = graph.nodes[index], function = lowered.function
            let context = graph.context(ofNode: index)
            let outputs = node.outputs.enumerated().filter { !$0.element.isEmpty }
            var layer = CSourceBundle.Layer(function: function, op: node.opType, name: node.name, macs: index < macs.count ? macs[index] : 0,
                                            outputs: outputs.map { (_, v) in (v, bytes(v, graph), describe(plan.storage[v], plan)) })
            layer.choice = lowered.choice
            switch lowered.choice.kind {
            case .loopRegion:
                layers.append(layer)
                try WhittleError.attaching(context) {
                    try LoopRegionC.emit(node, index: index, graph: graph, plan: plan, pointer: pointer, into: &run)
                }
                for input in node.inputs { if case .weight(let w)? = plan.storage[input] { usedWeights.insert(w) } }
                continue
            case .view:
                layers.append(layer)
                run.line("/* \(node.opType) \"\(safe(node.name))\": a view of its input, no code */")
                continue
            case .noCode:
                layers.append(layer)
                run.line("/* \(node.opType) \"\(safe(node.name))\": empty output, no code */")
                continue
            case .library, .generatedLoops:
                break
            }
            try WhittleError.attaching(context) {
                let inPlace = outputs.contains { (_, v) in node.inputs.contains { plan.storage[$0] == plan.storage[v] && plan.offset(of: v) != nil } }
                let scratchBuffer = plan.scratch[index]
                extraArrays += lowered.arrays
                var parameters: [String] = [], arguments: [String] = []
                // restrict tells the C compiler that inputs and outputs do not overlap (they never do,
                // except for in-place element-wise nodes), which lets it vectorize.
                let restrict = inPlace ? "" : "restrict "
                for i in lowered.inputsRead {
                    let input = node.inputs[i]
                    parameters.append("const \(try cType(input)) *\(restrict)x\(i)")
                    arguments.append(try pointer(input))
                    if case .weight(let w)? = plan.storage[input] { usedWeights.insert(w) }
                }
                for (k, output) in outputs {
                    parameters.append("\(try cType(output)) *\(restrict)y\(k)")
                    arguments.append(try pointer(output))
                }
                if let b = scratchBuffer, lowered.usesScratch {
                    parameters.append("void *restrict scratch")
                    arguments.append("(void *)(base + \(plan.buffers[b].offset))")
                    // The report lists the kernel's working memory with the layer's outputs.
                    layer.outputs.append(("(scratch)", plan.buffers[b].bytes, "arena +\(plan.buffers[b].offset), during this layer"))
                }
                functions.lines(comment(node, index: index, graph: graph))
                functions.block("static void \(function)(\(parameters.isEmpty ? "void" : parameters.joined(separator: ", ")))") { w in
                    for (k, _) in outputs where !lowered.outputsNamed.contains(k) { w.line("(void)y\(k);") }
                    w.lines(lowered.body)
                }
                functions.line()
                run.line("\(function)(\(arguments.joined(separator: ", ")));")
            }
            layers.append(layer)
        }
        // Graph outputs that are inputs or constants are copied.
        for (j, output) in graph.outputs.enumerated() {
            switch plan.storage[output.name] {
            case .input, .weight:
                run.line("memcpy(\(outputParams[j]), \(try pointer(output.name)), \(bytes(output.name, graph)));")
                if case .weight(let w)? = plan.storage[output.name] { usedWeights.insert(w) }
            default: break
            }
        }

        let signature = try runParameters(graph, inputParams, outputParams, cType)
        // Checking that a model compiles (inspect) skips the weight literals, the slow part for big models.
        let entries = try weightEntries(graph: graph, used: usedWeights, symbols: weightSymbols, extra: extraArrays)
        // One declaration of each array, in the header both the code and the weights file include.
        let declarations = try entries.map { "extern const \(try NodeEmission.cType($0.type)) \($0.symbol)[\($0.count)];" }
        let header = try headerText(prefix, graph: graph, plan: plan, signature: signature, source: source, weights: declarations)
        var c = CWriter()
        c.line("/* \(prefix).c: generated by Whittle from \(source). Do not edit. */")
        // a * b + c must round twice, as the interpreter computes it: no fused multiply-add, whatever
        // the C mode (GCC contracts by default in GNU mode; it reads this before any function, the
        // headers' included). Clang needs the standard pragma below; ISO C mode contracts nothing.
        c.lines(["#if defined(__GNUC__) && !defined(__clang__)", "#pragma GCC optimize (\"fp-contract=off\")", "#endif"])
        c.lines(["#include <math.h>", "#include <stddef.h>", "#include <stdint.h>", "#include <string.h>", "#include \"\(prefix).h\"", ""])
        c.lines(["#if defined(__clang__)", "#pragma STDC FP_CONTRACT OFF", "#endif", ""])
        if integerOnly {
            c.lines(["/* Integer-only requantization in the library kernels (the target has no FPU). */", "#define WHITTLE_INTEGER_REQUANT 1", ""])
        }
        let library = KernelLibrary.source(for: functions.text)
        if !library.isEmpty { c.verbatim(library.components(separatedBy: "\n")) }
        c.lines(functions.lines)
        c.line("/* Runs the model with the caller's arena of \(prefix.uppercased())_ARENA_BYTES bytes (16-byte aligned). */")
        c.block("int \(prefix)_run_with_arena(void *arena, \(signature))") { w in
            w.line("uint8_t *base = (uint8_t *)arena;")
            w.line("(void)base;")
            for parameter in inputParams + outputParams where !passedParams.contains(parameter) { w.line("(void)\(parameter);") }
            w.lines(run.lines)
            w.line("return 0;")
        }
        c.line()
        c.line("/* \(prefix)_run's static arena; define \(prefix.uppercased())_NO_STATIC_ARENA to leave both out (the caller supplies the arena). */")
        c.line("#ifndef \(prefix.uppercased())_NO_STATIC_ARENA")
        c.line("#if defined(__GNUC__)")
        // The arena's start is a macro with a name of its own: no identifier doubles as a macro name.
        c.line("static uint8_t \(prefix)_arena[\(prefix.uppercased())_ARENA_BYTES > 0 ? \(prefix.uppercased())_ARENA_BYTES : 1] __attribute__((aligned(16)));")
        c.line("#define \(prefix.uppercased())_STATIC_ARENA \(prefix)_arena")
        c.line("#else")
        c.line("static union { double align; uint8_t bytes[\(prefix.uppercased())_ARENA_BYTES > 0 ? \(prefix.uppercased())_ARENA_BYTES : 1]; } \(prefix)_arena_union;")
        c.line("#define \(prefix.uppercased())_STATIC_ARENA (\(prefix)_arena_union.bytes)")
        c.line("#endif")
        c.line()
        c.block("int \(prefix)_run(\(signature))") { w in
            let args = inputParams + outputParams
            w.line("return \(prefix)_run_with_arena(\(prefix.uppercased())_STATIC_ARENA\(args.isEmpty ? "" : ", " + args.joined(separator: ", ")));")
        }
        c.line("#endif")
        let weightBytes = entries.map { $0.count * $0.byteWidth }.reduce(0, +)
        let first = provenance.map { "/* \(safe($0)) */\n" } ?? ""
        var bundle = CSourceBundle(name: prefix, header: first + header, source: first + c.text, weights: "", plan: plan,
                                   weightBytes: weightBytes, layers: layers)
        // Checking that a model compiles (inspect) skips the weights, the slow part for big models.
        guard withWeights else { return bundle }
        bundle.weightFormat = weightFormat.resolved(weightBytes: weightBytes)
        if bundle.weightFormat == .binary {
            (bundle.weightAssembly, bundle.weightBlob) = WeightFiles.binary(prefix, entries: entries, source: source)
            bundle.weightAssembly = first + bundle.weightAssembly
        } else {
            bundle.weights = first + (try WeightFiles.cText(prefix, entries: entries, source: source))
        }
        return bundle
    }

    /// What the kernel of node `index` knows about it.
    static func emission(_ index: Int, model: Model, types: InferenceResult, options: CodegenOptions) throws -> NodeEmission {
        let graph = types.graph, node = graph.nodes[index]
        let inputTypes = node.inputs.map { $0.isEmpty ? nil : graph.type(of: $0) }
        let inputValues = node.inputs.map { $0.isEmpty ? nil : graph.initializers[$0] ?? types.constants[$0] }
        let ctx = InferenceContext(node: node, opset: model.opset(for: node.domain), inputTypes: inputTypes, inputValues: inputValues)
        let outputTypes = try node.outputs.map { v -> TensorType in
            guard let t = v.isEmpty ? TensorType(.float, []) : graph.type(of: v) else {
                throw WhittleError(.shapeMismatch, "the type of \"\(v)\" is unknown")
            }
            return t
        }
        var emission = NodeEmission(node: node, context: ctx, outputTypes: outputTypes)
        emission.integerOnly = options.integerOnly
        emission.sparse = options.sparse
        emission.weightLayout = options.weightLayout
        emission.floatTiles = options.floatTiles
        emission.neon = options.neon
        return emission
    }

    /// Kernels that need working memory while they run, and how many bytes for a node.
    static let scratchNeeds: [String: @Sendable (NodeEmission) throws -> Int] =
        Int8LibraryC.scratchNeeds.merging(FloatLibraryC.scratchNeeds) { first, _ in first }.merging(RecurrentC.scratchNeeds) { first, _ in first }
            .merging(AttentionC.scratchNeeds) { first, _ in first }
            .merging(LinearAttentionC.scratchNeeds) { first, _ in first }.merging(LoopRegionC.scratchNeeds) { first, _ in first }.merging(LinearAlgebraC.scratchNeeds) { first, _ in first }

    static func bytes(_ value: String, _ graph: Graph) -> Int {
        graph.type(of: value)?.storageBytes ?? 0
    }

    static func describe(_ storage: MemoryPlan.Storage?, _ plan: MemoryPlan) -> String {
        switch storage {
        case .input(let i)?: "input \(i)"
        case .output(let j)?: "output \(j)"
        case .weight?: "weight"
        case .arena(let b)?: "arena +\(plan.buffers[b].offset)"
        case nil: "-"
        }
    }

    /// The run functions' parameters: inputs (const), then outputs, in graph order.
    static func runParameters(_ graph: Graph, _ inputs: [String], _ outputs: [String], _ cType: (String) throws -> String) throws -> String {
        var parts: [String] = []
        for (i, input) in graph.inputs.enumerated() { parts.append("const \(try cType(input.name)) *\(inputs[i])") }
        for (j, output) in graph.outputs.enumerated() { parts.append("\(try cType(output.name)) *\(outputs[j])") }
        return parts.joined(separator: ", ")
    }

    /// The comment above a node's function: op, ONNX name, shapes and attributes.
    static func comment(_ node: Node, index: Int, graph: Graph) -> [String] {
        func shapes(_ values: [String]) -> String {
            values.filter { !$0.isEmpty }.map { graph.type(of: $0)?.description ?? "?" }.joined(separator: ", ")
        }
        var lines = ["/* Node \(index): \(node.opType) \"\(safe(node.name))\"", " *   in:  \(shapes(node.inputs))", " *   out: \(shapes(node.outputs))"]
        let attributes = node.attributes.keys.sorted().compactMap { key -> String? in
            guard let value = node.attributes[key] else { return nil }
            switch value {
            case .graph, .graphs, .tensor, .tensors: return nil
            default: return "\(key.replacingOccurrences(of: "whittle_", with: "fused_"))=\(value.summary)"
            }
        }
        if !attributes.isEmpty { lines.append(" *   " + safe(attributes.joined(separator: " "))) }
        lines.append(" */")
        return lines
    }

    /// Text that may appear inside a C comment (no comment terminator, no trigraph-like surprises).
    public static func safe(_ text: String) -> String {
        text.replacingOccurrences(of: "*/", with: "* /").replacingOccurrences(of: "/*", with: "/ *")
            .replacingOccurrences(of: "??", with: "?\u{200B}?").filter { $0.isASCII && ($0 == " " || !$0.isWhitespace) }
    }
}

/// Unique C identifiers, allocated in a fixed order so the output is deterministic.
struct NameTable {
    private var taken: Set<String>

    init(reserved: Set<String>) { taken = reserved }

    mutating func unique(_ base: String) -> String {
        var name = base, k = 1
        while taken.contains(name) {
            k += 1
            name = "\(base)_\(k)"
        }
        taken.insert(name)
        return name
    }
}
