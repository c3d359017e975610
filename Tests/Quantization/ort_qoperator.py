"""Quantizes a float model with ONNX Runtime's static quantizer in its QOperator format (QLinearConv,
QGemm, QLinearSoftmax ... in place of the float operators), as users do, per output channel.

usage: ort_qoperator.py FLOAT.onnx SAMPLES.npz KEY OUT.onnx ACTIVATION_TYPE WEIGHT_TYPE

The types are names of onnxruntime.quantization.QuantType (QUInt8, QInt8); the calibration data are
the samples SAMPLES.npz holds in KEY. With uint8 activations the weights get 7 bits (reduce_range):
ONNX Runtime's x86 kernels multiply uint8 by int8 in 16-bit pair sums that saturate otherwise, so
its outputs would not be the model's arithmetic.
"""
import sys

import numpy as np
import onnx
from onnxruntime.quantization import QuantFormat, QuantType, quantize_static

from ort_samples import Samples


def main() -> None:
    source, samples, key, out, activation_type, weight_type = sys.argv[1:7]
    (only,) = onnx.load(source).graph.input
    shape = [d.dim_value or 1 for d in only.type.tensor_type.shape.dim]
    quantize_static(source, out, Samples(only.name, shape, np.load(samples)[key]), quant_format=QuantFormat.QOperator,
                    weight_type=QuantType[weight_type], activation_type=QuantType[activation_type], per_channel=True,
                    reduce_range=activation_type == "QUInt8")


if __name__ == "__main__":
    main()
