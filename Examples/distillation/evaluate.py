"""Top-1 accuracy of ONNX models on a labelled .npz (X, y), with ONNX Runtime.

usage: evaluate.py TEST.npz NAME=MODEL.onnx ...
"""
import sys

import numpy as np
import onnxruntime as ort


def main():
    data = np.load(sys.argv[1])
    x, y = data["X"].astype(np.float32), data["y"]
    print("| model | top-1 on %d test images |" % len(y))
    print("|---|---:|")
    for item in sys.argv[2:]:
        name, path = item.split("=", 1)
        session = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
        inp = session.get_inputs()[0]
        shape = [d if isinstance(d, int) else 1 for d in inp.shape]
        correct = sum(int(np.argmax(session.run(None, {inp.name: row.reshape(shape)})[0]) == label) for row, label in zip(x, y))
        print("| %s | %.2f %% |" % (name, 100.0 * correct / len(y)))


if __name__ == "__main__":
    main()
