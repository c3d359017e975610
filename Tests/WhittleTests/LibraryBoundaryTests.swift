import Foundation
import Testing
import WhittleIR
import WhittleKit

/// The command line is a thin layer over WhittleKit: it imports nothing else of Whittle, and the
/// library's errors describe problems in words, leaving flag names to the command line.
struct LibraryBoundaryTests {
    static let sources = TestPaths.root.appendingPathComponent("Sources")

    static func swiftFiles(under folder: String) throws -> [(String, String)] {
        let base = sources.appendingPathComponent(folder)
        guard let walker = FileManager.default.enumerator(atPath: base.path) else { return [] }
        return try walker.compactMap { $0 as? String }.filter { $0.hasSuffix(".swift") }.sorted().map {
            ("\(folder)/\($0)", try String(contentsOf: base.appendingPathComponent($0), encoding: .utf8))
        }
    }

    @Test func commandLineImportsOnlyWhittleKit() throws {
        let files = try Self.swiftFiles(under: "whittle")
        #expect(!files.isEmpty)
        for (path, text) in files {
            let imports = text.split(separator: "\n").filter { $0.hasPrefix("import ") }.map { String($0.dropFirst(7)) }
            #expect(Set(imports).isSubset(of: ["ArgumentParser", "Foundation", "WhittleKit"]), "\(path) imports \(imports)")
        }
        let manifest = try String(contentsOf: TestPaths.root.appendingPathComponent("Package.swift"), encoding: .utf8)
        let cli = try #require(manifest.range(of: "name: \"whittle\",")).upperBound
        let dependencies = manifest[cli...].prefix { $0 != "]" }
        #expect(!dependencies.contains("\"Whittle") || dependencies.contains("\"WhittleKit\"") && dependencies.components(separatedBy: "\"Whittle").count == 2,
                "the whittle target depends on \(dependencies)")
    }

    /// Each `WhittleError(...)` call of the library, as text from its opening to its closing parenthesis.
    static func errorCalls(in text: String) -> [String] {
        var calls: [String] = []
        var search = text.startIndex
        while let start = text.range(of: "WhittleError(", range: search..<text.endIndex) {
            var depth = 1, index = start.upperBound, inString = false, previous: Character = " "
            while index < text.endIndex, depth > 0 {
                let c = text[index]
                if c == "\"" && previous != "\\" { inString.toggle() }
                if !inString || previous == "\\" && c == "(" {
                    if c == "(" { depth += 1 } else if c == ")" { depth -= 1 }
                } else if c == ")" && depth > 1 {
                    depth -= 1  // the end of an interpolation
                }
                previous = c
                index = text.index(after: index)
            }
            calls.append(String(text[start.lowerBound..<index]))
            search = index
        }
        return calls
    }

    @Test func libraryErrorsNameNoFlag() throws {
        var checked = 0
        for module in ["WhittleIR", "WhittleOps", "WhittleONNX", "WhittlePasses", "WhittleCodegen", "WhittleInterpreter",
                       "WhittleQuantization", "WhittlePruning", "WhittleBinarization", "WhittleNumPy", "WhittleKit"] {
            for (path, text) in try Self.swiftFiles(under: module) {
                for call in Self.errorCalls(in: text) {
                    checked += 1
                    #expect(call.range(of: #"--[a-z]"#, options: .regularExpression) == nil, "\(path): \(call)")
                }
            }
        }
        #expect(checked > 500)
    }

    @Test func theCommandLineAddsTheFlagOfTheSetting() throws {
        let error = WhittleError(.usage, "the sparsity must be at least 0 and below 1, not 2", setting: .sparsity)
        #expect(error.description == "the sparsity must be at least 0 and below 1, not 2")
        let model = TestPaths.model("kws_dscnn.onnx")
        let shape = try CommandLineTests.run(["inspect", model, "--input-shape", "input=1,x"])
        #expect(shape.status == 1 && shape.stderr.hasSuffix("(--input-shape)\n"), "\(shape.stderr)")
    }
}
