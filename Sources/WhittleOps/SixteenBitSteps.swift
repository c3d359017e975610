import Foundation
import WhittleIR

/// Arithmetic in a 16-bit float type carried out step by step, each step rounded to the type, as ONNX's
/// reference computes Softmax and Attention on float16 and bfloat16 tensors: products and sums of a dot
/// product accumulate in float32 and round once; a float16 reduction sums in float32, a bfloat16 one
/// rounds after every addition.
enum SixteenBitSteps {
    /// Rounds to `type` for the 16-bit floats, to float32 for float, and not at all for double.
    static func rounding(_ type: ElementType) -> (Double) -> Double {
        switch type {
        case .float16: return { Double(HalfFloat.float(fromBits: HalfFloat.bits(fromFloat: Float($0)))) }
        case .bfloat16: return { Double(NDArray.roundToBFloat16(Float($0))) }
        case .double: return { $0 }
        default: return { Double(Float($0)) }
        }
    }

    static func isSixteenBit(_ type: ElementType) -> Bool { type == .float16 || type == .bfloat16 }

    /// The sum of `values` (already of `type`) as the reference reduces them.
    static func sum(_ values: [Double], _ type: ElementType) -> Double {
        let round = rounding(type)
        if type == .bfloat16 { return values.reduce(0) { round($0 + $1) } }
        return round(Double(values.reduce(Float(0)) { $0 + Float($1) }))
    }

    /// Softmax of one row in `type`: shift by the maximum, exponentiate, sum and divide, rounding each step.
    /// A row whose maximum is -inf is shifted by zero.
    static func softmax(_ row: [Double], _ type: ElementType) -> [Double] {
        let round = rounding(type)
        let top = row.max() ?? 0, shift = top == -.infinity ? 0 : top
        let exps = row.map { round(Foundation.exp(round($0 - shift))) }
        let total = sum(exps, type)
        return exps.map { round($0 / (total == 0 ? 1 : total)) }
    }
}
