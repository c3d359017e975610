import ONNXProto

// Small helpers for reading protobuf-c structs from Swift. protobuf-c leaves absent
// proto2 strings NULL, and repeated messages are arrays of pointers.

/// A C string field as a Swift String ("" when absent).
@inline(__always)
func text(_ pointer: UnsafeMutablePointer<CChar>?) -> String {
    pointer.map { String(cString: $0) } ?? ""
}

/// A repeated message field as an array of structs.
func messages<T>(_ base: UnsafeMutablePointer<UnsafeMutablePointer<T>?>?, _ count: Int) -> [T] {
    guard let base else { return [] }
    return (0..<count).compactMap { base[$0]?.pointee }
}

/// A repeated string field.
func texts(_ base: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?, _ count: Int) -> [String] {
    guard let base else { return [] }
    return (0..<count).map { text(base[$0]) }
}

/// A repeated scalar field.
func scalars<T>(_ base: UnsafeMutablePointer<T>?, _ count: Int) -> [T] {
    guard let base, count > 0 else { return [] }
    return Array(UnsafeBufferPointer(start: base, count: count))
}

/// A `bytes` field copied out.
func bytes(_ data: ProtobufCBinaryData) -> [UInt8] {
    guard let pointer = data.data, data.len > 0 else { return [] }
    return Array(UnsafeBufferPointer(start: pointer, count: data.len))
}

/// A `bytes` field read as (possibly invalid) UTF-8 text.
func bytesText(_ data: ProtobufCBinaryData) -> String {
    String(decoding: bytes(data), as: UTF8.self)
}
