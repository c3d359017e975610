#!/usr/bin/env python3
"""MISRA C:2012 check of the emitted C and the kernel library with cppcheck's MISRA addon.

For each target, the models are compiled by whittle and every C file is checked in the one
configuration that target's compiler sees (its predefined macros, from `CC FLAGS -dM -E`); the kernel
library is checked the same way. Findings are classified with categories.txt; every mandatory and
required one must be covered by deviations.txt (a cppcheck suppressions file whose entries carry their
scope and rationale in comments). Prints a table (advisory findings counted by rule) and exits 1 with
each uncovered finding, its file, line and source line. Only the standard library and cppcheck are
needed.

    python3 Tests/MISRA/misra_check.py [--whittle .build/debug/whittle] [--models all|none|a,b]
        [--targets host,cortex-m0plus,cortex-m4f,rpi4] [--no-kernels] [--jobs 2] [--list]
"""
import argparse
import concurrent.futures
import fnmatch
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
KERNELS = os.path.join(ROOT, "Sources", "WhittleCodegen", "CKernels")
# Weights files above this size are left out: they differ from the smaller ones only in their numbers.
WEIGHTS_LIMIT = 256 * 1024
FINDING = re.compile(r"^(?P<file>[^:]+):(?P<line>\d+):misra-c2012-(?P<rule>\d+\.\d+)$")


def categories():
    table = {}
    with open(os.path.join(HERE, "categories.txt")) as f:
        for line in f:
            line = line.split("#", 1)[0].strip()
            if line:
                rule, category = line.split()
                table[rule] = category
    return table


def deviations(path):
    """(rule, file pattern or None) per entry of a cppcheck suppressions file."""
    entries = []
    with open(path) as f:
        for line in f:
            line = line.split("#", 1)[0].strip()
            if not line or line.startswith("//"):
                continue
            parts = line.split(":")
            rule = parts[0].removeprefix("misra-c2012-")
            entries.append((rule, parts[1] if len(parts) > 1 else None))
    return entries


def deviated(finding, entries):
    rule, path = finding["rule"], finding["path"]
    return any(r == rule and (pattern is None or fnmatch.fnmatch(path, pattern)) for r, pattern in entries)


def normalized(text, name):
    """A source line as reported: spaces collapsed, the model's name as NAME, digits as N (one form for
    the same template in every model)."""
    text = " ".join(text.split())
    if name:
        text = text.replace(name, "NAME").replace(name.upper(), "NAME")
    return re.sub(r"[0-9]+", "N", text)


def model_names(argument):
    """The models of Examples/models that `--models` names: all, none, or a comma-separated list."""
    models_dir = os.path.join(ROOT, "Examples", "models")
    if argument == "all":
        return sorted(f[:-5] for f in os.listdir(models_dir) if f.endswith(".onnx"))
    return [] if argument == "none" else argument.split(",")


def compile_model(whittle, model, target, folder):
    """Compiles Examples/models/MODEL.onnx for `target` into `folder` (budgets lifted: the C is what is
    checked) and returns the C name used; exits with whittle's error if it fails."""
    name = re.sub(r"\W", "_", model)
    compiled = subprocess.run([whittle, "compile", os.path.join(ROOT, "Examples", "models", model + ".onnx"), "--target", target,
                               "--name", name, "--ram-budget", "1G", "--flash-budget", "1G", "-o", folder],
                              capture_output=True, text=True)
    if compiled.returncode != 0:
        sys.exit("error: whittle compile %s --target %s failed: %s" % (model, target, compiled.stderr.strip()))
    return name


def target_config(name):
    with open(os.path.join(ROOT, "Targets", name + ".json")) as f:
        target = json.load(f)
    compiler = target["compiler"]
    flags = [flag for flag in target["cflags"] if flag != "-static"]
    printed = subprocess.run([compiler] + flags + ["-std=c99", "-dM", "-E", "-x", "c", os.devnull],
                             check=True, capture_output=True, text=True).stdout
    defines = []
    for line in printed.splitlines():
        parts = line.split(" ", 2)
        if len(parts) >= 2 and parts[0] == "#define" and "(" not in parts[1]:
            defines.append("-D" + parts[1] + ("=" + parts[2] if len(parts) == 3 else ""))
    platform = "unix64" if any(d.startswith("-D__LP64__") for d in defines) else "unix32"
    return defines, platform


