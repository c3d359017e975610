import Foundation
import WhittleCodegen
import WhittleIR
import WhittleInterpreter
import WhittleOps

/// `whittle verify`: compiles a model to C, builds it with a test harness, runs it and compares
/// every output with the reference interpreter running the original (unoptimized) model.
public enum ModelVerifier {
    /// How one output compares.
    public struct Comparison: Sendable {
        public var name: String
        public var maxAbsError: Double
        /// Largest distance in units in the last place (floating-point outputs).
        public var maxULP: UInt64
        public var passed: Bool
        /// Whether this comparison decides the verdict; a quantized output's fidelity to the model
        /// as given is reported, and only decides with `--strict`.
        public var decides = true
        /// For quantized outputs: how many quantization steps off, and top-1 agreement.
        public var detail: String?
        /// The tolerance this output was held to, when it was chosen from the model (no `--tolerance`).
        public var toleranceUsed: String?
        /// What to try when the comparison fails.
        public var advice: String?
        /// Every value is NaN in both the C and the reference: they agree, but nothing was checked.
        public var allNaN = false
    }

    public struct Options: Sendable {
        public var compiler = "cc"
        public var sanitize = true
        /// An element passes when |c − ref| ≤ tolerance · max(1, |ref|); integers must be equal. nil:
        /// chosen per output from its accumulation depth and magnitude (see ``automaticTolerance``).
        public var tolerance: Double? = nil
        public var seed: UInt64 = 1
        public var extraFlags: [String] = []
        public var compile = CompileOptions()
        /// Quantized outputs must be within one step of the model as given (else that is reported only).
        public var strict = false
        /// Expected outputs by name (ONNX test data): the C's outputs are compared with them too.
        public var expected: [String: NDArray] = [:]

        public init() {}
    }

    /// The warning flags every emitted file must pass.
    public static let strictFlags = ["-std=c99", "-Wall", "-Wextra", "-Werror", "-pedantic", "-Wshadow", "-Wstrict-prototypes",
                                     "-Wdouble-promotion"]

    /// `progress` follows the compilation (see ``ModelCompiler/compile(_:options:progress:)``), then building and running.
    public static func verify(_ analyzed: AnalyzedModel, inputs given: [String: NDArray]?, options: Options,
                              workDirectory: String, progress: (String, Int, Int) -> Void = { _, _, _ in }) throws -> [Comparison] {
        let workDirectory = ModelRunner.absolute(workDirectory)
        let compiled = try ModelCompiler.compile(analyzed, options: options.compile, progress: progress)
        _ = try compiled.write(to: workDirectory)
        let inputs = given ?? randomInputs(for: analyzed.graph, seed: options.seed)
        let name = compiled.bundle.name
        let directory = URL(fileURLWithPath: workDirectory)
        try harness(compiled, graph: analyzed.graph).write(to: directory.appendingPathComponent("\(name)_harness.c"), atomically: true, encoding: .utf8)
        for (i, input) in analyzed.graph.inputs.enumerated() {
            guard let value = inputs[input.name] else { throw WhittleError(.usage, "no value for input \"\(input.name)\"") }
            try Data(value.tensor().bytes).write(to: directory.appendingPathComponent("input_\(i).bin"))
        }
        let executable = directory.appendingPathComponent("\(name)_test").path
        var arguments = strictFlags + compiled.bundle.buildFlags(folder: ".") + ["-O1", "-g", "-o", executable, "\(name)_harness.c"]
            + compiled.bundle.compiledSources + ["-lm"]
        if options.sanitize { arguments.insert(contentsOf: ["-fsanitize=address,undefined", "-fno-sanitize-recover=all"], at: 0) }
        arguments += options.extraFlags
        progress("building and running", 0, 2)
        try run(options.compiler, arguments, in: workDirectory, what: "building the C code")
        progress("building and running", 1, 2)
        try run(executable, [], in: workDirectory, what: "running the compiled model")
        progress("building and running", 2, 2)
        let bytes = try analyzed.graph.outputs.indices.map { j in
            [UInt8](try Data(contentsOf: directory.appendingPathComponent("output_\(j).bin")))
        }
        return try comparisons(bytes, analyzed: analyzed, compiled: compiled, inputs: inputs, tolerance: options.tolerance, strict: options.strict,
                               expected: options.expected)
    }

