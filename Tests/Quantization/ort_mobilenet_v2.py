"""Builds a MobileNetV2 (width 0.35, 96×96 input, 10 classes, seeded weights) and quantizes it with
ONNX Runtime's static quantizer (QDQ, per-channel int8 weights, uint8 activations): a deep int8
model as users bring them (52 convolutions, 10 residual adds).

usage: ort_mobilenet_v2.py OUT.onnx
"""
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper
from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static

rng = np.random.default_rng(7)
nodes, initializers = [], []
count = [0]


def name(base):
    count[0] += 1
    return f"{base}_{count[0]}"


def conv(x, cin, cout, k=1, stride=1, group=1, relu6=True):
    w = name("w")
    b = name("b")
    fan_in = cin // group * k * k
    initializers.append(numpy_helper.from_array((rng.standard_normal((cout, cin // group, k, k)) * np.sqrt(2 / fan_in)).astype(np.float32), w))
    initializers.append(numpy_helper.from_array((rng.standard_normal(cout) * 0.05).astype(np.float32), b))
    y = name("conv")
    nodes.append(helper.make_node("Conv", [x, w, b], [y], kernel_shape=[k, k], strides=[stride, stride], pads=[k // 2] * 4, group=group))
    if relu6:
        z = name("relu6")
        lo, hi = name("lo"), name("hi")
        initializers.extend([numpy_helper.from_array(np.array(0, np.float32), lo), numpy_helper.from_array(np.array(6, np.float32), hi)])
        nodes.append(helper.make_node("Clip", [y, lo, hi], [z]))
        return z
    return y


def make_divisible(v):
    return max(8, int(v + 4) // 8 * 8)


def build(path):
    width = 0.35
    x = conv("input", 3, make_divisible(32 * width), k=3, stride=2)
    cin = make_divisible(32 * width)
    for t, c, n, s in [(1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1)]:
        cout = make_divisible(c * width)
        for i in range(n):
            stride = s if i == 0 else 1
            hidden = cin * t
            y = conv(x, cin, hidden) if t != 1 else x
            y = conv(y, hidden, hidden, k=3, stride=stride, group=hidden)
            y = conv(y, hidden, cout, relu6=False)
            if stride == 1 and cin == cout:
                z = name("add")
                nodes.append(helper.make_node("Add", [x, y], [z]))
                y = z
            x, cin = y, cout
    x = conv(x, cin, 1280)
    nodes.append(helper.make_node("GlobalAveragePool", [x], ["pooled"]))
    nodes.append(helper.make_node("Flatten", ["pooled"], ["features"]))
    initializers.append(numpy_helper.from_array((rng.standard_normal((10, 1280)) * 0.03).astype(np.float32), "fc_w"))
    initializers.append(numpy_helper.from_array(np.zeros(10, np.float32), "fc_b"))
    nodes.append(helper.make_node("Gemm", ["features", "fc_w", "fc_b"], ["logits"], transB=1))
    graph = helper.make_graph(nodes, "mobilenet_v2_035", [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, 3, 96, 96])],
                              [helper.make_tensor_value_info("logits", TensorProto.FLOAT, [1, 10])], initializers)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.save(model, path)


class Samples(CalibrationDataReader):
    def __init__(self):
        self.samples = iter([{"input": rng.uniform(-1, 1, (1, 3, 96, 96)).astype(np.float32)} for _ in range(8)])

    def get_next(self):
        return next(self.samples, None)


def main():
    out = sys.argv[1]
    build(out + ".float.onnx")
    quantize_static(out + ".float.onnx", out, Samples(), quant_format=QuantFormat.QDQ, per_channel=True,
                    activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8)


if __name__ == "__main__":
    main()
