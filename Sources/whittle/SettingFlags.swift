import WhittleKit

extension WhittleSetting {
    /// The flag that sets this on the command line, added to the library's error messages. A
    /// command whose flag differs (binarize's own `--layers`) passes its name to `reportingErrors`.
    var flag: String {
        switch self {
        case .inputShape: "--input-shape"
        case .binding: "--bind"
        case .maxTensorBytes: "--max-tensor-bytes"
        case .sampleMap: "--map"
        case .labels: "--labels"
        case .runInput: "--input"
        case .weightFormat: "--weights"
        case .calibrationMethod: "--calibrate"
        case .activationType: "--activations"
        case .weightType: "--weight-type"
        case .int16Layers: "--int16-layers"
        case .sparsity: "--sparsity"
        case .keptLayers: "--keep"
        case .targetAccuracy: "--target-accuracy"
        case .targetSize: "--target-size"
        case .binarizedLayers: "--binarize-layers"
        case .binarizedActivations: "--binarize-activations"
        case .layerMatch: "--match"
        case .distillationLoss: "--temperature, --alpha"
        case .budget: "--ram-budget, --flash-budget"
        case .dumpedPass: "--dump-ir-after"
        }
    }
}
