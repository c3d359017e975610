"""Runs an ONNX model with ONNX Runtime on every sample of an .npz archive.

usage: ort_run.py MODEL.onnx SAMPLES.npz KEY OUT.npz

KEY is the array of SAMPLES.npz holding the samples (first axis); the model must have one input.
OUT.npz receives out_<j>: output j for all samples stacked on the first axis. Graph optimizations are
disabled, so QDQ models run as ONNX specifies them (dequantize, float operator, quantize).
"""
import sys

import numpy as np
import onnxruntime as ort


def main() -> None:
    model, samples, key, out = sys.argv[1:5]
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    options.intra_op_num_threads = 1
    session = ort.InferenceSession(model, options, providers=["CPUExecutionProvider"])
    (only,) = session.get_inputs()
    shape = [d if isinstance(d, int) else 1 for d in only.shape]
    data = np.load(samples)[key].astype(np.float32)
    results = [session.run(None, {only.name: x.reshape(shape)}) for x in data]
    np.savez(out, **{f"out_{j}": np.stack([r[j] for r in results]) for j in range(len(results[0]))})


if __name__ == "__main__":
    main()
