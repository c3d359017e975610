import WhittleInterpreter
import WhittleIR

/// A compressed model against its original on samples, both run by the interpreter: SQNR and
/// largest error per output, and top-1 accuracy of the first output with labels.
public enum ModelComparison {
    public struct Result: Sendable {
        public var outputs: [QuantizationReport.Output]
        public var top1: (original: Double, changed: Double)?
    }

    public static func compare(_ original: AnalyzedModel, _ changed: AnalyzedModel, samples: SampleSet, labels: [Int]?,
                               progress: (String, Int, Int) -> Void = { _, _, _ in }) throws -> Result {
        let originalRun = try Interpreter(model: original.model, inference: original.inference)
        let changedRun = try Interpreter(model: changed.model, inference: changed.inference)
        let outputs = original.graph.outputs.map(\.name)
        var errors: [String: ErrorAccumulator] = [:]
        var originalCorrect = 0, changedCorrect = 0
        for i in 0..<samples.count {
            let inputs = try samples.sample(i)
            let a = try originalRun.run(inputs), b = try changedRun.run(inputs)
            for name in outputs {
                guard let reference = a[name], let actual = b[name] else { continue }
                errors[name, default: ErrorAccumulator()].add(reference: reference.floats, actual: actual.doubles)
            }
            if let labels, let first = outputs.first, let reference = a[first], let actual = b[first] {
                if argmax(reference.doubles) == labels[i] { originalCorrect += 1 }
                if argmax(actual.doubles) == labels[i] { changedCorrect += 1 }
            }
            progress("evaluating", i + 1, samples.count)
        }
        let n = Double(max(samples.count, 1))
        return Result(outputs: outputs.map { QuantizationReport.Output(name: $0, error: (errors[$0] ?? ErrorAccumulator()).result) },
                      top1: labels == nil ? nil : (Double(originalCorrect) / n, Double(changedCorrect) / n))
    }
}
