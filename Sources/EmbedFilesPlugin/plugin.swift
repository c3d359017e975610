import Foundation
import PackagePlugin

/// Compiles text files into the target that needs them at run time: the kernel library's C files
/// into WhittleCodegen (`KernelSources`), the `Targets/` folder into WhittleKit (`EmbeddedTargets`).
/// The files stay the one copy; the Swift that carries them is written into the build folder.
@main
struct EmbedFiles: BuildToolPlugin {
    /// The kernel library's files in the order their definitions are copied into a model's C:
    /// the header, then each file after those it calls.
    static let kernelFiles = ["whittle_kernels.h", "requantize.c", "conv_s8.c", "conv_tiles.c", "conv_s8_tiles.c", "conv_f32.c",
                              "conv_f32_tiles.c", "sparse_gemv.c", "sparse_conv.c", "binary.c", "recurrent.c", "half.c", "minifloat.c"]

    func createBuildCommands(context: PluginContext, target: Target) throws -> [Command] {
        let tool = try context.tool(named: "whittle-embed")
        switch target.name {
        case "WhittleCodegen":
            let root = context.package.directoryURL.appendingPathComponent("Sources/WhittleCodegen/CKernels")
            let files = Self.kernelFiles.map { root.appendingPathComponent($0) }
            return [command(tool: tool.url, type: "KernelSources", field: "name", root: root, files: files, context: context)]
        case "WhittleKit":
            let root = context.package.directoryURL.appendingPathComponent("Targets")
            return [command(tool: tool.url, type: "EmbeddedTargets", field: "path", root: root, files: try Self.files(under: root), context: context)]
        default:
            throw PluginError("EmbedFiles does not know what to embed in \(target.name)")
        }
    }

    func command(tool: URL, type: String, field: String, root: URL, files: [URL], context: PluginContext) -> Command {
        let output = context.pluginWorkDirectoryURL.appendingPathComponent("\(type).swift")
        return .buildCommand(displayName: "Embedding \(files.count) files as \(type)", executable: tool,
                             arguments: [type, field, output.path, root.path] + files.map(\.path),
                             inputFiles: files, outputFiles: [output])
    }

    /// Every file under `root` but its README and helper scripts, sorted by relative path.
    static func files(under root: URL) throws -> [URL] {
        guard let walker = FileManager.default.enumerator(at: root, includingPropertiesForKeys: [.isRegularFileKey]) else {
            throw PluginError("cannot list \(root.path)")
        }
        var files: [URL] = []
        for case let url as URL in walker where (try url.resourceValues(forKeys: [.isRegularFileKey])).isRegularFile == true {
            guard url.lastPathComponent != "README.md", url.pathExtension != "py" else { continue }
            files.append(url)
        }
        return files.sorted { $0.path < $1.path }
    }
}

struct PluginError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
