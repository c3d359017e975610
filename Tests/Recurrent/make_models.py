"""Writes the recurrent keyword-spotting test models (seeded weights) and their ONNX Runtime references:

    Examples/models/kws_lstm.onnx   MFCC [1, 49, 10] -> LSTM (64, forward) -> Gemm -> Softmax [1, 12]
    Examples/models/kws_gru.onnx    MFCC [1, 49, 10] -> GRU (32, bidirectional, linear_before_reset
                                    as PyTorch exports it) -> Gemm -> Softmax [1, 12]
    NAME.refs.npz                   in_0 [5, 1, 49, 10] and ONNX Runtime's out_0 [5, 1, 12]

The graphs have the form PyTorch's exporter gives batch-first recurrent layers (a Transpose to
time-major before the layer). usage: make_models.py OUTDIR
"""
import sys

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper


def model(kind, hidden, bidirectional, seed):
    rng = np.random.default_rng(seed)
    gates = 4 if kind == "LSTM" else 3
    directions = 2 if bidirectional else 1
    scale = 1 / np.sqrt(hidden)
    inits = {
        "W": rng.uniform(-scale, scale, (directions, gates * hidden, 10)),
        "R": rng.uniform(-scale, scale, (directions, gates * hidden, hidden)),
        "B": rng.uniform(-scale, scale, (directions, 2 * gates * hidden)),
        "fc_w": rng.uniform(-0.2, 0.2, (12, directions * hidden)),
        "fc_b": rng.uniform(-0.1, 0.1, (12,)),
    }
    initializers = [numpy_helper.from_array(v.astype(np.float32), k) for k, v in inits.items()]
    initializers.append(numpy_helper.from_array(np.array([1, directions * hidden], np.int64), "flat_shape"))
    attrs = {"hidden_size": hidden, "direction": "bidirectional" if bidirectional else "forward"}
    if kind == "GRU":
        attrs["linear_before_reset"] = 1
    outputs = ["y", "y_h"] + (["y_c"] if kind == "LSTM" else [])
    nodes = [
        helper.make_node("Transpose", ["mfcc"], ["time_major"], perm=[1, 0, 2], name="to_time_major"),
        helper.make_node(kind, ["time_major", "W", "R", "B"], outputs, name=kind.lower(), **attrs),
        helper.make_node("Transpose", ["y_h"], ["y_h_batch"], perm=[1, 0, 2], name="state_batch_first"),
        helper.make_node("Reshape", ["y_h_batch", "flat_shape"], ["features"], name="flatten"),
        helper.make_node("Gemm", ["features", "fc_w", "fc_b"], ["logits"], transB=1, name="classifier"),
        helper.make_node("Softmax", ["logits"], ["probs"], axis=-1, name="softmax"),
    ]
    graph = helper.make_graph(nodes, f"kws_{kind.lower()}", [helper.make_tensor_value_info("mfcc", TensorProto.FLOAT, [1, 49, 10])],
                              [helper.make_tensor_value_info("probs", TensorProto.FLOAT, [1, 12])], initializers)
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 14)], producer_name="whittle-tests")
    m.ir_version = 8
    onnx.checker.check_model(m, full_check=True)
    return m


def main():
    out = sys.argv[1]
    inputs = np.random.default_rng(3).standard_normal((5, 1, 49, 10)).astype(np.float32) * 2
    for name, kind, hidden, bidirectional, seed in [("kws_lstm", "LSTM", 64, False, 1), ("kws_gru", "GRU", 32, True, 2)]:
        m = model(kind, hidden, bidirectional, seed)
        path = f"{out}/{name}.onnx"
        onnx.save(m, path)
        session = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
        outputs = np.stack([session.run(None, {"mfcc": x})[0] for x in inputs])
        np.savez(f"{out}/{name}.refs.npz", in_0=inputs, out_0=outputs)
        print(f"wrote {path} and {name}.refs.npz")


if __name__ == "__main__":
    main()
