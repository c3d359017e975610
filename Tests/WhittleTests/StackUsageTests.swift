import Foundation
import Testing
import WhittleIR
import WhittleKit

/// The worst-case stack `verify --target` reports, from GCC's call-graph files.
struct StackUsageTests {
    static func node(_ title: String, _ bytes: Int?, _ kind: String = "static") -> String {
        let name = title.split(separator: ":").last.map(String.init) ?? title
        return "node: { title: \"\(title)\" label: \"\(name)\\nm.c:1:1" + (bytes.map { "\\n\($0) bytes (\(kind))" } ?? "") + "\" }"
    }

    static func edge(_ from: String, _ to: String) -> String { "edge: { sourcename: \"\(from)\" targetname: \"\(to)\" label: \"m.c:2:2\" }" }

    /// The deepest path sums its frames; calls into functions without a frame are listed apart.
    @Test func theDeepestPathSumsItsFrames() throws {
        let model = [Self.node("model_run", 16), Self.node("m.c:layer", 100), Self.node("m.c:kernel", 40), Self.node("m.c:helper", 8),
                     Self.node("memset", nil), Self.edge("model_run", "m.c:layer"), Self.edge("model_run", "m.c:kernel"),
                     Self.edge("m.c:layer", "m.c:helper"), Self.edge("m.c:kernel", "m.c:helper"), Self.edge("m.c:kernel", "memset")]
        let stack = try StackUsage.worst(from: "model_run", callGraphs: [model.joined(separator: "\n")])
        #expect(stack.bytes == 124 && stack.path == ["model_run", "layer", "helper"] && stack.unmeasured == ["memset"], "\(stack)")
        #expect(stack.summary(entry: "model_run", measuredBy: "gcc")
                == "stack: 124 B worst case from model_run (model_run -> layer -> helper, measured by gcc); not measured: memset (C and compiler runtime libraries)")
        // A second file (another source) adds its callers' edges.
        let deeper = try StackUsage.worst(from: "model_run", callGraphs: [model.joined(separator: "\n"),
                                                                          [Self.node("m.c:helper", 8), Self.node("extra", 500), Self.edge("m.c:helper", "extra")].joined(separator: "\n")])
        #expect(deeper.bytes == 624 && deeper.path.last == "extra")
    }

    /// Recursion and frames of run-time size have no bound: refused with the function's name.
    @Test func unboundedStacksAreRefused() throws {
        let loop = [Self.node("model_run", 16), Self.node("a", 8), Self.node("b", 8), Self.edge("model_run", "a"), Self.edge("a", "b"), Self.edge("b", "a")]
        let error = expectWhittleError { _ = try StackUsage.worst(from: "model_run", callGraphs: [loop.joined(separator: "\n")]) }
        #expect(error?.reason.contains("calls itself") == true, "\(String(describing: error))")
        let bounded = [Self.node("model_run", 16), Self.node("a", 8, "dynamic,bounded"), Self.edge("model_run", "a")]
        #expect(try StackUsage.worst(from: "model_run", callGraphs: [bounded.joined(separator: "\n")]).bytes == 24)
        let vla = [Self.node("model_run", 16), Self.node("a", 8, "dynamic"), Self.edge("model_run", "a")]
        let dynamic = expectWhittleError { _ = try StackUsage.worst(from: "model_run", callGraphs: [vla.joined(separator: "\n")]) }
        #expect(dynamic?.reason.contains("a takes stack of a size known only at run time") == true)
        #expect(expectWhittleError { _ = try StackUsage.worst(from: "model_run", callGraphs: [""]) } != nil)
    }

    /// On a device: the stack of kws_dscnn int8 runs through a layer's kernel, and the emitted C
    /// has no recursion or run-time-sized frame.
    @Test func verifyReportsTheStackOnCortexM() throws {
        guard TargetTests.emulatorsInstalled else {
            if ProcessInfo.processInfo.environment["WHITTLE_REQUIRE_TOOLS"] != nil { Issue.record("the cross compilers and QEMU are not installed") }
            return
        }
        let catalog = try #require(TargetTests.catalog)
        let analyzed = try ModelLoader.load(path: TestPaths.model("kws_dscnn_int8_qdq.onnx"))
        let directory = CBackendTests.workDirectory("stack")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let result = try TargetVerifier.verify(analyzed, target: try catalog.target("cortex-m4f"), catalog: catalog, inputs: nil, tolerance: nil,
                                               budgets: (nil, nil), workDirectory: directory)
        let stack = try #require(try result.stack?.get())
        #expect(stack.path.prefix(2) == ["model_run", "model_run_with_arena"] && stack.path.contains { $0.hasPrefix("whittle_") }, "\(stack.path)")
        #expect(stack.bytes > 100 && stack.bytes < 4096, "\(stack.bytes)")
    }
}
