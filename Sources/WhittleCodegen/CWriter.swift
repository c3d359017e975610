import Foundation
import WhittleIR

/// Builds C source text line by line with indentation.
struct CWriter {
    private(set) var lines: [String] = []
    private var depth = 0

    mutating func line(_ text: String = "") {
        lines.append(text.isEmpty ? "" : String(repeating: "    ", count: depth) + text)
    }

    mutating func lines(_ texts: [String]) { texts.forEach { line($0) } }

    /// `header {` … `}` with the body indented.
    mutating func block(_ header: String, _ body: (inout CWriter) throws -> Void) rethrows {
        line(header + " {")
        depth += 1
        try body(&self)
        depth -= 1
        line("}")
    }

    /// `header {` with what follows indented, until `close()`.
    mutating func open(_ header: String) {
        line(header + " {")
        depth += 1
    }

    mutating func close() {
        depth -= 1
        line("}")
    }

    var text: String { lines.joined(separator: "\n") + "\n" }
}

/// C spellings of types and constants.
enum CSyntax {
    /// The C type that stores `type`; nil for types the back end does not emit.
    static func type(_ type: ElementType) -> String? {
        switch type {
        case .float: "float"
        case .double: "double"
        case .int8: "int8_t"
        case .uint8, .bool: "uint8_t"
        case .int16: "int16_t"
        // 16-bit floats are stored as their bit patterns; kernels compute on them in float.
        case .uint16, .float16, .bfloat16: "uint16_t"
        // 8- and 4-bit floats as their codes; 4- and 2-bit types packed into bytes as ONNX stores them.
        case .float8e4m3fn, .float8e4m3fnuz, .float8e5m2, .float8e5m2fnuz, .float8e8m0, .float4e2m1, .int4, .uint4, .int2, .uint2: "uint8_t"
        case .int32: "int32_t"
        case .uint32: "uint32_t"
        case .int64: "int64_t"
        case .uint64: "uint64_t"
        default: nil
        }
    }

    /// A float32 constant, exact and readable: `%.9g` round-trips every float32.
    static func float(_ value: Float) -> String {
        if value.isNaN { return "NAN" }
        if value.isInfinite { return value < 0 ? "-INFINITY" : "INFINITY" }
        var text = String(format: "%.9g", Double(value))
        if !text.contains(".") && !text.contains("e") { text += ".0" }
        return text + "f"
    }

    /// A float64 constant (`%.17g` round-trips every double).
    static func double(_ value: Double) -> String {
        if value.isNaN { return "NAN" }
        if value.isInfinite { return value < 0 ? "-INFINITY" : "INFINITY" }
        var text = String(format: "%.17g", value)
        if !text.contains(".") && !text.contains("e") { text += ".0" }
        return text
    }

    /// A constant of `type` written in the type's own C form.
    static func constant(_ value: Double, _ type: ElementType) -> String {
        switch type {
        case .float: return float(Float(value))
        case .double: return double(value)
        default: return integer(NDArray.integer(from: value, as: type), type)
        }
    }

    /// An integer constant of `type` (the most negative int64 cannot be written as a literal).
    static func integer(_ value: Int64, _ type: ElementType) -> String {
        switch type {
        case .int64: return value == .min ? "INT64_MIN" : "INT64_C(\(value))"
        case .uint64: return "UINT64_C(\(UInt64(bitPattern: value)))"
        case .uint32: return "\(UInt32(truncatingIfNeeded: value))u"
        case .int32: return value == Int64(Int32.min) ? "INT32_MIN" : "\(value)"
        default: return "\(value)"
        }
    }

    /// The shortest decimal that reads back as the same float (`0.1f`, `1e-05f`): exact and compact.
    static func shortFloat(_ value: Float) -> String {
        if value.isNaN || value.isInfinite { return float(value) }
        var text = value.description
        if !text.contains(".") && !text.contains("e") { text += ".0" }
        return text + "f"
    }

    /// The shortest decimal that reads back as the same double.
    static func shortDouble(_ value: Double) -> String {
        if value.isNaN || value.isInfinite { return double(value) }
        var text = value.description
        if !text.contains(".") && !text.contains("e") { text += ".0" }
        return text
    }

    /// Exact hex float (`0x1.8p+1f`).
    static func hexFloat(_ value: Float) -> String {
        if value.isNaN || value.isInfinite { return float(value) }
        return String(format: "%a", Double(value)) + "f"
    }

    static func hexDouble(_ value: Double) -> String {
        if value.isNaN || value.isInfinite { return double(value) }
        return String(format: "%a", value)
    }

    /// Every C identifier in `text`, found in one pass (a node with 100,000 inputs would make a
    /// search per input quadratic).
    static func identifiers(in text: String) -> Set<String> {
        var result = Set<String>()
        var current: [UInt8] = []
        func flush() {
            if let first = current.first, !(first >= 48 && first <= 57) { result.insert(String(decoding: current, as: UTF8.self)) }
            current.removeAll(keepingCapacity: true)
        }
        for c in text.utf8 {
            if (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c == 95 { current.append(c) } else { flush() }
        }
        flush()
        return result
    }

    /// A C identifier from any text: letters, digits and `_` kept, others become `_`; never starts with a digit.
    static func identifier(_ text: String) -> String {
        var out = String(text.unicodeScalars.map { s -> Character in
            let c = Character(s)
            return c.isASCII && (c.isLetter || c.isNumber) ? c : "_"
        })
        while out.contains("__") { out = out.replacingOccurrences(of: "__", with: "_") }
        out = String(out.drop { $0 == "_" })
        while out.hasSuffix("_") { out.removeLast() }
        if out.isEmpty { out = "v" }
        if let first = out.first, first.isNumber { out = "v" + out }
        return out
    }
}
