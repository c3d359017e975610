import Foundation
import WhittleIR

extension InspectReport {
    /// Stable JSON: sorted keys, two-space indentation, trailing newline.
    public func json() throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        let data = try encoder.encode(self)
        return String(decoding: data, as: UTF8.self) + "\n"
    }

    /// The human-readable report: header, inputs/outputs, an aligned node table, totals, unsupported ops.
    public func text() -> String {
        var lines: [String] = []
        let producerText = producer.isEmpty ? "unknown" : (producerVersion.isEmpty ? producer : "\(producer) \(producerVersion)")
        lines.append("model     \(file)")
        lines.append("producer  \(producerText), IR version \(irVersion)")
        lines.append("opsets    " + opsets.map { "\($0.domain) \($0.version)" }.joined(separator: ", "))
        lines.append("")
        for (label, values) in [("input ", inputs), ("output", outputs)] {
            for v in values { lines.append("\(label)  \(v.name): \(Self.typeText(v))") }
        }
        lines.append("")
        var rows: [[String]] = [["#", "name", "op", "output", "params", "MACs", "act bytes", "C (\(target))"]]
        for node in nodes {
            let op = (node.domain.isEmpty || node.domain == "ai.onnx" ? node.op : "\(node.domain).\(node.op)")
                + (node.supported ? "" : " (!)")
            let outputs = node.outputs.map(Self.typeText).joined(separator: ", ")
            rows.append([String(node.index), node.name.isEmpty ? "-" : node.name, op, outputs,
                         Self.grouped(node.parameters), Self.grouped(node.macs), Self.grouped(node.activationBytes),
                         node.kernel ?? (node.compiles ? "yes" : "no kernel")])
        }
        lines.append(contentsOf: Self.table(rows, rightAligned: [0, 4, 5, 6]))
        lines.append("")
        lines.append("nodes \(totals.nodes), parameters \(Self.grouped(totals.parameters)), "
            + "weights \(Self.bytesText(totals.weightBytes)), MACs \(Self.grouped(totals.macs)), "
            + "largest activation \(Self.bytesText(totals.largestActivationBytes))")
        if unsupported.isEmpty {
            lines.append(compilesToC ? "all operators are supported; compiles to C for \(target)"
                         : "all operators run in the interpreter; does not compile to C: \(compileProblem ?? "unknown reason")")
        } else {
            let ops = Set(unsupported.map(\.qualifiedOp)).sorted()
            lines.append("unsupported operators (\(unsupported.count) node(s), marked (!)): " + ops.joined(separator: ", "))
            for u in unsupported { lines.append("  node \(u.index) \(u.name.isEmpty ? "" : "\"\(u.name)\" ")(\(u.qualifiedOp)): \(u.reason)") }
        }
        for note in notes { lines.append("note: \(note)") }
        return lines.joined(separator: "\n") + "\n"
    }

    static func typeText(_ v: Value) -> String {
        "\(v.dtype ?? "?")[\(v.shape.map(Shape.describe) ?? "?")]"
    }

    /// 12345678 → "12,345,678".
    public static func grouped(_ n: Int) -> String {
        let digits = String(n.magnitude)
        var out = ""
        for (i, c) in digits.enumerated() {
            if i > 0 && (digits.count - i) % 3 == 0 { out.append(",") }
            out.append(c)
        }
        return (n < 0 ? "-" : "") + out
    }

    public static func bytesText(_ n: Int) -> String {
        if n < 1024 { return "\(n) B" }
        if n < 1024 * 1024 { return String(format: "%.1f KiB", Double(n) / 1024) }
        return String(format: "%.2f MiB", Double(n) / 1_048_576)
    }

    /// Pads columns to their widest cell; `rightAligned` columns are numbers.
    public static func table(_ rows: [[String]], rightAligned: Set<Int>) -> [String] {
        guard let columns = rows.first?.count else { return [] }
        let widths = (0..<columns).map { c in rows.map { $0[c].count }.max() ?? 0 }
        return rows.map { row in
            var line = row.enumerated().map { c, cell in
                let pad = String(repeating: " ", count: widths[c] - cell.count)
                return rightAligned.contains(c) ? pad + cell : (c == columns - 1 ? cell : cell + pad)
            }.joined(separator: "  ")
            // Trailing blanks go one by one: a pattern match would backtrack over every run of padding
            // (quadratic in a cell as wide as a rank-100,000 shape).
            while line.last?.isWhitespace == true { line.removeLast() }
            return line
        }
    }
}
