import Foundation
import Testing
import WhittleIR
import WhittleKit
import WhittleONNX
import WhittlePasses

/// Writing ONNX: what is written reads back as the same model.
struct WriterTests {
    static let files = SharedModelTests.entries.map { TestPaths.model($0.name + ".onnx") }
        + ["types_raw.onnx", "constants.onnx", "subgraphs.onnx", "local_functions.onnx", "initializer_as_input.onnx", "domains.onnx"]
            .map(TestPaths.fixture)

    @Test(arguments: files)
    func roundTrip(path: String) throws {
        let model = try ONNXReader.read(path: path)
        let again = try ONNXReader.read(bytes: ONNXWriter.serialize(model))
        #expect(again.graph.nodes == model.graph.nodes)
        #expect(again.graph.initializers == model.graph.initializers)
        #expect(again.graph.inputs == model.graph.inputs)
        #expect(again.graph.outputs.map(\.name) == model.graph.outputs.map(\.name))
        #expect(again.opsets == model.opsets)
        #expect(again.irVersion == model.irVersion)
        #expect(again.producerName == model.producerName)
    }

    @Test func optimizedIntegerModelIsWritable() throws {
        let analyzed = try ModelLoader.load(path: TestPaths.model("kws_dscnn_int8_qdq.onnx"))
        let (fused, _) = try PassPipeline.standard.run(analyzed.model)
        try FileManager.default.createDirectory(atPath: CBackendTests.workRoot, withIntermediateDirectories: true)
        let path = CBackendTests.workDirectory("fused.onnx")
        try ONNXWriter.write(fused, to: path)
        let reloaded = try ModelLoader.load(path: path)
        #expect(reloaded.model.opsets["com.microsoft"] == 1)
        #expect(reloaded.graph.nodes.contains { $0.opType == "QLinearConv" })
        #expect(reloaded.inference.unsupported.isEmpty)
        #expect(!reloaded.graph.nodes.contains { $0.attributes.keys.contains { $0.hasPrefix("whittle_") } })
    }

    @Test func fusedActivationsAreRefused() throws {
        let analyzed = try ModelLoader.load(path: TestPaths.model("digits_cnn.onnx"))
        let (optimized, _) = try PassPipeline.standard.run(analyzed.model)
        let error = expectWhittleError { _ = try ONNXWriter.serialize(optimized) }
        #expect(error?.reason.contains("fused activation") == true)
    }
}
