import Foundation

/// A Cortex-M core's instruction timings, applied to an executed instruction mix (the QEMU plugin
/// `insnmix` counts every instruction and how often it followed its predecessor in memory) to
/// estimate cycles. Memory is taken as zero-wait-state, so for parts that run from flash with wait
/// states the estimate is a floor. The tables are in docs/cycles.md with their sources.
public struct CycleModel: Sendable {
    /// The timing family: `m0plus` (Armv6-M, two-stage pipeline), `m4` (Armv7E-M three-stage
    /// pipeline; also used for the M3 and, as an approximation, the M33) or `m7` (dual issue,
    /// approximated by throughput bounds).
    public enum Family: String, Sendable { case m0plus, m4, m7 }

    public let family: Family
    /// The core named by the target's `-mcpu` flag.
    public let core: String

    /// The model for a target's core (from its `-mcpu=` flag), or nil for cores without a table.
    public init?(target: TargetDescription) {
        guard let flag = target.cflags.first(where: { $0.hasPrefix("-mcpu=") }) else { return nil }
        let core = String(flag.dropFirst(6)).split(separator: "+").first.map(String.init) ?? ""
        switch core {
        case "cortex-m0", "cortex-m0plus", "cortex-m1", "cortex-m23": family = .m0plus
        case "cortex-m3", "cortex-m4", "cortex-m33", "cortex-m35p": family = .m4
        case "cortex-m7": family = .m7
        default: return nil
        }
        self.core = core
    }

    public init(family: Family, core: String) {
        self.family = family
        self.core = core
    }

    /// One disassembled instruction.
    public struct Instruction: Sendable, Equatable {
        public var address: UInt64
        public var size: Int
        public var mnemonic: String
        public var operands: String

        public init(address: UInt64, size: Int, mnemonic: String, operands: String) {
            self.address = address
            self.size = size
            self.mnemonic = mnemonic
            self.operands = operands
        }
    }

    /// How an instruction is timed.
    enum Kind: Equatable {
        case plain, multiply, divide, fpMultiplyAccumulate, fpDivide
        /// A single load (pipelines after a load or store on the M4), a double load.
        case load, loadDouble
        case store, storeDouble
        /// Load or store multiple of `registers` registers (push and pop too); `pc`: a pop into the pc.
        case loadMultiple(registers: Int, pc: Bool), storeMultiple(registers: Int)
        /// A branch: `conditional` ones may fall through; `link` calls (BL, BLX).
        case branch(conditional: Bool, link: Bool)
        /// A write of the pc by a data instruction or a single load (MOV pc, LDR pc).
        case pcWrite(load: Bool)
        case table
    }

    static let conditions: Set<String> = ["eq", "ne", "cs", "hs", "cc", "lo", "mi", "pl", "vs", "vc", "hi", "ls", "ge", "lt", "gt", "le", "al"]

    /// The number of registers in a register list such as `{r4, r5, lr}` or `{d8-d11}`.
    static func registerCount(_ operands: String) -> Int {
        guard let open = operands.firstIndex(of: "{"), let close = operands[open...].firstIndex(of: "}") else { return 1 }
        var count = 0
        for item in operands[operands.index(after: open)..<close].split(separator: ",") {
            let parts = item.trimmingCharacters(in: .whitespaces).split(separator: "-")
            // A range of numbered registers: r4-r7, s16-s31, d8-d11 (double registers move two words).
            let scale = item.trimmingCharacters(in: .whitespaces).hasPrefix("d") ? 2 : 1
            if parts.count == 2, let a = Int(parts[0].drop { !$0.isNumber }), let b = Int(parts[1].drop { !$0.isNumber }), b >= a {
                count += (b - a + 1) * scale
            } else {
                count += scale
            }
        }
        return max(count, 1)
    }

