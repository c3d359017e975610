import Foundation
import WhittleIR

/// A device Whittle compiles for, read from `Targets/NAME.json`.
public struct TargetDescription: Codable, Sendable {
    public struct Emulator: Codable, Sendable {
        /// `qemu-system-arm`, `qemu-system-riscv32`, `qemu-arm` or `qemu-aarch64`.
        public var program: String
        public var machine: String?
        public var linker_script: String?
        public var cpu: String?
        /// The board support a bare-metal program is built with: `cortex-m` (the default: startup code,
        /// semihosting and the linker script in `boards/cortex-m`) or `riscv` (picolibc's start-up code
        /// and memory layout on QEMU virt, with the same semihosting).
        public var board: String?
        /// More QEMU arguments (`-bios none` for RISC-V).
        public var arguments: [String]?
    }

    public var name: String
    public var description: String
    /// `bare-metal`, `linux` or `host`.
    public var kind: String
    public var architecture: String
    public var compiler: String
    public var cflags: [String]
    /// `none`, `single` or `double`.
    public var fpu: String
    public var features: [String]
    public var flash_bytes: Int
    public var ram_bytes: Int
    /// RAM kept for the rest of the program (the caller's stack frames, its data, the C library) when
    /// the budget is the part's RAM; the model's arena and, where it is measured, the stack of its run
    /// function must fit in the remainder. Absent: 1 KiB on bare-metal parts, none where an operating
    /// system runs the program.
    public var stack_bytes: Int?
    public var qemu: Emulator?

    /// The RAM the model (arena and its own stack) may take by default: the part's RAM less what is kept.
    public var arenaBudget: Int {
        max(0, ram_bytes - (stack_bytes ?? (kind == "bare-metal" ? 1024 : 0)))
    }
}

/// The target descriptions and the board support beside them: a Targets folder (given, from
/// `$WHITTLE_TARGETS`, or the nearest one above the working directory or the executable), with the
/// copy built into the binary behind it, so an installed or copied `whittle` knows every target.
public struct TargetCatalog: Sendable {
    /// The folder in use, if any; targets it lacks come from the built-in copy.
    public let directory: URL?

    /// The built-in targets alone.
    public static func embeddedOnly() -> TargetCatalog { TargetCatalog(directory: nil) }

    private init(directory: URL?) { self.directory = directory }

    /// `explicit` (`--targets-dir`) adds a user's own targets to the built-in ones.
    public init(explicit: String? = nil) throws {
        let fm = FileManager.default
        func valid(_ url: URL) -> Bool {
            var isFolder: ObjCBool = false
            return fm.fileExists(atPath: url.path, isDirectory: &isFolder) && isFolder.boolValue
                && ((try? fm.contentsOfDirectory(atPath: url.path))?.contains { $0.hasSuffix(".json") } ?? false)
        }
        if let explicit {
            let url = URL(fileURLWithPath: explicit)
            guard valid(url) else { throw WhittleError(.usage, "\(explicit) is not a folder of target descriptions (no .json file)") }
            directory = url
            return
        }
        if let env = ProcessInfo.processInfo.environment["WHITTLE_TARGETS"], valid(URL(fileURLWithPath: env)) {
            directory = URL(fileURLWithPath: env)
            return
        }
        let starts = [URL(fileURLWithPath: fm.currentDirectoryPath),
                      URL(fileURLWithPath: CommandLine.arguments.first ?? "").resolvingSymlinksInPath().deletingLastPathComponent()]
        for start in starts {
            var url = start
            for _ in 0..<8 {
                let candidate = url.appendingPathComponent("Targets")
                if fm.fileExists(atPath: candidate.appendingPathComponent("host.json").path) {
                    directory = candidate
                    return
                }
                url = url.deletingLastPathComponent()
            }
        }
        directory = nil
    }

    /// The built-in descriptions by name.
    static var builtIn: [String: String] {
        Dictionary(uniqueKeysWithValues: EmbeddedTargets.files.filter { !$0.path.contains("/") && $0.path.hasSuffix(".json") }
            .map { (String($0.path.dropLast(5)), $0.text) })
    }

