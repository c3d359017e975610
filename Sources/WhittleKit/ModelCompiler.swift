import Foundation
import WhittleCodegen
import WhittleIR
import WhittleOps
import WhittlePasses

/// Options of `whittle compile`.
public struct CompileOptions: Sendable {
    /// The C identifier prefix; defaults to the model file's name.
    public var name: String?
    public var disabledPasses: Set<String> = []
    /// Pass names after which the IR is printed (see `--dump-ir-after`).
    public var dumpAfter: Set<String> = []
    /// The back end's choices for the device (set from the target by `adopt`, and `--sparse`).
    public var codegen = CodegenOptions()
    /// Emit the weights file (off when only checking that the model compiles).
    public var withWeights = true
    /// C initializers or a binary blob (`--weights`); `auto` chooses by size.
    public var weightFormat = WeightFormat.auto
    /// What the back end favours where it has a choice: flash (int8 weights take one byte everywhere,
    /// the default) or speed (int16 copies of int8 convolution and matrix weights on cores with the
    /// DSP extension, which `SMLAD` reads without unpacking: twice their flash).
    public var goal = OptimizationGoal.size
    /// Unroll Loop and Scan (one copy of the body per iteration) instead of keeping them as C loops.
    public var unrollLoops = false

    public init(name: String? = nil, disabledPasses: Set<String> = [], dumpAfter: Set<String> = [], integerOnly: Bool = false) {
        self.name = name
        self.disabledPasses = disabledPasses
        self.dumpAfter = dumpAfter
        codegen.integerOnly = integerOnly
    }
}

/// A compiled model: the C files and what the compiler learned on the way.
public struct CompiledModel: Sendable {
    public var bundle: CSourceBundle
    /// The lowering stage's decisions (what the planner and the emitter read).
    public var lowered: LoweredGraph
    /// What the user should know about how the model was compiled (a form that was tried and not kept).
    public var notes: [String] = []
    public var optimized: Model
    public var types: InferenceResult
    /// Text dumps requested with `--dump-ir-after`, in pass order.
    public var dumps: [(pass: String, text: String)]
    public var compileSeconds: Double
    /// The worst-case stack of `NAME_run` (`CompileStack.measure`, bare-metal targets built by GCC),
    /// or why it is unknown; nil when it was not measured. The RAM budget counts it with the arena.
    public var stack: Swift.Result<StackUsage, WhittleError>?

    /// Writes NAME.h, NAME.c, the weights (NAME_weights.c, or NAME_weights.S and NAME_weights.bin),
    /// NAME_report.md and NAME_report.json into `directory`.
    /// `extra` files (build snippets) are written with them: all the files are replaced together or not at all.
    public func write(to directory: String, extra: [(String, Data)] = []) throws -> [String] {
        try ModelRunner.makeDirectory(directory)
        let name = bundle.name
        let files = bundle.files + [("\(name)_report.md", Data(CompileReport(self).markdown().utf8)),
                                    ("\(name)_report.json", Data(try CompileReport(self).json().utf8))] + extra
        let paths = files.map { (URL(fileURLWithPath: directory).appendingPathComponent($0.0).path, $0.1) }
        try FileOutput.write(paths)
        return paths.map(\.0)
    }
}

/// `whittle compile`: optimize, plan memory, emit C.
public enum ModelCompiler {
    /// The optimization passes in the order they run: name and one-line summary.
    public static var passes: [(name: String, summary: String)] { PassPipeline.standard.passes.map { ($0.name, $0.summary) } }

