import Foundation
import WhittleIR

/// Builds a C program for a target (its compiler and flags, and for bare-metal targets the board
/// support: startup code, semihosting, linker script) and runs it under the target's QEMU.
public enum TargetProgram {
    /// Compiler arguments that build `sources` into `program` for `target`; `root` holds `boards/`.
    public static func buildArguments(target: TargetDescription, root: URL, sources: [String], program: String,
                                      extra: [String] = []) throws -> [String] {
        var arguments = target.cflags + ["-std=c99", "-Wall", "-Wextra"] + extra + ["-o", program] + sources
        if target.kind == "bare-metal" {
            let board = root.appendingPathComponent("boards/cortex-m").path
            if target.qemu?.board == "riscv" {
                // picolibc's start-up code (main's status is the exit status, through semihosting) and its
                // memory layout over QEMU virt's 128 MiB: 16 MiB of "flash" at its base, 16 MiB of RAM after
                // it. As with the Cortex-M boards the memory is the machine's (test programs are larger
                // than a part); the part's own flash and RAM are the budgets compile and verify check.
                arguments += ["-DWHITTLE_SEMIHOSTING", "-I", board, board + "/semihost.c", "-ffunction-sections", "-fdata-sections",
                              "--specs=picolibc.specs", "--oslib=semihost", "--crt0=semihost", "-Wl,--gc-sections",
                              "-Wl,--defsym=__flash=0x80000000", "-Wl,--defsym=__flash_size=0x1000000",
                              "-Wl,--defsym=__ram=0x81000000", "-Wl,--defsym=__ram_size=0x1000000"]
                return arguments + ["-lm"]
            }
            guard let script = target.qemu?.linker_script else { throw WhittleError(.usage, "target \(target.name) has no linker_script") }
            arguments += ["-DWHITTLE_SEMIHOSTING", "-I", board, "-L", board, "-T", root.appendingPathComponent(script).path,
                          board + "/startup.c", board + "/semihost.c", "-ffunction-sections", "-fdata-sections", "-nostartfiles",
                          "--specs=nano.specs", "--specs=nosys.specs", "-Wl,--gc-sections"]
        }
        return arguments + ["-lm"]
    }

    /// The path of an executable named `tool` on PATH (or `tool` itself when it is a path), or nil.
    public static func findTool(_ tool: String) -> String? {
        let fileManager = FileManager.default
        if tool.contains("/") { return fileManager.isExecutableFile(atPath: tool) ? tool : nil }
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin"
        return path.split(separator: ":").map { "\($0)/\(tool)" }.first { fileManager.isExecutableFile(atPath: $0) }
    }

    /// The QEMU command that runs `program`; bare-metal programs print through semihosting into `console`.
    public static func emulatorCommand(target: TargetDescription, program: String, console: String, timeout: Int = 600) throws -> [String] {
        guard target.kind != "host", let emulator = target.qemu else {
            throw WhittleError(.usage, "target \(target.name) has no emulator")
        }
        if target.kind == "bare-metal" {
            guard let machine = emulator.machine else { throw WhittleError(.usage, "target \(target.name) has no QEMU machine") }
            return ["timeout", String(timeout), emulator.program, "-M", machine] + (emulator.cpu.map { ["-cpu", $0] } ?? []) + (emulator.arguments ?? [])
                + ["-display", "none", "-monitor", "none", "-serial", "none",
                   "-chardev", "file,id=out,path=\(console)", "-semihosting-config", "enable=on,target=native,chardev=out", "-kernel", program]
        }
        return ["timeout", String(timeout), emulator.program] + (emulator.cpu.map { ["-cpu", $0] } ?? [])
    }

    /// Builds `sources` for `target` in `directory`, runs the program under QEMU and returns what it printed.
    public static func buildAndRun(target: TargetDescription, catalog: TargetCatalog, sources: [String], extra: [String] = [],
                                   in directory: String) throws -> String {
        let program = directory + "/program.elf", console = directory + "/console.txt"
        let root = try catalog.boardsRoot(in: directory)
        try ModelVerifier.run(target.compiler, buildArguments(target: target, root: root, sources: sources, program: program, extra: extra),
                              in: directory, what: "building for \(target.name)")
        var command = try emulatorCommand(target: target, program: program, console: console)
        if target.kind != "bare-metal" { command.append(program) }
        let printed = try TargetVerifier.capture(command, in: directory, what: "running under \(target.qemu?.program ?? "QEMU")")
        return target.kind == "bare-metal" ? ((try? String(contentsOfFile: console, encoding: .utf8)) ?? "") : printed
    }
}
