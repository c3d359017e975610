import Foundation
import WhittleBinarization
import WhittleCodegen
import WhittleIR
import WhittlePruning

/// A self-contained HTML page about a compiled (and possibly compressed) model: inline CSS and SVG,
/// no script and nothing fetched, so it opens offline and can be attached to a ticket.
public struct HTMLReport: Sendable {
    public var title: String
    /// Finished HTML fragments, each a `<section>`.
    public private(set) var sections: [String] = []

    public init(title: String) { self.title = title }

    /// The whole page.
    public func html() -> String {
        """
        <!DOCTYPE html>
        <html lang="en">
        <head>
        <meta charset="utf-8">
        <title>\(HTMLText.escape(title))</title>
        <style>\(Self.style)</style>
        </head>
        <body>
        <h1>\(HTMLText.escape(title))</h1>
        \(sections.joined(separator: "\n"))
        <footer>Whittle report</footer>
        </body>
        </html>

        """
    }

    public func write(to path: String) throws {
        try FileOutput.write(Data(html().utf8), to: path)
    }

    mutating func add(_ heading: String, id: String, _ body: String) {
        sections.append("<section id=\"\(id)\"><h2>\(HTMLText.escape(heading))</h2>\n\(body)\n</section>")
    }

    /// Memory against the target's budget, the arena picture, MACs per layer and the layer table.
    /// `weightFormat`: how `compile` stores these weights (reports compile without writing them).
    public mutating func addCompiled(_ compiled: CompiledModel, target: TargetDescription?, ram: Int? = nil, flash: Int? = nil,
                                     weightFormat: WeightFormat = .auto) {
        let bundle = compiled.bundle, plan = bundle.plan
        let macs = bundle.layers.map(\.macs).reduce(0, +)
        let stack: (String, String)?
        switch compiled.stack {
        case .success(let usage)?: stack = ("stack of \(bundle.name)_run (worst case)", "\(InspectReport.grouped(usage.bytes)) B: " + usage.path.joined(separator: " → "))
        case .failure(let error)?: stack = ("stack of \(bundle.name)_run", "unknown: \(error.reason)")
        case nil: stack = nil
        }
        let stackBytes = (try? compiled.stack?.get())?.bytes
        var summary = "<table class=\"facts\">"
        let facts: [(String, String)] = [
            ("target", target.map { "\($0.name): \($0.description)" } ?? "host"),
            ("arena (RAM for activations)", "\(InspectReport.grouped(plan.arenaBytes)) B (lower bound \(InspectReport.grouped(plan.lowerBound)) B)"),
            ("weights (flash)", "\(InspectReport.grouped(bundle.weightBytes)) B, \(weightFormat.resolved(weightBytes: bundle.weightBytes) == .binary ? "a binary blob" : "C initializers")"),
        ] + (stack.map { [$0] } ?? []) + [
            ("layers", "\(bundle.layers.count)"),
            ("MACs per inference", InspectReport.grouped(macs)),
        ]
        for (key, value) in facts { summary += "<tr><th>\(HTMLText.escape(key))</th><td>\(HTMLText.escape(value))</td></tr>" }
        summary += "</table>"
        let ramBudget = ram ?? target.map(\.ram_bytes), flashBudget = flash ?? target.map(\.flash_bytes)
        summary += "<div class=\"chart\">" + SVGCharts.budget(label: stackBytes == nil ? "RAM (arena)" : "RAM (arena + stack)",
                                                            used: plan.arenaBytes + (stackBytes ?? 0), budget: ramBudget) + "</div>"
        summary += "<div class=\"chart\">" + SVGCharts.budget(label: "flash (weights)", used: bundle.weightBytes, budget: flashBudget) + "</div>"
        summary += "<p class=\"note\">Budgets are the target's (or --ram-budget/--flash-budget); the program's own code, "
            + "\(stackBytes == nil ? "stack and " : "")the application come on top. <code>whittle verify --target</code> measures the built program.</p>"
        add("Memory", id: "memory", summary)

        let steps = compiled.types.graph.nodes.count
        let arena = "<div class=\"chart\">" + SVGCharts.arena(plan, steps: steps, stepNames: bundle.layers.map { "\($0.op) \($0.function)" })
            + "</div><p class=\"note\">Each box is one buffer of the arena: from the layer that writes it (left) to the last layer that "
            + "reads it (right), at its offset (top = 0). The dashed column is the step with the most bytes live (numbers below are the layers' steps); the planner's "
            + "lower bound is that sum, and the arena is \(InspectReport.grouped(plan.arenaBytes)) B against "
            + "\(InspectReport.grouped(plan.lowerBound)) B. Hover a box for its tensors.</p>"
        add("Arena", id: "arena", arena)

        let rows = bundle.layers.filter { $0.macs > 0 }.map {
            SVGCharts.Bar(label: "\($0.function) (\($0.op))", value: Double($0.macs), text: InspectReport.grouped($0.macs))
        }
        if !rows.isEmpty { add("MACs per layer", id: "macs", "<div class=\"chart\">" + SVGCharts.bars(rows) + "</div>") }

        var table = "<table class=\"layers\"><thead><tr><th>function</th><th>op</th><th>ONNX node</th><th class=\"num\">MACs</th>"
            + "<th>kernel</th><th>outputs</th><th>weights</th></tr></thead><tbody>"
        // A layer's weights: the bytes its kernel stores when it chose a form, else its constant inputs' bytes.
        var constantBytes: [String: Int] = [:]
        let graph = compiled.types.graph
        for node in graph.nodes where !node.name.isEmpty {
            constantBytes[node.name] = node.inputs.compactMap { graph.initializers[$0]?.bytes.count }.reduce(0, +)
        }
        for layer in bundle.layers {
            let outputs = layer.outputs.map {
                "\(HTMLText.escape($0.value)) <span class=\"dim nowrap\">\(InspectReport.grouped($0.bytes)) B</span> <span class=\"dim\">\(HTMLText.escape($0.storage))</span>"
            }
            let function = layer.isView ? "(none)" : "<code>\(HTMLText.escape(layer.function))</code>"
            let kernel = CompileReport.kernelText(view: layer.isView, kernels: layer.kernels)
            let stored = layer.weightBytes?.stored ?? constantBytes[layer.name] ?? 0
            var weights = stored > 0 ? "<span class=\"nowrap\">\(InspectReport.grouped(stored)) B</span>" : "—"
            if let form = layer.weightForm { weights += "<br><span class=\"dim\">\(HTMLText.escape(form))</span>" }
            table += "<tr><td>\(function)</td><td>\(HTMLText.escape(layer.op))</td><td>\(HTMLText.escape(layer.name))</td>"
                + "<td class=\"num\">\(InspectReport.grouped(layer.macs))</td><td title=\"\(HTMLText.escape(layer.choice.reason))\">\(HTMLText.escape(kernel))</td>"
                + "<td>\(outputs.joined(separator: "<br>"))</td><td class=\"num\">\(weights)</td></tr>"
        }
        add("Layers", id: "layers", table + "</tbody></table>")
    }