    /// Compares the C outputs (raw bytes, in output order) with the interpreter twice: on the optimized
    /// graph the C implements (within `tolerance`; integer outputs exactly), and on the model as given,
    /// named "NAME (model as given)". The second also accepts one quantization step on an output that a
    /// DequantizeLinear produces: fused integer kernels round once where the QDQ float graph rounds per operator.
    /// The C's outputs against the compiled graph (this decides: integer kernels must be exact) and
    /// against the model as given. Where a DequantizeLinear makes the output, the integer kernels
    /// round once where the QDQ float graph rounds per operator, and the difference grows with depth
    /// (ten steps after fifty layers is normal): it is reported in steps and top-1 agreement, and
    /// held to one step only with `strict`.
    /// With `expected` (test data), each output given there is also compared with it, named
    /// "NAME (test data)", held to the same tolerance as the comparison with the interpreter.
    static func comparisons(_ outputs: [[UInt8]], analyzed: AnalyzedModel, compiled: CompiledModel, inputs: [String: NDArray],
                            tolerance given: Double?, strict: Bool = false, expected data: [String: NDArray] = [:]) throws -> [Comparison] {
        let compiledReference = try Interpreter(model: compiled.optimized, inference: compiled.types).run(inputs)
        let givenReference = try Interpreter(model: analyzed.model, inference: analyzed.inference).run(inputs)
        // Where fuse-qdq made integer operators, every output downstream rounds differently from the QDQ
        // float graph, a float one too (a Softmax after 16-bit layers, say): the model as given is then
        // reported, and decides only with `strict`.
        let integerOperators = { (graph: Graph) in
            graph.nodes.filter { Graph.isQuantizationOperator($0) && !["QuantizeLinear", "DequantizeLinear"].contains($0.opType) }.count
        }
        let fused = integerOperators(compiled.optimized.graph) > integerOperators(analyzed.graph)
        var result: [Comparison] = []
        for (j, output) in analyzed.graph.outputs.enumerated() {
            guard let expected = compiledReference[output.name], let original = givenReference[output.name],
                  let type = analyzed.graph.type(of: output.name), j < outputs.count else {
                throw WhittleError(.invalidGraph, "output \"\(output.name)\" has no reference value")
            }
            let got = NDArray(try Tensor(elementType: type.elementType, shape: expected.shape, bytes: outputs[j]))
            var tolerance = given ?? defaultTolerance, floor = 0.0
            var used: String?
            if given == nil, type.elementType.isFloatingPoint {
                let automatic = automaticTolerance(compiled.types, output: output.name, reference: expected)
                floor = automatic.absolute
                tolerance = defaultTolerance
                used = automatic.description
            }
            var exact = compare(output.name, got, expected, tolerance: tolerance,
                                step: max(roundedFromFloatStep(compiled.types.graph, output.name) ?? 0, floor))
            exact.toleranceUsed = used
            if !exact.passed { exact.advice = advice(got, expected) }
            result.append(exact)
            let step = outputStep(analyzed.graph, output.name)
            var fidelity = compare("\(output.name) (model as given)", got, original, tolerance: tolerance, step: max(step ?? 0, floor))
            if let step, step > 0 {
                fidelity.decides = strict
                fidelity.detail = stepsReport(got.doubles, original.doubles, step: step, rows: max(original.shape.last ?? 1, 1))
            } else if fused {
                fidelity.decides = strict
            }
            result.append(fidelity)
            if let value = data[output.name] {
                guard value.shape == got.shape, value.elementType == got.elementType else {
                    throw WhittleError(.usage, "the test data's output \"\(output.name)\" is \(TensorType(value.elementType, value.shape)); "
                        + "the model computes \(TensorType(got.elementType, got.shape))")
                }
                var check = compare("\(output.name) (test data)", got, value, tolerance: tolerance, step: floor)
                if !check.passed { check.advice = advice(got, value) }
                result.append(check)
            }
        }
        return result
    }