    /// The timing class of an instruction from its mnemonic and operands (Thumb-2 as objdump prints it).
    static func kind(_ instruction: Instruction) -> Kind {
        var m = instruction.mnemonic.lowercased()
        for suffix in [".w", ".n"] where m.hasSuffix(suffix) { m.removeLast(2) }
        // Vector mnemonics carry a type: vldr.32, vfma.f32.
        let base = m.split(separator: ".").first.map(String.init) ?? m
        let operands = instruction.operands.lowercased()
        let writesPC = operands.hasPrefix("pc,") || operands.hasPrefix("pc ")
        // Branches: b, bl, blx, bx, b<cond>, cbz, cbnz; tbb and tbh are table branches.
        if ["tbb", "tbh"].contains(base) { return .table }
        if base == "cbz" || base == "cbnz" { return .branch(conditional: true, link: false) }
        if base == "b" || base == "bx" { return .branch(conditional: false, link: false) }
        if base == "bl" || base == "blx" { return .branch(conditional: false, link: true) }
        if base.hasPrefix("b"), conditions.contains(String(base.dropFirst())) { return .branch(conditional: true, link: false) }
        if base.hasPrefix("bx"), conditions.contains(String(base.dropFirst(2))) { return .branch(conditional: true, link: false) }
        if base == "pop" || base.hasPrefix("ldm") {
            return .loadMultiple(registers: registerCount(operands), pc: operands.contains("pc"))
        }
        if base == "push" || base.hasPrefix("stm") { return .storeMultiple(registers: registerCount(operands)) }
        if base == "vpop" || base.hasPrefix("vldm") { return .loadMultiple(registers: registerCount(operands), pc: false) }
        if base == "vpush" || base.hasPrefix("vstm") { return .storeMultiple(registers: registerCount(operands)) }
        if base.hasPrefix("ldrd") { return .loadDouble }
        if base.hasPrefix("strd") { return .storeDouble }
        if base.hasPrefix("ldr") || base == "vldr" { return writesPC ? .pcWrite(load: true) : .load }
        if base.hasPrefix("str") || base == "vstr" { return .store }
        if ["sdiv", "udiv"].contains(base) { return .divide }
        if ["vdiv", "vsqrt"].contains(base) { return .fpDivide }
        if ["vmla", "vmls", "vnmla", "vnmls", "vfma", "vfms", "vfnma", "vfnms"].contains(base) { return .fpMultiplyAccumulate }
        if base.hasPrefix("mul") || base.hasPrefix("mla") || base.hasPrefix("mls") || base.hasPrefix("smul") || base.hasPrefix("umul")
            || base.hasPrefix("smla") || base.hasPrefix("umla") || base.hasPrefix("smlsd") || base.hasPrefix("smmul") || base.hasPrefix("smmla")
            || base.hasPrefix("smuad") || base.hasPrefix("smusd") || base.hasPrefix("umaal") {
            return .multiply
        }
        if writesPC && (base.hasPrefix("mov") || base.hasPrefix("add")) { return .pcWrite(load: false) }
        return .plain
    }

    /// What one instruction contributed to a run: its executions, the cycles they are estimated to
    /// take, the loads among them and the taken branches.
    public struct Cost: Sendable, Equatable {
        public var instructions = 0
        public var cycles = 0.0
        public var loads = 0
        public var takenBranches = 0
        /// Throughput counts for the dual-issue (M7) bound: memory, multiplier and floating-point pipe uses.
        var memory = 0.0, multiplies = 0, floatingPoint = 0, extra = 0.0

        public init() {}

        public static func + (a: Cost, b: Cost) -> Cost {
            var c = a
            c.instructions += b.instructions
            c.cycles += b.cycles
            c.loads += b.loads
            c.takenBranches += b.takenBranches
            c.memory += b.memory
            c.multiplies += b.multiplies
            c.floatingPoint += b.floatingPoint
            c.extra += b.extra
            return c
        }
    }

    /// The cost of `count` executions of `instruction`, `sequential` of them reached straight from the
    /// instruction before it in memory (`previous`), `taken` of them followed by a jump.
    public func cost(_ instruction: Instruction, count: Int, sequential: Int, previous: Instruction?, taken: Int) -> Cost {
        var c = Cost()
        c.instructions = count
        let n = Double(count), kind = Self.kind(instruction)
        let taken = min(max(taken, 0), count)
        // A single load right after a single load or store pipelines on the M4 (the predecessor ran
        // just before it when it was reached in sequence).
        let afterMemory: Int = {
            guard let previous else { return 0 }
            switch Self.kind(previous) {
            case .load, .store: return min(sequential, count)
            default: return 0
            }
        }()
        switch kind {
        case .load, .loadDouble, .loadMultiple, .pcWrite(load: true): c.loads = count
        default: break
        }
        switch kind {
        case .branch, .table, .pcWrite, .loadMultiple(_, pc: true): c.takenBranches = taken
        default: break
        }
        switch family {
        case .m0plus:
            // Cortex-M0+ TRM: loads and stores 2, multiple 1 + N, POP with pc 3 + N; taken branch 2,
            // BL 3; MULS 1 (the fast multiplier, as RP2040, STM32G0, SAMD21 have); no divider or FPU.
            switch kind {
            case .plain, .multiply, .divide, .fpMultiplyAccumulate, .fpDivide: c.cycles = n
            case .load, .store: c.cycles = 2 * n
            case .loadDouble, .storeDouble: c.cycles = 3 * n
            case .loadMultiple(let r, let pc): c.cycles = Double(1 + r + (pc ? 2 : 0)) * n
            case .storeMultiple(let r): c.cycles = Double(1 + r) * n
            case .branch(let conditional, let link): c.cycles = link ? 3 * n : conditional ? n + Double(taken) : 2 * n
            case .pcWrite(let load): c.cycles = (load ? 3 : 2) * n
            case .table: c.cycles = 4 * n
            }
        case .m4:
            // Cortex-M4 TRM: a taken branch refills the pipeline (1 + P, P taken as 2); single loads 2,
            // or 1 after a load or store; LDRD/STRD 3; multiple 1 + N; DSP multiplies 1; SDIV/UDIV 2-12
            // (7); VFMA/VMLA family 3; VDIV/VSQRT 14.
            switch kind {
            case .plain, .multiply: c.cycles = n
            case .divide: c.cycles = 7 * n
            case .fpMultiplyAccumulate: c.cycles = 3 * n
            case .fpDivide: c.cycles = 14 * n
            case .load: c.cycles = 2 * n - Double(afterMemory)
            case .store: c.cycles = n
            case .loadDouble, .storeDouble: c.cycles = 3 * n
            case .loadMultiple(let r, let pc): c.cycles = Double(1 + r + (pc ? 2 : 0)) * n
            case .storeMultiple(let r): c.cycles = Double(1 + r) * n
            case .branch(let conditional, _): c.cycles = conditional ? n + 2 * Double(taken) : 3 * n
            case .pcWrite(let load): c.cycles = (load ? 4 : 3) * n
            case .table: c.cycles = 4 * n
            }
        case .m7:
            // Dual issue, approximated by bounds: two instructions per cycle, one memory access per cycle
            // (LDRD/STRD one, multiple ⌈N/2⌉), one multiply and one floating-point operation per cycle;
            // a taken branch ends its issue pair (one cycle more); divides add their latency (SDIV 7,
            // VDIV/VSQRT 14) as the M7 does not overlap them.
            c.cycles = n / 2 + Double(c.takenBranches)
            switch kind {
            case .load, .store, .loadDouble, .storeDouble, .pcWrite(load: true): c.memory = n
            case .loadMultiple(let r, _), .storeMultiple(let r): c.memory = Double((r + 1) / 2) * n
            case .multiply: c.multiplies = count
            case .fpMultiplyAccumulate: c.floatingPoint = count
            case .divide: c.extra = 7 * n
            case .fpDivide: c.extra = 14 * n
            default: break
            }
        }
        return c
    }

