import Foundation
import Testing
import WhittleIR
import WhittleKit

/// `prune --pattern N:M`: in every group of M consecutive taps of one output's reduction at most N
/// weights stay nonzero (the largest), in every layer but the kept ones; the model stays standard
/// ONNX that ONNX Runtime runs, and its C equals the interpreter.
struct PatternPruningTests {
    /// The index groups of a weight read in rows of outputs (convolutions, Gemm with transB) or in
    /// columns (Gemm without transB, MatMul), `size` taps each.
    static func groups(_ w: Tensor, rows: Bool, size: Int) -> [[Int]] {
        let outputs = rows ? w.shape[0] : w.count / w.shape[0], taps = w.count / outputs
        var result: [[Int]] = []
        for o in 0..<outputs {
            for start in stride(from: 0, to: taps, by: size) {
                result.append((start..<min(start + size, taps)).map { t in rows ? o * taps + t : t * outputs + o })
            }
        }
        return result
    }

    @Test(arguments: [("digits_cnn", 2, 4), ("digits_mlp", 1, 4)])
    func everyGroupKeepsAtMostN(model: String, n: Int, m: Int) throws {
        let analyzed = try ModelLoader.load(path: TestPaths.model("\(model).onnx"))
        let options = PruningOptions(sparsity: Double(m - n) / Double(m), keep: model == "digits_mlp" ? [] : nil, pattern: (n, m))
        let outcome = try CompressionPipeline.prune(analyzed, PruningRequest(options: options))
        var checked = 0
        for layer in outcome.layers {
            let node = try #require(analyzed.graph.nodes.first { $0.name == layer.node })
            let before = try #require(analyzed.graph.initializers[layer.weight]), after = try #require(outcome.analyzed.model.graph.initializers[layer.weight])
            guard layer.target != nil else {
                #expect(before.doubles() == after.doubles(), "\(layer.node) is kept and must not change")
                continue
            }
            let rows = node.opType == "Conv" || node.attributes["transB"] == .int(1)
            let old = before.doubles(), new = after.doubles()
            for group in Self.groups(after, rows: rows, size: m) {
                let kept = group.filter { new[$0] != 0 }
                #expect(kept.count <= n, "\(layer.node): a group keeps \(kept.count) of \(m)")
                // The kept weights are the group's largest: none pruned is larger than one kept.
                let smallestKept = kept.map { abs(old[$0]) }.min() ?? .infinity
                let largestPruned = group.filter { new[$0] == 0 }.map { abs(old[$0]) }.max() ?? 0
                #expect(largestPruned <= smallestKept, "\(layer.node): pruned \(largestPruned) but kept \(smallestKept)")
                #expect(kept.allSatisfy { new[$0] == old[$0] })
            }
            checked += 1
        }
        #expect(checked >= 1)

        // Standard ONNX: the C of the pruned model equals the interpreter (sanitized host build).
        let directory = CBackendTests.workDirectory("pattern-\(model)")
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        var verify = ModelVerifier.Options()
        verify.compiler = "gcc"
        let host = try ModelVerifier.verify(outcome.analyzed, inputs: nil, options: verify, workDirectory: directory + "/host")
        #expect(host.allSatisfy { !$0.decides || $0.passed })
        if let python = QuantizerTests.python {
            let path = directory + "/pruned.onnx"
            try ModelWriter.write(outcome.analyzed.model, to: path)
            let run = try CommandLineTests.execute(python, [TestPaths.root.appendingPathComponent("Tests/Quantization/ort_run.py").path,
                                                            path, TestPaths.model("\(model).refs.npz"), "in_0", directory + "/ort.npz"])
            #expect(run.status == 0, "ONNX Runtime on the pruned model: \(run.stderr.suffix(400))")
        }
    }

    @Test func badPatternsAreRefused() throws {
        let directory = CBackendTests.workDirectory("pattern-errors")
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        for (arguments, message) in [(["--pattern", "4:4"], "--pattern takes N:M with 1 <= N < M <= 256"),
                                     (["--pattern", "2:4", "--sparsity", "0.5"], "give --sparsity or --pattern, not both"),
                                     (["--pattern", "2:4", "--scope", "global"], "--pattern prunes every layer alike")] {
            let bad = try CommandLineTests.run(["prune", TestPaths.model("digits_cnn.onnx"), "-o", directory + "/x.onnx"] + arguments)
            #expect(bad.status == 1 && bad.stderr.contains(message), "\(arguments): \(bad.stderr)")
        }
        let good = try CommandLineTests.run(["prune", TestPaths.model("digits_cnn.onnx"), "--pattern", "2:4", "-o", directory + "/p.onnx"])
        #expect(good.status == 0 && good.stdout.contains("0.50"), "\(good.stdout) \(good.stderr)")
    }
}
