import Foundation
import Testing
import WhittleKit

/// `whittle report` and `--report-html`: one self-contained page, rendered by a real browser.
struct HTMLReportTests {
    static let chromium = "/usr/bin/chromium"

    /// Renders `page` in headless Chromium; returns the screenshot's bytes and what the browser logged.
    static func render(_ page: String, in directory: String, name: String) throws -> (png: Data, log: String)? {
        guard FileManager.default.isExecutableFile(atPath: chromium) else {
            if ProcessInfo.processInfo.environment["WHITTLE_REQUIRE_TOOLS"] != nil { Issue.record("chromium is missing") }
            return nil
        }
        let screenshot = directory + "/\(name).png"
        // The profile and crash database live in the test's folder (HOME too), so nothing is left behind.
        let run = try CommandLineTests.executeWithSignals("/usr/bin/env", [
            "HOME=\(directory)", "/usr/bin/timeout", "120", chromium, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--user-data-dir=\(directory)/profile-\(name)",
            "--enable-logging=stderr", "--v=0", "--hide-scrollbars", "--window-size=1200,1600", "--screenshot=\(screenshot)",
            URL(fileURLWithPath: page).absoluteString,
        ])
        #expect(run.status == 0, "chromium: \(run.stderr.suffix(800))")
        let png = try Data(contentsOf: URL(fileURLWithPath: screenshot))
        return (png, run.stderr)
    }

    /// The page has no script and fetches nothing: it opens offline, attached to a ticket.
    static func expectSelfContained(_ html: String, sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(html.hasPrefix("<!DOCTYPE html>"), sourceLocation: sourceLocation)
        for forbidden in ["<script", "src=", "href=", "@import", "url("] {
            #expect(!html.contains(forbidden), "the page contains \(forbidden)", sourceLocation: sourceLocation)
        }
    }

    @Test func kwsOnCortexM4FShowsTheArenaAndTheBudgets() throws {
        let directory = CBackendTests.workDirectory("html-kws")
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let page = directory + "/kws.html"
        let result = try CommandLineTests.run(["report", TestPaths.model("kws_dscnn.onnx"), "--target", "cortex-m4f", "-o", page])
        #expect(result.status == 0, "\(result.stderr)")
        let html = try String(contentsOfFile: page, encoding: .utf8)
        Self.expectSelfContained(html)
        // The arena: one box per planned buffer, the peak at the planner's lower bound (65,024 B).
        let compiled = try ModelCompiler.compile(try ModelLoader.load(path: TestPaths.model("kws_dscnn.onnx")))
        let arena = try #require(html.components(separatedBy: "<svg class=\"arena\"").last?.components(separatedBy: "</svg>").first)
        #expect(arena.components(separatedBy: "fill=\"hsl(").count - 1 == compiled.bundle.plan.buffers.count)
        #expect(arena.contains("peak 65,024 B live") && compiled.bundle.plan.lowerBound == 65_024)
        // Budgets of the target: 256 KiB of RAM (the arena and, measured with the cross compiler, the
        // stack of kws_dscnn_run), 1 MiB of flash.
        if CompileStackTests.crossCompilerInstalled {
            #expect(html.contains("stack of kws_dscnn_run (worst case)") && html.contains("65,376 of 262,144 B (24.9 %)")
                    && html.contains("RAM (arena + stack)"), "\(html.prefix(4000))")
        } else {
            #expect(html.contains("65,024 of 262,144 B (24.8 %)"))
        }
        #expect(html.contains("90,416 of 1,048,576 B (8.6 %)"))
        // MACs per layer and every layer in the table, with its kernel.
        #expect(html.contains("<svg class=\"bars\""))
        for layer in compiled.bundle.layers { #expect(html.contains("<code>\(layer.function)</code>") != layer.isView) }
        #expect(html.contains("whittle_conv_f32"))
        // Views name no function; every weighted layer shows its bytes; numbers never break inside.
        let table = try #require(html.components(separatedBy: "<table class=\"layers\">").last)
        #expect(table.contains("<td>(none)</td><td>Flatten</td>") && table.contains(">view (no code)</td>"), "\(table.prefix(3000))")
        #expect(table.contains("<td class=\"num\"><span class=\"nowrap\">2,560 B</span>"), "\(table.prefix(3000))")
        #expect(html.contains("white-space:nowrap"))
        // Same input, same page.
        let again = try CommandLineTests.run(["report", TestPaths.model("kws_dscnn.onnx"), "--target", "cortex-m4f", "-o", directory + "/again.html"])
        #expect(again.status == 0)
        #expect(try String(contentsOfFile: directory + "/again.html", encoding: .utf8) == html)

        guard let shot = try Self.render(page, in: directory, name: "kws") else { return }
        // Compared with an empty page rendered the same way, the report's picture is far from blank.
        try "<!DOCTYPE html><html><body></body></html>".write(toFile: directory + "/blank.html", atomically: true, encoding: .utf8)
        guard let blank = try Self.render(directory + "/blank.html", in: directory, name: "blank") else { return }
        #expect(shot.png.count > 10 * blank.png.count, "report \(shot.png.count) B against a blank page's \(blank.png.count) B")
        #expect(!shot.log.contains("CONSOLE") && !shot.log.contains("Uncaught"), "\(shot.log.suffix(800))")
    }

