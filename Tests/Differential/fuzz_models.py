"""Differential testing of the whole compiler on generated models.

For each seed, `generate.model(seed)` builds a random valid ONNX model and its inputs. ONNX Runtime
(graph optimizations off: the model as written) gives the reference; `whittle run` (the reference
interpreter) must match it, or where they differ, ONNX's own reference implementation (in float32,
or in float64: the exact value) must side with the interpreter; where ONNX Runtime and the float32
reference disagree with each other too, the computation is ill-conditioned and gets no verdict.
`whittle verify` (the emitted C, built with gcc and sanitizers,
against the interpreter) must pass. On the device sample (--qemu-every) the worst-case stack must be
measured and the emitted C must have no MISRA C:2012 mandatory or required finding outside
Tests/MISRA/deviations.txt (needs cppcheck). A failing model is shrunk to the shortest prefix of its nodes
that still fails and kept, with its inputs, in the folder given by --keep.

    python fuzz_models.py --whittle .build/debug/whittle --count 200 --seed 0 [--keep DIR] [--qemu-every 20]
    python fuzz_models.py --whittle .build/debug/whittle --replay Tests/Differential/cases
"""
import argparse
import os
import shutil
import subprocess
import sys
import tempfile

import numpy as np
import onnx
import onnxruntime as ort
from onnx import helper
from onnx.reference import ReferenceEvaluator

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "MISRA"))
import generate  # noqa: E402
import misra_check  # noqa: E402

TOLERANCE = 1e-4


def reference(model, inputs):
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    options.log_severity_level = 3
    session = ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])
    names = [o.name for o in session.get_outputs()]
    return dict(zip(names, session.run(names, inputs)))


def in_double(model, inputs):
    """The model's outputs computed by onnx.reference in float64 (float32 constants, inputs and outputs
    widened): the exact value, up to float64 rounding, that float32 implementations approximate."""
    wide = onnx.ModelProto()
    wide.CopyFrom(model)
    for tensor in wide.graph.initializer:
        array = onnx.numpy_helper.to_array(tensor)
        if array.dtype == np.float32:
            tensor.CopyFrom(onnx.numpy_helper.from_array(array.astype(np.float64), tensor.name))
    for value in list(wide.graph.input) + list(wide.graph.output):
        if value.type.tensor_type.elem_type == onnx.TensorProto.FLOAT:
            value.type.tensor_type.elem_type = onnx.TensorProto.DOUBLE
    feed = {k: v.astype(np.float64) if v.dtype == np.float32 else v for k, v in inputs.items()}
    return dict(zip([o.name for o in wide.graph.output], ReferenceEvaluator(wide).run(None, feed)))


def step(model, output):
    """The quantization step of an output made by a DequantizeLinear (one step may differ), else 0."""
    constants = {t.name: onnx.numpy_helper.to_array(t) for t in model.graph.initializer}
    for node in model.graph.node:
        if node.op_type == "DequantizeLinear" and node.output[0] == output and node.input[1] in constants:
            return float(np.max(constants[node.input[1]]))
    return 0.0


def compare(expected, actual, quantum):
    if expected.shape != actual.shape:
        return f"shape {actual.shape}, expected {expected.shape}"
    if expected.size == 0:
        return None
    both_nan = np.isnan(expected) & np.isnan(actual)
    error = np.where(both_nan, 0, np.abs(actual.astype(np.float64) - expected.astype(np.float64)))
    allowed = np.maximum(TOLERANCE * np.maximum(1, np.abs(expected)), quantum * 1.0001)
    bad = ~(error <= allowed)
    if bad.any():
        i = int(np.argmax(np.where(bad, error, -1)))
        return f"element {i}: {actual.flat[i]!r} against {expected.flat[i]!r} (error {error.flat[i]:.3g}, allowed {allowed.flat[i]:.3g})"
    return None


