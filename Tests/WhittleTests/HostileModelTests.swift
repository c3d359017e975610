import Foundation
import Testing
import WhittleInterpreter
import WhittleIR
import WhittleKit
import WhittleOps

/// Well-formed models that declare absurd sizes: a clean error naming the node, never a trap, an
/// allocation that aborts, or C with int counters that overflow.
struct HostileModelTests {
    static func model(_ nodes: [Node], inputs: [ValueInfo] = [], outputs: [String], initializers: [String: Tensor] = [:]) -> Model {
        var graph = Graph(name: "hostile")
        graph.inputs = inputs
        graph.nodes = nodes
        graph.initializers = initializers
        graph.outputs = outputs.map { ValueInfo(name: $0, type: nil) }
        return Model(opsets: ["": 13], graph: graph)
    }

    static func scalar(_ v: Int64) throws -> Tensor { try Tensor(int64s: [v], shape: []) }

    @Test func integerRangesAtTheExtremesAreExact() throws {
        let cases: [(Int64, Int64, Int64, [Int64]?)] = [
            (.min, .max, 1 << 62, [.min, -(1 << 62), 0, 1 << 62]),
            (.max, .min, -(1 << 62), [.max, .max &- (1 << 62), .max &- (1 << 62) &* 2, .max &- (1 << 62) &* 3]),
            (0, .max, .max, [0]),
            (.min, 0, 1, nil),
        ]
        for (start, limit, delta, expected) in cases {
            let m = Self.model([Node(name: "range", opType: "Range", inputs: ["s", "l", "d"], outputs: ["y"])], outputs: ["y"],
                               initializers: ["s": try Self.scalar(start), "l": try Self.scalar(limit), "d": try Self.scalar(delta)])
            if let expected {
                let types = try ShapeInference.run(m)
                let y = try Interpreter(model: m, inference: types).run([:])["y"]?.ints
                #expect(y == expected, "\(start) \(limit) \(delta)")
            } else {
                let error = expectWhittleError { _ = try ShapeInference.run(m) }
                #expect(error?.reason.contains("not a finite size below 2^31") == true)
            }
        }
    }

    @Test func tensorsTheCCannotCountAreRefused() throws {
        for shape in [[1 << 31, 1 << 31], [1, 1 << 31]] {
            let m = Self.model([Node(name: "relu", opType: "Relu", inputs: ["x"], outputs: ["y"])],
                               inputs: [ValueInfo(name: "x", type: TensorType(.float, shape))], outputs: ["y"])
            let error = expectWhittleError { _ = try ModelCompiler.compile(try ModelLoader.analyze(m, path: "huge.onnx")) }
            #expect(error?.reason.contains("more than 2,147,483,647 elements") == true, "\(String(describing: error))")
            // inspect still describes it.
            _ = InspectReport(try ModelLoader.analyze(m, path: "huge.onnx"))
        }
        let expand = Self.model([Node(name: "expand", opType: "Expand", inputs: ["x", "s"], outputs: ["y"])],
                                inputs: [ValueInfo(name: "x", type: TensorType(.float, [1]))], outputs: ["y"],
                                initializers: ["s": try Tensor(int64s: [100_000, 100_000, 100_000], shape: [3])])
        let error = expectWhittleError { _ = try ModelCompiler.compile(try ModelLoader.analyze(expand, path: "expand.onnx")) }
        #expect(error?.node?.description.contains("Expand") == true && error?.reason.contains("100000x100000x100000") == true)
    }

    @Test func hugeOutputsAreRefusedBeforeAllocating() throws {
        let m = Self.model([Node(name: "fill", opType: "ConstantOfShape", inputs: ["s"], outputs: ["y"])], outputs: ["y"],
                           initializers: ["s": try Tensor(int64s: [100_000, 100_000, 100_000], shape: [3])])
        let analyzed = try ModelLoader.analyze(m, path: "fill.onnx")
        let error = expectWhittleError { _ = try ModelRunner.run(analyzed, inputs: [:]) }
        #expect(error?.reason.contains("would take 4000000000000000 bytes, more than the 4294967296 bytes allowed") == true, "\(String(describing: error))")
        let small = expectWhittleError { _ = try ModelRunner.run(analyzed, inputs: [:], maxTensorBytes: 16) }
        #expect(small?.reason.contains("more than the 16 bytes") == true)
        #expect(try TargetBudget.parse("4G") == 1 << 32)
        #expect(throws: WhittleError.self) { _ = try TargetBudget.parse("99999999999999G") }
    }
}
