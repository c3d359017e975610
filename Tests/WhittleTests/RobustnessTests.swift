import Foundation
import Testing
import WhittleIR
import WhittleInterpreter
import WhittleKit
import WhittleONNX

/// Corrupted models must end in a WhittleError or a usable model, never a crash or a hang.
struct RobustnessTests {
    static let seeds: [(String, UInt64)] = [
        ("Examples/models/digits_cnn.onnx", 1), ("Examples/models/digits_cnn_int8_qdq.onnx", 2),
        ("Tests/WhittleTests/Fixtures/local_functions.onnx", 3), ("Tests/WhittleTests/Fixtures/subgraphs.onnx", 4),
        ("Tests/WhittleTests/Fixtures/symbolic_reshape.onnx", 5), ("Tests/WhittleTests/Fixtures/types_typed.onnx", 6),
        ("Tests/WhittleTests/Fixtures/q_qlinearconv.onnx", 7), ("Tests/WhittleTests/Fixtures/q_qlinearmatmul.onnx", 8),
        ("Examples/models/kws_dscnn_int8_qdq.onnx", 9),
    ]

    @Test(arguments: zip(seeds.map(\.0), seeds.map(\.1)))
    func mutatedModelsFailCleanly(file: String, seed: UInt64) throws {
        let original = try [UInt8](Data(contentsOf: TestPaths.root.appendingPathComponent(file)))
        var generator = SplitMix64(seed: seed)
        let rounds = Int(ProcessInfo.processInfo.environment["WHITTLE_FUZZ_ROUNDS"] ?? "") ?? 150
        var accepted = 0
        for _ in 0..<rounds {
            var bytes = original
            let flips = 1 + Int(generator.next() % 4)
            for _ in 0..<flips {
                let at = Int(generator.next() % UInt64(bytes.count))
                switch generator.next() % 3 {
                case 0: bytes[at] ^= UInt8(truncatingIfNeeded: 1 << (generator.next() % 8))
                case 1: bytes[at] = UInt8(truncatingIfNeeded: generator.next())
                default: bytes[at] = [0x00, 0x7F, 0x80, 0xFF][Int(generator.next() % 4)]
                }
            }
            do {
                let model = try ONNXReader.read(bytes: bytes, baseDirectory: nil)
                let analyzed = try ModelLoader.analyze(model, path: file)
                _ = InspectReport(analyzed).text()
                accepted += 1
                // Models that still load must also run (on zeros) or fail cleanly.
                var feed: [String: NDArray] = [:]
                for input in analyzed.graph.inputs {
                    guard let type = input.type, let shape = type.shape, shape.reduce(1, *) <= 1 << 20 else { continue }
                    feed[input.name] = NDArray(type.elementType, shape: shape, values: Array(repeating: 0, count: shape.reduce(1, *)))
                }
                // And compile (passes, planner, C emitter) or fail cleanly.
                _ = try? ModelCompiler.compile(analyzed)
                _ = try Interpreter(model: analyzed.model, inference: analyzed.inference).run(feed)
            } catch is WhittleError {
                continue
            }
        }
        // Some mutations only touch weight values, which stay valid models.
        #expect(accepted > 0)
    }
}
