#!/usr/bin/env python3
"""Host benchmark: Whittle's emitted C against ONNX Runtime, measured in the same run.

    make bench

For each float model in Examples/models: compile time of `whittle compile`, the
emitted C's latency per inference built with gcc -O2 and with gcc -O3
-march=native (median of repeated runs after a warm-up), ONNX Runtime's latency
on the same model (1 intra-op thread, all graph optimizations) and the ratios,
and the arena against the planner's lower bound; then per target the flash
(code and weights), RAM and instructions per inference and per MAC under QEMU, and for
Cortex-M targets the cycles estimated from the instruction mix (docs/cycles.md).
Int8 models follow, with the same columns and the int8 latency against the
float model's. It prints Markdown tables; it asserts nothing.
"""
import json
import shutil
import os
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np
import onnxruntime as ort

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
# WHITTLE=path/to/whittle measures another build (the default is the release build `make bench` makes).
WHITTLE = os.environ.get("WHITTLE") or os.path.join(ROOT, ".build", "release", "whittle")

HARNESS = r"""
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include "model.h"

static float input[MODEL_INPUT_0_SIZE];
static float output[MODEL_OUTPUT_0_SIZE];

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static int compare(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv) {
    int runs = argc > 1 ? atoi(argv[1]) : 100, i;
    double *times = malloc(sizeof(double) * (size_t)runs);
    unsigned state = 12345u;
    for (i = 0; i < MODEL_INPUT_0_SIZE; ++i) {
        state = state * 1103515245u + 12345u;
        input[i] = (float)((state >> 8) & 0xFFFF) / 32768.0f - 1.0f;
    }
    for (i = 0; i < 10; ++i) model_run(input, output);
    for (i = 0; i < runs; ++i) {
        double start = now();
        model_run(input, output);
        times[i] = now() - start;
    }
    qsort(times, (size_t)runs, sizeof(double), compare);
    printf("%.9f %f\n", times[runs / 2], (double)output[0]);
    free(times);
    return 0;
}
"""


def median_runtime(session, feeds, minimum_seconds=0.5):
    for _ in range(10):
        session.run(None, feeds)
    times = []
    start = time.perf_counter()
    while time.perf_counter() - start < minimum_seconds or len(times) < 20:
        t = time.perf_counter()
        session.run(None, feeds)
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def model_path(name):
    return os.path.join(ROOT, "Examples", "models", name + ".onnx")


def host_latency(out, flags):
    """The emitted C's median latency per inference on the host, built with `flags`."""
    exe = os.path.join(out, "bench" + "".join(ch for ch in "".join(flags) if ch.isalnum()))
    subprocess.run(["gcc", "-std=c99"] + flags + ["-D_POSIX_C_SOURCE=199309L", "-I", out, os.path.join(out, "bench.c"),
                    os.path.join(out, "model.c"), os.path.join(out, "model_weights.c"), "-lm", "-o", exe], check=True)
    # Enough runs for about half a second, at least 20.
    probe = float(subprocess.run([exe, "5"], check=True, capture_output=True, text=True).stdout.split()[0])
    runs = max(20, min(100000, int(0.5 / max(probe, 1e-7))))
    return float(subprocess.run([exe, str(runs)], check=True, capture_output=True, text=True).stdout.split()[0])


def bench(name, work, model=None):
    model = model or model_path(name)
    out = os.path.join(work, name)
    start = time.perf_counter()
    subprocess.run([WHITTLE, "compile", model, "--name", "model", "-o", out], check=True, capture_output=True)
    compile_seconds = time.perf_counter() - start
    report = json.load(open(os.path.join(out, "model_report.json")))
    with open(os.path.join(out, "bench.c"), "w") as f:
        f.write(HARNESS)
    c_seconds = host_latency(out, ["-O2"])
    native_seconds = host_latency(out, ["-O3", "-march=native"])

    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    session = ort.InferenceSession(model, options, providers=["CPUExecutionProvider"])
    inp = session.get_inputs()[0]
    shape = [d if isinstance(d, int) else 1 for d in inp.shape]
    feeds = {inp.name: np.random.default_rng(0).uniform(-1, 1, shape).astype(np.float32)}
    ort_seconds = median_runtime(session, feeds)
    return {
        "model": name, "compile_s": compile_seconds, "c_us": c_seconds * 1e6, "native_us": native_seconds * 1e6,
        "ort_us": ort_seconds * 1e6, "ratio": c_seconds / ort_seconds, "native_ratio": native_seconds / ort_seconds,
        "arena": report["arenaBytes"], "bound": report["arenaLowerBound"], "weights": report["weightBytes"], "macs": report["macs"],
    }


