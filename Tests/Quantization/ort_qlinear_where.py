"""Writes one com.microsoft.QLinearWhere node as a model (condition, X and Y broadcast together; X
requantized to Z's scale, Y already in it, or both requantized with `both`), inputs spanning the byte
range, and ONNX Runtime's outputs.

usage: ort_qlinear_where.py DIR uint8|int8 [both]   (writes DIR/where.onnx and DIR/where.npz: c, x, y, z)
"""
import os
import sys

import numpy as np
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper


def main() -> None:
    folder, type_name = sys.argv[1], sys.argv[2]
    both = sys.argv[3:] == ["both"]
    dtype, proto = (np.uint8, TensorProto.UINT8) if type_name == "uint8" else (np.int8, TensorProto.INT8)
    low, high = np.iinfo(dtype).min, np.iinfo(dtype).max
    rng = np.random.default_rng(5)
    c = rng.integers(0, 2, (2, 1, 6)).astype(bool)
    x = np.linspace(low, high, 36).astype(dtype).reshape(2, 3, 6)
    y = rng.integers(low, high + 1, (3, 1)).astype(dtype)
    zero = 10 if type_name == "uint8" else -7
    z_scale = 0.05
    initializers = [numpy_helper.from_array(np.array(0.0371, np.float32), "x_scale"), numpy_helper.from_array(np.array(3, dtype), "x_zero"),
                    numpy_helper.from_array(np.array(0.0123 if both else z_scale, np.float32), "y_scale"),
                    numpy_helper.from_array(np.array(-2 if both else zero, dtype), "y_zero"),
                    numpy_helper.from_array(np.array(z_scale, np.float32), "z_scale"), numpy_helper.from_array(np.array(zero, dtype), "z_zero")]
    node = helper.make_node("QLinearWhere", ["c", "x", "x_scale", "x_zero", "y", "y_scale", "y_zero", "z_scale", "z_zero"], ["z"],
                            domain="com.microsoft")
    graph = helper.make_graph([node], "where", [helper.make_tensor_value_info("c", TensorProto.BOOL, [2, 1, 6]),
                                                helper.make_tensor_value_info("x", proto, [2, 3, 6]),
                                                helper.make_tensor_value_info("y", proto, [3, 1])],
                              [helper.make_tensor_value_info("z", proto, [2, 3, 6])], initializer=initializers)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13), helper.make_opsetid("com.microsoft", 1)])
    model.ir_version = 8
    path = os.path.join(folder, "where.onnx")
    with open(path, "wb") as f:
        f.write(model.SerializeToString())
    session = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    (z,) = session.run(None, {"c": c, "x": x, "y": y})
    np.savez(os.path.join(folder, "where.npz"), c=c, x=x, y=y, z=z)


if __name__ == "__main__":
    main()
