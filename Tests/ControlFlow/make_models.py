"""Writes a model with control flow and its ONNX Runtime references:

    Examples/models/refine_loop.onnx   x [1, 8] -> Loop (4 iterations: h = tanh(h W + b), each h also
                                       stacked as a scan output) -> If (a residual flag, as exporters
                                       write a Python `if` on a constant) -> y [1, 8], steps [4, 1, 8]
    refine_loop.refs.npz               in_0 [5, 1, 8] and ONNX Runtime's out_0, out_1

usage: make_models.py OUTDIR
"""
import os
import sys

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper


def model():
    rng = np.random.default_rng(7)
    w = numpy_helper.from_array((rng.standard_normal((8, 8)) * 0.4).astype(np.float32), "W")
    b = numpy_helper.from_array((rng.standard_normal(8) * 0.1).astype(np.float32), "b")
    body = helper.make_graph(
        [helper.make_node("MatMul", ["h_in", "W"], ["hw"]),
         helper.make_node("Add", ["hw", "b"], ["pre"]),
         helper.make_node("Tanh", ["pre"], ["h_out"]),
         helper.make_node("Identity", ["cond_in"], ["cond_out"]),
         helper.make_node("Identity", ["h_out"], ["step"])],
        "refine",
        [helper.make_tensor_value_info("i", TensorProto.INT64, []),
         helper.make_tensor_value_info("cond_in", TensorProto.BOOL, []),
         helper.make_tensor_value_info("h_in", TensorProto.FLOAT, [1, 8])],
        [helper.make_tensor_value_info("cond_out", TensorProto.BOOL, []),
         helper.make_tensor_value_info("h_out", TensorProto.FLOAT, [1, 8]),
         helper.make_tensor_value_info("step", TensorProto.FLOAT, [1, 8])])
    then_branch = helper.make_graph([helper.make_node("Add", ["h", "x"], ["residual"])], "then", [],
                                    [helper.make_tensor_value_info("residual", TensorProto.FLOAT, [1, 8])])
    else_branch = helper.make_graph([helper.make_node("Identity", ["h"], ["plain"])], "else", [],
                                    [helper.make_tensor_value_info("plain", TensorProto.FLOAT, [1, 8])])
    nodes = [
        helper.make_node("Loop", ["trips", "keep_going", "x"], ["h", "steps"], body=body, name="refine"),
        helper.make_node("If", ["use_residual"], ["y"], then_branch=then_branch, else_branch=else_branch, name="residual"),
    ]
    initializers = [w, b, numpy_helper.from_array(np.array(4, np.int64), "trips"),
                    numpy_helper.from_array(np.array(True), "keep_going"),
                    numpy_helper.from_array(np.array(True), "use_residual")]
    graph = helper.make_graph(nodes, "refine_loop", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 8])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 8]),
                               helper.make_tensor_value_info("steps", TensorProto.FLOAT, [4, 1, 8])], initializers)
    result = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    result.ir_version = 8
    onnx.checker.check_model(result, full_check=True)
    return result


def main(folder):
    path = os.path.join(folder, "refine_loop.onnx")
    onnx.save(model(), path)
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    session = ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])
    inputs = np.random.default_rng(11).uniform(-1, 1, (5, 1, 8)).astype(np.float32)
    results = [session.run(None, {"x": x}) for x in inputs]
    np.savez(os.path.join(folder, "refine_loop.refs.npz"), in_0=inputs,
             out_0=np.stack([r[0] for r in results]), out_1=np.stack([r[1] for r in results]))
    print("wrote", path)


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "Examples/models")