TARGETS = ["cortex-m0plus", "cortex-m4f", "cortex-m7", "rpi3", "rpi4", "rpi5"]


def target_row(name, target, macs, model=None, extra=()):
    """Flash, RAM and instructions per inference under QEMU, from `whittle verify --target`."""
    model = model or model_path(name)
    result = subprocess.run([WHITTLE, "verify", model, "--target", target] + list(extra), capture_output=True, text=True)
    if result.returncode != 0:
        reason = "does not fit" if "does not fit" in result.stderr else "failed: " + result.stderr.strip()[:80]
        return "| %s | %s | %s | | | | | | | | |" % (name, target, reason)
    line = [l for l in result.stdout.splitlines() if l.startswith(target + ":")][0]
    pairs = (part.strip().rsplit(" ", 1) for part in line.split(":", 1)[1].replace(" B", "").split(","))
    fields = {key.split()[-1]: value for key, value in pairs}
    text, data, bss = int(fields["text"]), int(fields["data"]), int(fields["bss"])
    insns = int(fields["inference"])
    verdict = "PASS" if "FAIL" not in result.stdout else "FAIL"
    # Cortex-M targets: the cycles estimated from the instruction mix (docs/cycles.md).
    estimate = [l for l in result.stdout.splitlines() if l.startswith("cycles: ")]
    cycles = int(estimate[0].split()[1].replace(",", "")) if estimate else None
    return "| %s | %s | %d | %s | %s | %d | %d | %.2f | %s | %s | %s |" % (
        name, target, text, fields.get("code", ""), fields.get("weights", ""), data + bss, insns, insns / max(macs, 1),
        cycles if cycles is not None else "", "%.2f" % (cycles / max(macs, 1)) if cycles is not None else "", verdict)


TARGET_HEADER = ("| model | target | flash: text (B) | model code (B) | weights (B) | RAM: data+bss (B) | instructions / inference "
                 "| instructions / MAC | est. cycles / inference | est. cycles / MAC | verify |\n|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|")


# Int8 models: ONNX Runtime's QDQ models from the zoo, and float models quantized by `whittle quantize`
# (calibration: the digits training images, or the reference inputs of the model).
QUANTIZED = ["digits_cnn_int8_qdq", "kws_dscnn_int8_qdq", "ic_resnet8_int8_qdq"]
WHITTLE_QUANTIZED = {"digits_mlp": "digits_calib.npz", "digits_cnn": "digits_calib.npz", "ad_autoencoder": "ad_autoencoder.refs.npz",
                     "kws_dscnn": "kws_dscnn.refs.npz",
                     "ic_resnet8": "ic_resnet8.refs.npz", "vww_mobilenet_v1_025": "vww_mobilenet_v1_025.refs.npz"}
# W4A8: `whittle quantize --weight-type int4` (first, last and depthwise layers kept at int8 by default;
# "all layers" gives every layer 4-bit weights); the C stores 4-bit weights two per byte.
# A16W8: `whittle quantize --activations int16` (TFLite's 16x8 scheme: symmetric int16 activations, int8 weights).
W4 = ["--weight-type", "int4"]
WHITTLE_LOW_BIT = [("digits_cnn", "digits_calib.npz", W4, "W4A8"), ("kws_dscnn", "kws_dscnn.refs.npz", W4, "W4A8"),
                   ("kws_dscnn", "kws_dscnn.refs.npz", W4 + ["--int8-layers", "none"], "W4A8, all layers"),
                   ("ic_resnet8", "ic_resnet8.refs.npz", W4, "W4A8"),
                   ("vww_mobilenet_v1_025", "vww_mobilenet_v1_025.refs.npz", W4, "W4A8"),
                   ("kws_dscnn", "kws_dscnn.refs.npz", ["--activations", "int16"], "A16W8"),
                   ("ad_autoencoder", "ad_autoencoder.refs.npz", ["--activations", "int16"], "A16W8"),
                   ("ic_resnet8", "ic_resnet8.refs.npz", ["--activations", "int16"], "A16W8")]
