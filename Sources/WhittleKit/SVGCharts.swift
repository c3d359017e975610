import Foundation
import WhittlePasses

/// Inline SVG pictures for the HTML report: no script, no external files, fixed sizes so the page
/// looks the same in every browser.
enum SVGCharts {
    /// One labelled horizontal bar per row, scaled to the largest value (or to `maximum`).
    struct Bar {
        var label: String
        var value: Double
        /// Printed after the bar (the value with its unit).
        var text: String
        /// A CSS class for a bar that stands out (e.g. `warn`).
        var style: String? = nil
    }

    static func bars(_ rows: [Bar], maximum: Double? = nil, barWidth: Int = 420) -> String {
        // Labels get the room the longest one needs (about 6.3 px a character at 11 px), up to a limit past
        // which they are shortened; the full label is in each bar's tooltip.
        let longest = rows.map(\.label.count).max() ?? 10
        let labelWidth = min(520, max(160, Int((Double(longest) * 6.3).rounded(.up)) + 12))
        let labelLength = (labelWidth - 12) * 10 / 63
        let rowHeight = 18, top = 4
        let height = top * 2 + rowHeight * max(rows.count, 1)
        let scale = maximum ?? rows.map(\.value).max() ?? 1
        var svg = "<svg class=\"bars\" xmlns=\"http://www.w3.org/2000/svg\" width=\"\(labelWidth + barWidth + 140)\" height=\"\(height)\" role=\"img\">"
        for (i, row) in rows.enumerated() {
            let y = top + i * rowHeight
            // A value at or below zero (an SQNR under 0 dB) still gets a sliver, so the row is not mistaken for a missing one.
            let width = scale > 0 ? max(2 / Double(barWidth), min(1, row.value / scale)) * Double(barWidth) : 2
            svg += "<text x=\"\(labelWidth - 6)\" y=\(quote(y + 13)) text-anchor=\"end\">\(HTMLText.escape(clip(row.label, labelLength)))</text>"
            svg += "<rect class=\"\(row.style ?? "bar")\" x=\"\(labelWidth)\" y=\(quote(y + 3)) width=\(quote(format(width))) height=\"12\">"
            svg += "<title>\(HTMLText.escape(row.label)): \(HTMLText.escape(row.text))</title></rect>"
            svg += "<text x=\(quote(format(Double(labelWidth) + width + 6))) y=\(quote(y + 13))>\(HTMLText.escape(row.text))</text>"
        }
        return svg + "</svg>"
    }

    /// A budget bar: `used` of `budget` bytes, red past the budget.
    static func budget(label: String, used: Int, budget: Int?) -> String {
        let width = 520
        var svg = "<svg class=\"budget\" xmlns=\"http://www.w3.org/2000/svg\" width=\"\(width + 300)\" height=\"30\" role=\"img\">"
        svg += "<text x=\"0\" y=\"19\">\(HTMLText.escape(label))</text>"
        guard let budget, budget > 0 else {
            svg += "<text x=\"120\" y=\"19\">\(InspectReport.grouped(used)) B (no budget)</text>"
            return svg + "</svg>"
        }
        let share = Double(used) / Double(budget)
        svg += "<rect class=\"track\" x=\"120\" y=\"6\" width=\"\(width - 120)\" height=\"16\"/>"
        svg += "<rect class=\"\(share > 1 ? "over" : "bar")\" x=\"120\" y=\"6\" width=\(quote(format(min(share, 1) * Double(width - 120)))) height=\"16\">"
        svg += "<title>\(InspectReport.grouped(used)) of \(InspectReport.grouped(budget)) B</title></rect>"
        svg += "<text x=\"\(width + 8)\" y=\"19\">\(InspectReport.grouped(used)) of \(InspectReport.grouped(budget)) B (\(String(format: "%.1f", share * 100)) %)</text>"
        return svg + "</svg>"
    }

