import Foundation
import WhittleCodegen

/// The cycles one inference is estimated to take on a Cortex-M core: the instruction mix counted
/// under QEMU by the `insnmix` plugin, priced instruction by instruction with the core's
/// `CycleModel` against the program's disassembly; in total and per layer function.
public struct CycleEstimate: Sendable {
    /// One segment of the run: a layer function (with the library kernels it called), the run
    /// function between layers (and any layer the compiler inlined into it), or the harness.
    public struct Row: Sendable {
        public var name: String
        public var op: String
        public var macs: Int
        public var cost: CycleModel.Cost
        public var cycles: Double
    }

    public var core: String
    public var family: CycleModel.Family
    public var total: CycleModel.Cost
    public var cycles: Double
    public var macs: Int
    public var rows: [Row]

    /// Name of the row for instructions run before the first segment (the harness and `model_run`).
    public static let outside = "(harness, model_run)"
    /// Name of the row for the run function itself.
    public static let runFunction = "model_run_with_arena"

    /// The program's instructions and the address ranges of its segments, for the plugin's segments
    /// file (in the order of the plugin's segment indices).
    public struct Program: Sendable {
        public var instructions: [UInt64: CycleModel.Instruction]
        public var ranges: [(name: String, low: UInt64, high: UInt64)]
    }

    /// Disassembles `program` with line information (`objdump -d -l --inlines`). Each instruction
    /// belongs to the innermost layer of `functions` in its inline chain when the build has debug
    /// information (so a layer inlined into the run function keeps its name), else to the run
    /// function, otherwise to the function whose symbol holds it (GCC's clones, `NAME.constprop.0`, count as NAME);
    /// instructions of other functions (library kernels) belong to no segment.
    static func program(_ program: String, compiler: String, directory: String, functions: [String]) throws -> Program {
        let objdump = compiler.hasSuffix("gcc") ? String(compiler.dropLast(3)) + "objdump" : "objdump"
        let listing = try TargetVerifier.capture([objdump, "-d", "-l", "--inlines", program], in: directory, what: "disassembling the program")
        return Program(instructions: CycleModel.disassembly(listing), ranges: segments(listing, functions: Set(functions)))
    }

    /// The segments of an `objdump -d -l --inlines` listing, as maximal runs of addresses.
    public static func segments(_ listing: String, functions: Set<String>) -> [(name: String, low: UInt64, high: UInt64)] {
        func base(_ name: Substring) -> String { String(name.split(separator: ".").first ?? name) }
        var symbol: String?, heading: String?, chain: [String] = [], afterInstruction = false
        var ranges: [(name: String, low: UInt64, high: UInt64)] = []
        for line in listing.split(separator: "\n") {
            if line.contains("\t") {
                // An instruction: "    18c2:\tf8d0 3004 \tldr.w\t..."
                let fields = line.split(separator: "\t", omittingEmptySubsequences: false)
                guard fields.count >= 3, fields[0].hasSuffix(":"),
                      let address = UInt64(fields[0].dropLast().trimmingCharacters(in: .whitespaces), radix: 16) else { continue }
                let size = fields[1].split(separator: " ").reduce(0) { $0 + $1.count / 2 }
                afterInstruction = true
                let names = (heading.map { [$0] } ?? []) + chain
                // The layer (a wanted function other than the run function) nearest the instruction, else the
                // run function or the symbol's function.
                let candidates = names + (symbol.map { [$0] } ?? [])
                guard let name = candidates.first(where: { functions.contains($0) && $0 != runFunction })
                        ?? candidates.first(where: { functions.contains($0) }) else { continue }
                if let last = ranges.last, last.name == name, last.high == address {
                    ranges[ranges.count - 1].high = address + UInt64(size)
                } else {
                    ranges.append((name, address, address + UInt64(size)))
                }
                continue
            }
            if afterInstruction { chain = []; afterInstruction = false }
            if line.hasSuffix(">:"), let open = line.firstIndex(of: "<") {
                // A symbol: "000018c0 <model_run_with_arena>:"; debug headings follow it when there are any.
                symbol = base(line[line.index(after: open)..<line.index(line.endIndex, offsetBy: -2)])
                heading = nil
                chain = []
            } else if line.hasSuffix("():") {
                heading = base(line.dropLast(3))
                chain = []
            } else if line.hasPrefix("inlined by "), line.hasSuffix(")"), let open = line.lastIndex(of: "(") {
                chain.append(base(line[line.index(after: open)..<line.index(before: line.endIndex)]))
            }
        }
        return ranges
    }

    /// Prices the plugin's output (`mix:` lines, segment indices into `program.ranges`).
    static func measure(_ log: String, model: CycleModel, program: Program, layers: [CSourceBundle.Layer]) -> CycleEstimate {
        estimate(log, model: model, segments: program.ranges.map(\.name), disassembly: program.instructions, layers: layers)
    }

    /// The estimate from the plugin's output and a disassembly; rows in layer order.
    public static func estimate(_ log: String, model: CycleModel, segments: [String], disassembly: [UInt64: CycleModel.Instruction],
                                layers: [CSourceBundle.Layer]) -> CycleEstimate {
        let executions = CycleModel.executions(log)
        var costs: [String: CycleModel.Cost] = [:]
        for (segment, runs) in executions {
            let name = segment >= 0 && segment < segments.count ? segments[segment] : outside
            costs[name] = (costs[name] ?? CycleModel.Cost()) + model.cost(of: runs, program: disassembly)
        }
        let byFunction = Dictionary(layers.map { ($0.function, $0) }) { first, _ in first }
        var order = layers.map(\.function).filter { costs[$0] != nil }
        order += costs.keys.filter { !order.contains($0) && $0 != runFunction && $0 != outside }.sorted()
        order += [runFunction, outside].filter { costs[$0] != nil }
        let rows = order.compactMap { name -> Row? in
            guard let cost = costs[name] else { return nil }
            let layer = byFunction[name]
            return Row(name: name, op: layer?.op ?? "", macs: layer?.macs ?? 0, cost: cost, cycles: model.cycles(cost))
        }
        let total = rows.reduce(CycleModel.Cost()) { $0 + $1.cost }
        // The total is priced as one run: on the M7 the throughput bounds are taken over the whole.
        return CycleEstimate(core: model.core, family: model.family, total: total, cycles: model.cycles(total),
                             macs: layers.reduce(0) { $0 + $1.macs }, rows: rows)
    }

    /// One line for `verify --target`: estimated cycles, per MAC, loads and taken branches.
    public var summary: String {
        let perMAC = macs > 0 ? String(format: ", %.2f per MAC", cycles / Double(macs)) : ""
        return "cycles: \(Self.grouped(Int(cycles.rounded()))) estimated per inference on the \(core) timing table\(perMAC) "
            + "(zero-wait-state memory; \(Self.grouped(total.loads)) loads, \(Self.grouped(total.takenBranches)) taken branches)"
    }

    static func grouped(_ value: Int) -> String {
        let digits = String(abs(value))
        var out = ""
        for (i, c) in digits.enumerated() {
            if i > 0 && (digits.count - i) % 3 == 0 { out.append(",") }
            out.append(c)
        }
        return (value < 0 ? "-" : "") + out
    }
}
