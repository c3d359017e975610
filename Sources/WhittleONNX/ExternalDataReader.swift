import Foundation
import WhittleIR

/// Reads tensor data that a model keeps in files beside it (`data_location = EXTERNAL`).
///
/// Locations are relative to the model's folder; absolute paths and paths that
/// climb out of the folder with `..` are refused, so a model cannot make
/// Whittle read arbitrary files.
struct ExternalDataReader {
    let baseDirectory: URL

    func read(entries: [(String, String)], expectedBytes: Int) throws -> [UInt8] {
        var location: String?
        var offset = 0
        var length: Int?
        for (key, value) in entries {
            switch key {
            case "location": location = value
            case "offset":
                guard let v = Int(value), v >= 0 else {
                    throw WhittleError(.malformedModel, "external data offset \"\(value)\" is not a non-negative integer")
                }
                offset = v
            case "length":
                guard let v = Int(value), v >= 0 else {
                    throw WhittleError(.malformedModel, "external data length \"\(value)\" is not a non-negative integer")
                }
                length = v
            default: break  // checksum and unknown keys do not change how data is read
            }
        }
        guard let location, !location.isEmpty else {
            throw WhittleError(.malformedModel, "external data has no location")
        }
        if location.hasPrefix("/") || location.hasPrefix("\\") || location.contains(":") {
            throw WhittleError(.malformedModel, "external data location \"\(location)\" is absolute; it must be relative to the model's folder")
        }
        let components = location.split(whereSeparator: { $0 == "/" || $0 == "\\" })
        if components.contains("..") {
            throw WhittleError(.malformedModel, "external data location \"\(location)\" leaves the model's folder")
        }
        if let length, length != expectedBytes {
            throw WhittleError(.malformedModel, "external data length \(length) does not match the \(expectedBytes) bytes the shape needs")
        }
        let url = components.reduce(baseDirectory) { $0.appendingPathComponent(String($1)) }
        try checkInsideFolder(url, location: location)
        guard let handle = FileHandle(forReadingAtPath: url.path) else {
            throw WhittleError(.io, "external data file \"\(location)\" not found next to the model (looked at \(url.path))")
        }
        defer { try? handle.close() }
        let size = (try? handle.seekToEnd()) ?? 0
        guard offset <= size, UInt64(expectedBytes) <= size - UInt64(offset) else {
            throw WhittleError(.malformedModel,
                "external data file \"\(location)\" has \(size) bytes; \(expectedBytes) bytes at offset \(offset) do not fit")
        }
        do {
            try handle.seek(toOffset: UInt64(offset))
            let data = try handle.read(upToCount: expectedBytes) ?? Data()
            guard data.count == expectedBytes else {
                throw WhittleError(.io, "external data file \"\(location)\": short read")
            }
            return [UInt8](data)
        } catch let error as WhittleError {
            throw error
        } catch {
            throw WhittleError(.io, "external data file \"\(location)\": \(error.localizedDescription)")
        }
    }

    /// The file, with every symbolic link resolved, must be a regular file inside the model's
    /// folder (also resolved): a link to a file elsewhere, a device or a FIFO (which would block
    /// the read forever) is refused before it is opened.
    func checkInsideFolder(_ url: URL, location: String) throws {
        guard let folder = realPath(baseDirectory.path) else {
            throw WhittleError(.io, "the model's folder \(baseDirectory.path) cannot be resolved")
        }
        guard let target = realPath(url.path) else {
            throw WhittleError(.io, "external data file \"\(location)\" not found next to the model (looked at \(url.path))")
        }
        let prefix = folder.hasSuffix("/") ? folder : folder + "/"
        guard target.hasPrefix(prefix) else {
            throw WhittleError(.malformedModel, "external data location \"\(location)\" leaves the model's folder (it resolves to \(target))")
        }
        var info = stat()
        guard stat(target, &info) == 0 else {
            throw WhittleError(.io, "external data file \"\(location)\" cannot be read")
        }
        guard info.st_mode & S_IFMT == S_IFREG else {
            throw WhittleError(.malformedModel, "external data location \"\(location)\" is not a regular file")
        }
    }

    func realPath(_ path: String) -> String? {
        guard let resolved = realpath(path, nil) else { return nil }
        defer { free(resolved) }
        return String(cString: resolved)
    }
}
