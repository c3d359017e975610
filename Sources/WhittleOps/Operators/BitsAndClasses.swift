import WhittleIR

/// BitShift on integers, and IsInf/IsNaN, which classify floating-point values.
enum BitsAndClassesOperators {
    static var all: [OperatorDefinition] { [bitShift, classify("IsInf"), classify("IsNaN"), bitCast] }
    static var kernels: [String: Kernel] {
        ["BitShift": bitShiftKernel, "IsInf": classifyKernel, "IsNaN": classifyKernel, "BitCast": bitCastKernel]
    }

    /// The same bits read as another type of the same width.
    static let bitCast = OperatorDefinition("BitCast", infer: { ctx in
        try ctx.expectInputs(1, 1)
        let x = try ctx.type(0)
        guard let to = try ctx.elementType("to"), to.isSupported, to != .string else {
            throw WhittleError(.invalidAttribute, "BitCast needs a supported type in to")
        }
        guard to.byteWidth == x.elementType.byteWidth else {
            throw WhittleError(.shapeMismatch, "BitCast from \(x.elementType.name) to \(to.name): the widths differ")
        }
        return [TensorType(to, try ctx.shape(0))]
    })

    static let bitCastKernel: Kernel = { ctx in
        let x = try ctx.input(0).tensor()
        return [NDArray(try Tensor(elementType: ctx.outputType(0), shape: x.shape, bytes: x.bytes))]
    }

    static let bitShift = OperatorDefinition("BitShift", infer: { ctx in
        try ctx.expectInputs(2, 2)
        let a = try ctx.type(0), b = try ctx.type(1)
        guard a.elementType.isInteger, a.elementType == b.elementType else {
            throw WhittleError(.shapeMismatch, "BitShift takes two tensors of one integer type, found \(a.elementType.name) and \(b.elementType.name)")
        }
        let direction = try ctx.string("direction") ?? ""
        guard direction == "LEFT" || direction == "RIGHT" else {
            throw WhittleError(.invalidAttribute, "direction must be LEFT or RIGHT, found \"\(direction)\"")
        }
        return [TensorType(a.elementType, try ElementwiseOperators.broadcastShape(ctx.shape(0), ctx.shape(1)))]
    })

    static func classify(_ name: String) -> OperatorDefinition {
        OperatorDefinition(name, infer: { ctx in
            try ctx.expectInputs(1, 1)
            let x = try ctx.type(0)
            guard x.elementType.isFloatingPoint else { throw WhittleError(.shapeMismatch, "\(name) takes floating-point tensors") }
            return [TensorType(.bool, try ctx.shape(0))]
        })
    }

    /// Shifts by the type's width or more (or by a negative amount) give 0, or the sign for a
    /// signed right shift; unsigned right shifts bring in zeros.
    static func shift(_ value: Int64, by amount: Int64, left: Bool, type: ElementType) -> Int64 {
        let width = Int64((type.byteWidth ?? 8) * 8)
        let signed = type.integerRange.0 < 0
        if amount < 0 || amount >= width {
            return left || !signed ? 0 : (value < 0 ? -1 : 0)
        }
        if left { return value << amount }
        if signed { return value >> amount }
        // Unsigned values are held non-negative except uint64, whose bit pattern is kept.
        return Int64(bitPattern: UInt64(bitPattern: value) >> UInt64(amount))
    }

    static let bitShiftKernel: Kernel = { ctx in
        let a = try ctx.input(0), b = try ctx.input(1)
        let shape = try ctx.outputShape(0)
        let left = try ctx.node.string("direction") == "LEFT"
        let ai = Indexing.broadcast(from: a.shape, to: shape), bi = Indexing.broadcast(from: b.shape, to: shape)
        let av = a.ints, bv = b.ints
        let type = a.elementType
        // uint64 shift amounts above 2^63 are held negative; they are beyond the width either way.
        let out = (0..<shape.reduce(1, *)).map { shift(av[ai[$0]], by: bv[bi[$0]], left: left, type: type) }
        return [NDArray(type, shape: shape, ints: out)]
    }

    static let classifyKernel: Kernel = { ctx in
        let x = try ctx.input(0)
        let out: [Int64]
        if ctx.node.node.opType == "IsNaN" {
            out = x.doubles.map { $0.isNaN ? 1 : 0 }
        } else {
            let negative = try ctx.node.int("detect_negative", default: 1) != 0
            let positive = try ctx.node.int("detect_positive", default: 1) != 0
            out = x.doubles.map { $0.isInfinite && ($0 > 0 ? positive : negative) ? 1 : 0 }
        }
        return [NDArray(.bool, shape: x.shape, ints: out)]
    }
}
