import Foundation
import Testing
import WhittleIR
import WhittleKit

/// Pruned int8 pointwise layers on bitmask rows (`whittle_sparse_pointwise_s8`): chosen by the cost
/// model where they beat the dense kernels, stored in fewer bytes, and computing exactly what the
/// interpreter does on the host and on devices with each variant (DSP, NEON, portable).
struct SparsePointwiseTests {
    @Test func prunedPointwiseLayersRunOnBitmaskRows() throws {
        let directory = CBackendTests.workDirectory("sparse-pointwise")
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = directory + "/kws_75.onnx"
        let pruned = try CommandLineTests.run(["prune", TestPaths.model("kws_dscnn_int8_qdq.onnx"), "--sparsity", "0.75", "-o", path])
        #expect(pruned.status == 0, "\(pruned.stderr)")
        let analyzed = try ModelLoader.load(path: path)
        let catalog = try #require(TargetTests.catalog)
        for target in ["cortex-m4f", "rpi4"] {
            var options = CompileOptions()
            options.adopt(try catalog.target(target))
            let sparse = CompileReport(try ModelCompiler.compile(analyzed, options: options))
            // The four pointwise layers (64 channels in and out) take bitmask rows; the others stay dense.
            let bitmask = sparse.layers.filter { $0.kernels.contains("whittle_sparse_pointwise_s8") }
            #expect(bitmask.count == 4 && bitmask.allSatisfy { $0.weights?.hasPrefix("sparse (bitmask rows): 75.0 % zeros") == true },
                    "\(target): \(sparse.layers.map { "\($0.name) \($0.kernels) \($0.weights ?? "")" })")
            options.codegen.sparse = .off
            let dense = CompileReport(try ModelCompiler.compile(analyzed, options: options))
            // A bit and a byte per nonzero weight: well under half the dense bytes of these layers.
            #expect(Double(sparse.weightBytes) < 0.62 * Double(dense.weightBytes), "\(target): \(dense.weightBytes) -> \(sparse.weightBytes) B")
        }
        try Deployed.expectCEqualsInterpreter(analyzed, path: path, directory: directory, targets: ["rp2040", "cortex-m4f", "rpi3", "rpi4"])
    }

    /// Lightly pruned pointwise layers stay on the dense kernels, which are faster there.
    @Test func halfPrunedPointwiseLayersStayDenseOnCortexM() throws {
        let (_, pruned, _) = try PruningTests.prune("kws_dscnn_int8_qdq", PruningOptions(sparsity: 0.5, keep: []))
        var options = CompileOptions()
        options.adopt(try #require(TargetTests.catalog).target("cortex-m4f"))
        let report = CompileReport(try ModelCompiler.compile(try ModelLoader.analyze(pruned, path: "kws_50.onnx"), options: options))
        #expect(!report.layers.contains { $0.kernels.contains("whittle_sparse_pointwise_s8") })
        #expect(report.layers.filter { $0.kernels.contains("whittle_conv_s8") && $0.reason.contains("dense: 50.0 % zeros") }.count >= 4)
    }
}
