import Foundation
import WhittleIR

/// A device Whittle compiles for, read from `Targets/NAME.json`.
public struct TargetDescription: Codable, Sendable {
    public struct Emulator: Codable, Sendable {
        /// `qemu-system-arm`, `qemu-arm` or `qemu-aarch64`.
        public var program: String
        public var machine: String?
        public var linker_script: String?
        public var cpu: String?
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
    public var qemu: Emulator?
}

/// The folder of target descriptions and the board support beside them.
public struct TargetCatalog: Sendable {
    public let directory: URL

    /// Finds the Targets folder: `explicit`, then `$WHITTLE_TARGETS`, then the nearest `Targets/`
    /// above the working directory or above the `whittle` executable.
    public init(explicit: String? = nil) throws {
        let fm = FileManager.default
        func valid(_ url: URL) -> Bool { fm.fileExists(atPath: url.appendingPathComponent("host.json").path) }
        if let explicit {
            let url = URL(fileURLWithPath: explicit)
            guard valid(url) else { throw WhittleError(.usage, "\(explicit) is not a Targets folder (no host.json)") }
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
                if valid(url.appendingPathComponent("Targets")) {
                    directory = url.appendingPathComponent("Targets")
                    return
                }
                url = url.deletingLastPathComponent()
            }
        }
        throw WhittleError(.usage, "cannot find the Targets folder; pass --targets-dir or set WHITTLE_TARGETS")
    }

    /// Every target, sorted by name.
    public func all() throws -> [TargetDescription] {
        let files = try FileManager.default.contentsOfDirectory(atPath: directory.path).filter { $0.hasSuffix(".json") }.sorted()
        return try files.map { try load(URL(fileURLWithPath: directory.path).appendingPathComponent($0)) }
    }

    public func target(_ name: String) throws -> TargetDescription {
        let url = directory.appendingPathComponent("\(name).json")
        guard FileManager.default.fileExists(atPath: url.path) else {
            let names = (try? all().map(\.name)) ?? []
            throw WhittleError(.usage, "unknown target \"\(name)\" (targets: \(names.joined(separator: ", ")))")
        }
        return try load(url)
    }

    private func load(_ url: URL) throws -> TargetDescription {
        do {
            let target = try JSONDecoder().decode(TargetDescription.self, from: Data(contentsOf: url))
            guard target.name == url.deletingPathExtension().lastPathComponent else {
                throw WhittleError(.usage, "\(url.path): name \"\(target.name)\" differs from the file name")
            }
            return target
        } catch let error as WhittleError {
            throw error
        } catch {
            throw WhittleError(.usage, "\(url.path): not a valid target description: \(error)")
        }
    }
}

/// Checks a compiled model against a target's memory budgets.
public enum TargetBudget {
    /// Throws a message that says by how much the model is over, and which layers are largest.
    public static func check(_ compiled: CompiledModel, target: TargetDescription, ram: Int?, flash: Int?) throws {
        let ramBudget = ram ?? target.ram_bytes, flashBudget = flash ?? target.flash_bytes
        let arena = compiled.bundle.plan.arenaBytes, weights = compiled.bundle.weightBytes
        var problems: [String] = []
        if ramBudget > 0 && arena > ramBudget {
            let largest = compiled.bundle.layers.flatMap { layer in layer.outputs.map { (layer.name.isEmpty ? layer.function : layer.name, $0.bytes) } }
                .sorted { $0.1 > $1.1 }.prefix(3).map { "\($0.0) \(grouped($0.1)) B" }
            problems.append("the arena needs \(grouped(arena)) B of RAM but the budget is \(grouped(ramBudget)) B "
                + "(over by \(grouped(arena - ramBudget)) B; largest activations: \(largest.joined(separator: ", ")))")
        }
        if flashBudget > 0 && weights > flashBudget {
            let largest = compiled.optimized.graph.initializers.sorted { $0.value.bytes.count > $1.value.bytes.count }
                .prefix(3).map { "\($0.key) \(grouped($0.value.bytes.count)) B" }
            problems.append("the weights need \(grouped(weights)) B of flash but the budget is \(grouped(flashBudget)) B "
                + "(over by \(grouped(weights - flashBudget)) B; largest weights: \(largest.joined(separator: ", ")))")
        }
        guard problems.isEmpty else {
            throw WhittleError(.unsupported, "does not fit \(target.name): " + problems.joined(separator: "; ")
                + "; use --ram-budget/--flash-budget to change the budget")
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
        let flags = (["-std=c99"] + target.cflags.filter { $0 != "-static" }).joined(separator: " ")
        let make = """
        # Building \(name) for \(target.name) (\(target.description)). Generated by Whittle.
        \(name.uppercased())_CC ?= \(target.compiler == "cc" ? "cc" : target.compiler)
        \(name.uppercased())_CFLAGS = \(flags)
        \(name.uppercased())_SOURCES = $(dir $(lastword $(MAKEFILE_LIST)))\(name).c $(dir $(lastword $(MAKEFILE_LIST)))\(name)_weights.c
        \(name.uppercased())_LDLIBS = -lm

        """
        let cmake = """
        # Building \(name) for \(target.name) (\(target.description)). Generated by Whittle.
        add_library(\(name) STATIC ${CMAKE_CURRENT_LIST_DIR}/\(name).c ${CMAKE_CURRENT_LIST_DIR}/\(name)_weights.c)
        target_include_directories(\(name) PUBLIC ${CMAKE_CURRENT_LIST_DIR})
        set_target_properties(\(name) PROPERTIES C_STANDARD 99 C_STANDARD_REQUIRED ON)
        target_compile_options(\(name) PRIVATE \(target.cflags.filter { $0 != "-static" }.joined(separator: " ")))
        target_link_libraries(\(name) PUBLIC m)

        """
        return [("\(name).mk", make), ("\(name).cmake", cmake)]
    }
}