def cppcheck(path, defines, platform, include, name):
    """Findings in `path` (those in other files, such as system headers, are left out), each with its
    normalized source line."""
    command = ["cppcheck", "--addon=misra", "--std=c99", "--platform=" + platform, "--quiet",
               "--suppress=missingIncludeSystem", "--template={file}:{line}:{id}", "-I", include] + defines + [path]
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError("cppcheck failed on %s: %s" % (path, result.stderr[-2000:]))
    with open(path, errors="replace") as f:
        source = f.read().split("\n")
    findings = []
    for line in result.stderr.splitlines():
        match = FINDING.match(line.strip())
        if match and os.path.basename(match["file"]) == os.path.basename(path):
            number = int(match["line"])
            text = normalized(source[number - 1] if 0 < number <= len(source) else "", name)
            findings.append({"file": os.path.basename(path), "line": number, "rule": match["rule"], "text": text})
    return findings


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--whittle", default=os.path.join(ROOT, ".build", "debug", "whittle"))
    parser.add_argument("--models", default="all", help="model names in Examples/models, all, or none (the kernel library alone)")
    parser.add_argument("--targets", default="host,cortex-m0plus,cortex-m4f,rpi4")
    parser.add_argument("--no-kernels", action="store_true", help="leave the kernel library out")
    parser.add_argument("--deviations", default=os.path.join(HERE, "deviations.txt"))
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--list", action="store_true", help="also list every advisory finding")
    args = parser.parse_args()
    if shutil.which("cppcheck") is None:
        sys.exit("error: cppcheck is not installed (Debian: apt-get install cppcheck)")
    table, entries = categories(), deviations(args.deviations)
    models = model_names(args.models)
    work = tempfile.mkdtemp(prefix="whittle-misra-")
    jobs = []  # (target, path shown, file, defines, platform, include folder)
    try:
        for target in args.targets.split(","):
            defines, platform = target_config(target)
            for model in models:
                folder = os.path.join(work, target, model)
                name = compile_model(args.whittle, model, target, folder)
                for file in sorted(os.listdir(folder)):
                    # A weights file is one template filled with numbers: the large ones take cppcheck
                    # minutes for findings the small ones show (see WEIGHTS_LIMIT).
                    if file.endswith(".c") and not (file.endswith("_weights.c") and os.path.getsize(os.path.join(folder, file)) > WEIGHTS_LIMIT):
                        jobs.append((target, "emitted/" + file, os.path.join(folder, file), defines, platform, folder, name))
            if not args.no_kernels:
                for file in sorted(os.listdir(KERNELS)):
                    if file.endswith(".c"):
                        jobs.append((target, "CKernels/" + file, os.path.join(KERNELS, file), defines, platform, KERNELS, ""))
        findings = {}
        with concurrent.futures.ThreadPoolExecutor(max_workers=args.jobs) as pool:
            futures = {pool.submit(cppcheck, job[2], job[3], job[4], job[5], job[6]): job for job in jobs}
            for future in concurrent.futures.as_completed(futures):
                target, shown = futures[future][0], futures[future][1]
                for finding in future.result():
                    finding["path"] = shown
                    finding["category"] = table.get(finding["rule"], "unknown")
                    finding["deviated"] = deviated(finding, entries)
                    # A kernel embedded in many models' C is one finding per target.
                    findings[(target, shown.split("/")[0], finding["file"], finding["line"], finding["rule"])] = finding
    finally:
        shutil.rmtree(work, ignore_errors=True)

    print("| target | checked files | mandatory/required: outside the deviations | deviated | advisory |")
    print("|---|---:|---:|---:|---:|")
    failing = []
    for target in args.targets.split(","):
        mine = [f for key, f in findings.items() if key[0] == target]
        strict = [f for f in mine if f["category"] in ("mandatory", "required", "unknown")]
        bad = [f for f in strict if not f["deviated"]]
        failing += [(target, f) for f in bad]
        print("| %s | %d | %d | %d | %d |" % (target, sum(1 for j in jobs if j[0] == target), len(bad),
                                            sum(1 for f in strict if f["deviated"]), sum(1 for f in mine if f["category"] == "advisory")))
    advisory = {}
    for f in findings.values():
        if f["category"] == "advisory":
            advisory[f["rule"]] = advisory.get(f["rule"], 0) + 1
    order = lambda rule: tuple(int(n) for n in rule.split("."))
    print("advisory findings by rule: " + (", ".join("%s: %d" % (r, advisory[r]) for r in sorted(advisory, key=order)) or "none"))
    if args.list:
        for f in sorted(findings.values(), key=lambda f: (f["path"], f["line"])):
            if f["category"] == "advisory":
                print("advisory %s:%d: rule %s" % (f["path"], f["line"], f["rule"]))
    for target, f in sorted(failing, key=lambda p: (p[1]["path"], p[1]["line"], p[0])):
        print("error: %s (%s): %s:%d: rule %s (%s), not covered by a deviation: %s"
              % (target, f["path"].split("/")[0], f["file"], f["line"], f["rule"], f["category"], f["text"]))
    sys.exit(1 if failing else 0)


if __name__ == "__main__":
    main()
