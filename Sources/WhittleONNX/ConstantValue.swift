import WhittleIR

/// The tensor a `Constant` node produces, from whichever `value*` attribute it carries.
enum ConstantValue {
    static func tensor(of attributes: [String: Attribute]) throws -> Tensor {
        guard attributes.count == 1, let (name, value) = attributes.first else {
            throw WhittleError(.invalidAttribute,
                "Constant needs exactly one value attribute, found \(attributes.count)"
                + (attributes.isEmpty ? "" : " (" + attributes.keys.sorted().joined(separator: ", ") + ")"))
        }
        switch (name, value) {
        case ("value", .tensor(let t)): return t
        case ("value_float", .float(let v)): return try Tensor(floats: [v], shape: [])
        case ("value_floats", .floats(let v)): return try Tensor(floats: v, shape: [v.count])
        case ("value_int", .int(let v)): return try Tensor(int64s: [Int64(v)], shape: [])
        case ("value_ints", .ints(let v)): return try Tensor(int64s: v.map(Int64.init), shape: [v.count])
        case ("value_string", _), ("value_strings", _):
            throw WhittleError(.unsupported, "Constant with \(name): string tensors are not supported")
        case ("sparse_value", _):
            throw WhittleError(.unsupported, "Constant with sparse_value: sparse tensors are not supported")
        case ("value", _), ("value_float", _), ("value_floats", _), ("value_int", _), ("value_ints", _):
            throw WhittleError(.invalidAttribute, "Constant attribute \(name) has the wrong type \(value.kindName)")
        default:
            throw WhittleError(.invalidAttribute, "Constant has unknown attribute \"\(name)\"")
        }
    }
}
