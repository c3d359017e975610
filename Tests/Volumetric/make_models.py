"""Writes a volumetric (3-D) convolutional model and its ONNX Runtime references:

    Examples/models/volume_cnn.onnx   x [1, 2, 6, 8, 8] -> Conv 3x3x3 (pads 1) + Relu -> MaxPool 2x2x2
                                      -> grouped Conv 1x3x3 -> AveragePool 3x3x3 (padding counted)
                                      -> ConvTranspose 2x2x2 stride 2 -> y [1, 2, 6, 8, 8];
                                      LpPool 2x2x2 of the first block -> pooled [1, 4, 3, 4, 4]
    volume_cnn.refs.npz               in_0 [4, 1, 2, 6, 8, 8] and ONNX Runtime's out_0, out_1

usage: make_models.py OUTDIR
"""
import os
import sys

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper


def model():
    rng = np.random.default_rng(3)

    def weight(name, shape, fan_in):
        return numpy_helper.from_array((rng.standard_normal(shape) / np.sqrt(fan_in)).astype(np.float32), name)

    initializers = [
        weight("w1", (4, 2, 3, 3, 3), 54), weight("b1", (4,), 4),
        weight("w2", (4, 2, 1, 3, 3), 18),
        weight("w3", (4, 2, 2, 2, 2), 32), weight("b3", (2,), 4),
    ]
    nodes = [
        helper.make_node("Conv", ["x", "w1", "b1"], ["c1"], kernel_shape=[3, 3, 3], pads=[1] * 6, name="conv1"),
        helper.make_node("Relu", ["c1"], ["r1"]),
        helper.make_node("MaxPool", ["r1"], ["p1"], kernel_shape=[2, 2, 2], strides=[2, 2, 2], name="pool1"),
        helper.make_node("Conv", ["p1", "w2"], ["c2"], kernel_shape=[1, 3, 3], pads=[0, 1, 1, 0, 1, 1], group=2, name="conv2"),
        helper.make_node("AveragePool", ["c2"], ["a2"], kernel_shape=[3, 3, 3], pads=[1] * 6, count_include_pad=1, name="pool2"),
        helper.make_node("ConvTranspose", ["a2", "w3", "b3"], ["y"], kernel_shape=[2, 2, 2], strides=[2, 2, 2], name="up"),
        helper.make_node("LpPool", ["r1"], ["pooled"], kernel_shape=[2, 2, 2], strides=[2, 2, 2], p=2, name="energy"),
    ]
    graph = helper.make_graph(nodes, "volume_cnn", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 2, 6, 8, 8])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 2, 6, 8, 8]),
                               helper.make_tensor_value_info("pooled", TensorProto.FLOAT, [1, 4, 3, 4, 4])], initializers)
    result = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    result.ir_version = 8
    onnx.checker.check_model(result, full_check=True)
    return result


def main(folder):
    path = os.path.join(folder, "volume_cnn.onnx")
    onnx.save(model(), path)
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    session = ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])
    inputs = np.random.default_rng(5).uniform(-1, 1, (4, 1, 2, 6, 8, 8)).astype(np.float32)
    results = [session.run(None, {"x": x}) for x in inputs]
    np.savez(os.path.join(folder, "volume_cnn.refs.npz"), in_0=inputs,
             out_0=np.stack([r[0] for r in results]), out_1=np.stack([r[1] for r in results]))
    print("wrote", path)


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "Examples/models")
