import WhittleIR

/// Index arithmetic shared by the kernels.
public enum Indexing {
    /// For each element of `output`, the flat index of the element of `input` it reads under broadcasting.
    public static func broadcast(from input: [Int], to output: [Int]) -> [Int] {
        ConstantFolding.broadcastIndices(from: input, to: output)
    }

    /// Splits `shape` at `axis` into (outer, axis size, inner) element counts.
    public static func split(_ shape: [Int], at axis: Int) -> (outer: Int, size: Int, inner: Int) {
        (shape[..<axis].reduce(1, *), shape[axis], shape[(axis + 1)...].reduce(1, *))
    }

    /// Pads for each spatial axis (begin, end) after resolving `auto_pad`, given input and output sizes.
    public static func resolvedPads(autoPad: String, pads: [Int], input: [Int], output: [Int], kernel: [Int],
                                    strides: [Int], dilations: [Int]) -> (begin: [Int], end: [Int]) {
        let n = input.count
        switch autoPad {
        case "SAME_UPPER", "SAME_LOWER":
            var begin = [Int](repeating: 0, count: n), end = begin
            for i in 0..<n {
                let span = (kernel[i] - 1) * dilations[i] + 1
                let total = Swift.max(0, (output[i] - 1) * strides[i] + span - input[i])
                let small = total / 2
                begin[i] = autoPad == "SAME_UPPER" ? small : total - small
                end[i] = total - begin[i]
            }
            return (begin, end)
        case "VALID":
            return ([Int](repeating: 0, count: n), [Int](repeating: 0, count: n))
        default:
            return (Array(pads[0..<n]), Array(pads[n..<(2 * n)]))
        }
    }
}