INT8_TARGETS = ["cortex-m4f", "cortex-m7", "rp2040", "rpi3", "rpi4", "rpi5"]
SPEED_TARGETS = ["cortex-m4f", "rpi3"]


def int8_tables(work, float_rows):
    models = [(name, model_path(name)) for name in QUANTIZED]
    for name, calibration in WHITTLE_QUANTIZED.items():
        out = os.path.join(work, name + ".whittle_int8.onnx")
        subprocess.run([WHITTLE, "quantize", model_path(name), "--calibration",
                        os.path.join(ROOT, "Examples", "models", calibration), "-o", out], check=True, capture_output=True)
        models.append((name + " (whittle int8)", out))
    for name, calibration, extra, form in WHITTLE_LOW_BIT:
        out = os.path.join(work, "%s.%s.onnx" % (name, form.replace(", ", "_").replace(" ", "_")))
        subprocess.run([WHITTLE, "quantize", model_path(name), "--calibration", os.path.join(ROOT, "Examples", "models", calibration),
                        "-o", out] + extra, check=True, capture_output=True)
        models.append(("%s (whittle %s)" % (name, form), out))
    floats = {r["model"]: r for r in float_rows}
    rows = [(name, path, bench(name.replace(" ", "_").replace("(", "").replace(")", ""), work, path)) for name, path in models]
    print("| int8 model | MACs | weights (B) | float weights (B) | arena (B) | float arena (B) | C -O2 (µs) | C -O3 -march=native (µs) "
          "| ONNX Runtime, same QDQ model (µs) | C -O2 / ORT | C native / ORT | C native / float C native |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for name, _, r in rows:
        parent = floats.get(name.split(" ")[0].replace("_int8_qdq", ""), {})
        versus = "%.2f" % (r["native_us"] / parent["native_us"]) if parent else ""
        print("| %s | %d | %d | %d | %d | %d | %.1f | %.1f | %.1f | %.2f | %.2f | %s |" % (
            name, r["macs"], r["weights"], parent.get("weights", 0), r["arena"], parent.get("arena", 0), r["c_us"], r["native_us"],
            r["ort_us"], r["ratio"], r["native_ratio"], versus))
    print()
    print(TARGET_HEADER)
    for name, path, r in rows:
        for target in INT8_TARGETS:
            print(target_row(name, target, r["macs"], path))
            # The DSP targets' other form: int16 copies of the weights, which SMLAD reads without unpacking.
            if target in SPEED_TARGETS:
                print(target_row(name + ", --optimize speed", target, r["macs"], path, ["--optimize", "speed"]))
    print()


# Pruned models: `whittle prune` at 50/70/90 % (unstructured; digits_mlp with every layer pruned, the
# others keeping their first and last layer) and one structured setting, each compared with the
# dense model: weights in C, MACs with a nonzero weight, accuracy or output SQNR on the model's
# data, and the cortex-m4f program (text, RAM, instructions per inference under QEMU).
PRUNED = [("digits_mlp", "digits_test.npz", "y", ["--keep", "none"]), ("digits_cnn", "digits_test.npz", "y", []),
          ("kws_dscnn", "kws_dscnn.refs.npz", None, []), ("kws_dscnn_int8_qdq", "kws_dscnn_int8_qdq.refs.npz", None, [])]
PRUNED_SETTINGS = [("50 %", ["--sparsity", "0.5"]), ("70 %", ["--sparsity", "0.7"]), ("75 %", ["--sparsity", "0.75"]), ("90 %", ["--sparsity", "0.9"]),
                   ("channels 50 %", ["--structured", "channels", "--sparsity", "0.5"])]


def m4f(model):
    """(text, RAM, instructions) of the verified cortex-m4f program, or None."""
    row = target_row("m", "cortex-m4f", 1, model).split("|")
    return (int(row[3]), int(row[6]), int(row[7])) if row[7].strip().isdigit() else None


def pruned_table(work):
    print("| model | pruning | weights in C (B) | MACs (nonzero) | top-1 / SQNR | M4F text (B) | M4F RAM (B) | M4F instructions | vs dense |")
    print("|---|---|---:|---:|---|---:|---:|---:|---:|")
    for name, data, labels, extra in PRUNED:
        dense = m4f(model_path(name))
        for label, setting in PRUNED_SETTINGS:
            if "--structured" in setting and name.endswith("int8_qdq"):
                continue
            out = os.path.join(work, name + ".pruned.onnx")
            report = os.path.join(work, "report.json")
            command = [WHITTLE, "prune", model_path(name), "-o", out, "--data", os.path.join(ROOT, "Examples", "models", data),
                       "--report", report] + setting + (extra if "--structured" not in setting else [])
            if labels:
                command += ["--labels", labels]
            subprocess.run(command, check=True, capture_output=True, text=True)
            r = json.load(open(report))
            if r.get("groups") is not None:
                macs = "%d -> %d" % (r["macsBefore"], r["macsAfter"])
            else:
                costs = r["layerCosts"]
                macs = "%d -> %d" % (sum(c["macs"] for c in costs), sum(c["nonzeroMacs"] for c in costs))
            if r.get("accuracy"):
                quality = "%.2f -> %.2f %%" % (r["accuracy"]["denseTop1"] * 100, r["accuracy"]["prunedTop1"] * 100)
            else:
                sqnr = r["outputs"][0]["error"].get("sqnrDecibels")
                quality = "SQNR %.1f dB" % sqnr if sqnr is not None else "exact"
            sparse = m4f(out)
            if dense and sparse:
                device = "%d -> %d | %d -> %d | %d -> %d | %.2f" % (dense[0], sparse[0], dense[1], sparse[1], dense[2], sparse[2], sparse[2] / dense[2])
            else:
                device = "| | | failed"
            print("| %s | %s | %d -> %d | %s | %s | %s |" % (name, label, r["denseWeightBytes"], r["prunedWeightBytes"], macs, quality, device))
    print()


# Binary against float convolution: one 3x3 Conv (padding 1) of the given channels and map, in
# float and binarized by `whittle binarize --layers conv --activations binary` (XNOR/popcount).
BINARY_SHAPES = [(64, 32), (64, 8), (256, 8), (256, 32)]
BINARY_TARGETS = ["cortex-m4f", "rpi4"]


def conv_model(path, channels, size):
    import onnx
    from onnx import TensorProto, helper, numpy_helper
    rng = np.random.default_rng(channels * 100 + size)
    w = numpy_helper.from_array(rng.uniform(-1, 1, (channels, channels, 3, 3)).astype(np.float32), "w")
    b = numpy_helper.from_array(rng.uniform(-1, 1, (channels,)).astype(np.float32), "b")
    node = helper.make_node("Conv", ["x", "w", "b"], ["y"], name="conv", pads=[1, 1, 1, 1], kernel_shape=[3, 3])
    graph = helper.make_graph([node], "conv", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, channels, size, size])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, channels, size, size])], [w, b])
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], ir_version=8), path)


