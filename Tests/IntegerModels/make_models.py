"""Writes ONNX Runtime's two integer forms of the digits MLP and their ONNX Runtime references:

    Examples/models/digits_mlp_dynamic.onnx   quantize_dynamic: DynamicQuantizeLinear and MatMulInteger
                                              (uint8 activations, int8 weights), float scales and bias
    Examples/models/digits_mlp_qoperator.onnx quantize_static in the QOperator format: QLinearMatMul
                                              (and QLinearAdd), calibrated on digits_calib.npz
    NAME.refs.npz                             in_0 [15, 1, 64] (digits_mlp's cases) and ONNX Runtime's out_0

Both start from Examples/models/digits_mlp.onnx (three Gemm layers with ReLU), whose Gemm layers are
first written as MatMul and Add, the form PyTorch exports for Linear layers and the form ONNX
Runtime's quantizers rewrite. usage: make_models.py MODELDIR
"""
import os
import sys
import tempfile

import numpy as np
import onnx
import onnxruntime as ort
from onnx import helper, numpy_helper
from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_dynamic, quantize_static


def as_matmul(model):
    """Gemm(x, W, b, transB=1) -> MatMul(x, W^T) + b, with the same weights."""
    weights = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}
    nodes, initializers = [], []
    for node in model.graph.node:
        if node.op_type != "Gemm":
            nodes.append(node)
            continue
        x, w, b = node.input
        initializers.append(numpy_helper.from_array(weights[w].T.copy(), w + "_t"))
        initializers.append(numpy_helper.from_array(weights[b], b))
        nodes.append(helper.make_node("MatMul", [x, w + "_t"], [node.output[0] + "_mm"], name=node.name + "_matmul"))
        nodes.append(helper.make_node("Add", [node.output[0] + "_mm", b], [node.output[0]], name=node.name + "_bias"))
    graph = helper.make_graph(nodes, model.graph.name, model.graph.input, model.graph.output, initializers)
    result = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    result.ir_version = 8
    onnx.checker.check_model(result)
    return result


class Samples(CalibrationDataReader):
    def __init__(self, samples, name):
        self.items = iter([{name: s.reshape(1, 64).astype(np.float32)} for s in samples])

    def get_next(self):
        return next(self.items, None)


def references(path, inputs):
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    session = ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name
    outputs = np.stack([session.run(None, {name: x})[0] for x in inputs])
    np.savez(path.replace(".onnx", ".refs.npz"), in_0=inputs, out_0=outputs)
    return outputs


def main(folder):
    base = as_matmul(onnx.load(os.path.join(folder, "digits_mlp.onnx")))
    inputs = np.load(os.path.join(folder, "digits_mlp.refs.npz"))["in_0"].astype(np.float32)
    calibration = np.load(os.path.join(folder, "digits_calib.npz"))
    samples = calibration[calibration.files[0]]
    with tempfile.TemporaryDirectory() as scratch:
        float_path = os.path.join(scratch, "digits_mlp_matmul.onnx")
        onnx.save(base, float_path)
        dynamic = os.path.join(folder, "digits_mlp_dynamic.onnx")
        quantize_dynamic(float_path, dynamic, weight_type=QuantType.QInt8)
        qoperator = os.path.join(folder, "digits_mlp_qoperator.onnx")
        quantize_static(float_path, qoperator, Samples(samples[:64], base.graph.input[0].name), quant_format=QuantFormat.QOperator,
                        activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8)
    for path in (dynamic, qoperator):
        model = onnx.load(path)
        print(os.path.basename(path), sorted({n.op_type for n in model.graph.node}))
        outputs = references(path, inputs)
        print("  out_0", outputs.shape)


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "Examples/models")
