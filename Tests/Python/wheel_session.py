"""Runs inside a fresh virtual environment with only the wheel and NumPy installed and no Swift
toolchain on PATH (see wheel_test.py): the README's Python quick start, then the same images through
the command line (the wheel's `whittle run`, one image at a time) for the accuracy to compare with.
Prints one `result: KEY VALUE` line per figure."""
import os
import runpy
import shutil
import subprocess
import sys
import tempfile
import time

import numpy as np

import whittle
from whittle import _cli

ROOT = sys.argv[1]
session = runpy.run_path(os.path.join(ROOT, "Examples", "python", "evaluate_digits.py"))["main"]()
print("result: c_accuracy %.6f" % session["accuracy"])
print("result: c_seconds %.6f" % session["seconds"])
print("result: report_arena %d" % session["compiled"].report["arenaBytes"])
print("result: html %d" % ("<svg" in session["compiled"]._repr_html_()))

test = np.load(os.path.join(ROOT, "Examples", "models", "digits_test.npz"))
work = tempfile.mkdtemp(prefix="whittle-wheel-session-")
try:
    start = time.perf_counter()
    predictions = []
    for i, image in enumerate(test["X_img"]):
        np.save(os.path.join(work, "x.npy"), image[None])
        # The binary the wheel installed, as `python -m whittle` runs it, without Python's start-up per image.
        subprocess.run([_cli.executable(), "run", session["quantized"], "--input", "input=" + os.path.join(work, "x.npy"),
                        "-o", os.path.join(work, "out")], check=True, capture_output=True, env=_cli.environment())
        predictions.append(int(np.load(os.path.join(work, "out", "logits.npy")).argmax()))
    cli_seconds = time.perf_counter() - start
finally:
    shutil.rmtree(work, ignore_errors=True)
print("result: cli_accuracy %.6f" % float(np.mean(np.array(predictions) == test["y"])))
print("result: cli_seconds %.6f" % cli_seconds)
try:
    whittle.compile(os.path.join(ROOT, "Examples", "models", "digits_cnn.onnx"), target="no-such-target")
    print("result: error none")
except whittle.WhittleError as error:
    print("result: error %s" % str(error).replace("\n", " "))
print("result: version %s" % whittle.version())
module = subprocess.run([sys.executable, "-m", "whittle", "--version"], capture_output=True, text=True)
print("result: module_version %s" % module.stdout.strip())
