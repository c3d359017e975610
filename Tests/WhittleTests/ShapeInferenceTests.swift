import Testing
import WhittleIR
import WhittleOps

/// Shape inference per operator, with the spec's defaults and opset differences.
/// Expected shapes are worked out by hand from the ONNX operator documentation.
struct ShapeInferenceTests {
    let x4 = f32([1, 3, 32, 32])

    @Test func convDefaultsStridesPadsDilations() throws {
        let w = f32([8, 3, 3, 3])
        #expect(try inferNode("Conv", inputs: [x4, w]) == [f32([1, 8, 30, 30])])
        #expect(try inferNode("Conv", inputs: [x4, w], attributes: ["pads": .ints([1, 1, 1, 1]), "strides": .ints([2, 2])])
                == [f32([1, 8, 16, 16])])
        #expect(try inferNode("Conv", inputs: [x4, w], attributes: ["dilations": .ints([2, 2])]) == [f32([1, 8, 28, 28])])
        #expect(try inferNode("Conv", inputs: [x4, w], attributes: ["auto_pad": .string("SAME_UPPER"), "strides": .ints([2, 2])])
                == [f32([1, 8, 16, 16])])
        #expect(try inferNode("Conv", inputs: [f32([1, 3, 7, 7]), w], attributes: ["auto_pad": .string("VALID"), "strides": .ints([2, 2])])
                == [f32([1, 8, 3, 3])])
    }

    @Test func depthwiseAndGroupedConv() throws {
        let x = f32([1, 16, 10, 10])
        #expect(try inferNode("Conv", inputs: [x, f32([16, 1, 3, 3]), f32([16])],
                              attributes: ["group": .int(16), "pads": .ints([1, 1, 1, 1])]) == [f32([1, 16, 10, 10])])
        #expect(throws: WhittleError.self) { try inferNode("Conv", inputs: [x, f32([16, 2, 3, 3])], attributes: ["group": .int(16)]) }
        #expect(throws: WhittleError.self) { try inferNode("Conv", inputs: [x, f32([16, 16, 3, 3]), f32([8])]) }
    }

    @Test func conv1dAndConvTranspose() throws {
        #expect(try inferNode("Conv", inputs: [f32([2, 4, 50]), f32([6, 4, 5])], attributes: ["strides": .ints([5])])
                == [f32([2, 6, 10])])
        #expect(try inferNode("ConvTranspose", inputs: [f32([1, 8, 5, 5]), f32([8, 4, 3, 3])],
                              attributes: ["strides": .ints([2, 2]), "pads": .ints([1, 1, 1, 1]), "output_padding": .ints([1, 1])])
                == [f32([1, 4, 10, 10])])
    }

    @Test func poolingWithCeilMode() throws {
        let x = f32([1, 2, 5, 5])
        #expect(try inferNode("MaxPool", inputs: [x], attributes: ["kernel_shape": .ints([2, 2]), "strides": .ints([2, 2])])
                == [f32([1, 2, 2, 2])])
        #expect(try inferNode("MaxPool", inputs: [x], attributes: ["kernel_shape": .ints([2, 2]), "strides": .ints([2, 2]),
                                                                   "ceil_mode": .int(1)]) == [f32([1, 2, 3, 3])])
        #expect(try inferNode("AveragePool", inputs: [x], attributes: ["kernel_shape": .ints([3, 3]), "pads": .ints([1, 1, 1, 1])])
                == [f32([1, 2, 5, 5])])
        #expect(try inferNode("GlobalAveragePool", inputs: [x]) == [f32([1, 2, 1, 1])])
        #expect(try inferNode("MaxPool", inputs: [x], attributes: ["kernel_shape": .ints([2, 2])], outputs: 2)
                == [f32([1, 2, 4, 4]), TensorType(.int64, [1, 2, 4, 4])])
        #expect(throws: WhittleError.self) { try inferNode("MaxPool", inputs: [x]) }
    }

    @Test func gemmAndMatMul() throws {
        #expect(try inferNode("Gemm", inputs: [f32([4, 3]), f32([5, 3]), f32([5])], attributes: ["transB": .int(1)]) == [f32([4, 5])])
        #expect(try inferNode("Gemm", inputs: [f32([3, 4]), f32([3, 5])], attributes: ["transA": .int(1)]) == [f32([4, 5])])
        #expect(throws: WhittleError.self) { try inferNode("Gemm", inputs: [f32([4, 3]), f32([4, 5])]) }
        #expect(try inferNode("MatMul", inputs: [f32([2, 1, 4, 3]), f32([5, 3, 6])]) == [f32([2, 5, 4, 6])])
        #expect(try inferNode("MatMul", inputs: [f32([3]), f32([3, 6])]) == [f32([6])])
        #expect(try inferNode("MatMul", inputs: [f32([2, 4, 3]), f32([3])]) == [f32([2, 4])])
        #expect(try inferNode("MatMulInteger", inputs: [TensorType(.uint8, [2, 3]), TensorType(.int8, [3, 4])])
                == [TensorType(.int32, [2, 4])])
    }

    @Test func broadcastingAndTypes() throws {
        #expect(try inferNode("Add", inputs: [f32([2, 1, 4]), f32([3, 1])]) == [f32([2, 3, 4])])
        #expect(throws: WhittleError.self) { try inferNode("Add", inputs: [f32([2, 3]), f32([4])]) }
        #expect(throws: WhittleError.self) { try inferNode("Mul", inputs: [f32([2]), TensorType(.int64, [2])]) }
        #expect(try inferNode("Equal", inputs: [f32([2, 3]), f32([3])]) == [TensorType(.bool, [2, 3])])
        #expect(try inferNode("Where", inputs: [TensorType(.bool, [3, 1]), f32([1, 4]), f32([])]) == [f32([3, 4])])
        #expect(try inferNode("Max", inputs: [f32([3]), f32([2, 1]), f32([])]) == [f32([2, 3])])
        #expect(try inferNode("PRelu", inputs: [f32([1, 8, 4, 4]), f32([8, 1, 1])]) == [f32([1, 8, 4, 4])])
    }

    @Test func clipBoundsAreAttributesBeforeOpset11() throws {
        #expect(try inferNode("Clip", inputs: [f32([4])], attributes: ["min": .float(0), "max": .float(6)], opset: 6) == [f32([4])])
        #expect(try inferNode("Clip", inputs: [f32([4]), f32([]), f32([])], opset: 13) == [f32([4])])
        #expect(throws: WhittleError.self) { try inferNode("Clip", inputs: [f32([4]), f32([])], opset: 6) }
    }

    @Test func reshapeFlattenSqueezeUnsqueeze() throws {
        let x = f32([2, 3, 4])
        #expect(try inferNode("Reshape", inputs: [x, TensorType(.int64, [2])], values: [nil, i64([0, -1])]) == [f32([2, 12])])
        #expect(try inferNode("Reshape", inputs: [x], attributes: ["shape": .ints([4, -1])], opset: 1) == [f32([4, 6])])
        #expect(throws: WhittleError.self) { try inferNode("Reshape", inputs: [x, TensorType(.int64, [2])], values: [nil, i64([5, -1])]) }
        #expect(try inferNode("Flatten", inputs: [x], attributes: ["axis": .int(-1)]) == [f32([6, 4])])
        #expect(try inferNode("Flatten", inputs: [x], attributes: ["axis": .int(0)]) == [f32([1, 24])])
        let ones = f32([1, 3, 1, 2])
        #expect(try inferNode("Squeeze", inputs: [ones]) == [f32([3, 2])])
        #expect(try inferNode("Squeeze", inputs: [ones], attributes: ["axes": .ints([2])], opset: 11) == [f32([1, 3, 2])])
        #expect(try inferNode("Squeeze", inputs: [ones, TensorType(.int64, [1])], values: [nil, i64([-2])]) == [f32([1, 3, 2])])
        #expect(throws: WhittleError.self) { try inferNode("Squeeze", inputs: [ones, TensorType(.int64, [1])], values: [nil, i64([1])]) }
        #expect(try inferNode("Unsqueeze", inputs: [f32([3, 2]), TensorType(.int64, [2])], values: [nil, i64([0, -1])])
                == [f32([1, 3, 2, 1])])
        #expect(try inferNode("Unsqueeze", inputs: [f32([3, 2])], attributes: ["axes": .ints([1])], opset: 11) == [f32([3, 1, 2])])
    }

    @Test func transposeConcatSplit() throws {
        let x = f32([2, 3, 4])
        #expect(try inferNode("Transpose", inputs: [x]) == [f32([4, 3, 2])])
        #expect(try inferNode("Transpose", inputs: [x], attributes: ["perm": .ints([0, 2, 1])]) == [f32([2, 4, 3])])
        #expect(throws: WhittleError.self) { try inferNode("Transpose", inputs: [x], attributes: ["perm": .ints([0, 0, 1])]) }
        #expect(try inferNode("Concat", inputs: [x, f32([2, 5, 4])], attributes: ["axis": .int(-2)]) == [f32([2, 8, 4])])
        #expect(throws: WhittleError.self) { try inferNode("Concat", inputs: [x, f32([2, 5, 5])], attributes: ["axis": .int(1)]) }
        #expect(try inferNode("Split", inputs: [f32([6, 2])], outputs: 3) == [f32([2, 2]), f32([2, 2]), f32([2, 2])])
        #expect(try inferNode("Split", inputs: [f32([6, 2])], attributes: ["split": .ints([1, 5])], outputs: 2, opset: 11)
                == [f32([1, 2]), f32([5, 2])])
        #expect(try inferNode("Split", inputs: [f32([6, 2]), TensorType(.int64, [2])], values: [nil, i64([4, 2])], outputs: 2)
                == [f32([4, 2]), f32([2, 2])])
        #expect(try inferNode("Split", inputs: [f32([7])], attributes: ["num_outputs": .int(3)], outputs: 3, opset: 18)
                == [f32([3]), f32([3]), f32([1])])
    }

    @Test func sliceClampsAndSteps() throws {
        let x = f32([10, 8])
        let starts = TensorType(.int64, [1]), ends = TensorType(.int64, [1])
        #expect(try inferNode("Slice", inputs: [x, starts, ends], values: [nil, i64([2]), i64([-1])]) == [f32([7, 8])])
        #expect(try inferNode("Slice", inputs: [x, starts, ends, starts, starts],
                              values: [nil, i64([0]), i64([Int(Int64.max)]), i64([1]), i64([3])]) == [f32([10, 3])])
        #expect(try inferNode("Slice", inputs: [x, starts, ends, starts, starts],
                              values: [nil, i64([-1]), i64([Int(Int64.min)]), i64([0]), i64([-1])]) == [f32([10, 8])])
        #expect(try inferNode("Slice", inputs: [x], attributes: ["starts": .ints([1]), "ends": .ints([3]), "axes": .ints([1])], opset: 9)
                == [f32([10, 2])])
    }

    @Test func gatherPadExpandTile() throws {
        #expect(try inferNode("Gather", inputs: [f32([5, 4, 3]), TensorType(.int64, [2, 6])], attributes: ["axis": .int(1)])
                == [f32([5, 2, 6, 3])])
        #expect(try inferNode("Pad", inputs: [f32([1, 3, 4, 4]), TensorType(.int64, [8])], values: [nil, i64([0, 0, 1, 2, 0, 0, 3, 4])])
                == [f32([1, 3, 8, 10])])
        #expect(try inferNode("Pad", inputs: [f32([2, 2])], attributes: ["pads": .ints([1, 1, 1, 1])], opset: 2) == [f32([4, 4])])
        #expect(try inferNode("Expand", inputs: [f32([3, 1]), TensorType(.int64, [3])], values: [nil, i64([2, 1, 6])]) == [f32([2, 3, 6])])
        #expect(try inferNode("Tile", inputs: [f32([2, 3]), TensorType(.int64, [2])], values: [nil, i64([2, 2])]) == [f32([4, 6])])
    }

    @Test func resizeWithScalesOrSizes() throws {
        let x = f32([1, 3, 8, 8])
        let scales = try Tensor(floats: [1, 1, 2, 1.5], shape: [4])
        #expect(try inferNode("Resize", inputs: [x, nil, TensorType(.float, [4])], values: [nil, nil, scales]) == [f32([1, 3, 16, 12])])
        #expect(try inferNode("Resize", inputs: [x, nil, nil, TensorType(.int64, [4])], values: [nil, nil, nil, i64([1, 3, 5, 7])])
                == [f32([1, 3, 5, 7])])
        #expect(try inferNode("Resize", inputs: [x, TensorType(.float, [4])], values: [nil, scales], opset: 10) == [f32([1, 3, 16, 12])])
    }

    @Test func reductionsAcrossOpsets() throws {
        let x = f32([2, 3, 4])
        #expect(try inferNode("ReduceMean", inputs: [x], attributes: ["axes": .ints([1])]) == [f32([2, 1, 4])])
        #expect(try inferNode("ReduceMean", inputs: [x], attributes: ["axes": .ints([1]), "keepdims": .int(0)]) == [f32([2, 4])])
        #expect(try inferNode("ReduceSum", inputs: [x, TensorType(.int64, [1])], values: [nil, i64([-1])]) == [f32([2, 3, 1])])
        #expect(try inferNode("ReduceMax", inputs: [x]) == [f32([1, 1, 1])])
        #expect(try inferNode("ReduceMax", inputs: [x, TensorType(.int64, [1])], values: [nil, i64([0])], opset: 18) == [f32([1, 3, 4])])
        #expect(try inferNode("ArgMax", inputs: [x], attributes: ["axis": .int(2), "keepdims": .int(0)]) == [TensorType(.int64, [2, 3])])
    }

    @Test func normalizationOutputs() throws {
        let x = f32([2, 4, 5, 5]), c = f32([4])
        #expect(try inferNode("BatchNormalization", inputs: [x, c, c, c, c]) == [x])
        #expect(throws: WhittleError.self) { try inferNode("BatchNormalization", inputs: [x, f32([3]), c, c, c]) }
        #expect(try inferNode("LayerNormalization", inputs: [f32([2, 5, 8]), f32([8]), f32([8])], outputs: 3, opset: 17)
                == [f32([2, 5, 8]), f32([2, 5, 1]), f32([2, 5, 1])])
        #expect(try inferNode("InstanceNormalization", inputs: [x, c, c]) == [x])
    }

    @Test func recurrentShapes() throws {
        let x = f32([7, 2, 10])
        let w = f32([2, 4 * 16, 10]), r = f32([2, 4 * 16, 16])
        #expect(try inferNode("LSTM", inputs: [x, w, r], attributes: ["hidden_size": .int(16), "direction": .string("bidirectional")],
                              outputs: 3) == [f32([7, 2, 2, 16]), f32([2, 2, 16]), f32([2, 2, 16])])
        #expect(try inferNode("GRU", inputs: [f32([2, 7, 10]), f32([1, 48, 10]), f32([1, 48, 16])],
                              attributes: ["hidden_size": .int(16), "layout": .int(1)], outputs: 2, opset: 14)
                == [f32([2, 7, 1, 16]), f32([2, 1, 16])])
    }

    @Test func quantizationTypes() throws {
        let x = f32([1, 8, 4, 4])
        #expect(try inferNode("QuantizeLinear", inputs: [x, f32([]), TensorType(.int8, [])]) == [TensorType(.int8, [1, 8, 4, 4])])
        #expect(try inferNode("QuantizeLinear", inputs: [x, f32([])]) == [TensorType(.uint8, [1, 8, 4, 4])])
        #expect(try inferNode("DequantizeLinear", inputs: [TensorType(.int8, [8, 3]), f32([8]), TensorType(.int8, [8])],
                              attributes: ["axis": .int(0)]) == [f32([8, 3])])
        #expect(throws: WhittleError.self) {
            try inferNode("DequantizeLinear", inputs: [TensorType(.int8, [8, 3]), f32([5])], attributes: ["axis": .int(0)])
        }
        #expect(try inferNode("DynamicQuantizeLinear", inputs: [x], outputs: 3)
                == [TensorType(.uint8, [1, 8, 4, 4]), f32([]), TensorType(.uint8, [])])
        let q = TensorType(.uint8, [1, 3, 8, 8]), s = f32([]), z = TensorType(.uint8, [])
        #expect(try inferNode("QLinearConv", inputs: [q, s, z, TensorType(.int8, [4, 3, 3, 3]), s, TensorType(.int8, []), s, z])
                == [TensorType(.uint8, [1, 4, 6, 6])])
    }

    @Test func shapeAndGeneratorsFold() throws {
        #expect(try inferNode("Shape", inputs: [f32([2, 3, 4])], attributes: ["start": .int(1)], opset: 15) == [TensorType(.int64, [2])])
        #expect(try inferNode("ConstantOfShape", inputs: [TensorType(.int64, [2])], values: [i64([3, 5])]) == [f32([3, 5])])
        let start = try Tensor(int64s: [2], shape: []), limit = try Tensor(int64s: [11], shape: []), delta = try Tensor(int64s: [3], shape: [])
        let scalar = TensorType(.int64, [])
        #expect(try inferNode("Range", inputs: [scalar, scalar, scalar], values: [start, limit, delta]) == [TensorType(.int64, [3])])
        #expect(try inferNode("Cast", inputs: [f32([2])], attributes: ["to": .int(7)]) == [TensorType(.int64, [2])])
    }

    /// A dynamic shape (not computable at compile time) is reported as unsupported, not a crash.
    @Test func dynamicReshapeIsUnsupported() {
        let error = expectWhittleError { _ = try inferNode("Reshape", inputs: [f32([2, 3]), TensorType(.int64, [2])]) }
        #expect(error?.kind == .unsupported)
        #expect(error?.reason.contains("must be a constant or computable from static shapes") == true)
    }

    @Test func shapeArithmeticFoldsToConstants() throws {
        // Shape -> Gather -> Mul -> Unsqueeze -> Concat, as exporters write for a flatten with batch dimension.
        var graph = Graph(name: "g", inputs: [ValueInfo(name: "x", type: f32([3, 4, 5]))])
        graph.initializers["i0"] = try Tensor(int64s: [1], shape: [])
        graph.initializers["i1"] = try Tensor(int64s: [2], shape: [])
        graph.initializers["ax"] = i64([0])
        graph.initializers["m1"] = i64([-1])
        graph.nodes = [
            Node(name: "s", opType: "Shape", inputs: ["x"], outputs: ["s"]),
            Node(name: "g1", opType: "Gather", inputs: ["s", "i0"], outputs: ["d1"]),
            Node(name: "g2", opType: "Gather", inputs: ["s", "i1"], outputs: ["d2"]),
            Node(name: "mul", opType: "Mul", inputs: ["d1", "d2"], outputs: ["p"]),
            Node(name: "u", opType: "Unsqueeze", inputs: ["p", "ax"], outputs: ["pu"]),
            Node(name: "c", opType: "Concat", inputs: ["m1", "pu"], outputs: ["shape"], attributes: ["axis": .int(0)]),
            Node(name: "r", opType: "Reshape", inputs: ["x", "shape"], outputs: ["y"]),
        ]
        graph.outputs = [ValueInfo(name: "y", type: nil)]
        let result = try ShapeInference.run(Model(graph: graph))
        #expect(result.constants["shape"]?.int64s() == [-1, 20])
        #expect(result.graph.type(of: "y") == f32([3, 20]))
    }
}