    /// Every target (the folder's, then built-in ones it does not redefine), sorted by name.
    public func all() throws -> [TargetDescription] {
        var names = Set(Self.builtIn.keys)
        if let directory {
            for file in try FileManager.default.contentsOfDirectory(atPath: directory.path) where file.hasSuffix(".json") {
                names.insert(String(file.dropLast(5)))
            }
        }
        return try names.sorted().map(target)
    }

    public func target(_ name: String) throws -> TargetDescription {
        if let directory {
            let url = directory.appendingPathComponent("\(name).json")
            if FileManager.default.fileExists(atPath: url.path) {
                guard let data = FileManager.default.contents(atPath: url.path) else { throw WhittleError(.io, "cannot read \(url.path)") }
                return try decode(data, name: name, what: url.path)
            }
        }
        guard let text = Self.builtIn[name] else {
            let names = (try? all().map(\.name)) ?? []
            throw WhittleError(.usage, "unknown target \"\(name)\" (targets: \(names.joined(separator: ", ")))")
        }
        return try decode(Data(text.utf8), name: name, what: "built-in target \(name)")
    }

    private func decode(_ data: Data, name: String, what: String) throws -> TargetDescription {
        try TargetDescription.parse(data, name: name, what: what)
    }

    /// A folder holding `boards/` (startup code, semihosting, linker scripts, the QEMU plugin): the
    /// catalog's own when it has one, else the built-in files written into `workDirectory/targets`.
    public func boardsRoot(in workDirectory: String) throws -> URL {
        if let directory, FileManager.default.fileExists(atPath: directory.appendingPathComponent("boards").path) { return directory }
        let root = URL(fileURLWithPath: workDirectory).appendingPathComponent("targets")
        for file in EmbeddedTargets.files where file.path.hasPrefix("boards/") {
            let url = root.appendingPathComponent(file.path)
            try ModelRunner.makeDirectory(url.deletingLastPathComponent().path)
            try FileOutput.write(Data((file.text + "\n").utf8), to: url.path)
        }
        return root
    }
}

extension TargetDescription {
    /// A description from JSON (`what` names it in errors); `name`, when given, must be its name.
    public static func parse(_ data: Data, name: String?, what: String) throws -> TargetDescription {
        do {
            let target = try JSONDecoder().decode(TargetDescription.self, from: data)
            if let name, target.name != name { throw WhittleError(.usage, "\(what): name \"\(target.name)\" differs from the file name") }
            return target
        } catch let error as WhittleError {
            throw error
        } catch {
            throw WhittleError(.usage, "\(what): not a valid target description: \(error)")
        }
    }
}

/// Checks a compiled model against a target's memory budgets.
public enum TargetBudget {
    /// Throws a message that says by how much the model is over, and which layers are largest.
    public static func check(_ compiled: CompiledModel, target: TargetDescription, ram: Int?, flash: Int?) throws {
        let ramBudget = ram ?? target.arenaBudget, flashBudget = flash ?? target.flash_bytes
        let kept = target.ram_bytes - target.arenaBudget
        let why = ram == nil && kept > 0 ? " (\(grouped(target.ram_bytes)) B of RAM less \(grouped(kept)) B kept for the rest of the program)" : ""
        let arena = compiled.bundle.plan.arenaBytes, weights = compiled.bundle.weightBytes
        // The model's own stack (measured where the target's compiler could) takes RAM beside the arena.
        let stack = (try? compiled.stack?.get())?.bytes ?? 0
        var problems: [String] = []
        if ramBudget > 0 && arena + stack > ramBudget {
            let largest = compiled.bundle.layers.flatMap { layer in layer.outputs.map { (layer.name.isEmpty ? layer.function : layer.name, $0.bytes) } }
                .sorted { $0.1 > $1.1 }.prefix(3).map { "\($0.0) \(grouped($0.1)) B" }
            let need = stack == 0 ? "the arena needs \(grouped(arena)) B of RAM"
                : "the arena (\(grouped(arena)) B) and the worst-case stack of \(compiled.bundle.name)_run (\(grouped(stack)) B) need \(grouped(arena + stack)) B of RAM"
            problems.append("\(need) but the budget is \(grouped(ramBudget)) B\(why) "
                + "(over by \(grouped(arena + stack - ramBudget)) B; largest activations: \(largest.joined(separator: ", ")))")
        }
        if flashBudget > 0 && weights > flashBudget {
            let largest = compiled.optimized.graph.initializers.sorted { $0.value.bytes.count > $1.value.bytes.count }
                .prefix(3).map { "\($0.key) \(grouped($0.value.bytes.count)) B" }
            problems.append("the weights need \(grouped(weights)) B of flash but the budget is \(grouped(flashBudget)) B "
                + "(over by \(grouped(weights - flashBudget)) B; largest weights: \(largest.joined(separator: ", ")))")
        }
        guard problems.isEmpty else {
            throw WhittleError(.unsupported, "does not fit \(target.name): " + problems.joined(separator: "; ")
                + "; a budget of your own replaces the target's", setting: .budget)
        }
    }

