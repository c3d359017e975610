import Testing
import WhittleIR

/// Topological sorting and structural checks.
struct VerifierTests {
    func node(_ name: String, _ inputs: [String], _ outputs: [String]) -> Node {
        Node(name: name, opType: "Relu", inputs: inputs, outputs: outputs)
    }

    @Test func sortsOutOfOrderNodesStably() throws {
        var graph = Graph(name: "g", inputs: [ValueInfo(name: "x", type: TensorType(.float, [1]))],
                          outputs: [ValueInfo(name: "d", type: nil)])
        graph.nodes = [node("c", ["b"], ["c"]), node("a", ["x"], ["a"]), node("b", ["a"], ["b"]),
                       node("side", ["x"], ["s"]), node("d", ["c", "s"], ["d"])]
        try Verifier.sortTopologically(&graph)
        // Among ready nodes the one earliest in the file goes first.
        #expect(graph.nodes.map(\.name) == ["a", "b", "c", "side", "d"])
        try Verifier.verify(graph)
    }

    @Test func rejectsDuplicateOutputs() {
        var graph = Graph(name: "g", inputs: [ValueInfo(name: "x", type: nil)])
        graph.nodes = [node("a", ["x"], ["y"]), node("b", ["x"], ["y"])]
        let error = expectWhittleError { try Verifier.sortTopologically(&graph) }
        #expect(error?.node?.name == "b")
        #expect(error?.reason.contains("produced more than once") == true)
    }

    @Test func rejectsSelfLoopAndMissingOutput() {
        var loop = Graph(name: "g", nodes: [node("a", ["y"], ["y"])])
        #expect(expectWhittleError { try Verifier.sortTopologically(&loop) }?.reason.contains("cycle") == true)
        var missing = Graph(name: "g", inputs: [ValueInfo(name: "x", type: nil)], outputs: [ValueInfo(name: "z", type: nil)],
                            nodes: [node("a", ["x"], ["y"])])
        #expect(expectWhittleError { try Verifier.sortTopologically(&missing) }?.reason.contains("graph output \"z\"") == true)
    }

    @Test func subgraphsMayReadOuterValues() throws {
        let body = Graph(name: "body", outputs: [ValueInfo(name: "t", type: nil)], nodes: [node("inner", ["a"], ["t"])])
        var graph = Graph(name: "g", inputs: [ValueInfo(name: "x", type: nil)], outputs: [ValueInfo(name: "r", type: nil)])
        // The If node comes first in the file but reads "a" (inside its branch), so it must be sorted after "a".
        graph.nodes = [Node(name: "if", opType: "If", inputs: ["x"], outputs: ["r"], attributes: ["then_branch": .graph(body)]),
                       node("a", ["x"], ["a"])]
        try Verifier.sortTopologically(&graph)
        #expect(graph.nodes.map(\.name) == ["a", "if"])
        try Verifier.verify(graph)
    }

    @Test func shapeHelpers() throws {
        #expect(Shape.broadcast([2, 1, 3], [4, 1]) == [2, 4, 3])
        #expect(Shape.broadcast([2], [3]) == nil)
        #expect(Shape.strides([2, 3, 4]) == [12, 4, 1])
        #expect(try Shape.elementCount([]) == 1)
        #expect(throws: WhittleError.self) { try Shape.elementCount([Int.max, 2]) }
        #expect(throws: WhittleError.self) { try Shape.elementCount([-1]) }
    }

    @Test func halfFloatRoundTrips() {
        for value: Float in [0, -0, 1, -2.5, 65504, 0.000061035156, 5.96e-8, 0.1, 3.14159] {
            let half = HalfFloat.bits(fromFloat: value)
            let back = HalfFloat.float(fromBits: half)
            #expect(HalfFloat.bits(fromFloat: back) == half)
            #expect(abs(back - value) <= max(abs(value) * 0.001, 6e-8), "\(value) -> \(back)")
        }
        #expect(HalfFloat.bits(fromFloat: 1) == 0x3C00)
        #expect(HalfFloat.bits(fromFloat: 70000) == 0x7C00)
    }
}
