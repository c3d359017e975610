import Foundation
import WhittleIR

/// Builds C source text line by line with indentation.
struct CWriter {
    private(set) var lines: [String] = []
    private var depth = 0

    mutating func line(_ text: String = "") {
        lines.append(text.isEmpty ? "" : String(repeating: "    ", count: depth) + Self.voided(Self.braced(Self.tidy(text))))
    }

    mutating func lines(_ texts: [String]) { texts.forEach { line($0) } }

    /// Lines kept exactly as given (the kernel library's own text).
    mutating func verbatim(_ texts: [String]) { lines += texts }

    /// Zero offsets and unit strides that the templates fill in (`base + 0`, `k * 1`, `oh * 2 - 0`,
    /// `x[0 + r]`) are dropped: MISRA C:2012 Rule 2.2 counts such operations as dead code. Only a `0` or `1` that
    /// is a whole operand followed by a closing bracket, a separator or an operator of lower (or, for
    /// `* 1`, equal) precedence is dropped, so the value of the expression is unchanged. Comment
    /// lines are left as they are.
    static func tidy(_ text: String) -> String {
        guard text.contains(" + 0") || text.contains(" - 0") || text.contains(" * 1") || text.contains("0 + ") || text.contains("1 * ") else { return text }
        let trimmed = text.drop { $0 == " " }
        if trimmed.hasPrefix("/*") || trimmed.hasPrefix("*") || trimmed.hasPrefix("//") { return text }
        var result = text
        for (pattern, after) in [(" + 0", Self.afterSum), (" - 0", Self.afterSum), (" * 1", Self.afterProduct)] {
            var searchStart = result.startIndex
            while let range = result.range(of: pattern, range: searchStart..<result.endIndex) {
                let rest = result[range.upperBound...]
                // The operator must follow an operand (a name, a number or a closing bracket), not be unary.
                let before = range.lowerBound > result.startIndex ? result[result.index(before: range.lowerBound)] : " "
                let operand = before.isLetter || before.isNumber || before == "_" || before == ")" || before == "]"
                if operand && (rest.isEmpty || after.contains(where: { rest.hasPrefix($0) })) {
                    let offset = result.distance(from: result.startIndex, to: range.lowerBound)
                    result.removeSubrange(range)
                    searchStart = result.index(result.startIndex, offsetBy: offset)
                } else {
                    searchStart = range.upperBound
                }
            }
        }
        // A leading `0 + x` or `1 * x` right after an opening bracket, `=`, `,` or `?`/`:`: the rest of
        // the operand binds at least as tightly, so dropping it keeps the value.
        for opener in ["[", "(", "= ", ", ", "? ", ": "] {
            for unit in ["0 + ", "1 * "] where result.contains(opener + unit) {
                result = result.replacingOccurrences(of: opener + unit, with: opener)
            }
        }
        return result
    }

    /// A call of `memcpy`, `memmove` or `memset` that is a whole statement has its result (the
    /// destination, which the code already holds) discarded explicitly, as MISRA C:2012 Rule 17.7 asks.
    static func voided(_ text: String) -> String {
        guard text.contains("mem") else { return text }
        var result = text
        for call in ["memcpy(", "memmove(", "memset("] {
            let indent = result.prefix { $0 == " " }
            if result.dropFirst(indent.count).hasPrefix(call) { result = String(indent) + "(void)" + result.dropFirst(indent.count) }
            result = result.replacingOccurrences(of: "{ " + call, with: "{ (void)" + call)
        }
        return result
    }

    /// A one-line `for`/`while`/`if`/`else` whose body is a single statement gets braces around it
    /// (`for (...) { x; }`; nested ones too), as MISRA C:2012 Rule 15.6 asks of every body.
    static func braced(_ text: String) -> String {
        let indent = text.prefix { $0 == " " }
        var rest = Substring(text.dropFirst(indent.count))
        var head = ""
        if rest.hasPrefix("} ") { head = "} "; rest = rest.dropFirst(2) }
        guard rest.hasSuffix(";") || rest.hasSuffix("}") else { return text }
        return String(indent) + head + bracedStatement(rest)
    }

    /// `statement` with the bodies of its leading control headers braced; at most a few levels deep
    /// (the templates nest two), left as it is when its brackets do not match.
    private static func bracedStatement(_ statement: Substring, level: Int = 0) -> String {
        guard level < 8 else { return String(statement) }
        var header = ""
        var rest = statement
        if rest.hasPrefix("else ") && !rest.hasPrefix("else if (") && !rest.hasPrefix("else {") {
            return "else { " + bracedStatement(rest.dropFirst(5), level: level + 1) + " }"
        }
        if rest.hasPrefix("else if (") { header = "else "; rest = rest.dropFirst(5) }
        guard let keyword = ["for (", "while (", "if ("].first(where: { rest.hasPrefix($0) }) else { return String(statement) }
        // The header's closing parenthesis.
        var depth = 0
        var close: Substring.Index?
        var index = rest.index(rest.startIndex, offsetBy: keyword.count - 1)
        while index < rest.endIndex {
            if rest[index] == "(" { depth += 1 } else if rest[index] == ")" { depth -= 1; if depth == 0 { close = index; break } }
            index = rest.index(after: index)
        }
        guard let close else { return String(statement) }
        let condition = rest[...close]
        let body = rest[rest.index(after: close)...].drop { $0 == " " }
        // A body with its own `else` on the line is left whole (the check reports it).
        guard !body.isEmpty, !body.hasPrefix("{"), body.hasSuffix(";"), !body.contains(" else ") else { return String(statement) }
        return header + condition + " { " + bracedStatement(body, level: level + 1) + " }"
    }

    /// What may follow a dropped `+ 0` or `- 0`: closers, separators, and operators that bind less than `+`.
    private static let afterSum = [")", "]", ";", ",", " + ", " - ", " ? ", " : ", " < ", " > ", " <= ", " >= ", " == ", " != ",
                                   " & ", " | ", " ^ ", " && ", " || ", " << ", " >> ", " )"]
    /// What may follow a dropped `* 1`: as for sums, and the multiplicative operators (left to right).
    private static let afterProduct = afterSum + [" * ", " / ", " % "]

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