    /// `256K`, `1M`, `1000` → bytes.
    public static func parse(_ text: String) throws -> Int {
        let upper = text.uppercased()
        let (digits, factor): (Substring, Int) = upper.hasSuffix("K") ? (upper.dropLast(), 1024)
            : upper.hasSuffix("M") ? (upper.dropLast(), 1 << 20) : upper.hasSuffix("G") ? (upper.dropLast(), 1 << 30) : (Substring(upper), 1)
        guard let value = Int(digits), value >= 0, !value.multipliedReportingOverflow(by: factor).overflow else {
            throw WhittleError(.usage, "\"\(text)\" must be a byte count like 262144, 256K, 1M or 4G")
        }
        return value * factor
    }

    static func grouped(_ n: Int) -> String { InspectReport.grouped(n) }
}

extension CompiledModel {
    /// `NAME.mk` and `NAME.cmake`: the target's compiler and flags for building the generated files.
    public func buildSnippets(target: TargetDescription) -> [(String, String)] {
        let name = bundle.name
        let binary = bundle.weightFormat == .binary
        let here = "$(dir $(lastword $(MAKEFILE_LIST)))"
        // The binary weights: the assembler looks for NAME_weights.bin in the snippet's folder.
        // -ffp-contract=off: the verified build rounds every product (ISO C mode does; the files also say so themselves).
        let flags = (["-std=c99", "-ffp-contract=off"] + target.cflags.filter { $0 != "-static" }).joined(separator: " ")
            + (binary ? " -Wa,-I\(here)" : "")
        let make = """
        # Building \(name) for \(target.name) (\(target.description)). Generated by Whittle.
        \(name.uppercased())_CC ?= \(target.compiler == "cc" ? "cc" : target.compiler)
        \(name.uppercased())_CFLAGS = \(flags)
        \(name.uppercased())_SOURCES = \(bundle.compiledSources.map { here + $0 }.joined(separator: " "))
        \(name.uppercased())_LDLIBS = -lm

        """
        let sources = bundle.compiledSources.map { "${CMAKE_CURRENT_LIST_DIR}/\($0)" }.joined(separator: " ")
        let assembly = binary ? """
        enable_language(ASM)
        set_source_files_properties(${CMAKE_CURRENT_LIST_DIR}/\(name)_weights.S PROPERTIES COMPILE_OPTIONS "-Wa,-I${CMAKE_CURRENT_LIST_DIR}")

        """ : ""
        let cmake = """
        # Building \(name) for \(target.name) (\(target.description)). Generated by Whittle.
        \(assembly)add_library(\(name) STATIC \(sources))
        target_include_directories(\(name) PUBLIC ${CMAKE_CURRENT_LIST_DIR})
        set_target_properties(\(name) PROPERTIES C_STANDARD 99 C_STANDARD_REQUIRED ON)
        target_compile_options(\(name) PRIVATE \((["-ffp-contract=off"] + target.cflags.filter { $0 != "-static" }).joined(separator: " ")))
        target_link_libraries(\(name) PUBLIC m)

        """
        return [("\(name).mk", make), ("\(name).cmake", cmake)]
    }
}
