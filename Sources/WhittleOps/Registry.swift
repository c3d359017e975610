import WhittleIR

/// The operators Whittle supports, by domain and name.
public enum Registry {
    static let definitions: [String: OperatorDefinition] = {
        let all = ElementwiseOperators.all + ConvolutionOperators.all + MatrixOperators.all
            + ShapeManipulationOperators.all + GeneratorOperators.all + NormalizationOperators.all
            + ReductionOperators.all + RecurrentOperators.all + QuantizationOperators.all + MicrosoftQuantizedOperators.all
            + WhittleQuantizedOperators.all + WhittleBinaryOperators.all + SelectionOperators.all + ScatterOperators.all
            + LossOperators.all + BitsAndClassesOperators.all + AttentionOperators.all
            + TransformerOperators.all + SignalOperators.all + LinearAlgebraOperators.all + DataDependentOperators.all
            + GridSampleOperators.all + LinearAttentionOperators.all + RoiAlignOperators.all + DeformConvOperators.all
            + TfIdfVectorizerOperators.all + LoopRegion.all
        let kernels = [ElementwiseOperators.kernels, ConvolutionOperators.kernels, MatrixOperators.kernels,
                       ShapeManipulationOperators.kernels, GeneratorOperators.kernels, NormalizationOperators.kernels,
                       ReductionOperators.kernels, RecurrentOperators.kernels, QuantizationOperators.kernels,
                       MicrosoftQuantizedOperators.kernels, WhittleQuantizedOperators.kernels, WhittleBinaryOperators.kernels,
                       SelectionOperators.kernels, ScatterOperators.kernels, LossOperators.kernels, BitsAndClassesOperators.kernels,
                       AttentionOperators.kernels, TransformerOperators.kernels, LinearAlgebraOperators.kernels,
                       GridSampleOperators.kernels, SignalOperators.kernels, LinearAttentionOperators.kernels,
                       RoiAlignOperators.kernels, DeformConvOperators.kernels, TfIdfVectorizerOperators.kernels]
            .reduce(into: [String: Kernel]()) { $0.merge($1) { first, _ in first } }
        var table: [String: OperatorDefinition] = [:]
        for var definition in all {
            definition.evaluate = kernels[definition.name]
            table[key(definition.domain, definition.name)] = definition
        }
        return table
    }()

    private static func key(_ domain: String, _ name: String) -> String {
        "\(Node.isDefaultDomain(domain) ? "" : domain)\u{0}\(name)"
    }

    /// The definition of `name` in `domain`, if Whittle supports it.
    public static func definition(domain: String, name: String) -> OperatorDefinition? {
        definitions[key(domain, name)]
    }

    /// Supported operators as `domain.Name` (default domain unqualified), sorted.
    public static var supportedOperators: [String] {
        definitions.values.map { Node.isDefaultDomain($0.domain) ? $0.name : "\($0.domain).\($0.name)" }.sorted()
    }

    /// A sentence saying why `node` is not supported.
    static func whyUnsupported(_ node: Node, opset: Int) -> String {
        switch (Node.isDefaultDomain(node.domain), node.opType) {
        case (true, "If"), (true, "Loop"), (true, "Scan"):
            return "control flow (\(node.opType)) is read with its subgraphs but cannot be compiled yet"
        case (true, _):
            return "operator \(node.opType) is not supported"
        default:
            return "operator \(node.opType) of domain \(node.domain) (opset \(opset)) is not supported"
        }
    }
}
