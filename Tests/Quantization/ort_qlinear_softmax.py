"""Writes one com.microsoft.QLinearSoftmax node as a model, inputs that reach the ends of its table,
and ONNX Runtime's outputs.

usage: ort_qlinear_softmax.py DIR uint8|int8 OPSET   (writes DIR/softmax.onnx and DIR/softmax.npz: x, y)
"""
import os
import sys

import numpy as np
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper


def main() -> None:
    folder, type_name, opset = sys.argv[1], sys.argv[2], int(sys.argv[3])
    dtype, proto = (np.uint8, TensorProto.UINT8) if type_name == "uint8" else (np.int8, TensorProto.INT8)
    low, high = np.iinfo(dtype).min, np.iinfo(dtype).max
    rng = np.random.default_rng(3)
    rows = [np.full(40, high // 2, dtype), np.linspace(low, high, 40).astype(dtype), rng.integers(low, high + 1, 40).astype(dtype),
            np.array([high] + [low] * 39, dtype), rng.integers(high - 20, high + 1, 40).astype(dtype)]
    x = np.stack(rows).reshape(5, 2, 20)
    zero = 0 if type_name == "uint8" else -128
    initializers = [numpy_helper.from_array(np.array(0.0625, np.float32), "x_scale"), numpy_helper.from_array(np.array(3, dtype), "x_zero"),
                    numpy_helper.from_array(np.array(1 / 256, np.float32), "y_scale"), numpy_helper.from_array(np.array(zero, dtype), "y_zero")]
    # Below opset 13 the rows are everything from the axis on (2 x 20 values); from 13 the last axis.
    node = helper.make_node("QLinearSoftmax", ["x", "x_scale", "x_zero", "y_scale", "y_zero"], ["y"], domain="com.microsoft",
                            axis=1 if opset < 13 else -1, opset=opset)
    graph = helper.make_graph([node], "softmax", [helper.make_tensor_value_info("x", proto, [5, 2, 20])],
                              [helper.make_tensor_value_info("y", proto, [5, 2, 20])], initializer=initializers)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset), helper.make_opsetid("com.microsoft", 1)])
    model.ir_version = 8
    path = os.path.join(folder, "softmax.onnx")
    with open(path, "wb") as f:
        f.write(model.SerializeToString())
    session = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    (y,) = session.run(None, {"x": x})
    np.savez(os.path.join(folder, "softmax.npz"), x=x, y=y)


if __name__ == "__main__":
    main()