    /// Per-layer signal-to-quantization-noise ratio and the outputs' errors of `quantize`.
    public mutating func addQuantization(_ report: QuantizationReport) {
        var body = "<p>Evaluated on \(HTMLText.escape(report.dataset)) (\(report.samples) samples); weights "
            + "\(InspectReport.grouped(report.floatWeightBytes)) B float → \(InspectReport.grouped(report.quantizedWeightBytes)) B quantized; "
            + "\(report.totalMACs > 0 ? String(format: "%.1f", 100 * Double(report.integerMACs) / Double(report.totalMACs)) : "0") % of the MACs on integer kernels.</p>"
        if let accuracy = report.accuracy {
            body += "<p>Top-1: float \(String(format: "%.2f", accuracy.floatTop1 * 100)) %, quantized \(String(format: "%.2f", accuracy.quantizedTop1 * 100)) %.</p>"
        }
        body += errorBars(report.layers.map { ($0.node.isEmpty ? $0.value : $0.node, $0.op, $0.error) }, caption: "Per layer (each quantized tensor against the float model)")
        body += errorBars(report.outputs.map { ($0.name, "output", $0.error) }, caption: "Outputs")
        if !report.leftInFloat.isEmpty {
            body += "<p class=\"warn\">Left in float:</p><ul>" + report.leftInFloat.map { "<li>\(HTMLText.escape($0))</li>" }.joined() + "</ul>"
        }
        add("Quantization error", id: "quantization", body)
    }

    /// Sparsity per layer and the outputs' errors of `prune`.
    public mutating func addPruning(_ report: PruningReport) {
        let rows = report.layers.map {
            SVGCharts.Bar(label: "\($0.node) (\($0.op))", value: $0.sparsityAfter * 100, text: String(format: "%.1f %% of ", $0.sparsityAfter * 100) + InspectReport.grouped($0.elements))
        }
        var body = "<p>\(InspectReport.grouped(report.zeroWeights)) of \(InspectReport.grouped(report.prunableWeights)) prunable weights are zero; "
            + "weights in C \(InspectReport.grouped(report.denseWeightBytes)) B dense → \(InspectReport.grouped(report.prunedWeightBytes)) B "
            + "(\(report.sparseLayers) layers sparse).</p>"
        body += "<h3>Zero weights per layer</h3><div class=\"chart\">" + SVGCharts.bars(rows, maximum: 100) + "</div>"
        if let outputs = report.outputs { body += errorBars(outputs.map { ($0.name, "output", $0.error) }, caption: "Outputs against the dense model") }
        if let accuracy = report.accuracy {
            body += "<p>Top-1: dense \(String(format: "%.2f", accuracy.denseTop1 * 100)) %, pruned \(String(format: "%.2f", accuracy.prunedTop1 * 100)) %.</p>"
        }
        add("Pruning", id: "pruning", body)
    }