    /// The relative tolerance without `--tolerance`: what float32 sums of up to a few hundred products keep.
    public static let defaultTolerance = 1e-4

    /// The absolute error float32 rounding alone can explain in an output: the C sums each product chain in
    /// another order than the interpreter (tiles, pairs, vector lanes), and the deterministic bound on a
    /// reordered sum grows with the number of terms. Summed over the layers the output depends on, the
    /// terms of every product (MACs over output elements) give the accumulation depth D; the bound used is
    /// D · ε(float32) · max(1, max |reference|), the output's magnitude standing in for the sum of
    /// magnitudes. Outputs of shallow models stay at the relative ``defaultTolerance``.
    public static func automaticTolerance(_ types: InferenceResult, output: String, reference: NDArray) -> (absolute: Double, description: String) {
        let graph = types.graph
        var producer: [String: Int] = [:]
        for (index, node) in graph.nodes.enumerated() { for value in node.outputs where !value.isEmpty { producer[value] = index } }
        // The layers `output` depends on, found with a work list (no recursion a file could make deep).
        var pending = [output], seen = Set<Int>()
        while let value = pending.popLast() {
            guard let index = producer[value], seen.insert(index).inserted else { continue }
            pending += graph.nodes[index].inputs.filter { !$0.isEmpty }
        }
        var depth = 0.0, layers = 0
        for index in seen where index < types.macs.count && types.macs[index] > 0 {
            let elements = graph.nodes[index].outputs.first.flatMap { graph.type(of: $0)?.shape }.map { Shape.saturatingProduct($0) } ?? 0
            guard elements > 0 else { continue }
            depth += Double(types.macs[index]) / Double(elements)
            layers += 1
        }
        let magnitude = reference.doubles.filter(\.isFinite).map(abs).max() ?? 0
        let absolute = depth * Double(Float.ulpOfOne) * max(1, magnitude)
        let description = String(format: "tolerance %g relative, or %.3g absolute (accumulation depth %@ products over %d layers, "
            + "|reference| up to %.3g)", defaultTolerance, absolute, InspectReport.grouped(Int(depth.rounded())), layers, magnitude)
        return (absolute, description)
    }

    /// What to try after a failed comparison: the tolerance that would have passed, and where to look.
    static func advice(_ got: NDArray, _ expected: NDArray) -> String {
        let g = got.doubles, e = expected.doubles
        if expected.elementType.isFloatingPoint, e.contains(where: { $0.isFinite }) {
            let needed = e.indices.filter { e[$0].isFinite }.map { abs(g[$0] - e[$0]) / max(1, abs(e[$0])) }.max() ?? 0
            if needed.isFinite && needed < 1e-2 {
                return String(format: "rounding can explain errors this small in deep float models: --tolerance %.2g passes; "
                    + "whittle run --trace DIR and the C's values show where they grow", needed * 1.01)
            }
        }
        return "the C computes something else: compile with --disable-pass NAME (see --list-passes) to find the pass, "
            + "or run --trace DIR to find the first layer that differs"
    }

    /// "max 3 steps off, 92 % of 60 within one step, top-1 agrees on 5 of 5 rows".
    public static func stepsReport(_ got: [Double], _ reference: [Double], step: Double, rows width: Int) -> String {
        let steps = zip(got, reference).map { abs($0 - $1) / step }
        let worst = steps.max() ?? 0
        let within = steps.filter { $0 <= 1 + 1e-6 }.count
        var text = String(format: "max %.0f steps off, %.0f %% of %d within one step", worst, Double(within) / Double(max(steps.count, 1)) * 100, steps.count)
        if width > 1, got.count % width == 0 {
            let rows = got.count / width
            let agree = (0..<rows).filter { r in
                argmax(got[(r * width)..<((r + 1) * width)].map { $0 }) == argmax(reference[(r * width)..<((r + 1) * width)].map { $0 })
            }.count
            text += ", top-1 agrees on \(agree) of \(rows) rows"
        }
        return text
    }

