import WhittleIR
import WhittleONNX
import WhittleOps

/// Writes a model the compressor made as ONNX. Graph outputs whose declared type has no shape
/// (symbolic dimensions in the original, such as a batch size) get the inferred static shape,
/// since `onnx.checker` requires a shape on every graph output.
public enum ModelWriter {
    public static func write(_ model: Model, to path: String) throws {
        var model = model
        if model.graph.outputs.contains(where: { $0.type?.shape == nil }) {
            let inferred = try ShapeInference.run(model).graph
            for j in model.graph.outputs.indices where model.graph.outputs[j].type?.shape == nil {
                if let type = inferred.type(of: model.graph.outputs[j].name), type.shape != nil { model.graph.outputs[j].type = type }
            }
        }
        try ONNXWriter.write(model, to: path)
    }
}
