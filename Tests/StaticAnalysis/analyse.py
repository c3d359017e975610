#!/usr/bin/env python3
"""Static analysis of the emitted C and the kernel library: `gcc -fanalyzer` (the target's own GCC)
and `clang --analyze` (cross-compiling for the target's architecture).

For each target the models are compiled by whittle, then every C file is analysed by both tools in
that target's configuration; the kernel library is analysed the same way. A report must be explained
in explained.txt (the tool, the check and the source line, digits as N, with the reason in a comment
above it), or the script exits 1. Only the standard library and the compilers are needed.

    python3 Tests/StaticAnalysis/analyse.py [--whittle .build/debug/whittle] [--models all|none|a,b]
        [--targets host,cortex-m0plus,cortex-m4f,rpi4] [--no-kernels] [--jobs 2]
"""
import argparse
import concurrent.futures
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "Tests", "MISRA"))
from misra_check import compile_model, model_names, normalized  # noqa: E402
KERNELS = os.path.join(ROOT, "Sources", "WhittleCodegen", "CKernels")
REPORT = re.compile(r"^(?P<file>[^:\s]+):(?P<line>\d+):\d+: warning: (?P<message>.*?)\s*\[(?P<check>[^\]]+)\]$")
# How clang reaches each architecture: the triple and the C library headers of the cross toolchain.
CLANG_TARGETS = {
    "arm-none-eabi-gcc": ["--target=arm-none-eabi", "-isystem", "/usr/lib/arm-none-eabi/include"],
    "aarch64-linux-gnu-gcc": ["--target=aarch64-linux-gnu", "-isystem", "/usr/aarch64-linux-gnu/include"],
    "arm-linux-gnueabihf-gcc": ["--target=arm-linux-gnueabihf", "-isystem", "/usr/arm-linux-gnueabihf/include"],
}


def explained(path):
    entries = set()
    with open(path) as f:
        for line in f:
            if line.strip() and not line.startswith("#"):
                tool, check, text = line.rstrip("\n").split("\t", 2)
                entries.add((tool, check, text))
    return entries


def commands(target):
    with open(os.path.join(ROOT, "Targets", target + ".json")) as f:
        description = json.load(f)
    compiler = description["compiler"]
    flags = [flag for flag in description["cflags"] if flag != "-static"]
    gcc = [compiler if compiler != "cc" else "gcc"] + flags + ["-std=c99", "-fanalyzer", "-c", "-o", os.devnull]
    clang = ["clang", "--analyze", "-std=c99", "-O2", "-o", os.devnull] + CLANG_TARGETS.get(compiler, []) + \
        [flag for flag in flags if flag.startswith(("-mcpu", "-mthumb", "-mfloat-abi", "-mfpu", "-march"))]
    return {"gcc": gcc, "clang": clang}


def analyse(tool, command, path, include, name):
    result = subprocess.run(command + ["-I", include, path], capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError("%s failed on %s: %s" % (tool, path, result.stderr[-3000:]))
    with open(path, errors="replace") as f:
        source = f.read().split("\n")
    reports = []
    for line in result.stderr.splitlines():
        match = REPORT.match(line.strip())
        if match and os.path.basename(match["file"]) == os.path.basename(path):
            number = int(match["line"])
            reports.append({"tool": tool, "check": match["check"], "file": os.path.basename(path), "line": number,
                            "message": match["message"], "text": normalized(source[number - 1] if 0 < number <= len(source) else "", name)})
    return reports


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--whittle", default=os.path.join(ROOT, ".build", "debug", "whittle"))
    parser.add_argument("--models", default="all")
    parser.add_argument("--targets", default="host,cortex-m0plus,cortex-m4f,rpi4")
    parser.add_argument("--no-kernels", action="store_true")
    parser.add_argument("--explained", default=os.path.join(HERE, "explained.txt"))
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    args = parser.parse_args()
    for tool in ("clang",):
        if shutil.which(tool) is None:
            sys.exit("error: %s is not installed" % tool)
    known = explained(args.explained)
    models = model_names(args.models)
    work = tempfile.mkdtemp(prefix="whittle-analyse-")
    jobs = []
    try:
        for target in args.targets.split(","):
            tools = commands(target)
            for model in models:
                folder = os.path.join(work, target, model)
                name = compile_model(args.whittle, model, target, folder)
                # The weights files hold no code.
                for file in sorted(os.listdir(folder)):
                    if file.endswith(".c") and not file.endswith("_weights.c"):
                        for tool, command in tools.items():
                            jobs.append((target, tool, command, os.path.join(folder, file), folder, name))
            if not args.no_kernels:
                for file in sorted(os.listdir(KERNELS)):
                    if file.endswith(".c"):
                        for tool, command in tools.items():
                            jobs.append((target, tool, command, os.path.join(KERNELS, file), KERNELS, ""))
        reports = {}
        with concurrent.futures.ThreadPoolExecutor(max_workers=args.jobs) as pool:
            futures = {pool.submit(analyse, job[1], job[2], job[3], job[4], job[5]): job for job in jobs}
            for future in concurrent.futures.as_completed(futures):
                target = futures[future][0]
                for report in future.result():
                    report["explained"] = (report["tool"], report["check"], report["text"]) in known
                    reports[(target, report["tool"], report["file"], report["line"], report["check"])] = report
    finally:
        shutil.rmtree(work, ignore_errors=True)

    print("| target | analyses | reports | explained | unexplained |")
    print("|---|---:|---:|---:|---:|")
    failing = []
    for target in args.targets.split(","):
        mine = [r for key, r in reports.items() if key[0] == target]
        bad = [r for r in mine if not r["explained"]]
        failing += [(target, r) for r in bad]
        print("| %s | %d | %d | %d | %d |" % (target, sum(1 for j in jobs if j[0] == target), len(mine), len(mine) - len(bad), len(bad)))
    for target, r in sorted(failing, key=lambda p: (p[1]["file"], p[1]["line"])):
        print("error: %s: %s %s:%d: %s [%s], not explained in %s:\n    %s\t%s\t%s"
              % (target, r["tool"], r["file"], r["line"], r["message"], r["check"], os.path.relpath(args.explained, ROOT),
                 r["tool"], r["check"], r["text"]))
    sys.exit(1 if failing else 0)


if __name__ == "__main__":
    main()
