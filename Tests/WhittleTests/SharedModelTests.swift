import Foundation
import Testing
import WhittleIR
import WhittleKit

/// Every bundled model (copied from the shared model zoo) loads, and `inspect` agrees with manifest.json.
struct SharedModelTests {
    struct Entry: Sendable, CustomStringConvertible {
        let name: String
        let fields: [String: JSONValue]
        var description: String { name }
    }

    enum JSONValue: Sendable {
        case number(Double), text(String), list([JSONValue]), object([String: JSONValue]), other

        init(_ any: Any) {
            switch any {
            case let n as NSNumber: self = .number(n.doubleValue)
            case let s as String: self = .text(s)
            case let a as [Any]: self = .list(a.map(JSONValue.init))
            case let d as [String: Any]: self = .object(d.mapValues(JSONValue.init))
            default: self = .other
            }
        }

        var int: Int? { if case .number(let n) = self { return Int(n) } else { return nil } }
        var string: String? { if case .text(let s) = self { return s } else { return nil } }
        var list: [JSONValue] { if case .list(let l) = self { return l } else { return [] } }
        subscript(key: String) -> JSONValue? { if case .object(let o) = self { return o[key] } else { return nil } }
    }

    static let entries: [Entry] = {
        guard let data = FileManager.default.contents(atPath: TestPaths.model("manifest.json")),
              let root = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
              let models = root["models"] as? [String: Any] else { return [] }
        return models.keys.sorted().map { Entry(name: $0, fields: ((models[$0] as? [String: Any]) ?? [:]).mapValues(JSONValue.init)) }
    }()

    @Test func manifestIsPresent() {
        #expect(Self.entries.count == 9)
    }

    @Test(arguments: entries)
    func inspectMatchesManifest(entry: Entry) throws {
        let file = try #require(entry.fields["file"]?.string)
        let analyzed = try ModelLoader.load(path: TestPaths.model(file))
        let report = InspectReport(analyzed)

        #expect(report.totals.parameters == entry.fields["params"]?.int)
        #expect(report.totals.weightBytes == entry.fields["param_bytes"]?.int)
        #expect(report.totals.macs == entry.fields["macs"]?.int)
        #expect(report.totals.nodes == entry.fields["node_count"]?.int)
        #expect(report.irVersion == entry.fields["ir_version"]?.int)
        #expect(report.unsupported.isEmpty)
        let ops = Set(report.nodes.map(\.op))
        #expect(ops == Set((entry.fields["op_types"]?.list ?? []).compactMap(\.string)))

        for (kind, values) in [("inputs", report.inputs), ("outputs", report.outputs)] {
            let declared = entry.fields[kind]?.list ?? []
            #expect(declared.count == values.count)
            for (value, spec) in zip(values, declared) {
                #expect(value.name == spec["name"]?.string)
                #expect(value.dtype == spec["dtype"]?.string)
                // A symbolic batch dimension (the exporter's Softmax output) must come out as 1.
                let shape = (spec["shape"]?.list ?? []).map { $0.int ?? 1 }
                #expect(value.shape == shape, "\(kind) \(value.name)")
            }
        }
        // Every value has a static shape.
        for node in report.nodes {
            for output in node.outputs { #expect(output.shape != nil, "node \(node.index) output \(output.name)") }
        }
    }

    @Test func textReportIsAlignedAndComplete() throws {
        let report = InspectReport(try ModelLoader.load(path: TestPaths.model("digits_cnn.onnx")))
        let text = report.text()
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        let header = try #require(lines.firstIndex { $0.hasPrefix("#") })
        let rows = lines[header...].prefix { !$0.isEmpty }
        #expect(rows.count == 1 + report.nodes.count)
        // Right-aligned numeric columns end at the same position in every row (the last, "act bytes", checked).
        let end = try #require(lines[header].range(of: "act bytes")).upperBound.utf16Offset(in: lines[header])
        for row in rows {
            let characters = Array(row)
            #expect(characters.count > end && characters[end - 1] != " " && characters[end] == " ", "misaligned: \(row)")
        }
        #expect(rows.dropFirst().allSatisfy { $0.hasSuffix("whittle_conv_f32 (C vector extensions)") || $0.hasSuffix("loops") || $0.hasSuffix("fused")
            || $0.hasSuffix("(no code)") || $0.hasSuffix("(C vector extensions)") || $0.hasSuffix("folded") }, "\(rows)")
        #expect(text.contains("MACs 23,680"))
        #expect(text.contains("all operators are supported"))
    }

    @Test func jsonReportMatchesGolden() throws {
        var report = InspectReport(try ModelLoader.load(path: TestPaths.model("digits_cnn.onnx")))
        report.file = "Examples/models/digits_cnn.onnx"
        let golden = TestPaths.root.appendingPathComponent("Tests/WhittleTests/Golden/digits_cnn.inspect.json")
        let json = try report.json()
        if ProcessInfo.processInfo.environment["RECORD_GOLDEN"] != nil {
            try json.write(to: golden, atomically: true, encoding: .utf8)
        }
        let expected = try String(contentsOf: golden, encoding: .utf8)
        #expect(json == expected)
        let decoded = try JSONDecoder().decode(InspectReport.self, from: Data(json.utf8))
        #expect(decoded == report)
    }
}
