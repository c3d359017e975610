import Foundation

/// Whittle's hand-written C kernels (`Sources/WhittleCodegen/CKernels`), carried inside the
/// binary. Generated code calls them by name; `source(for:)` gives the definitions a model
/// needs, with everything they call, to be copied into the model's own C file as `static`
/// functions, so a model stays one self-contained translation unit.
public enum KernelLibrary {
    /// One top-level definition of the library: a function or a typedef, with the comment above it.
    struct Definition {
        var name: String
        var file: String
        var text: String
    }

    /// Every definition, in copy order: typedefs of the header, then each source file's functions.
    static let definitions: [Definition] = KernelSources.files.flatMap { parse($0.text, file: $0.name) }

    static let byName: [String: Int] = Dictionary(definitions.enumerated().map { ($1.name, $0) }) { first, _ in first }

    /// The library's files (header and sources), as shipped.
    public static var files: [(name: String, text: String)] { KernelSources.files }

    /// Names of the library's kernels and helpers.
    public static var names: [String] { definitions.map(\.name) }

    /// The C text that defines the library kernels `code` calls, and what they call in turn,
    /// in library order; empty when it calls none.
    public static func source(for code: String) -> String {
        var needed = Set<Int>(), pending = references(in: code)
        while let index = pending.popFirst() {
            guard needed.insert(index).inserted else { continue }
            pending.formUnion(references(in: definitions[index].text).subtracting(needed))
        }
        guard !needed.isEmpty else { return "" }
        var lines = ["/* Kernels of Whittle's kernel library, copied here so that this file stands alone. */",
                     "#define WHITTLE_KERNEL static", ""]
        for index in needed.sorted() { lines += [definitions[index].text, ""] }
        return lines.joined(separator: "\n")
    }

    /// The library kernels (`WHITTLE_KERNEL` functions, not helpers or types) that `text` calls, sorted.
    public static func called(in text: String) -> [String] { called(identifiers: CSyntax.identifiers(in: text)) }

    /// The library kernels among `identifiers` (the names a piece of C uses), sorted.
    static func called(identifiers: Set<String>) -> [String] {
        Set(identifiers.compactMap { byName[$0] }).map { definitions[$0] }.filter { $0.text.contains("WHITTLE_KERNEL ") }.map(\.name).sorted()
    }

    /// Kernels that generated loops call to round or requantize one value (the library's arithmetic,
    /// not a layer's kernel).
    public static let roundingHelpers: Set<String> = ["whittle_round_small", "whittle_requantize"]

    /// Library definitions named in `text`.
    static func references(in text: String) -> Set<Int> {
        Set(CSyntax.identifiers(in: text).compactMap { byName[$0] })
    }

    /// Splits a C file into definitions. The layout is the library's convention: a definition
    /// starts at column 0 (after its comment) and ends with a line that is `}` (functions) or
    /// `} name;` (typedefs). Prototypes, preprocessor lines and the file comment are skipped.
    static func parse(_ text: String, file: String) -> [Definition] {
        var result: [Definition] = []
        var comment: [String] = [], body: [String] = [], head: [String] = [], inComment = false
        // Preprocessor lines of a source file (such as an intrinsics header behind #if) go with the next definition.
        var preamble: [String] = []
        for line in text.components(separatedBy: "\n") {
            if !body.isEmpty {
                body.append(line)
                if line == "}" || (line.hasPrefix("} ") && line.hasSuffix(";")) {
                    if let name = definitionName(body) {
                        result.append(Definition(name: name, file: file, text: (preamble + comment + body).joined(separator: "\n")))
                    }
                    body = []
                    comment = []
                    preamble = []
                }
                continue
            }
            if file.hasSuffix(".c"), line.hasPrefix("#"), !inComment {
                if !line.contains("\"whittle_kernels.h\"") { preamble.append(line) }
                comment = []
                continue
            }
            if !head.isEmpty {
                // A declaration's first lines: a definition when it opens a body, a prototype when it ends with `;`.
                head.append(line)
                if line.hasSuffix("{") { body = head; head = [] } else if line.hasSuffix(";") { head = []; comment = [] }
                continue
            }
            if inComment || line.hasPrefix("/*") {
                if !inComment { comment = [] }
                comment.append(line)
                inComment = !line.contains("*/")
                continue
            }
            if line.hasPrefix("typedef struct") || line.hasPrefix("typedef union") || (!line.hasPrefix(" ") && !line.hasPrefix("#") && line.contains("(")) {
                if line.hasSuffix("{") { body = [line] } else if line.hasSuffix(";") { comment = [] } else { head = [line] }
            } else if !line.isEmpty && !line.hasPrefix(" ") {
                comment = [] // a preprocessor line ends the comment's claim (the file's own comment)
            }
        }
        return result
    }

    /// The name a definition introduces: the typedef's name, or the function's.
    static func definitionName(_ body: [String]) -> String? {
        if body[0].hasPrefix("typedef"), let last = body.last {
            return String(last.dropFirst(2).dropLast()).trimmingCharacters(in: .whitespaces)
        }
        guard let open = body[0].firstIndex(of: "(") else { return nil }
        let head = body[0][..<open]
        return head.split(whereSeparator: { $0 == " " || $0 == "*" }).last.map(String.init)
    }
}
