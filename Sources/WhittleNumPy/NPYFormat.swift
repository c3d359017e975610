import WhittleIR

/// Reads and writes NumPy's `.npy` format (versions 1.0, 2.0 and 3.0).
///
/// Supported dtypes: float16/32/64, int8/16/32/64, uint8/16/32/64 and bool, in
/// either byte order, C order only. Other dtypes (objects, strings, Fortran
/// order) are refused with the reason.
public enum NPYFormat {
    /// Decodes one `.npy` file's bytes; `what` names it in errors.
    public static func decode(_ bytes: [UInt8], what: String) throws -> Tensor {
        do {
            return try decodeUnlabelled(bytes)
        } catch var error as WhittleError {
            error.reason = "\(what): \(error.reason)"
            throw error
        }
    }

    /// The whole file's length (header and data) from the beginning of its bytes, once the header
    /// is complete in `prefix`; nil while more bytes are needed. Sizes are checked for overflow.
    public static func expectedLength(prefix bytes: [UInt8]) throws -> Int? {
        guard bytes.count >= 12 || (bytes.count >= 10 && bytes.count > 6 && bytes[6] == 1) else { return nil }
        let magic: [UInt8] = [0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59]
        guard Array(bytes[0..<6]) == magic else { throw WhittleError(.malformedModel, "not a NumPy .npy file (bad magic)") }
        let headerStart = bytes[6] == 1 ? 10 : 12
        let headerLength = bytes[6] == 1 ? Int(bytes[8]) | Int(bytes[9]) << 8 : (8..<12).reduce(0) { $0 | Int(bytes[$1]) << (8 * ($1 - 8)) }
        guard headerStart + headerLength <= bytes.count else { return nil }
        let header = String(decoding: bytes[headerStart..<(headerStart + headerLength)], as: UTF8.self)
        let shape = try parseShape(try field("shape", in: header))
        let (type, _) = try dtype(try field("descr", in: header))
        guard let width = type.byteWidth else { throw WhittleError(.unsupported, "dtype is not supported") }
        let (total, overflow) = (headerStart + headerLength).addingReportingOverflow(try Shape.byteCount(shape, width: width))
        guard !overflow else { throw WhittleError(.malformedModel, "the array's declared size overflows") }
        return total
    }

    private static func decodeUnlabelled(_ bytes: [UInt8]) throws -> Tensor {
        let magic: [UInt8] = [0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59]
        guard bytes.count >= 10, Array(bytes[0..<6]) == magic else {
            throw WhittleError(.malformedModel, "not a NumPy .npy file (bad magic)")
        }
        let major = bytes[6]
        let headerStart: Int, headerLength: Int
        switch major {
        case 1:
            headerStart = 10
            headerLength = Int(bytes[8]) | Int(bytes[9]) << 8
        case 2, 3:
            guard bytes.count >= 12 else { throw WhittleError(.malformedModel, "truncated .npy header") }
            headerStart = 12
            headerLength = (8..<12).reduce(0) { $0 | Int(bytes[$1]) << (8 * ($1 - 8)) }
        default:
            throw WhittleError(.unsupported, ".npy format version \(major) is not supported")
        }
        guard headerStart + headerLength <= bytes.count else {
            throw WhittleError(.malformedModel, "truncated .npy header")
        }
        let header = String(decoding: bytes[headerStart..<(headerStart + headerLength)], as: UTF8.self)
        let descr = try field("descr", in: header)
        let fortran = try field("fortran_order", in: header)
        let shapeText = try field("shape", in: header)
        guard fortran == "False" else {
            throw WhittleError(.unsupported, "Fortran-order arrays are not supported; save with numpy.ascontiguousarray")
        }
        let shape = try parseShape(shapeText)
        let (type, bigEndian) = try dtype(descr)
        guard let width = type.byteWidth else { throw WhittleError(.unsupported, "dtype \(descr) is not supported") }
        let size = try Shape.byteCount(shape, width: width)
        let dataStart = headerStart + headerLength
        guard bytes.count - dataStart == size else {
            throw WhittleError(.malformedModel,
                "data has \(bytes.count - dataStart) bytes but shape \(Shape.describe(shape)) of \(type.name) needs \(size)")
        }
        var data = Array(bytes[dataStart...])
        if bigEndian && width > 1 {
            for i in stride(from: 0, to: data.count, by: width) { data[i..<(i + width)].reverse() }
        }
        return try Tensor(elementType: type, shape: shape, bytes: data)
    }

