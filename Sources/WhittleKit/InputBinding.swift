import Foundation
import WhittleIR
import WhittleNumPy
import WhittleOps

/// `--bind NAME=v0,v1,...` or `--bind NAME=FILE.npy`: a graph input frozen into a constant, as a
/// deployed model has its shape parameters (a Reshape's shape, Slice's starts, Pad's pads ...).
public enum InputBinding {
    /// The constants the arguments give, typed and shaped like the inputs of `graph` they name.
    /// A list of values takes the input's declared shape when the counts agree, else one axis.
    public static func constants(_ arguments: [String], for graph: Graph) throws -> [String: Tensor] {
        var result: [String: Tensor] = [:]
        for argument in arguments {
            guard let equals = argument.firstIndex(of: "="), equals != argument.startIndex else {
                throw WhittleError(.usage, "input binding \"\(argument)\" must look like NAME=1,2,3 or NAME=FILE.npy", setting: .binding)
            }
            let name = String(argument[..<equals]), text = String(argument[argument.index(after: equals)...])
            guard let input = graph.inputs.first(where: { $0.name == name }) else {
                throw WhittleError(.usage, "cannot bind \"\(name)\": it is not a graph input (inputs: "
                    + graph.inputs.map(\.name).joined(separator: ", ") + ")", setting: .binding)
            }
            guard result[name] == nil else { throw WhittleError(.usage, "input \"\(name)\" is bound twice", setting: .binding) }
            let type = input.type?.elementType ?? .float
            var array: NDArray
            if text.hasSuffix(".npy") {
                guard let data = FileManager.default.contents(atPath: text) else { throw WhittleError(.io, "cannot read \(text)") }
                array = NDArray(try NPYFormat.decode([UInt8](data), what: text))
                if array.elementType != type, array.elementType.isFloatingPoint, type.isFloatingPoint {
                    array = NDArray(type, shape: array.shape, values: array.doubles)
                }
                guard array.elementType == type else {
                    throw WhittleError(.usage, "\(text): dtype \(array.elementType.name) does not match input \"\(name)\" of type \(type.name)")
                }
            } else {
                let parts = text.isEmpty ? [] : text.split(separator: ",", omittingEmptySubsequences: false)
                let values = parts.map { Double($0.trimmingCharacters(in: .whitespaces)) }
                guard values.allSatisfy({ $0 != nil }) else {
                    throw WhittleError(.usage, "binding \(name)=\(text): the values must be numbers separated by commas", setting: .binding)
                }
                let numbers = values.compactMap { $0 }
                if !type.isFloatingPoint, numbers.contains(where: { $0 != $0.rounded() }) {
                    throw WhittleError(.usage, "binding \(name)=\(text): input \"\(name)\" is \(type.name); the values must be integers", setting: .binding)
                }
                let declared = input.type?.shape
                let shape = declared.map { $0.reduce(1, *) == numbers.count ? $0 : [numbers.count] } ?? [numbers.count]
                array = NDArray(type, shape: shape, values: numbers)
            }
            if let shape = input.type?.shape, shape != array.shape {
                throw WhittleError(.usage, "binding \(name): shape \(Shape.describe(array.shape)) does not match input \"\(name)\" of shape \(Shape.describe(shape))", setting: .binding)
            }
            result[name] = try array.tensor()
        }
        return result
    }

    /// The graph inputs whose values the node at `index` depends on through data (not through Shape or
    /// Size, which read only shapes), for an error that says what to bind.
    public static func inputs(feeding index: Int, in graph: Graph) -> [String] {
        var producer: [String: Node] = [:]
        for node in graph.nodes { for output in node.outputs where !output.isEmpty { producer[output] = node } }
        let names = Set(graph.inputs.map(\.name))
        var pending = graph.nodes[index].inputs, seen = Set<String>(), found: [String] = []
        while let name = pending.popLast() {
            guard !name.isEmpty, seen.insert(name).inserted else { continue }
            if names.contains(name) { found.append(name) }
            if let node = producer[name], node.opType != "Shape", node.opType != "Size" { pending.append(contentsOf: node.inputs) }
        }
        return found.sorted()
    }
}