    /// A run's estimated cycles: the sum of its instructions' cycles, or on the M7 the largest of its
    /// throughput bounds plus the divides' latency.
    public func cycles(_ cost: Cost) -> Double {
        guard family == .m7 else { return cost.cycles }
        return max(cost.cycles, cost.memory, Double(cost.multiplies), Double(cost.floatingPoint)) + cost.extra
    }

    /// Reads `objdump -d` output: address, size (from the raw bytes), mnemonic and operands of each instruction.
    public static func disassembly(_ text: String) -> [UInt64: Instruction] {
        var table: [UInt64: Instruction] = [:]
        for line in text.split(separator: "\n") {
            // "    18c2:\tf8d0 3004 \tldr.w\tr3, [r0, #4]"
            let fields = line.split(separator: "\t", omittingEmptySubsequences: false)
            guard fields.count >= 3, fields[0].hasSuffix(":"),
                  let address = UInt64(fields[0].dropLast().trimmingCharacters(in: .whitespaces), radix: 16) else { continue }
            let raw = fields[1].split(separator: " ")
            guard !raw.isEmpty, raw.allSatisfy({ $0.allSatisfy(\.isHexDigit) }) else { continue }
            let size = raw.reduce(0) { $0 + $1.count / 2 }
            let mnemonic = fields[2].trimmingCharacters(in: .whitespaces)
            let operands = fields.count > 3 ? fields[3...].joined(separator: " ").components(separatedBy: ";")[0].trimmingCharacters(in: .whitespaces) : ""
            table[address] = Instruction(address: address, size: size, mnemonic: mnemonic, operands: operands)
        }
        return table
    }

    /// One segment's executions from the plugin: per instruction address, its count, the executions
    /// reached in sequence from the instruction before it, and those after which control jumped.
    public typealias Executions = [UInt64: (count: Int, sequential: Int, left: Int)]

    /// Reads the plugin's `mix:` lines into executions per segment (-1: before any segment ran).
    public static func executions(_ text: String) -> [Int: Executions] {
        var result: [Int: Executions] = [:]
        for line in text.split(separator: "\n") where line.hasPrefix("mix: ") {
            let f = line.split(separator: " ")
            guard f.count == 6, let segment = Int(f[1]), let pc = UInt64(f[2].dropFirst(2), radix: 16),
                  let count = Int(f[3]), let sequential = Int(f[4]), let left = Int(f[5]) else { continue }
            result[segment, default: [:]][pc] = (count, sequential, left)
        }
        return result
    }

    /// The cost of one segment's executions; a branch was taken as often as control left it for
    /// another address than the next.
    public func cost(of executions: Executions, program: [UInt64: Instruction]) -> Cost {
        var total = Cost()
        for (pc, run) in executions {
            guard let instruction = program[pc] else {
                var unknown = Cost()
                unknown.instructions = run.count
                unknown.cycles = Double(run.count)
                total = total + unknown
                continue
            }
            // The instruction before in memory: the nearest address below that decodes (sizes 2 or 4).
            let previous = program[pc &- 2].flatMap { $0.size == 2 ? $0 : nil } ?? program[pc &- 4].flatMap { $0.size == 4 ? $0 : nil }
            total = total + cost(instruction, count: run.count, sequential: run.sequential, previous: previous, taken: run.left)
        }
        return total
    }
}
