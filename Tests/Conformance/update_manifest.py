#!/usr/bin/env python3
"""Rewrites expected_passes.txt and excluded.txt from a conformance report.

    make conformance-manifest

runs the conformance test with WHITTLE_CONFORMANCE_REPORT=.build-conformance/report
and then this script. Review the diff: a case that leaves expected_passes.txt
is a regression unless the reason says otherwise.
"""
import os
import re
import sys

HERE = os.path.dirname(os.path.abspath(__file__))


OUT_OF_SCOPE = "out of scope: "


def reason(name, message):
    # The kinds of case the project leaves out on purpose, each with why.
    if re.search(r"ai\.onnx\.preview\.training", message):
        return OUT_OF_SCOPE + "training operator"
    if re.search(r"operator (Bernoulli|RandomUniform|RandomNormal|RandomUniformLike|RandomNormalLike|Multinomial) ", message):
        return OUT_OF_SCOPE + "random generator"
    if "draws a random mask" in message:
        return OUT_OF_SCOPE + "random generator (Dropout in training mode)"
    if "ImageDecoder" in message:
        return OUT_OF_SCOPE + "ImageDecoder (image files are decoded outside the model)"
    if re.search(r"element type string|StringNormalizer|RegexFullMatch|StringSplit|StringConcat", message):
        return OUT_OF_SCOPE + "string tensors and operators"
    if "non-tensor" in message or re.search(r"operator Optional\w+ ", message):
        return OUT_OF_SCOPE + "sequence, map and optional values"
    if re.search(r"of domain ai\.onnx\.ml", message):
        return OUT_OF_SCOPE + "ai.onnx.ml domain"
    if re.search(r"of domain ai\.onnx\.preview ", message):
        return OUT_OF_SCOPE + "ai.onnx.preview domain (operators under preview, not default-domain ones)"
    rules = [
        (r"operator (\S+) of domain (\S+)", lambda m: "operator %s.%s not implemented" % (m.group(2), m.group(1))),
        (r"operator (\S+) (is not supported|has no reference kernel)", lambda m: "operator %s not implemented" % m.group(1)),
        (r"element type (\w+)", lambda m: "element type %s not supported" % m.group(1)),
        (r"non-tensor", lambda m: "sequence, map or optional values not supported"),
        (r"control flow \((\w+)\)", lambda m: "control flow (%s) not executed yet" % m.group(1)),
        (r"must be a constant or computable|must be a constant", lambda m: "dynamic shape: a shape-setting value is only known at run time"),
        (r"antialias", lambda m: "Resize antialias not implemented"),
        (r"activation (\w+) is not supported", lambda m: "activation %s not implemented" % m.group(1)),
    ]
    for pattern, make in rules:
        m = re.search(pattern, message)
        if m:
            return make(m)
    return "wrong result: " + message[:120]


def c_reason(message):
    message = re.sub(r"\S*model\.onnx: ", "", message)
    m = re.search(r"node \d+ (\([^)]*\)): (.*)", message)
    if m:
        message = "%s %s" % (m.group(1), m.group(2))
    return re.sub(r"\s+", " ", message)[:160]


def main(report):
    passed = sorted(line.strip() for line in open(report + ".passed") if line.strip())
    failed = [line.rstrip("\n").split("\t") for line in open(report + ".failed") if line.strip()]
    with open(os.path.join(HERE, "expected_passes.txt"), "w") as f:
        f.write("# ONNX backend node cases the reference interpreter must pass (one per line).\n")
        f.write("# Regenerate with `make conformance-manifest`; see excluded.txt for the others.\n")
        f.write("\n".join(passed) + "\n")
    with open(os.path.join(HERE, "excluded.txt"), "w") as f:
        f.write("# ONNX backend node cases not expected to pass, each with its reason.\n")
        for name, ops, message in sorted(failed):
            f.write("%s  # %s\n" % (name, reason(name, message)))
    print("%d expected passes, %d excluded" % (len(passed), len(failed)))
    if os.path.exists(report + ".c.passed"):
        c_passed = sorted(line.strip() for line in open(report + ".c.passed") if line.strip())
        c_failed = [line.rstrip("\n").split("\t", 1) for line in open(report + ".c.failed") if line.strip()]
        with open(os.path.join(HERE, "c_expected_passes.txt"), "w") as f:
            f.write("# Interpreter-passing node cases that must also pass through the emitted C (one per line).\n")
            f.write("# Regenerate with `make conformance-manifest`; see c_excluded.txt for the others.\n")
            f.write("\n".join(c_passed) + "\n")
        with open(os.path.join(HERE, "c_excluded.txt"), "w") as f:
            f.write("# Interpreter-passing node cases not expected to pass through the emitted C, each with its reason.\n")
            for name, message in sorted(c_failed):
                f.write("%s  # %s\n" % (name, c_reason(message)))
        print("C: %d expected passes, %d excluded" % (len(c_passed), len(c_failed)))


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else ".build-conformance/report")
