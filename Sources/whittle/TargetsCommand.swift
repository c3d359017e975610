import ArgumentParser
import Foundation
import WhittleKit

struct Targets: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "List the devices Whittle compiles for (the files in Targets/).")

    @Option(name: .customLong("targets-dir"), help: ArgumentHelp("The folder of target descriptions.", valueName: "DIR"))
    var targetsDirectory: String?

    func run() throws {
        try reportingErrors {
            let targets = try TargetCatalog(explicit: targetsDirectory).all()
            var rows = [["target", "kind", "compiler", "FPU", "flash", "RAM", "emulator", "description"]]
            for t in targets {
                let emulator = t.qemu.map { [$0.program, $0.machine ?? $0.cpu ?? ""].filter { !$0.isEmpty }.joined(separator: " ") } ?? "-"
                rows.append([t.name, t.kind, t.compiler, t.fpu, t.flash_bytes > 0 ? InspectReport.bytesText(t.flash_bytes) : "-",
                             t.ram_bytes > 0 ? InspectReport.bytesText(t.ram_bytes) : "-", emulator, t.description])
            }
            for line in InspectReport.table(rows, rightAligned: []) { print(line) }
        }
    }
}