def device_checks(whittle, path, target, printed, folder):
    """The stack and MISRA checks of the device sample: None, or what failed."""
    if not any(line.startswith("stack: ") and " B worst case" in line for line in printed.splitlines()):
        return "verify --target: no worst-case stack: " + next((l for l in printed.splitlines() if l.startswith("stack:")), "no stack line")
    out = os.path.join(folder, "misra")
    shutil.rmtree(out, ignore_errors=True)
    compiled = subprocess.run([whittle, "compile", path, "--target", target, "--name", "fuzz", "--ram-budget", "1G",
                               "--flash-budget", "1G", "-o", out], capture_output=True, text=True, timeout=600)
    if compiled.returncode != 0:
        return f"whittle compile --target {target}: {compiled.stderr.strip()}"
    if shutil.which("cppcheck") is None:
        return None
    table = misra_check.categories()
    entries = misra_check.deviations(os.path.join(misra_check.HERE, "deviations.txt"))
    defines, platform = misra_check.target_config(target)
    for finding in misra_check.cppcheck(os.path.join(out, "fuzz.c"), defines, platform, out, "fuzz"):
        finding["path"] = "emitted/fuzz.c"
        strict = table.get(finding["rule"], "unknown") in ("mandatory", "required", "unknown")
        if strict and not misra_check.deviated(finding, entries):
            return f"MISRA C:2012 rule {finding['rule']} at fuzz.c:{finding['line']}: {finding['text']}"
    return None


def check(whittle, model, inputs, folder, compiler="gcc", target=None):
    """None when the model passes; otherwise what failed. `compiler` builds the host check (with
    sanitizers); `target`, when given, also runs the C on that device under QEMU."""
    path = os.path.join(folder, "model.onnx")
    onnx.save(model, path)
    data = os.path.join(folder, "inputs.npz")
    np.savez(data, **inputs)
    try:
        expected = reference(model, inputs)
    except Exception as error:  # a model ONNX Runtime refuses is the generator's bug, not Whittle's
        return f"generator: ONNX Runtime refuses the model: {error}"
    out = os.path.join(folder, "out")
    run = subprocess.run([whittle, "run", path, "--inputs", data, "-o", out], capture_output=True, text=True, timeout=120)
    if run.returncode != 0:
        return f"whittle run: {run.stderr.strip()}"
    for name, value in expected.items():
        safe = "".join(c if c.isalnum() or c in "._-" else "_" for c in name)
        actual = np.load(os.path.join(out, safe + ".npy"))
        problem = compare(value, actual, step(model, name))
        if problem:
            # A second, independent oracle settles it: when ONNX's own reference implementation agrees
            # with the interpreter, ONNX Runtime is the imprecise one (e.g. InstanceNormalization of one value).
            try:
                second = np.asarray(dict(zip([o.name for o in model.graph.output], ReferenceEvaluator(model).run(None, inputs)))[name],
                                    dtype=actual.dtype)
                if compare(second, actual, step(model, name)) is None:
                    continue
                # Then the exact value (float64) decides, when the interpreter is within tolerance of it.
                exact = np.asarray(in_double(model, inputs)[name], dtype=np.float64)
                if compare(exact, actual.astype(np.float64), step(model, name)) is None:
                    continue
                # When the two independent oracles do not agree with each other either, the value is not
                # determined to this tolerance (an ill-conditioned computation, e.g. normalizing nearly
                # equal values): no verdict.
                if compare(value, second, step(model, name)) is not None:
                    return f"ill-conditioned: output {name}: ONNX Runtime and onnx.reference differ too ({problem})"
            except Exception:
                pass
            return f"interpreter against ONNX Runtime, output {name}: {problem}"
    runs = [["--cc", compiler]] + ([["--target", target]] if target else [])
    for extra in runs:
        verify = subprocess.run([whittle, "verify", path, "--inputs", data] + extra, capture_output=True, text=True, timeout=600)
        if verify.returncode != 0:
            lines = [line for line in (verify.stdout + verify.stderr).splitlines() if "FAIL" in line or "error" in line]
            return f"whittle verify {' '.join(extra)}: " + " / ".join(lines[:3] or [verify.stdout[-300:]])
        if extra[0] == "--target" and target.startswith("cortex-m"):
            problem = device_checks(whittle, path, target, verify.stdout, folder)
            if problem:
                return problem
    return None


