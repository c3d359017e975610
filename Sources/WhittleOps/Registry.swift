import WhittleIR

/// The operators Whittle supports, by domain and name.
public enum Registry {
    /// Each family's operators with the reference kernels it defines for them.
    static var families: [(definitions: [OperatorDefinition], kernels: [String: Kernel])] {
        [(ElementwiseOperators.all, ElementwiseOperators.kernels), (ConvolutionOperators.all, ConvolutionOperators.kernels),
         (MatrixOperators.all, MatrixOperators.kernels), (ShapeManipulationOperators.all, ShapeManipulationOperators.kernels),
         (GeneratorOperators.all, GeneratorOperators.kernels), (NormalizationOperators.all, NormalizationOperators.kernels),
         (ReductionOperators.all, ReductionOperators.kernels), (RecurrentOperators.all, RecurrentOperators.kernels),
         (QuantizationOperators.all, QuantizationOperators.kernels), (MicrosoftQuantizedOperators.all, MicrosoftQuantizedOperators.kernels),
         (WhittleQuantizedOperators.all, WhittleQuantizedOperators.kernels), (WhittleBinaryOperators.all, WhittleBinaryOperators.kernels),
         (SelectionOperators.all, SelectionOperators.kernels), (ScatterOperators.all, ScatterOperators.kernels),
         (LossOperators.all, LossOperators.kernels), (BitsAndClassesOperators.all, BitsAndClassesOperators.kernels),
         (AttentionOperators.all, AttentionOperators.kernels), (TransformerOperators.all, TransformerOperators.kernels),
         (SignalOperators.all, SignalOperators.kernels), (LinearAlgebraOperators.all, LinearAlgebraOperators.kernels),
         (DataDependentOperators.all, [:]), (GridSampleOperators.all, GridSampleOperators.kernels),
         (LinearAttentionOperators.all, LinearAttentionOperators.kernels), (RoiAlignOperators.all, RoiAlignOperators.kernels),
         (DeformConvOperators.all, DeformConvOperators.kernels), (TfIdfVectorizerOperators.all, TfIdfVectorizerOperators.kernels),
         (QLinearSoftmaxOperator.all, QLinearSoftmaxOperator.kernels), (QLinearLookupOperators.all, QLinearLookupOperators.kernels),
         (QLinearReduceMeanOperator.all, QLinearReduceMeanOperator.kernels),
         (LoopRegion.all, [:])]
    }

    /// Operators by qualified name (domain and name). A definition takes its kernel from its own family;
    /// the few families that share another's kernels (data-dependent shapes, loop regions) take the one
    /// kernel of that name. Two definitions of one qualified name are a programming error, refused
    /// when the table is first built.
    static let definitions: [String: OperatorDefinition] = {
        let families = Self.families
        var shared: [String: [Kernel]] = [:]
        for family in families { for (name, kernel) in family.kernels { shared[name, default: []].append(kernel) } }
        var table: [String: OperatorDefinition] = [:]
        for family in families {
            for var definition in family.definitions {
                let qualified = key(definition.domain, definition.name)
                precondition(table[qualified] == nil, "operator \(definition.domain).\(definition.name) is defined twice")
                definition.evaluate = family.kernels[definition.name] ?? shared[definition.name]?.first
                table[qualified] = definition
            }
        }
        return table
    }()

    /// How many operator definitions the families give (each qualified name once: see ``definitions``).
    static var definitionCount: Int { families.map(\.definitions.count).reduce(0, +) }

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
