"""Quantize the digits CNN to int8, compile it for a Cortex-M4F, and measure the accuracy of that
exact C on the 450 test images, run on this machine.

    pip install dist/whittle-*.whl        # built by `make wheel`
    python Examples/python/evaluate_digits.py
"""
import os
import time

import numpy as np

import whittle

MODELS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "models")


def main():
    quantized = whittle.quantize(os.path.join(MODELS, "digits_cnn.onnx"), calibration=os.path.join(MODELS, "digits_calib.npz"),
                                 map=["input=X_img"])
    compiled = whittle.compile(quantized, target="cortex-m4f")
    print(compiled)                                   # arena, weights, MACs
    model = compiled.load()                           # the C, built for this machine once, via ctypes
    test = np.load(os.path.join(MODELS, "digits_test.npz"))
    start = time.perf_counter()
    (logits,) = model.run(test["X_img"])              # a leading batch axis: all 450 images
    seconds = time.perf_counter() - start
    accuracy = float(np.mean(logits.reshape(len(logits), -1).argmax(axis=1) == test["y"]))
    print("top-1 of the compiled int8 C: %.2f %% (%d images in %.1f ms)" % (100 * accuracy, len(logits), 1000 * seconds))
    return {"quantized": quantized, "compiled": compiled, "accuracy": accuracy, "seconds": seconds, "logits": logits}


if __name__ == "__main__":
    main()