    /// `progress(phase, done, total)` follows the passes and the layers as they are emitted (big models take a while).
    public static func compile(_ analyzed: AnalyzedModel, options: CompileOptions = .init(),
                               progress: (String, Int, Int) -> Void = { _, _, _ in }) throws -> CompiledModel {
        let start = Date()
        if let first = analyzed.inference.unsupported.first {
            // A value the C would need at compile time that comes from graph inputs: say which to bind.
            let feeding = analyzed.needsInputValues && first.node.index < analyzed.graph.nodes.count
                ? InputBinding.inputs(feeding: first.node.index, in: analyzed.graph) : []
            let hint = feeding.isEmpty ? "" : "; it depends on the graph input" + (feeding.count > 1 ? "s " : " ")
                + feeding.map { "\"\($0)\"" }.joined(separator: ", ") + ": freeze " + (feeding.count > 1 ? "them" : "it")
                + " as " + feeding.map { "\($0)=..." }.joined(separator: " ")
            throw WhittleError(.unsupported, "cannot compile: \(first.reason)\(hint)", file: analyzed.path, node: first.node,
                               setting: feeding.isEmpty ? nil : .binding)
        }
        // Loop and Scan stay loops in C where their body keeps its shapes from one iteration to the next
        // (else, or with --unroll-loops, they are compiled unrolled, as the interpreter runs them).
        var notes: [String] = []
        if !options.unrollLoops, let rolled = rolledForm(analyzed) {
            do {
                return try compile(rolled, analyzed: analyzed, options: options, start: start, progress: progress)
            } catch {
                // The unrolled form may still compile; the user is told which form they got, and why.
                notes.append("Loop and Scan are unrolled (one copy of the body per iteration): keeping them as C loops failed: "
                    + ((error as? WhittleError)?.reason ?? "\(error)"))
            }
        }
        var compiled = try compile(analyzed.model, analyzed: analyzed, options: options, start: start, progress: progress)
        compiled.notes = notes
        return compiled
    }

    /// The first line of the generated files: the Whittle version, the target and options that change the C,
    /// and the SHA-256 of the model file (of its bytes: the same file gives the same line wherever it is).
    static func provenance(_ path: String, _ options: CodegenOptions) -> String {
        let digest = FileManager.default.contents(atPath: path).map { SHA256.hex([UInt8]($0)) }
        return "Generated by Whittle \(WhittleVersion.current) for \(options.target) (\(options.summary)) from "
            + (digest.map { "a model file with SHA-256 \($0)" } ?? "a model built in memory")
    }

    /// The model with its loops kept as loop regions, when it has any and every one of them could be kept.
    static func rolledForm(_ analyzed: AnalyzedModel) -> Model? {
        guard let original = analyzed.unexpanded,
              let (rolled, reasons) = try? ControlFlowExpansion.expand(original, rolling: true), reasons.isEmpty,
              rolled.graph.nodes.contains(where: LoopRegion.isBegin),
              let inference = try? ShapeInference.run(rolled), inference.unsupported.isEmpty else { return nil }
        return rolled
    }

    static func compile(_ given: Model, analyzed: AnalyzedModel, options: CompileOptions, start: Date,
                        progress: (String, Int, Int) -> Void) throws -> CompiledModel {
        do {
            var dumps: [(String, String)] = []
            // Constant nodes are data, not computation: they become weights whatever passes run, so
            // `--disable-pass fold-constants` changes what is optimized, never what compiles.
            let model = try ConstantNodes.asInitializers(given)
            let passCount = PassPipeline.standard.passes.filter { !options.disabledPasses.contains($0.name) }.count
            var passesRun = 0
            var (optimized, types) = try PassPipeline.standard.run(model, disabled: options.disabledPasses) { pass, model, types in
                if options.dumpAfter.contains(pass) { dumps.append((pass, IRPrinter.text(model.graph, types: types))) }
                passesRun += 1
                progress("optimizing", passesRun, passCount)
            }
            for pass in options.dumpAfter.sorted() where !PassPipeline.standard.passes.contains(where: { $0.name == pass }) {
                throw WhittleError(.usage, "no pass is named \"\(pass)\" (the graph cannot be printed after it)", setting: .dumpedPass)
            }
            // Not a pass one can disable: without it 16-bit float models do not compile.
            if try HalfPrecisionLowering.lower(&optimized, types: types) {
                try Verifier.verify(optimized.graph)
                types = try ShapeInference.run(optimized)
            }
            try checkSizes(types.graph)
            let base = URL(fileURLWithPath: analyzed.path).deletingPathExtension().lastPathComponent
            // Every kernel decision is made here, once; the planner and the emitter read it.
            let lowered = try Lowering.lower(optimized, types: types, name: options.name ?? base, options: options.codegen, progress: progress)
            let plan = try MemoryPlanner.plan(types.graph, scratch: lowered.scratchRequests, inPlace: lowered.inPlaceNodes)
            let bundle = try CEmitter.emit(lowered, plan: plan, source: URL(fileURLWithPath: analyzed.path).lastPathComponent,
                                           withWeights: options.withWeights, weightFormat: options.weightFormat,
                                           provenance: provenance(analyzed.path, options.codegen))
            return CompiledModel(bundle: bundle, lowered: lowered, optimized: optimized, types: types, dumps: dumps,
                                 compileSeconds: Date().timeIntervalSince(start))
        } catch let error as WhittleError {
            throw error.inFile(analyzed.path)
        }
    }
}

