import Foundation
import WhittleIR
import WhittleNumPy

/// Samples for calibration or evaluation from an `.npz` archive: one array per graph input whose first
/// axis counts the samples (`X[i]` is one input, with or without its batch dimension of 1).
public struct SampleSet: Sendable {
    public let path: String
    /// How many samples the archive holds.
    public let count: Int
    /// The archive key each graph input is read from.
    public let keys: [String: String]
    private let archive: NPZArchive
    private let stacked: [String: NDArray]
    private let inputShapes: [String: [Int]]

    /// Matches each input of `graph` to an array: `explicit[NAME]`, else the array named like the input,
    /// else `in_<i>` / `arr_<i>`, else the one array whose per-sample shape equals the input's shape.
    public init(path: String, graph: Graph, explicit: [String: String] = [:]) throws {
        self.path = path
        archive = try NPZArchive(path: path)
        var keys: [String: String] = [:], stacked: [String: NDArray] = [:], shapes: [String: [Int]] = [:]
        var count: Int?
        for (i, input) in graph.inputs.enumerated() {
            guard let type = input.type, let shape = type.shape else {
                throw WhittleError(.usage, "input \"\(input.name)\" has no static shape; give it one", setting: .inputShape)
            }
            let key = try Self.key(for: input.name, index: i, shape: shape, explicit: explicit[input.name], archive: archive, path: path)
            var array = NDArray(try archive.array(key))
            let sampleShape = Array(array.shape.dropFirst())
            guard !array.shape.isEmpty, sampleShape == shape || [1] + sampleShape == shape else {
                throw WhittleError(.usage, "\(path): array \"\(key)\" has shape \(array.shape); for input \"\(input.name)\" of shape \(shape) "
                    + "it needs (samples, \(shape.map(String.init).joined(separator: ", "))) or the same without the batch dimension")
            }
            if array.elementType != type.elementType {
                guard array.elementType.isFloatingPoint, type.elementType.isFloatingPoint else {
                    throw WhittleError(.usage, "\(path): array \"\(key)\" is \(array.elementType.name) but input \"\(input.name)\" is \(type.elementType.name)")
                }
                array = NDArray(type.elementType, shape: array.shape, values: array.doubles)
            }
            // A NaN or infinity would pass through every range statistic unnoticed (min/max ignore NaN,
            // histograms drop it) and silently change the scales chosen: such data is refused.
            if array.elementType.isFloatingPoint, let bad = array.doubles.firstIndex(where: { !$0.isFinite }) {
                let perSample = max(1, array.count / max(array.shape[0], 1))
                throw WhittleError(.usage, "\(path): array \"\(key)\" holds \(array.doubles[bad]) at sample \(bad / perSample), element "
                    + "\(bad % perSample) (flat index \(bad)); calibration and evaluation data must be finite")
            }
            if let count, count != array.shape[0] {
                throw WhittleError(.usage, "\(path): array \"\(key)\" has \(array.shape[0]) samples, other inputs have \(count)")
            }
            count = array.shape[0]
            keys[input.name] = key
            stacked[input.name] = array
            shapes[input.name] = shape
        }
        self.count = count ?? 0
        self.keys = keys
        self.stacked = stacked
        inputShapes = shapes
    }

    static func key(for name: String, index: Int, shape: [Int], explicit: String?, archive: NPZArchive, path: String) throws -> String {
        if let explicit {
            guard archive.names.contains(explicit) else {
                throw WhittleError(.usage, "\(path) has no array \"\(explicit)\" (it has: \(archive.names.joined(separator: ", ")))")
            }
            return explicit
        }
        if let direct = [name, "in_\(index)", "arr_\(index)"].first(where: archive.names.contains) { return direct }
        let candidates = try archive.names.filter { key in
            let dims = try archive.array(key).shape
            return dims.count >= 1 && (Array(dims.dropFirst()) == shape || [1] + dims.dropFirst() == shape)
        }
        guard candidates.count == 1 else {
            throw WhittleError(.usage, "\(path): cannot tell which array feeds input \"\(name)\" (\(candidates.isEmpty ? "none has" : "several have") "
                + "per-sample shape \(shape); arrays: \(archive.names.joined(separator: ", "))); name it as \(name)=KEY", setting: .sampleMap)
        }
        return candidates[0]
    }

    /// The inputs of sample `index`.
    public func sample(_ index: Int) throws -> [String: NDArray] {
        guard index >= 0, index < count else { throw WhittleError(.usage, "\(path) has no sample \(index)") }
        var result: [String: NDArray] = [:]
        for (name, array) in stacked {
            guard let shape = inputShapes[name] else { continue }
            let size = shape.reduce(1, *)
            result[name] = array.gathered(Array((index * size)..<((index + 1) * size)), shape: shape)
        }
        return result
    }

    /// Class labels: an array of this archive (by key) or a `.npy` file; integer class indices, or one-hot rows.
    public func labels(_ source: String) throws -> [Int] {
        let tensor: Tensor
        if archive.names.contains(source) {
            tensor = try archive.array(source)
        } else if source.hasSuffix(".npy") {
            guard let data = FileManager.default.contents(atPath: source) else { throw WhittleError(.io, "cannot read \(source)") }
            tensor = try NPYFormat.decode([UInt8](data), what: source)
        } else {
            throw WhittleError(.usage, "labels \"\(source)\" are neither an array of \(path) (\(archive.names.joined(separator: ", "))) nor a .npy file", setting: .labels)
        }
        let array = NDArray(tensor)
        guard array.shape.first == count else {
            throw WhittleError(.usage, "labels \"\(source)\" hold \(array.shape.first ?? 0) entries, the samples are \(count)")
        }
        if array.rank == 1 {
            guard !array.elementType.isFloatingPoint else { throw WhittleError(.usage, "labels \"\(source)\" must be integer class indices") }
            return array.ints.map { Int($0) }
        }
        let width = array.count / Swift.max(count, 1)
        let values = array.doubles
        return (0..<count).map { i in argmax(values[(i * width)..<((i + 1) * width)]) }
    }
}

/// The index of the largest value (the first, on ties).
func argmax<C: Collection>(_ values: C) -> Int where C.Element == Double, C.Index == Int {
    var best = values.startIndex
    for i in values.indices where values[i] > values[best] { best = i }
    return best - values.startIndex
}
