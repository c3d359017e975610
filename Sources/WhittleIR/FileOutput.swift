import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Writes files for every command, all or nothing: each file goes to a temporary name in its own
/// folder and is renamed into place only when every file of the set is complete, so a full disk, a
/// read-only folder or a name taken by a folder never leaves a truncated or half-updated output.
/// Errors give the path and the system's reason (no space left, read-only file system, permission).
public enum FileOutput {
    public static func write(_ data: Data, to path: String) throws {
        try write([(path, data)])
    }

    public static func write(_ bytes: [UInt8], to path: String) throws { try write(Data(bytes), to: path) }

    /// Writes every `(path, data)` or none of them: on any failure the temporary files are removed
    /// and no existing file is replaced.
    public static func write(_ files: [(path: String, data: Data)]) throws {
        for (path, _) in files { try checkDestination(path) }
        var written: [(temporary: String, path: String)] = []
        defer { for (temporary, _) in written { unlink(temporary) } }
        for (path, data) in files {
            // A device or a pipe (`-o /dev/stdout`) is written as it is: renaming over it would replace it.
            var status = stat()
            if stat(path, &status) == 0 && (status.st_mode & S_IFMT) != S_IFREG {
                try writeFile(data, to: path, reportedAs: path, create: false)
                continue
            }
            let temporary = temporaryName(for: path)
            written.append((temporary, path))
            try writeFile(data, to: temporary, reportedAs: path)
        }
        for (index, (temporary, path)) in written.enumerated() where rename(temporary, path) != 0 {
            let reason = String(cString: strerror(errno))
            // The files renamed so far are complete; the rest stay as they were.
            written.removeFirst(index)
            throw WhittleError(.io, "cannot write \(path): \(reason)")
        }
        written.removeAll()
    }

    /// Refuses a destination that is a folder or whose folder does not exist, before anything is written.
    static func checkDestination(_ path: String) throws {
        var isFolder: ObjCBool = false
        if path.hasSuffix("/") || (FileManager.default.fileExists(atPath: path, isDirectory: &isFolder) && isFolder.boolValue) {
            throw WhittleError(.io, "cannot write \(path): it is a folder; give a file name")
        }
        let parent = URL(fileURLWithPath: path).deletingLastPathComponent().path
        if !FileManager.default.fileExists(atPath: parent, isDirectory: &isFolder) || !isFolder.boolValue {
            throw WhittleError(.io, "cannot write \(path): the folder \(parent) does not exist")
        }
    }

    /// A name beside `path` that no other process writing the same file uses.
    static func temporaryName(for path: String) -> String {
        let url = URL(fileURLWithPath: path)
        return url.deletingLastPathComponent().appendingPathComponent(".\(url.lastPathComponent).\(getpid()).partial").path
    }

    /// Writes `data` to `target` (a new file, or with `create` false an existing device or pipe) with
    /// POSIX calls, so a failure carries errno.
    static func writeFile(_ data: Data, to target: String, reportedAs path: String, create: Bool = true) throws {
        func failure() -> WhittleError { WhittleError(.io, "cannot write \(path): \(String(cString: strerror(errno)))") }
        let descriptor = create ? open(target, O_WRONLY | O_CREAT | O_TRUNC, 0o644) : open(target, O_WRONLY)
        guard descriptor >= 0 else { throw failure() }
        var error: WhittleError?
        data.withUnsafeBytes { (buffer: UnsafeRawBufferPointer) in
            var offset = 0
            while offset < buffer.count, let base = buffer.baseAddress {
                let count = posixWrite(descriptor, base + offset, buffer.count - offset)
                if count < 0 {
                    if errno == EINTR { continue }
                    error = failure()
                    return
                }
                offset += count
            }
        }
        // close reports the errors some file systems only detect when the data is flushed.
        if close(descriptor) != 0 && error == nil { error = failure() }
        if let error { throw error }
    }
}

/// POSIX write(2), named apart from `FileOutput.write`.
private func posixWrite(_ descriptor: Int32, _ bytes: UnsafeRawPointer, _ count: Int) -> Int {
    write(descriptor, bytes, count)
}