extension ModelCompiler {
    /// The emitted C counts elements with `int` and addresses the arena with its offsets: every
    /// tensor must have at most 2^31 − 1 elements (and its bytes fit), checked before any layout.
    static func checkSizes(_ graph: Graph) throws {
        let limit = Int(Int32.max)
        func check(_ value: String, node: Int?) throws {
            guard let type = graph.type(of: value), let shape = type.shape else { return }
            // The bytes must fit too (a count that fits can still overflow once multiplied by the width).
            let count = (try? Shape.byteCount(shape, width: type.elementType.byteWidth ?? 1)).map { _ in Shape.saturatingProduct(shape) } ?? Int.max
            guard count <= limit else {
                let error = WhittleError(.unsupported, "value \"\(value)\" of shape \(Shape.describe(shape)) has more than 2,147,483,647 elements, "
                                         + "more than the emitted C can count (its loops use int)")
                throw node.map { error.inNode(graph.context(ofNode: $0)) } ?? error
            }
        }
        for input in graph.inputs { try check(input.name, node: nil) }
        for name in graph.initializerNames { try check(name, node: nil) }
        for (index, node) in graph.nodes.enumerated() { for output in node.outputs where !output.isEmpty { try check(output, node: index) } }
    }
}

/// A plain-text listing of a graph, for `--dump-ir-after`.
public enum IRPrinter {
    public static func text(_ graph: Graph, types: InferenceResult) -> String {
        var lines = ["graph \(graph.name)"]
        for input in graph.inputs { lines.append("  input  \(input.name): \(graph.type(of: input.name)?.description ?? "?")") }
        for name in graph.initializerNames { lines.append("  const  \(name): \(graph.initializers[name]?.type.description ?? "?")") }
        for (i, node) in graph.nodes.enumerated() {
            let outs = node.outputs.map { "\($0): \(types.graph.type(of: $0)?.description ?? "?")" }.joined(separator: ", ")
            let attrs = node.attributes.keys.sorted().compactMap { k in node.attributes[k].map { "\(k)=\($0.summary)" } }.joined(separator: " ")
            lines.append("  %\(i) \(node.opType)(\(node.inputs.joined(separator: ", "))) -> \(outs)\(attrs.isEmpty ? "" : "  {\(attrs)}")")
        }
        for output in graph.outputs { lines.append("  output \(output.name)") }
        return lines.joined(separator: "\n") + "\n"
    }
}