def binary_table(work):
    print("| 3x3 conv, padding 1 | target | float instructions | binary instructions | float / binary | float weights (B) | binary weights (B) |")
    print("|---|---|---:|---:|---:|---:|---:|")
    host = []
    for channels, size in BINARY_SHAPES:
        name = "conv%d_%dx%d" % (channels, size, size)
        dense = os.path.join(work, name + ".onnx")
        binary = os.path.join(work, name + ".binary.onnx")
        conv_model(dense, channels, size)
        subprocess.run([WHITTLE, "binarize", dense, "--layers", "conv", "--activations", "binary", "-o", binary], check=True, capture_output=True)
        rows = [bench(name, work, dense), bench(name + "_binary", work, binary)]
        host.append((name, rows[0]["c_us"], rows[1]["c_us"], rows[0]["weights"], rows[1]["weights"]))
        for target in BINARY_TARGETS:
            counts = []
            for path in (dense, binary):
                row = target_row(name, target, 1, path, ["--ram-budget", "4M", "--flash-budget", "4M"]).split("|")
                counts.append(int(row[7]) if row[7].strip().isdigit() else None)
            ratio = "%.1f" % (counts[0] / counts[1]) if counts[0] and counts[1] else ""
            print("| %d -> %d channels, %dx%d | %s | %s | %s | %s | %d | %d |" % (
                channels, channels, size, size, target, counts[0], counts[1], ratio, rows[0]["weights"], rows[1]["weights"]))
    print()
    print("| 3x3 conv, padding 1 | host float (µs) | host binary (µs) | float / binary |")
    print("|---|---:|---:|---:|")
    for name, f, b, _, _ in host:
        print("| %s | %.1f | %.1f | %.1f |" % (name, f, b, f / b))
    print()


