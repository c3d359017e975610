import Foundation
import Testing
import WhittleIR
import WhittleKit

/// Training-mode forms of inference operators: Dropout in training mode with a ratio above zero draws
/// a random mask, which Whittle refuses by name; with ratio 0 it is the identity.
struct TrainingModeTests {
    static func dropout(ratio: Float, training: Bool) throws -> AnalyzedModel {
        let node = Node(name: "drop", opType: "Dropout", inputs: ["x", "ratio", "training"], outputs: ["y"])
        let model = HostileModelTests.model([node], inputs: [ValueInfo(name: "x", type: TensorType(.float, [4]))], outputs: ["y"],
                                            initializers: ["ratio": try Tensor(floats: [ratio], shape: []),
                                                           "training": try Tensor(int64s: [training ? 1 : 0], shape: [], as: .bool)])
        return try ModelLoader.analyze(model, path: "dropout.onnx")
    }

    @Test func randomDropoutIsRefusedWithTheReason() throws {
        let analyzed = try Self.dropout(ratio: 0.25, training: true)
        let reason = try #require(analyzed.inference.unsupported.first)
        #expect(reason.reason.contains("draws a random mask"), "\(reason)")
        let error = expectWhittleError { _ = try ModelCompiler.compile(analyzed) }
        #expect(error?.description.contains("node 0 \"drop\" (Dropout)") == true, "\(String(describing: error))")
    }

    @Test(arguments: [(Float(0), true), (Float(0.5), false)])
    func identityDropoutRuns(ratio: Float, training: Bool) throws {
        let analyzed = try Self.dropout(ratio: ratio, training: training)
        #expect(analyzed.inference.unsupported.isEmpty)
        let x = NDArray(.float, shape: [4], floats: [1, -2, 3, -4])
        #expect(try ModelRunner.run(analyzed, inputs: ["x": x])["y"]?.floats == [1, -2, 3, -4])
    }
}