    /// Binarized layers and the outputs' errors of `binarize`.
    public mutating func addBinarization(_ report: BinarizationReport) {
        let rows = report.layers.map { SVGCharts.Bar(label: "\($0.node) (\($0.op))", value: Double($0.weights), text: "\(InspectReport.grouped($0.weights)) weights, 1 bit each",
                                                     style: $0.warning == nil ? nil : "warn") }
        var body = "<p>Weights \(InspectReport.grouped(report.floatWeightBytes)) B float → \(InspectReport.grouped(report.binaryWeightBytes)) B.</p>"
        body += "<h3>Binarized layers</h3><div class=\"chart\">" + SVGCharts.bars(rows) + "</div>"
        for layer in report.layers { if let warning = layer.warning { body += "<p class=\"warn\">\(HTMLText.escape(layer.node)): \(HTMLText.escape(warning))</p>" } }
        if let outputs = report.outputs { body += errorBars(outputs.map { ($0.name, "output", $0.error) }, caption: "Outputs against the float model") }
        add("Binarization", id: "binarization", body)
    }

    /// Per-layer SQNR of a quantized model's integer kernels against the model as given (`whittle report --data`).
    public mutating func addLayerErrors(_ layers: [(name: String, op: String, error: QuantizationReport.Error)], samples: Int, dataset: String) {
        let body = "<p>The compiled integer kernels against the model as given (its QuantizeLinear/DequantizeLinear arithmetic "
            + "in float), on \(samples) samples of \(HTMLText.escape(dataset)). Fused kernels round once where the model rounds per "
            + "operator, so a small difference that grows with depth is expected.</p>"
            + errorBars(layers, caption: "Per layer")
        add("Layer error", id: "layer-error", body)
    }

    /// SQNR bars (dB, higher is better; exact layers marked) with the largest absolute error.
    func errorBars(_ rows: [(name: String, op: String, error: QuantizationReport.Error)], caption: String) -> String {
        guard !rows.isEmpty else { return "" }
        let bars = rows.map { row -> SVGCharts.Bar in
            let db = row.error.sqnrDecibels
            let text = db.map { String(format: "%.1f dB, max abs error %.3g", $0, row.error.maxAbsError) } ?? "exact"
            return SVGCharts.Bar(label: "\(row.name) (\(row.op))", value: db ?? 80, text: text, style: (db ?? 99) < 20 ? "warn" : nil)
        }
        let top = max(bars.map(\.value).max() ?? 60, 60)
        return "<h3>\(HTMLText.escape(caption)): SQNR</h3><div class=\"chart\">" + SVGCharts.bars(bars, maximum: top) + "</div>"
            + "<p class=\"note\">Signal-to-noise ratio in dB (higher is better; below 20 dB in orange).</p>"
    }

    static let style = """
    body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:24px auto;max-width:1100px;color:#1d1d1f;background:#fff}
    h1{font-size:22px}h2{font-size:18px;border-bottom:1px solid #ddd;padding-bottom:4px;margin-top:32px}h3{font-size:15px}
    table{border-collapse:collapse}th,td{padding:3px 8px;text-align:left;vertical-align:top}
    table.facts th{font-weight:600;color:#555}table.layers{width:100%;font-size:12px}
    table.layers thead th{border-bottom:2px solid #ccc}table.layers td{border-bottom:1px solid #eee;overflow-wrap:anywhere}
    .num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}table.layers td.num{overflow-wrap:normal}.nowrap{white-space:nowrap}.dim{color:#777}.note{color:#666;font-size:12px}
    .warn{color:#b45309}code{font-size:12px}.chart{overflow-x:auto}
    svg text{font:11px system-ui,sans-serif;fill:#222}svg .bar{fill:#3b82f6}svg .warn{fill:#f59e0b}svg .over{fill:#dc2626}
    svg .track{fill:#f1f5f9;stroke:#cbd5e1}svg .peak{fill:none;stroke:#b45309;stroke-width:2;stroke-dasharray:5 3}svg .tick{fill:#777;font-size:9px}svg .peaklabel{fill:#92400e;font-weight:600}
    footer{margin-top:40px;color:#999;font-size:11px}
    """
}