# The compression table: each model in every form Whittle compresses to, on one target per class
# (Cortex-M0+ as rp2040, whose 264 KB RAM holds these models; Cortex-M4F; Raspberry Pi 4; the host).
# Flash, RAM and instructions come from `whittle verify --target` (QEMU); the host column is the
# emitted C's latency (gcc -O2). SQNR compares the form's outputs (`whittle run`, which the C equals
# bit for bit) with ONNX Runtime's float outputs on the model's reference inputs.
COMPRESSION_MODELS = ["kws_dscnn", "ic_resnet8", "vww_mobilenet_v1_025"]
COMPRESSION_FORMS = [("float", None, ()), ("int8", [], ()), ("int8, --optimize speed", [], ("--optimize", "speed")),
                     ("W4A8", W4, ()), ("A16W8", ["--activations", "int16"], ()), ("int8, 75 % sparse", "sparse", ())]
COMPRESSION_TARGETS = ["rp2040", "cortex-m4f", "rpi4"]


def interpreter_outputs(model, refs, work):
    """The model's first output on each reference input, by `whittle run`."""
    outputs = []
    for i in range(refs["in_0"].shape[0]):
        inputs = os.path.join(work, "case.npz")
        np.savez(inputs, in_0=refs["in_0"][i])
        out = os.path.join(work, "case_out")
        subprocess.run([WHITTLE, "run", model, "--inputs", inputs, "-o", out], check=True, capture_output=True)
        outputs.append(np.load(os.path.join(out, sorted(os.listdir(out))[0])).astype(np.float64))
        shutil.rmtree(out)
    return np.stack(outputs)


