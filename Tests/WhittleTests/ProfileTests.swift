import Foundation
import Testing
import WhittleKit

/// `whittle verify --target … --profile`: instructions per function from the QEMU plugin's
/// per-address counts and the program's symbols.
struct ProfileTests {
    @Test func theProfileNamesTheKernelsThatRan() throws {
        guard TargetTests.emulatorsInstalled, let catalog = TargetTests.catalog else {
            if ProcessInfo.processInfo.environment["WHITTLE_REQUIRE_TOOLS"] != nil { Issue.record("QEMU or a cross compiler is missing") }
            return
        }
        let analyzed = try ModelLoader.load(path: TestPaths.model("kws_dscnn_int8_qdq.onnx"))
        let result = try TargetVerifier.verify(analyzed, target: try catalog.target("cortex-m4f"), catalog: catalog, inputs: nil, tolerance: 1e-4,
                                               budgets: (nil, nil), workDirectory: CBackendTests.workDirectory("profile-m4f"), profile: true)
        let counts = Dictionary(result.profile.map { ($0.function, $0.instructions) }) { a, _ in a }
        let inference = try #require(result.instructions)
        // The matrix product and the depthwise kernel run inside the inference; the whole run counts more.
        // (Compilers may suffix specialized copies: whittle_gemm_s8.constprop.0.)
        let gemm = counts.filter { $0.key.hasPrefix("whittle_gemm_s8") }.values.reduce(0, +)
        #expect(gemm > inference / 4, "\(result.profile.prefix(8))")
        #expect(counts.keys.contains { $0.hasPrefix("whittle_depthwise_s8") })
        #expect(result.profile.reduce(0) { $0 + $1.instructions } >= inference)
        #expect(result.profile.map(\.instructions) == result.profile.map(\.instructions).sorted(by: >))
        #expect(!result.layers.isEmpty)
    }
}