/// NAME_report.md / NAME_report.json: memory, weights and per-layer costs.
public struct CompileReport: Codable, Sendable {
    public struct Layer: Codable, Sendable {
        public var function: String
        public var op: String
        public var name: String
        public var macs: Int
        public var outputs: [Output]
        /// How the layer's weights are stored, when they have zeros: the form, and the cost model's numbers.
        public var weights: String?
        /// The kernel-library functions the layer calls (empty when its loops are generated).
        public var kernels: [String]
        /// A view of its input (Reshape, Flatten ...): no function, no code.
        public var view: Bool
        /// Working memory of its kernel, in bytes.
        public var scratch: Int
        /// Whether its output may be written over its input.
        public var inPlace: Bool
        /// Why its kernel has this form.
        public var reason: String
        /// Bits per stored weight of an int8 library layer (4: two per byte; 8; 16: the wide layout).
        public var weightBits: Int?
    }
    public struct Output: Codable, Sendable {
        public var value: String
        public var bytes: Int
        public var storage: String
    }

    public var model: String
    public var arenaBytes: Int
    public var arenaLowerBound: Int
    public var weightBytes: Int
    /// The worst-case stack of `NAME_run` in bytes (bare-metal targets built by GCC), with the
    /// functions along its deepest path; or why it could not be measured.
    public var stackBytes: Int?
    public var stackPath: [String]?
    public var stackUnknown: String?
    /// How the int8 convolution and matrix weights are stored ("1 byte per weight (int8 pairs)"), when
    /// the model has such layers.
    public var int8Weights: String?
    public var macs: Int
    public var layers: [Layer]

    public init(_ compiled: CompiledModel) {
        let b = compiled.bundle
        model = b.name
        arenaBytes = b.plan.arenaBytes
        arenaLowerBound = b.plan.lowerBound
        weightBytes = b.weightBytes
        switch compiled.stack {
        case .success(let stack)?: (stackBytes, stackPath) = (stack.bytes, stack.path)
        case .failure(let error)?: stackUnknown = error.reason
        case nil: break
        }
        layers = b.layers.map { Layer(function: $0.function, op: $0.op, name: $0.name, macs: $0.macs,
                                      outputs: $0.outputs.map { Output(value: $0.value, bytes: $0.bytes, storage: $0.storage) },
                                      weights: $0.weightForm, kernels: $0.kernels, view: $0.isView, scratch: $0.choice.scratchBytes,
                                      inPlace: $0.choice.writesOverInput, reason: $0.choice.reason, weightBits: $0.choice.weightBits) }
        macs = layers.map(\.macs).reduce(0, +)
        let layout = compiled.lowered.options.weightLayout
        let library = layers.filter { !WeightLayout.kernels.isDisjoint(with: $0.kernels) }
        if !library.isEmpty {
            let bytes = "\(layout.bytesPerWeight) byte\(layout.bytesPerWeight == 1 ? "" : "s") per weight (\(layout.name))"
            let four = library.filter { $0.weightBits == 4 }.count
            int8Weights = four == 0 ? bytes
                : four == library.count ? "4 bits per weight, two per byte (\(layout.name))"
                : "4 bits per weight, two per byte, in \(four) of \(library.count) layers; \(bytes) in the others"
        }
    }