    /// When output `name` of the compiled graph is DequantizeLinear(QuantizeLinear(v)) with v computed
    /// by float kernels, its step: the C sums v in another order, so a value on a rounding boundary may
    /// land one step away (exactness is kept where integer kernels compute the quantized value).
    static func roundedFromFloatStep(_ graph: Graph, _ name: String) -> Double? {
        guard let dq = graph.nodes.first(where: { $0.outputs.first == name && $0.opType == "DequantizeLinear" }),
              graph.nodes.contains(where: { $0.outputs.first == dq.inputs[0] && $0.opType == "QuantizeLinear" }) else { return nil }
        return graph.initializers[dq.inputs[1]]?.doubles().max()
    }

    /// The quantization step of graph output `name` when a DequantizeLinear produces it (its largest scale).
    public static func outputStep(_ graph: Graph, _ name: String) -> Double? {
        guard let dq = graph.nodes.first(where: { $0.outputs.first == name && $0.opType == "DequantizeLinear" }) else { return nil }
        return graph.initializers[dq.inputs[1]]?.doubles().max()
    }

    /// Whether `got` matches `expected`: |got − expected| ≤ tolerance · max(1, |expected|) or ≤ `step` (float
    /// types); integer types exactly.
    static func compare(_ name: String, _ got: NDArray, _ expected: NDArray, tolerance: Double, step: Double = 0) -> Comparison {
        var maxAbs = 0.0, maxULP: UInt64 = 0, passed = true
        let g = got.doubles, e = expected.doubles
        for i in e.indices {
            // Equal values (the same infinity included, where the difference would be NaN) and NaN for NaN agree.
            if g[i] == e[i] || (g[i].isNaN && e[i].isNaN) { continue }
            let difference = abs(g[i] - e[i])
            maxAbs = max(maxAbs, difference.isNaN ? .infinity : difference)
            if expected.elementType.isFloatingPoint {
                maxULP = max(maxULP, ulps(Float(g[i]), Float(e[i])))
                // A 16-bit output may be one of its own units off: the C computes an operator in float and
                // rounds once, where the model as given may round inside (Attention in float16, say).
                let unit = storageUnit(e[i], expected.elementType)
                if !(difference <= tolerance * max(1, abs(e[i])) || difference <= max(step, unit) * (1 + 1e-6)) { passed = false }
            } else if g[i] != e[i] {
                passed = false
            }
        }
        var comparison = Comparison(name: name, maxAbsError: maxAbs, maxULP: maxULP, passed: passed)
        comparison.allNaN = !e.isEmpty && e.allSatisfy(\.isNaN) && g.allSatisfy(\.isNaN)
        return comparison
    }

    /// The spacing of 16-bit floats at `value` (0 for other types): 10 mantissa bits for float16, 7 for bfloat16.
    static func storageUnit(_ value: Double, _ type: ElementType) -> Double {
        let (bits, smallest): (Int, Int) = switch type {
        case .float16: (10, -14)
        case .bfloat16: (7, -126)
        default: (0, 0)
        }
        guard bits > 0, value.isFinite else { return 0 }
        let exponent = value == 0 ? smallest : max(Int(value.magnitude.exponent), smallest)
        return Double(sign: .plus, exponent: exponent - bits, significand: 1)
    }

    /// Distance between two floats counted in representable values.
    static func ulps(_ a: Float, _ b: Float) -> UInt64 {
        func ordered(_ f: Float) -> Int64 {
            let bits = Int64(Int32(bitPattern: f.bitPattern))
            return bits < 0 ? Int64(Int32.min) - bits : bits
        }
        if a.isNaN || b.isNaN { return UInt64.max }
        return UInt64((ordered(a) - ordered(b)).magnitude)
    }