def prefix(model, count):
    """The model's first `count` nodes, with the last node's outputs as the graph's outputs."""
    nodes = list(model.graph.node)[:count]
    needed = {i for n in nodes for i in n.input}
    graph = helper.make_graph(nodes, model.graph.name, list(model.graph.input),
                              [helper.make_tensor_value_info(o, onnx.TensorProto.FLOAT, None) for o in nodes[-1].output if o],
                              [t for t in model.graph.initializer if t.name in needed])
    shrunk = helper.make_model(graph, opset_imports=list(model.opset_import), producer_name=model.producer_name)
    shrunk.ir_version = model.ir_version
    return shrunk


def minimize(whittle, model, inputs, folder):
    """The shortest prefix of the nodes whose last node's outputs still fail (else the model)."""
    for count in range(1, len(model.graph.node) + 1):
        candidate = prefix(model, count)
        problem = check(whittle, candidate, inputs, folder)
        if problem and not problem.startswith("generator:"):
            return candidate, problem
    return model, None


def keep(model, inputs, problem, directory, name):
    os.makedirs(directory, exist_ok=True)
    onnx.save(model, os.path.join(directory, name + ".onnx"))
    np.savez(os.path.join(directory, name + ".npz"), **inputs)
    with open(os.path.join(directory, name + ".txt"), "w") as f:
        f.write(problem + "\n")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--whittle", required=True)
    parser.add_argument("--count", type=int, default=100)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--keep", help="folder for minimized failing models")
    parser.add_argument("--replay", help="folder of kept cases (NAME.onnx with NAME.npz) that must pass")
    parser.add_argument("--qemu-every", type=int, default=0, help="also verify every K-th model on --target under QEMU")
    parser.add_argument("--target", default="cortex-m4f")
    args = parser.parse_args()
    failures, generator_errors, undecided = [], [], []
    folder = tempfile.mkdtemp(prefix="whittle-fuzz-models-")
    try:
        if args.replay:
            cases = sorted(f[:-5] for f in os.listdir(args.replay) if f.endswith(".onnx"))
            for name in cases:
                model = onnx.load(os.path.join(args.replay, name + ".onnx"))
                with np.load(os.path.join(args.replay, name + ".npz")) as archive:
                    inputs = {k: archive[k] for k in archive.files}
                problem = check(args.whittle, model, inputs, folder)
                if problem:
                    failures.append((name, problem))
            print(f"replayed {len(cases)} kept cases: {len(cases) - len(failures)} pass")
        else:
            for seed in range(args.seed, args.seed + args.count):
                model, inputs = generate.model(seed)
                try:
                    onnx.checker.check_model(model, full_check=True)
                except Exception as error:
                    generator_errors.append((seed, str(error).splitlines()[0]))
                    continue
                # gcc and clang take turns building the sanitized host program.
                compiler = "gcc" if seed % 2 == 0 else "clang"
                target = args.target if args.qemu_every and seed % args.qemu_every == 0 else None
                problem = check(args.whittle, model, inputs, folder, compiler, target)
                if problem and problem.startswith("generator:"):
                    generator_errors.append((seed, problem))
                elif problem and problem.startswith("ill-conditioned:"):
                    undecided.append((seed, problem))
                elif problem:
                    small, small_problem = minimize(args.whittle, model, inputs, folder)
                    failures.append((f"seed {seed} ({len(small.graph.node)} of {len(model.graph.node)} nodes)", small_problem or problem))
                    if args.keep:
                        keep(small, inputs, small_problem or problem, args.keep, f"seed_{seed}")
            tested = args.count - len(generator_errors) - len(undecided)
            on_device = (f", every {args.qemu_every}th also on {args.target} under QEMU, with its stack measured and its C checked "
                         f"against MISRA C:2012" if args.qemu_every else "")
            print(f"{tested} generated models (seeds {args.seed}..{args.seed + args.count - 1}): {tested - len(failures)} pass "
                  f"(interpreter = ONNX Runtime, C built by gcc and clang with ASan/UBSan = interpreter{on_device})")
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    for seed, problem in undecided:
        print(f"no verdict, seed {seed}: {problem}")
    for seed, problem in generator_errors:
        print(f"generator error, seed {seed}: {problem}")
    for name, problem in failures:
        print(f"FAIL {name}: {problem}")
    return 1 if failures or generator_errors else 0


if __name__ == "__main__":
    sys.exit(main())
