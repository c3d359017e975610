"""Quantizes a float model with ONNX Runtime's static quantizer to low-bit weights, as users do: the
model is first converted to opset 21, where QDQ nodes with 4-bit integers are standard ONNX (with
`contrib` last, the model keeps its opset and ONNX Runtime writes its com.microsoft QuantizeLinear
and DequantizeLinear instead).

usage: ort_low_bit.py FLOAT.onnx SAMPLES.npz KEY OUT.onnx WEIGHT_TYPE [contrib] [activations=TYPE]

WEIGHT_TYPE and TYPE are names of onnxruntime.quantization.QuantType (QInt4, QUInt4, QInt8, QInt16
...). Activations are uint8 unless TYPE says otherwise, weights per channel; the calibration data
are the samples SAMPLES.npz holds in KEY. With `contrib` the model keeps its opset, and ONNX Runtime
writes its com.microsoft QuantizeLinear/DequantizeLinear for 4-bit weights and 16-bit activations.
"""
import os
import sys
import tempfile

import numpy as np
import onnx
from onnx import version_converter
from onnxruntime.quantization import QuantFormat, QuantType, quantize_static

from ort_samples import Samples


def main() -> None:
    source, samples, key, out, weight_type = sys.argv[1:6]
    contrib = "contrib" in sys.argv[6:]
    activations = next((a.split("=", 1)[1] for a in sys.argv[6:] if a.startswith("activations=")), "QUInt8")
    model = onnx.load(source) if contrib else version_converter.convert_version(onnx.load(source), 21)
    (only,) = model.graph.input
    shape = [d.dim_value or 1 for d in only.type.tensor_type.shape.dim]
    with tempfile.TemporaryDirectory() as scratch:
        upgraded = os.path.join(scratch, "opset21.onnx")
        onnx.save(model, upgraded)
        quantize_static(upgraded, out, Samples(only.name, shape, np.load(samples)[key]), quant_format=QuantFormat.QDQ,
                        weight_type=QuantType[weight_type], activation_type=QuantType[activations], per_channel=True,
                        # 16-bit activations below opset 21: ask for the com.microsoft forms (ONNX Runtime
                        # would otherwise raise the model's opset).
                        extra_options={"UseQDQContribOps": contrib and activations != "QUInt8"})


if __name__ == "__main__":
    main()