    /// Seeded inputs: floats uniform in [-1, 1), integers in [0, 10), bools 0/1.
    public static func randomInputs(for graph: Graph, seed: UInt64) -> [String: NDArray] {
        var state = seed
        func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        var result: [String: NDArray] = [:]
        for input in graph.inputs {
            guard let type = input.type, let shape = type.shape else { continue }
            let count = shape.reduce(1, *)
            let values = (0..<count).map { _ -> Double in
                let u = Double(next() >> 11) / Double(1 << 53)
                if type.elementType.isFloatingPoint { return u * 2 - 1 }
                return type.elementType == .bool ? (u < 0.5 ? 0 : 1) : (u * 10).rounded(.down)
            }
            result[input.name] = NDArray(type.elementType, shape: shape, values: values)
        }
        return result
    }

    /// A test program: reads input_<i>.bin, runs the model, writes output_<j>.bin.
    static func harness(_ compiled: CompiledModel, graph: Graph) throws -> String {
        let name = compiled.bundle.name, upper = name.uppercased()
        var lines = ["/* Test harness for \(name), generated by whittle verify. */", "#include <stdio.h>", "#include <stdlib.h>",
                     "#include \"\(name).h\"", ""]
        // A model without inputs (constants only) reads nothing: no load function, which would be unused.
        if !graph.inputs.isEmpty {
            lines += ["static int load(const char *path, void *data, size_t bytes) {",
                      "    FILE *f = fopen(path, \"rb\");",
                      "    size_t got = 0;",
                      "    if (!f) return 1;",
                      "    if (bytes > 0) got = fread(data, 1, bytes, f);",
                      "    fclose(f);",
                      "    return got != bytes;",
                      "}", ""]
        }
        lines += ["static int save(const char *path, const void *data, size_t bytes) {",
                  "    FILE *f = fopen(path, \"wb\");",
                  "    size_t put = 0;",
                  "    if (!f) return 1;",
                  "    if (bytes > 0) put = fwrite(data, 1, bytes, f);",
                  "    fclose(f);",
                  "    return put != bytes;",
                  "}", ""]
        var declarations: [String] = [], calls: [String] = [], loads: [String] = [], saves: [String] = []
        for (i, input) in graph.inputs.enumerated() {
            guard let type = graph.type(of: input.name), let c = CEmitter.cType(type.elementType) else { continue }
            let count = type.elementType.isPacked ? "\(upper)_INPUT_\(i)_BYTES" : "\(upper)_INPUT_\(i)_SIZE"
            declarations.append("static \(c) in\(i)[\(count) > 0 ? \(count) : 1];")
            loads.append("    if (load(\"input_\(i).bin\", in\(i), sizeof(\(c)) * \(count))) { fputs(\"cannot read input_\(i).bin\\n\", stderr); return 2; }")
            calls.append("in\(i)")
        }
        for (j, output) in graph.outputs.enumerated() {
            guard let type = graph.type(of: output.name), let c = CEmitter.cType(type.elementType) else { continue }
            let count = type.elementType.isPacked ? "\(upper)_OUTPUT_\(j)_BYTES" : "\(upper)_OUTPUT_\(j)_SIZE"
            declarations.append("static \(c) out\(j)[\(count) > 0 ? \(count) : 1];")
            saves.append("    if (save(\"output_\(j).bin\", out\(j), sizeof(\(c)) * \(count))) return 3;")
            calls.append("out\(j)")
        }
        lines += declarations + ["", "int main(void) {"] + loads
        lines += ["    if (\(name)_run(\(calls.joined(separator: ", "))) != 0) return 4;"] + saves + ["    return 0;", "}"]
        return lines.joined(separator: "\n") + "\n"
    }

    /// Runs a program, failing with its output when it exits non-zero.
    public static func run(_ program: String, _ arguments: [String], in directory: String, what: String) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = [program] + arguments
        process.currentDirectoryURL = URL(fileURLWithPath: directory)
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        do {
            try process.run()
        } catch {
            throw WhittleError(.io, "\(what): cannot start \(program): \(error.localizedDescription)")
        }
        let output = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            let text = String(decoding: output, as: UTF8.self).split(separator: "\n").prefix(20).joined(separator: " | ")
            throw WhittleError(.io, "\(what) failed (exit \(process.terminationStatus)): \(text)")
        }
    }
}
