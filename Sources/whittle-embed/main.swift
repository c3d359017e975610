// Writes a Swift file that carries text files as string constants, for the EmbedFiles build-tool
// plugin: the kernel library's C files (WhittleCodegen) and the target descriptions (WhittleKit) are
// compiled into the binary from the files themselves, so the copies cannot drift from them.
//
//   whittle-embed TYPE FIELD OUTPUT.swift ROOT FILE...
//
// writes `enum TYPE { static let files: [(FIELD: String, text: String)] }` with each FILE's path
// relative to ROOT and its text, in the order given.
import Foundation

func fail(_ message: String) -> Never {
    FileHandle.standardError.write(Data("whittle-embed: \(message)\n".utf8))
    exit(1)
}

let arguments = CommandLine.arguments
guard arguments.count >= 5 else { fail("usage: whittle-embed TYPE FIELD OUTPUT.swift ROOT FILE...") }
let (type, field, output, root) = (arguments[1], arguments[2], arguments[3], arguments[4])
let prefix = root.hasSuffix("/") ? root : root + "/"
var lines = ["// Generated at build time by whittle-embed from the files it names. Do not edit.", "",
             "enum \(type) {", "    static let files: [(\(field): String, text: String)] = ["]
for file in arguments.dropFirst(5) {
    guard file.hasPrefix(prefix) else { fail("\(file) is not under \(root)") }
    guard let data = FileManager.default.contents(atPath: file), let text = String(data: data, encoding: .utf8) else {
        fail("cannot read \(file) as UTF-8")
    }
    // A raw string whose delimiter the text does not contain, however many # that takes.
    var hashes = "#"
    while text.contains("\"\"\"" + hashes) || text.contains("\"" + hashes) { hashes += "#" }
    var body = text
    while body.hasSuffix("\n") { body.removeLast() }
    lines.append("        (\"\(file.dropFirst(prefix.count))\", \(hashes)\"\"\"")
    lines.append(contentsOf: body.components(separatedBy: "\n"))
    lines.append("\"\"\"\(hashes)),")
}
lines += ["    ]", "}", ""]
do {
    try Data(lines.joined(separator: "\n").utf8).write(to: URL(fileURLWithPath: output), options: .atomic)
} catch {
    fail("cannot write \(output): \(error)")
}
