"""Writes com.microsoft.QLinearReduceMean models and ONNX Runtime's outputs for them. ONNX Runtime's CPU
provider has no kernel for the operator, so its outputs come from the same arithmetic written as standard
ONNX (DequantizeLinear -> ReduceMean -> QuantizeLinear), which it runs.

usage: ort_qlinear_reduce_mean.py DIR uint8|int8   (writes DIR/mean_K.onnx and DIR/mean.npz: x, y_K for each case K)
"""
import os
import sys

import numpy as np
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper

# (axes, keepdims): the spatial mean of a global pooling, one axis dropped, a negative axis.
CASES = [([2, 3], 1), ([1], 0), ([-1], 1)]


def model(nodes, inputs, outputs, initializers, opsets):
    graph = helper.make_graph(nodes, "mean", inputs, outputs, initializer=initializers)
    result = helper.make_model(graph, opset_imports=[helper.make_opsetid(d, v) for d, v in opsets])
    result.ir_version = 8
    return result.SerializeToString()


def main() -> None:
    folder, type_name = sys.argv[1], sys.argv[2]
    dtype, proto = (np.uint8, TensorProto.UINT8) if type_name == "uint8" else (np.int8, TensorProto.INT8)
    low, high = np.iinfo(dtype).min, np.iinfo(dtype).max
    x = np.random.default_rng(11).integers(low, high + 1, (2, 3, 5, 7)).astype(dtype)
    zero, out_zero = (7, 120) if type_name == "uint8" else (-3, 5)
    initializers = [numpy_helper.from_array(np.array(0.0417, np.float32), "x_scale"), numpy_helper.from_array(np.array(zero, dtype), "x_zero"),
                    numpy_helper.from_array(np.array(0.0093, np.float32), "y_scale"), numpy_helper.from_array(np.array(out_zero, dtype), "y_zero")]
    outputs = {"x": x}
    for k, (axes, keep) in enumerate(CASES):
        kept = [n if d not in [a % 4 for a in axes] else 1 for d, n in enumerate(x.shape)]
        shape = kept if keep else [n for d, n in enumerate(x.shape) if d not in [a % 4 for a in axes]]
        x_info, y_info = helper.make_tensor_value_info("x", proto, list(x.shape)), helper.make_tensor_value_info("y", proto, shape)
        node = helper.make_node("QLinearReduceMean", ["x", "x_scale", "x_zero", "y_scale", "y_zero"], ["y"], domain="com.microsoft",
                                axes=axes, keepdims=keep)
        with open(os.path.join(folder, "mean_%d.onnx" % k), "wb") as f:
            f.write(model([node], [x_info], [y_info], initializers, [("", 13), ("com.microsoft", 1)]))
        qdq = [helper.make_node("DequantizeLinear", ["x", "x_scale", "x_zero"], ["f"]),
               helper.make_node("ReduceMean", ["f"], ["m"], axes=axes, keepdims=keep),
               helper.make_node("QuantizeLinear", ["m", "y_scale", "y_zero"], ["y"])]
        session = ort.InferenceSession(model(qdq, [x_info], [y_info], initializers, [("", 13)]), providers=["CPUExecutionProvider"])
        (outputs["y_%d" % k],) = session.run(None, {"x": x})
    np.savez(os.path.join(folder, "mean.npz"), **outputs)


if __name__ == "__main__":
    main()
