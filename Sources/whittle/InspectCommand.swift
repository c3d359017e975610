import ArgumentParser
import Foundation
import WhittleKit

struct Inspect: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Describe a model: inputs, outputs, a per-node table with shapes, parameters and MACs, and unsupported operators."
    )

    @OptionGroup var options: ModelOptions

    @Flag(help: "Print the report as JSON (the format is described in docs/commands.md).")
    var json = false

    @Option(help: ArgumentHelp("Say how the C for this device computes each node (see whittle targets).", valueName: "TARGET"))
    var target = "host"

    @Option(name: .customLong("targets-dir"), help: ArgumentHelp("The folder of target descriptions.", valueName: "DIR"))
    var targetsDirectory: String?

    func run() throws {
        try reportingErrors {
            let device = try TargetCatalog(explicit: targetsDirectory).target(target)
            let report = InspectReport(try options.load(), target: device)
            print(json ? try report.json() : report.text(), terminator: "")
        }
    }
}
