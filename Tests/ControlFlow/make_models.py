"""Writes a model with control flow and its ONNX Runtime references:

    Examples/models/refine_loop.onnx   x [1, 8] -> Loop (4 iterations: h = tanh(h W + b), each h also
                                       stacked as a scan output) -> If (a residual flag, as exporters
                                       write a Python `if` on a constant) -> y [1, 8], steps [4, 1, 8]
    refine_loop.refs.npz               in_0 [5, 1, 8] and ONNX Runtime's out_0, out_1
    Examples/models/nested_scan.onnx   x [6, 4] -> Loop (3 iterations; its body reads the iteration number
                                       and runs an inner Loop of 2 iterations) -> Scan (backward over the
                                       rows of a [4, 6] sequence, two carried values swapped each step,
                                       scan output along axis 1) -> a [4], b [4], rows [4, 6]
    nested_scan.refs.npz               in_0 [5, 6, 4] and ONNX Runtime's out_0 .. out_2

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


def nested_scan():
    rng = np.random.default_rng(13)
    w = numpy_helper.from_array((rng.standard_normal((4, 4)) * 0.5).astype(np.float32), "W")
    inner_body = helper.make_graph(
        [helper.make_node("MatMul", ["g_in", "W"], ["gw"]),
         helper.make_node("Tanh", ["gw"], ["g_out"]),
         helper.make_node("Identity", ["c_in"], ["c_out"])],
        "inner",
        [helper.make_tensor_value_info("j", TensorProto.INT64, []),
         helper.make_tensor_value_info("c_in", TensorProto.BOOL, []),
         helper.make_tensor_value_info("g_in", TensorProto.FLOAT, [6, 4])],
        [helper.make_tensor_value_info("c_out", TensorProto.BOOL, []),
         helper.make_tensor_value_info("g_out", TensorProto.FLOAT, [6, 4])])
    outer_body = helper.make_graph(
        [helper.make_node("Loop", ["two", "", "h_in"], ["g"], body=inner_body, name="inner"),
         helper.make_node("Cast", ["i"], ["i_float"], to=TensorProto.FLOAT),
         helper.make_node("Mul", ["i_float", "tenth"], ["shift"]),
         helper.make_node("Add", ["g", "shift"], ["h_out"]),
         helper.make_node("Identity", ["cond_in"], ["cond_out"])],
        "outer",
        [helper.make_tensor_value_info("i", TensorProto.INT64, []),
         helper.make_tensor_value_info("cond_in", TensorProto.BOOL, []),
         helper.make_tensor_value_info("h_in", TensorProto.FLOAT, [6, 4])],
        [helper.make_tensor_value_info("cond_out", TensorProto.BOOL, []),
         helper.make_tensor_value_info("h_out", TensorProto.FLOAT, [6, 4])])
    scan_body = helper.make_graph(
        [helper.make_node("Add", ["a_in", "row"], ["a_next"]),
         helper.make_node("Mul", ["b_in", "half"], ["b_half"]),
         helper.make_node("Sub", ["a_next", "b_half"], ["out_row"]),
         # The carried values trade places every step.
         helper.make_node("Identity", ["b_in"], ["a_out"]),
         helper.make_node("Identity", ["a_next"], ["b_out"])],
        "scan",
        [helper.make_tensor_value_info("a_in", TensorProto.FLOAT, [4]),
         helper.make_tensor_value_info("b_in", TensorProto.FLOAT, [4]),
         helper.make_tensor_value_info("row", TensorProto.FLOAT, [4])],
        [helper.make_tensor_value_info("a_out", TensorProto.FLOAT, [4]),
         helper.make_tensor_value_info("b_out", TensorProto.FLOAT, [4]),
         helper.make_tensor_value_info("out_row", TensorProto.FLOAT, [4])])
    nodes = [
        helper.make_node("Loop", ["three", "", "x"], ["h"], body=outer_body, name="outer"),
        helper.make_node("Transpose", ["h"], ["sequence"], perm=[1, 0]),
        helper.make_node("Scan", ["zeros", "ones", "sequence"], ["a", "b", "rows"], body=scan_body, num_scan_inputs=1,
                         scan_input_axes=[1], scan_input_directions=[1], scan_output_axes=[1], name="sweep"),
    ]
    initializers = [w, numpy_helper.from_array(np.array(3, np.int64), "three"),
                    numpy_helper.from_array(np.array(2, np.int64), "two"),
                    numpy_helper.from_array(np.array(0.1, np.float32), "tenth"),
                    numpy_helper.from_array(np.array(0.5, np.float32), "half"),
                    numpy_helper.from_array(np.zeros(4, np.float32), "zeros"),
                    numpy_helper.from_array(np.ones(4, np.float32), "ones")]
    graph = helper.make_graph(nodes, "nested_scan", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [6, 4])],
                              [helper.make_tensor_value_info("a", TensorProto.FLOAT, [4]),
                               helper.make_tensor_value_info("b", TensorProto.FLOAT, [4]),
                               helper.make_tensor_value_info("rows", TensorProto.FLOAT, [4, 6])], initializers)
    result = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 16)])
    result.ir_version = 8
    onnx.checker.check_model(result, full_check=True)
    return result


def write(folder, name, proto, shape, seed):
    path = os.path.join(folder, name + ".onnx")
    onnx.save(proto, path)
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    session = ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])
    inputs = np.random.default_rng(seed).uniform(-1, 1, (5,) + shape).astype(np.float32)
    results = [session.run(None, {"x": x}) for x in inputs]
    outputs = {f"out_{j}": np.stack([r[j] for r in results]) for j in range(len(results[0]))}
    np.savez(os.path.join(folder, name + ".refs.npz"), in_0=inputs, **outputs)
    print("wrote", path)


def main(folder):
    write(folder, "refine_loop", model(), (1, 8), 11)
    write(folder, "nested_scan", nested_scan(), (6, 4), 17)


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "Examples/models")
