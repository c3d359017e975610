import Foundation

/// Writes files for every command, with the reason when it cannot: a folder given as a file name,
/// a folder that does not exist, or the system's own reason (permission, full disk).
public enum FileOutput {
    public static func write(_ data: Data, to path: String) throws {
        var isFolder: ObjCBool = false
        if path.hasSuffix("/") || (FileManager.default.fileExists(atPath: path, isDirectory: &isFolder) && isFolder.boolValue) {
            throw WhittleError(.io, "cannot write \(path): it is a folder; give a file name")
        }
        do {
            try data.write(to: URL(fileURLWithPath: path))
        } catch {
            let parent = URL(fileURLWithPath: path).deletingLastPathComponent().path
            if !FileManager.default.fileExists(atPath: parent) {
                throw WhittleError(.io, "cannot write \(path): the folder \(parent) does not exist")
            }
            let code = ((error as NSError).userInfo[NSUnderlyingErrorKey] as? NSError)?.code
            throw WhittleError(.io, "cannot write \(path)" + (code.map { ": " + String(cString: strerror(Int32($0))) } ?? ""))
        }
    }

    public static func write(_ bytes: [UInt8], to path: String) throws { try write(Data(bytes), to: path) }
}
