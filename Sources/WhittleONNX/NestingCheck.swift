import WhittleIR

/// Measures how deeply a serialized ModelProto nests its recursive messages (graphs inside node
/// attributes, types inside sequence/map/optional types) without recursion, before protobuf-c's
/// own recursive unpacking sees the bytes: a file that nests deeper than `limit` is refused, so
/// neither protobuf-c nor the decoders after it can run out of stack.
enum NestingCheck {
    /// The message kinds on recursive paths, and which of their fields hold such messages.
    enum Kind {
        case model, graph, node, attribute, valueInfo, type, typeElement, function, trainingInfo
    }

    static func children(_ kind: Kind) -> [Int: Kind] {
        switch kind {
        case .model: [7: .graph, 25: .function, 20: .trainingInfo]
        case .trainingInfo: [1: .graph, 2: .graph]
        case .function: [7: .node, 11: .attribute, 12: .valueInfo]
        case .graph: [1: .node, 11: .valueInfo, 12: .valueInfo, 13: .valueInfo]
        case .node: [5: .attribute]
        case .attribute: [6: .graph, 11: .graph, 14: .type, 15: .type]
        case .valueInfo: [2: .type]
        // TypeProto.sequence_type / map_type / optional_type hold a message whose field 1 (or 2 for
        // a map's value) is again a TypeProto.
        case .type: [4: .typeElement, 5: .typeElement, 9: .typeElement]
        case .typeElement: [1: .type, 2: .type]
        }
    }

    /// Throws when the bytes nest recursive messages more than `limit` deep; malformed bytes are
    /// left for protobuf-c to reject.
    static func check(_ bytes: [UInt8], limit: Int = 64) throws {
        // Each pending range is (start, end, kind, depth in graphs and types).
        var stack: [(Int, Int, Kind, Int)] = [(0, bytes.count, .model, 0)]
        while let (start, end, kind, depth) = stack.popLast() {
            let fields = children(kind)
            var at = start
            while at < end {
                guard let (key, next) = varint(bytes, at, end) else { return }
                at = next
                let field = Int(key >> 3), wire = key & 7
                switch wire {
                case 0:
                    guard let (_, after) = varint(bytes, at, end) else { return }
                    at = after
                case 1: at += 8
                case 5: at += 4
                case 2:
                    guard let (length, after) = varint(bytes, at, end), length <= UInt64(end - after) else { return }
                    let stop = after + Int(length)
                    if let child = fields[field] {
                        let deeper = child == .graph || child == .type ? depth + 1 : depth
                        guard deeper <= limit else {
                            throw WhittleError(.malformedModel, "the model nests graphs or types more than \(limit) levels deep")
                        }
                        stack.append((after, stop, child, deeper))
                    }
                    at = stop
                default:
                    return
                }
            }
        }
    }

    static func varint(_ bytes: [UInt8], _ start: Int, _ end: Int) -> (UInt64, Int)? {
        var value: UInt64 = 0, shift: UInt64 = 0, at = start
        while at < end, shift < 64 {
            let byte = bytes[at]
            value |= UInt64(byte & 0x7F) << shift
            at += 1
            if byte & 0x80 == 0 { return (value, at) }
            shift += 7
        }
        return nil
    }
}
