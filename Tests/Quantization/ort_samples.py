"""Calibration samples for ONNX Runtime's static quantizer, shared by the scripts of this folder."""
import numpy as np
from onnxruntime.quantization import CalibrationDataReader


class Samples(CalibrationDataReader):
    """One feed per sample of `data` (first axis = samples), reshaped to the input's `shape`."""

    def __init__(self, name, shape, data):
        self.items = iter([{name: x.reshape(shape).astype(np.float32)} for x in data])

    def get_next(self):
        return next(self.items, None)
