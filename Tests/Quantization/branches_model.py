"""Writes a small float CNN whose QOperator form needs QLinearLeakyRelu and QLinearConcat: two
convolution branches (one with LeakyRelu) concatenated on the channels, then a 1x1 convolution;
with `sigmoid` last, the second branch ends in Sigmoid (QLinearSigmoid) instead of Relu.

usage: branches_model.py OUT.onnx SAMPLES.npz [sigmoid]   (SAMPLES.npz: in_0, 24 samples of [1, 3, 8, 8])
"""
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


def main() -> None:
    out, samples = sys.argv[1:3]
    activation = "Sigmoid" if sys.argv[3:] == ["sigmoid"] else "Relu"
    rng = np.random.default_rng(12)

    def weight(name, shape, scale=0.4):
        return numpy_helper.from_array((rng.standard_normal(shape) * scale).astype(np.float32), name)

    nodes = [
        helper.make_node("Conv", ["x", "w1", "b1"], ["c1"], pads=[1, 1, 1, 1], kernel_shape=[3, 3]),
        helper.make_node("LeakyRelu", ["c1"], ["l1"], alpha=0.1),
        helper.make_node("Conv", ["x", "w2", "b2"], ["c2"], kernel_shape=[1, 1]),
        helper.make_node(activation, ["c2"], ["r2"]),
        helper.make_node("Concat", ["l1", "r2"], ["cat"], axis=1),
        helper.make_node("Conv", ["cat", "w3", "b3"], ["y"], kernel_shape=[1, 1]),
    ]
    initializers = [weight("w1", [4, 3, 3, 3]), weight("b1", [4], 0.1), weight("w2", [5, 3, 1, 1]), weight("b2", [5], 0.1),
                    weight("w3", [6, 9, 1, 1]), weight("b3", [6], 0.1)]
    graph = helper.make_graph(nodes, "branches", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 8, 8])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 6, 8, 8])], initializer=initializers)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, out)
    np.savez(samples, in_0=rng.uniform(-1, 1, (24, 1, 3, 8, 8)).astype(np.float32))


if __name__ == "__main__":
    main()