    /// The value text of `'key': value` in the header dictionary.
    private static func field(_ key: String, in header: String) throws -> String {
        guard let keyRange = header.range(of: "'\(key)'") else {
            throw WhittleError(.malformedModel, ".npy header has no '\(key)'")
        }
        var rest = header[keyRange.upperBound...].drop { $0 == " " || $0 == ":" }
        if rest.first == "(" {
            guard let close = rest.firstIndex(of: ")") else { throw WhittleError(.malformedModel, "bad .npy shape") }
            return String(rest[...close])
        }
        if rest.first == "'" {
            rest = rest.dropFirst()
            return String(rest.prefix { $0 != "'" })
        }
        return String(rest.prefix { $0 != "," && $0 != "}" }).trimmingCharacters(in: " ")
    }

    private static func parseShape(_ text: String) throws -> [Int] {
        let inner = text.dropFirst().dropLast()
        var dims: [Int] = []
        for part in inner.split(separator: ",") {
            let trimmed = String(part).trimmingCharacters(in: " ").replacingSuffix("L")
            if trimmed.isEmpty { continue }
            guard let d = Int(trimmed), d >= 0 else { throw WhittleError(.malformedModel, "bad .npy shape \(text)") }
            dims.append(d)
        }
        return dims
    }

    private static func dtype(_ descr: String) throws -> (ElementType, Bool) {
        guard descr.count >= 2, let order = descr.first else { throw WhittleError(.unsupported, "dtype '\(descr)' is not supported") }
        let code = String(descr.dropFirst())
        let table: [String: ElementType] = [
            "f2": .float16, "f4": .float, "f8": .double, "i1": .int8, "u1": .uint8, "i2": .int16, "u2": .uint16,
            "i4": .int32, "u4": .uint32, "i8": .int64, "u8": .uint64, "b1": .bool,
        ]
        guard "<>|=".contains(order), let type = table[code] else {
            let kind = code.first.map { c -> String in
                switch c {
                case "O": "object arrays are"
                case "U", "S": "string arrays are"
                case "c": "complex arrays are"
                default: "dtype '\(descr)' is"
                }
            } ?? "dtype '\(descr)' is"
            throw WhittleError(.unsupported, "\(kind) not supported (supported: float16/32/64, int8-64, uint8-64, bool)")
        }
        return (type, order == ">")
    }

    /// The `.npy` type code of each element type NumPy has.
    static let codes: [ElementType: String] = [
        .float16: "<f2", .float: "<f4", .double: "<f8", .int8: "|i1", .uint8: "|u1", .int16: "<i2", .uint16: "<u2",
        .int32: "<i4", .uint32: "<u4", .int64: "<i8", .uint64: "<u8", .bool: "|b1",
    ]

    /// Whether `.npy` can hold `type` (NumPy has no bfloat16, 8- and 4-bit floats or 4- and 2-bit integers).
    public static func canEncode(_ type: ElementType) -> Bool { codes[type] != nil }

    /// Encodes a tensor as a version 1.0 `.npy` file (little-endian, C order).
    public static func encode(_ tensor: Tensor) throws -> [UInt8] {
        guard let descr = codes[tensor.elementType] else {
            throw WhittleError(.unsupported, "\(tensor.elementType.name) cannot be written as .npy")
        }
        let shape = tensor.shape.count == 1 ? "(\(tensor.shape[0]),)" : "(" + tensor.shape.map(String.init).joined(separator: ", ") + ")"
        var header = "{'descr': '\(descr)', 'fortran_order': False, 'shape': \(shape), }"
        // Version 1.0 stores the header length in 16 bits; a longer header (a shape of many
        // dimensions) needs version 2.0, with 32 bits, as NumPy itself writes it.
        let prefix = header.utf8.count + 11 > 65535 ? 12 : 10
        // Pad with spaces so the data starts at a multiple of 64 bytes, ending the header with a newline.
        let total = prefix + header.utf8.count + 1
        header += String(repeating: " ", count: (64 - total % 64) % 64) + "\n"
        let length = header.utf8.count
        let lengthBytes = prefix == 10 ? [UInt8(length & 0xFF), UInt8(length >> 8)]
            : [UInt8(length & 0xFF), UInt8((length >> 8) & 0xFF), UInt8((length >> 16) & 0xFF), UInt8((length >> 24) & 0xFF)]
        return [0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59, prefix == 10 ? 1 : 2, 0] + lengthBytes + Array(header.utf8) + tensor.bytes
    }
}

extension String {
    fileprivate func trimmingCharacters(in set: String) -> String {
        var s = Substring(self)
        while let f = s.first, set.contains(f) { s.removeFirst() }
        while let l = s.last, set.contains(l) { s.removeLast() }
        return String(s)
    }

    fileprivate func replacingSuffix(_ suffix: String) -> String {
        hasSuffix(suffix) ? String(dropLast(suffix.count)) : self
    }
}
