import WhittleIR
import WhittleOps

/// C for Einsum (one loop over every label's index, products summed into the output) and Det
/// (LU decomposition with partial pivoting in double, in planned scratch memory).
enum LinearAlgebraC {
    static var kernels: [String: CKernel] { ["Einsum": einsumKernel, "Det": detKernel] }

    static var scratchNeeds: [String: @Sendable (NodeEmission) throws -> Int] {
        ["Det": { e in let n = try e.inputShape(0).last ?? 0; return n * n * 8 }]
    }

    static let einsumKernel: CKernel = { e, w in
        guard e.elementType == .float || e.elementType == .double else {
            throw WhittleError(.unsupported, "Einsum on \(e.elementType.name) is not supported by the C back end")
        }
        let plan = try EinsumPlan(e.context)
        let t = try e.cType(output: 0)
        let outputCount = plan.outputShape.reduce(1, *), total = plan.sizes.reduce(1, *)
        let labelStrides = Shape.strides(plan.sizes)
        guard outputCount > 0 else { return }
        w.line("for (int i = 0; i < \(outputCount); ++i) \(e.y(0))[i] = \(e.literal(0));")
        guard total > 0 else { return }
        func index(_ strides: [Int]) -> String {
            let terms = strides.enumerated().filter { $0.element != 0 && plan.sizes[$0.offset] > 1 }
                .map { "f / \(labelStrides[$0.offset]) % \(plan.sizes[$0.offset]) * \($0.element)" }
            return terms.isEmpty ? "0" : terms.joined(separator: " + ")
        }
        let product = plan.inputStrides.enumerated().map { "\(e.x($0.offset))[\(index($0.element))]" }.joined(separator: " * ")
        w.line("for (int f = 0; f < \(total); ++f) \(e.y(0))[\(index(plan.outputStrides))] += \(product);")
    }

    static let detKernel: CKernel = { e, w in
        guard e.elementType == .float || e.elementType == .double else {
            throw WhittleError(.unsupported, "Det on \(e.elementType.name) is not supported by the C back end")
        }
        let x = try e.inputShape(0), t = try e.cType(output: 0)
        let n = x[x.count - 1], count = x.dropLast(2).reduce(1, *)
        guard count > 0 else { return }
        guard let scratch = e.scratch, n > 0 else {
            w.line("for (int m = 0; m < \(count); ++m) \(e.y(0))[m] = \(e.literal(1));")
            return
        }
        w.line("double *a = (double *)\(scratch);")
        w.block("for (int m = 0; m < \(count); ++m)") { w in
            w.line("double det = 1.0;")
            w.line("for (int k = 0; k < \(n * n); ++k) a[k] = (double)\(e.x(0))[m * \(n * n) + k];")
            w.block("for (int c = 0; c < \(n); ++c)") { w in
                w.line("int pivot = c;")
                w.line("for (int r = c + 1; r < \(n); ++r) if (fabs(a[r * \(n) + c]) > fabs(a[pivot * \(n) + c])) pivot = r;")
                w.line("if (a[pivot * \(n) + c] == 0.0) { det = 0.0; break; }")
                w.line("if (pivot != c) { for (int k = 0; k < \(n); ++k) { const double s = a[c * \(n) + k]; a[c * \(n) + k] = a[pivot * \(n) + k]; a[pivot * \(n) + k] = s; } det = -det; }")
                w.line("det *= a[c * \(n) + c];")
                w.line("for (int r = c + 1; r < \(n); ++r) { const double f = a[r * \(n) + c] / a[c * \(n) + c]; for (int k = c; k < \(n); ++k) a[r * \(n) + k] -= f * a[c * \(n) + k]; }")
            }
            w.line("\(e.y(0))[m] = (\(t))det;")
        }
    }
}
