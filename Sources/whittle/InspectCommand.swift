import ArgumentParser
import Foundation
import WhittleIR
import WhittleKit
import WhittlePasses

struct Inspect: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Describe a model: inputs, outputs, a per-node table with shapes, parameters and MACs, and unsupported operators."
    )

    @OptionGroup var options: ModelOptions

    @Flag(help: "Print the report as JSON (the format is described in the README).")
    var json = false

    func run() throws {
        try reportingErrors {
            let report = InspectReport(try options.load())
            print(json ? try report.json() : report.text(), terminator: "")
        }
    }
}
