import CZlib
import Foundation
import WhittleIR

/// A NumPy `.npz` archive: a ZIP file of `.npy` members, stored or deflated.
///
/// Members are listed when the archive is opened and decoded on request, so an
/// archive may hold arrays Whittle cannot read (names as strings, say) as long
/// as they are not asked for.
public struct NPZArchive: Sendable {
    /// Array names in archive order (member names without `.npy`).
    public let names: [String]
    private let members: [String: Member]
    private let bytes: [UInt8]
    private let path: String

    struct Member: Sendable {
        var method: UInt16
        var compressedSize: Int
        var size: Int
        var localHeader: Int
    }

    public init(path: String) throws {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw WhittleError(.io, "cannot read \(path)")
        }
        try self.init(bytes: [UInt8](data), path: path)
    }

    public init(bytes: [UInt8], path: String) throws {
        self.bytes = bytes
        self.path = path
        func u16(_ at: Int) -> Int { Int(bytes[at]) | Int(bytes[at + 1]) << 8 }
        func u32(_ at: Int) -> Int { u16(at) | u16(at + 2) << 16 }
        // The end-of-central-directory record is in the last 64 KiB + 22 bytes.
        guard bytes.count >= 22 else { throw WhittleError(.malformedModel, "\(path): not a .npz (ZIP) file") }
        var eocd = -1
        var at = bytes.count - 22
        let lowest = max(0, bytes.count - 22 - 65535)
        while at >= lowest {
            if bytes[at] == 0x50, bytes[at + 1] == 0x4B, bytes[at + 2] == 5, bytes[at + 3] == 6 { eocd = at; break }
            at -= 1
        }
        guard eocd >= 0 else { throw WhittleError(.malformedModel, "\(path): not a .npz (ZIP) file") }
        let entries = u16(eocd + 10)
        var cursor = u32(eocd + 16)
        var names: [String] = []
        var members: [String: Member] = [:]
        for _ in 0..<entries {
            guard cursor + 46 <= bytes.count, u32(cursor) == 0x0201_4B50 else {
                throw WhittleError(.malformedModel, "\(path): corrupt ZIP central directory")
            }
            let nameLength = u16(cursor + 28), extraLength = u16(cursor + 30), commentLength = u16(cursor + 32)
            guard cursor + 46 + nameLength <= bytes.count else {
                throw WhittleError(.malformedModel, "\(path): corrupt ZIP central directory")
            }
            var name = String(decoding: bytes[(cursor + 46)..<(cursor + 46 + nameLength)], as: UTF8.self)
            let member = Member(method: UInt16(u16(cursor + 10)), compressedSize: u32(cursor + 20), size: u32(cursor + 24),
                                localHeader: u32(cursor + 42))
            if member.compressedSize == 0xFFFF_FFFF || member.size == 0xFFFF_FFFF || member.localHeader == 0xFFFF_FFFF {
                throw WhittleError(.unsupported, "\(path): ZIP64 archives (members over 4 GiB) are not supported")
            }
            if name.hasSuffix(".npy") { name.removeLast(4) }
            names.append(name)
            members[name] = member
            cursor += 46 + nameLength + extraLength + commentLength
        }
        self.names = names
        self.members = members
    }

    /// Decodes the array `name`.
    public func array(_ name: String) throws -> Tensor {
        guard let member = members[name] else {
            throw WhittleError(.usage, "\(path) has no array \"\(name)\" (" + (names.isEmpty ? "it has none" : "it has: \(names.joined(separator: ", "))") + ")")
        }
        func u16(_ at: Int) -> Int { Int(bytes[at]) | Int(bytes[at + 1]) << 8 }
        let local = member.localHeader
        guard local + 30 <= bytes.count else { throw WhittleError(.malformedModel, "\(path): corrupt ZIP member \(name)") }
        let start = local + 30 + u16(local + 26) + u16(local + 28)
        guard start + member.compressedSize <= bytes.count else {
            throw WhittleError(.malformedModel, "\(path): ZIP member \(name) is truncated")
        }
        let raw = Array(bytes[start..<(start + member.compressedSize)])
        let content: [UInt8]
        switch member.method {
        case 0: content = raw
        case 8: content = try Self.inflate(raw, size: member.size, what: "\(path): \(name)")
        default: throw WhittleError(.unsupported, "\(path): ZIP compression method \(member.method) is not supported (stored or deflate only)")
        }
        return try NPYFormat.decode(content, what: "\(path): array \"\(name)\"")
    }

    /// Raw deflate (no zlib header), as ZIP stores it, inflated a piece at a time: the output never
    /// grows past what the array's own .npy header says it holds (a ZIP directory can claim any size,
    /// and a small deflate stream can expand a thousandfold), and it must match the directory's size.
    static func inflate(_ input: [UInt8], size: Int, what: String) throws -> [UInt8] {
        var stream = z_stream()
        guard inflateInit2_(&stream, -15, zlibVersion(), Int32(MemoryLayout<z_stream>.size)) == Z_OK else {
            throw WhittleError(.io, "\(what): cannot start zlib")
        }
        defer { inflateEnd(&stream) }
        var input = input, output: [UInt8] = [], limit: Int?
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        var status = Z_OK
        try input.withUnsafeMutableBufferPointer { inBuffer in
            stream.next_in = inBuffer.baseAddress
            stream.avail_in = uInt(inBuffer.count)
            while status != Z_STREAM_END {
                let produced = chunk.withUnsafeMutableBufferPointer { outBuffer -> Int in
                    stream.next_out = outBuffer.baseAddress
                    stream.avail_out = uInt(outBuffer.count)
                    status = CZlib.inflate(&stream, Z_NO_FLUSH)
                    return outBuffer.count - Int(stream.avail_out)
                }
                guard status == Z_OK || status == Z_STREAM_END, produced > 0 || status == Z_STREAM_END else {
                    throw WhittleError(.malformedModel, "\(what): corrupt deflate data")
                }
                output += chunk[0..<produced]
                if limit == nil, let expected = try NPYFormat.expectedLength(prefix: output) {
                    guard expected == size else {
                        throw WhittleError(.malformedModel, "\(what): the array holds \(expected) bytes but the archive says \(size)")
                    }
                    limit = expected
                }
                if limit == nil && output.count > 1 << 24 {
                    throw WhittleError(.malformedModel, "\(what): no complete .npy header in the first 16 MiB")
                }
                if output.count > limit ?? max(size, 1 << 20) {
                    throw WhittleError(.malformedModel, "\(what): inflates past the \(limit ?? size) bytes it declares")
                }
            }
        }
        guard output.count == size else { throw WhittleError(.malformedModel, "\(what): corrupt deflate data") }
        return output
    }

    /// Writes arrays as an uncompressed `.npz` archive (like `numpy.savez`).
    public static func write(_ arrays: [(String, Tensor)], to path: String) throws {
        var out: [UInt8] = []
        var central: [UInt8] = []
        func le16(_ v: Int) -> [UInt8] { [UInt8(v & 0xFF), UInt8((v >> 8) & 0xFF)] }
        func le32(_ v: Int) -> [UInt8] { le16(v & 0xFFFF) + le16((v >> 16) & 0xFFFF) }
        for (name, tensor) in arrays {
            let data = try NPYFormat.encode(tensor)
            let fileName = Array((name + ".npy").utf8)
            let crc = data.withUnsafeBufferPointer { Int(crc32(0, $0.baseAddress, uInt($0.count))) }
            let offset = out.count
            let common = le16(20) + le16(0) + le16(0) + le16(0) + le16(0x21) + le32(crc) + le32(data.count) + le32(data.count)
                + le16(fileName.count) + le16(0)
            out += le32(0x0403_4B50) + common + fileName + data
            central += le32(0x0201_4B50) + le16(20) + common + le16(0) + le16(0) + le16(0) + le32(0) + le32(offset) + fileName
        }
        let centralOffset = out.count
        out += central
        out += le32(0x0605_4B50) + le16(0) + le16(0) + le16(arrays.count) + le16(arrays.count) + le32(central.count)
            + le32(centralOffset) + le16(0)
        try FileOutput.write(out, to: path)
    }
}