def compression_table(work):
    print("| model | form | target | flash: text (B) | model code (B) | weights (B) | RAM: data+bss (B) | instructions / inference "
          "| instructions / MAC | est. cycles / inference | est. cycles / MAC | verify | host C -O2 (µs) | SQNR vs float (dB) |")
    print("|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|---:|")
    for name in COMPRESSION_MODELS:
        refs = np.load(os.path.join(ROOT, "Examples", "models", name + ".refs.npz"))
        reference = refs["out_0"].astype(np.float64).reshape(refs["in_0"].shape[0], -1)
        calibration = os.path.join(ROOT, "Examples", "models", name + ".refs.npz")
        int8 = os.path.join(work, name + ".int8.onnx")
        subprocess.run([WHITTLE, "quantize", model_path(name), "--calibration", calibration, "-o", int8], check=True, capture_output=True)
        macs = None
        for form, quantize, verify_flags in COMPRESSION_FORMS:
            if quantize is None:
                path, made = model_path(name), None
            elif quantize == "sparse":
                path = os.path.join(work, name + ".sparse.onnx")
                made = subprocess.run([WHITTLE, "prune", int8, "--sparsity", "0.75", "-o", path], capture_output=True, text=True)
            elif quantize:
                path = os.path.join(work, "%s.%s.onnx" % (name, form.split(",")[0]))
                made = subprocess.run([WHITTLE, "quantize", model_path(name), "--calibration", calibration, "-o", path] + quantize,
                                      capture_output=True, text=True)
            else:
                path, made = int8, None
            if made is not None and made.returncode != 0:
                # A form this build of Whittle cannot make (an older one, measured for comparison).
                print("| %s | %s | | failed: %s | | | | | | | | | | |" % (name, form, (made.stderr.strip().splitlines() or [""])[-1][:80]))
                continue
            out = os.path.join(work, "compression")
            made = subprocess.run([WHITTLE, "compile", path, "--name", "model", "-o", out] + list(verify_flags), capture_output=True, text=True)
            if made.returncode != 0:
                print("| %s | %s | | failed: %s | | | | | | | | | | |" % (name, form, (made.stderr.strip().splitlines() or [""])[-1][:80]))
                continue
            macs = macs or json.load(open(os.path.join(out, "model_report.json")))["macs"]
            with open(os.path.join(out, "bench.c"), "w") as f:
                f.write(HARNESS)
            host_us = host_latency(out, ["-O2"]) * 1e6
            shutil.rmtree(out)
            got = interpreter_outputs(path, refs, work).reshape(reference.shape)
            noise = float(np.sum((got - reference) ** 2))
            sqnr = "exact" if noise == 0 else "%.1f" % (10 * np.log10(float(np.sum(reference ** 2)) / noise))
            for target in COMPRESSION_TARGETS:
                row = target_row(name, target, macs, path, verify_flags).rstrip(" |")
                print("%s | %.1f | %s |" % (row.replace("| %s | %s |" % (name, target), "| %s | %s | %s |" % (name, form, target), 1), host_us, sqnr))
    print()


def main():
    if sys.argv[1:] == ["compression"]:
        # The compression table alone: python Tests/Benchmarks/bench.py compression
        work = tempfile.mkdtemp(prefix="whittle-bench-")
        try:
            compression_table(work)
        finally:
            shutil.rmtree(work)
        return 0
    manifest = json.load(open(os.path.join(ROOT, "Examples", "models", "manifest.json")))["models"]
    names = sorted(n for n, m in manifest.items() if m["category"] != "quantized")
    rows = []
    work = tempfile.mkdtemp(prefix="whittle-bench-")
    for name in names:
        rows.append(bench(name, work))
    print("| model | MACs | compile (s) | C -O2 (µs) | C -O3 -march=native (µs) | ONNX Runtime (µs) | C -O2 / ORT | C native / ORT "
          "| arena (B) | lower bound (B) | weights (B) |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print("| %s | %d | %.2f | %.1f | %.1f | %.1f | %.2f | %.2f | %d | %d | %d |" % (
            r["model"], r["macs"], r["compile_s"], r["c_us"], r["native_us"], r["ort_us"], r["ratio"], r["native_ratio"], r["arena"],
            r["bound"], r["weights"]))
    print("\nhost: %s; ONNX Runtime %s, 1 thread; emitted C built with gcc (-O2, and -O3 -march=native)" % (os.uname().machine, ort.__version__))
    print()
    print(TARGET_HEADER)
    for r in rows:
        for target in TARGETS:
            print(target_row(r["model"], target, r["macs"]))
    print()
    int8_tables(work, rows)
    pruned_table(work)
    compression_table(work)
    binary_table(work)
    print("flash is the firmware's text (code, weights and constants); RAM includes the arena, the harness's input/output")
    print("buffers and, on Linux, the C library. Instructions are counted by a QEMU plugin around one call of model_run.")
    print("rp2040 runs Cortex-M0+ code (no FPU) on QEMU's Cortex-M3 board, which executes the Armv6-M subset.")
    shutil.rmtree(work)


if __name__ == "__main__":
    sys.exit(main())