    /// The arena over the inference: each buffer a box from the step that writes it to the last
    /// step that reads it (x) at its offset (y), the step with the most live bytes marked.
    static func arena(_ plan: MemoryPlan, steps: Int, stepNames: [String]) -> String {
        let (width, height, left, top, bottom) = (860.0, 300.0, 70.0, 24.0, 28.0)
        let arena = Double(max(plan.arenaBytes, 1)), count = Double(max(steps, 1))
        let x = { (step: Int) in left + Double(step) / count * (width - left - 10) }
        let y = { (offset: Int) in top + Double(offset) / arena * (height - top - bottom) }
        var svg = "<svg class=\"arena\" xmlns=\"http://www.w3.org/2000/svg\" width=\"\(Int(width))\" height=\"\(Int(height))\" role=\"img\">"
        svg += "<rect class=\"track\" x=\(quote(format(left))) y=\(quote(format(top))) width=\(quote(format(width - left - 10))) "
            + "height=\(quote(format(height - top - bottom)))/>"
        // Live bytes per step: the peak is where the planner could do no better than the lower bound.
        var live = [Int](repeating: 0, count: max(steps, 1))
        for buffer in plan.buffers {
            let first = max(buffer.firstStep, 0), last = min(max(buffer.lastStep, first), live.count - 1)
            // Counted as the planner counts them (each buffer rounded up to the alignment), so the peak equals the lower bound.
            let alignment = max(plan.alignment, 1), bytes = (buffer.bytes + alignment - 1) / alignment * alignment
            if first <= last { for s in first...last { live[s] += bytes } }
        }
        let peak = live.indices.max { live[$0] < live[$1] } ?? 0
        for (i, buffer) in plan.buffers.enumerated() {
            let x0 = x(max(buffer.firstStep, 0)), x1 = x(min(buffer.lastStep, steps - 1) + 1)
            let y0 = y(buffer.offset), y1 = y(buffer.offset + buffer.bytes)
            let hue = (i * 47) % 360
            let names = buffer.values.prefix(4).joined(separator: ", ") + (buffer.values.count > 4 ? ", …" : "")
            svg += "<rect x=\(quote(format(x0))) y=\(quote(format(y0))) width=\(quote(format(max(x1 - x0, 1)))) height=\(quote(format(max(y1 - y0, 1)))) "
                + "fill=\"hsl(\(hue),55%,62%)\" stroke=\"#333\" stroke-width=\"0.4\"><title>\(HTMLText.escape(names)): "
                + "\(InspectReport.grouped(buffer.bytes)) B at +\(InspectReport.grouped(buffer.offset)), steps \(buffer.firstStep)–\(buffer.lastStep)</title></rect>"
        }
        // The peak step, outlined over the boxes.
        svg += "<rect class=\"peak\" x=\(quote(format(x(peak)))) y=\(quote(format(top - 2))) width=\(quote(format(max(x(peak + 1) - x(peak), 2)))) "
            + "height=\(quote(format(height - top - bottom + 4)))><title>peak: \(InspectReport.grouped(live[peak])) B live at step \(peak)</title></rect>"
        let every = max(1, (steps + 29) / 30)
        for step in stride(from: 0, to: steps, by: every) {
            svg += "<text class=\"tick\" x=\(quote(format((x(step) + x(step + 1)) / 2))) y=\(quote(format(height - bottom + 12))) text-anchor=\"middle\">\(step)</text>"
        }
        svg += "<text x=\(quote(format(left))) y=\"16\">offset 0</text>"
        svg += "<text x=\(quote(format(width - 10))) y=\"16\" text-anchor=\"end\">steps (layers) →</text>"
        svg += "<text x=\"4\" y=\(quote(format(height - bottom + 4)))>\(InspectReport.grouped(plan.arenaBytes)) B</text>"
        let label = peak < stepNames.count ? stepNames[peak] : "step \(peak)"
        svg += "<text class=\"peaklabel\" x=\(quote(format(min(x(peak), width - 330)))) y=\(quote(format(height - 2)))>"
            + "peak \(InspectReport.grouped(live[peak])) B live at \(HTMLText.escape(clip(label, 36)))</text>"
        return svg + "</svg>"
    }

    static func quote(_ value: Int) -> String { "\"\(value)\"" }
    static func quote(_ value: String) -> String { "\"\(value)\"" }
    static func format(_ value: Double) -> String { String(format: "%.1f", value) }
    static func clip(_ text: String, _ length: Int) -> String { text.count <= length ? text : String(text.prefix(length - 1)) + "…" }
}

/// Text for HTML: the five characters that could change the markup are escaped.
enum HTMLText {
    static func escape(_ text: String) -> String {
        var out = ""
        out.reserveCapacity(text.count)
        for c in text {
            switch c {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            default: out.append(c)
            }
        }
        return out
    }
}