    @Test func quantizedModelReportsEachLayersError() throws {
        let directory = CBackendTests.workDirectory("html-quantized")
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        // quantize --report-html: the SQNR of every quantized tensor against the float model.
        let quantized = directory + "/digits_int8.onnx", page = directory + "/quantize.html"
        let q = try CommandLineTests.run(["quantize", TestPaths.model("digits_cnn.onnx"), "--calibration", TestPaths.model("digits_calib.npz"),
                                          "-o", quantized, "--report-html", page])
        #expect(q.status == 0, "\(q.stderr)")
        let html = try String(contentsOfFile: page, encoding: .utf8)
        Self.expectSelfContained(html)
        #expect(html.contains("Quantization error") && html.contains(" dB, max abs error"))
        #expect(html.contains("<svg class=\"arena\""))
        // report --data on an ONNX Runtime int8 model: the integer kernels against the model as given, per layer.
        let ort = directory + "/resnet8.html"
        let r = try CommandLineTests.run(["report", TestPaths.model("ic_resnet8_int8_qdq.onnx"), "--target", "cortex-m4f",
                                          "--data", TestPaths.model("ic_resnet8_int8_qdq.refs.npz"), "-o", ort])
        #expect(r.status == 0, "\(r.stderr)")
        let layers = try String(contentsOfFile: ort, encoding: .utf8)
        Self.expectSelfContained(layers)
        let section = try #require(layers.components(separatedBy: "id=\"layer-error\"").last)
        #expect(section.components(separatedBy: "<rect class=").count - 1 >= 10, "too few layers compared")
        guard let shot = try Self.render(ort, in: directory, name: "resnet8") else { return }
        #expect(shot.png.count > 50_000)
        // A float model has no integer layer to compare.
        let float = try CommandLineTests.run(["report", TestPaths.model("digits_cnn.onnx"), "--data", TestPaths.model("digits_calib.npz"),
                                              "-o", directory + "/float.html"])
        #expect(float.status == 1 && float.stderr.contains("no QuantizeLinear"), "\(float.stderr)")
    }

    @Test func pruneAndCompileWriteReportsToo() throws {
        let directory = CBackendTests.workDirectory("html-prune")
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let p = try CommandLineTests.run(["prune", TestPaths.model("digits_cnn.onnx"), "--sparsity", "0.7", "-o", directory + "/pruned.onnx",
                                          "--data", TestPaths.model("digits_test.npz"), "--report-html", directory + "/prune.html"])
        #expect(p.status == 0, "\(p.stderr)")
        let pruned = try String(contentsOfFile: directory + "/prune.html", encoding: .utf8)
        Self.expectSelfContained(pruned)
        #expect(pruned.contains("Zero weights per layer") && pruned.contains("70.0 %"))
        let c = try CommandLineTests.run(["compile", TestPaths.model("digits_mlp.onnx"), "--target", "cortex-m0plus", "-o", directory + "/c",
                                          "--report-html", directory + "/compile.html"])
        #expect(c.status == 0, "\(c.stderr)")
        let compiled = try String(contentsOfFile: directory + "/compile.html", encoding: .utf8)
        Self.expectSelfContained(compiled)
        #expect(compiled.contains("cortex-m0plus") && compiled.contains("of 16,384 B"))
    }
}