    /// Each layer's kernel choice: the kernel, its weight form, scratch, whether it works in place, and why
    /// (`compile --explain`).
    public func explanation() -> String {
        var lines = ["kernel choices (\(layers.count) layers):"]
        for layer in layers {
            let kernel = Self.kernelText(view: layer.view, kernels: layer.kernels)
            var facts = [kernel]
            if layer.scratch > 0 { facts.append("scratch \(layer.scratch) B") }
            if layer.inPlace { facts.append("output over input") }
            lines.append("  \(layer.view ? "(no function)" : layer.function)  \(layer.op) \"\(layer.name)\": " + facts.joined(separator: ", "))
            lines.append("      why: \(layer.reason)")
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// How a layer is computed, in words the reports share with `inspect`.
    public static func kernelText(view: Bool, kernels: [String]) -> String {
        view ? "view (no code)" : kernels.isEmpty ? "generated loops" : kernels.joined(separator: ", ")
    }

    public func json() throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return String(decoding: try encoder.encode(self), as: UTF8.self) + "\n"
    }

    /// The stack's row of the size table, with its deepest path or why it is unknown.
    var stackRows: [String] {
        if let stackBytes, let stackPath {
            return ["| stack of `\(model)_run` (worst case) | \(stackBytes) |", "", "Deepest call path: " + stackPath.map { "`\($0)`" }.joined(separator: " → ") + "."]
        }
        return stackUnknown.map { ["", "Stack of `\(model)_run`: unknown (\($0))."] } ?? []
    }

    public func markdown() -> String {
        var lines = ["# \(model): compile report", "",
                     "| | bytes |", "|---|---:|",
                     "| arena (RAM for activations) | \(arenaBytes) |",
                     "| arena lower bound (most bytes live at once) | \(arenaLowerBound) |",
                     "| weights (flash) | \(weightBytes) |"] + stackRows + (int8Weights.map { ["", "int8 convolution and matrix weights: \($0)."] } ?? []) + ["",
                     "MACs per inference: \(macs)", "",
                     "| function | op | MACs | kernel | output | bytes | storage |", "|---|---|---:|---|---|---:|---|"]
        for layer in layers {
            for (k, output) in layer.outputs.enumerated() {
                let kernel = layer.view || layer.kernels.isEmpty ? Self.kernelText(view: layer.view, kernels: [])
                    : layer.kernels.map { "`\($0)`" }.joined(separator: ", ")
                let function = layer.view ? "(none)" : "`\(layer.function)`"
                let head = k == 0 ? "| \(function) | \(layer.op) | \(layer.macs) | \(kernel) |" : "| | | | |"
                lines.append("\(head) `\(output.value.replacingOccurrences(of: "|", with: "\\|"))` | \(output.bytes) | \(output.storage) |")
            }
        }
        lines += ["", "Kernel choices:", "", "| function | op | kernel | scratch | output over input | why |", "|---|---|---|---:|---|---|"]
        for layer in layers {
            let function = layer.view ? "(none)" : "`\(layer.function)`"
            lines.append("| \(function) | \(layer.op) | \(Self.kernelText(view: layer.view, kernels: layer.kernels)) | \(layer.scratch) | "
                + "\(layer.inPlace ? "yes" : "no") | \(layer.reason.replacingOccurrences(of: "|", with: "\\|")) |")
        }
        let sparse = layers.filter { $0.weights != nil }
        if !sparse.isEmpty {
            lines += ["", "Layers whose weights have zeros (sparse when it saves at least 10 % of the bytes and no more estimated work):", "",
                      "| function | op | weights |", "|---|---|---|"]
            for layer in sparse { lines.append("| `\(layer.function)` | \(layer.op) | \(layer.weights ?? "") |") }
        }
        return lines.joined(separator: "\n") + "\n"
    }
}

extension CompileOptions {
    /// The kernel choices a target's description implies: integer-only requantization without an FPU;
    /// the paired rows with the DSP extension (int8, or int16 when optimizing for speed); the tiles of
    /// AArch64 NEON cores (NEON without the 32-bit DSP instructions) and of hosts whose compilers
    /// vectorize the tiles' portable loops (`simd`), in quads for the dot-product instructions.
    public mutating func adopt(_ target: TargetDescription) {
        codegen.target = target.name
        codegen.integerOnly = target.fpu == "none"
        let tiles = !target.features.contains("dsp") && (target.features.contains("neon") || target.features.contains("simd"))
        codegen.floatTiles = tiles
        codegen.neon = target.features.contains("neon")
        if target.features.contains("dsp") {
            codegen.weightLayout = goal == .speed ? .widePairs : .pairs
        } else {
            codegen.weightLayout = !tiles ? .pairs : target.features.contains("dotprod") ? .dotTiles : .tiles
        }
    }
}

/// What the C back end favours where a layer has two forms.
public enum OptimizationGoal: String, Sendable, CaseIterable {
    /// The fewest bytes: int8 weights take one byte on every target.
    case size
    /// The fewest instructions, at some flash: int16 copies of int8 weights where the DSP kernels read them faster.
    case speed
}
