#!/usr/bin/env python3
"""Builds the whittle wheel: the Python module of Sources/WhittlePython/whittle and a whittle
executable (linked with the Swift standard library static, as `make wheel` builds it), with copies
of the shared libraries it needs that a machine without the Swift toolchain may lack (protobuf-c).

    python3 Sources/WhittlePython/build_wheel.py --binary .build/release/whittle --out dist

The wheel is tagged for this machine's architecture (py3-none-linux_<arch>); its contents and
timestamps are fixed, so the same inputs give the same file. Only the standard library is needed.
"""
import argparse
import base64
import hashlib
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile

HERE = os.path.dirname(os.path.abspath(__file__))
# Shared libraries the executable links that are not part of every Linux system.
BUNDLED = ("libprotobuf-c.so",)
EPOCH = (2026, 1, 1, 0, 0, 0)


def version(binary):
    done = subprocess.run([binary, "--version"], capture_output=True, text=True, check=True)
    text = done.stdout.strip()
    if not re.fullmatch(r"[0-9]+(\.[0-9]+)*", text):
        sys.exit("error: %s --version printed %r, not a version number" % (binary, text))
    return text


def libraries(binary):
    """(soname, path) of the libraries to bundle, from ldd."""
    found = []
    for line in subprocess.run(["ldd", binary], capture_output=True, text=True, check=True).stdout.splitlines():
        parts = line.split()
        if len(parts) >= 3 and parts[1] == "=>" and parts[0].startswith(BUNDLED):
            found.append((parts[0], os.path.realpath(parts[2])))
    return found


def record_line(name, data):
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return "%s,sha256=%s,%d" % (name, digest, len(data))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--binary", required=True)
    parser.add_argument("--out", default="dist")
    args = parser.parse_args()
    number = version(args.binary)
    machine = platform.machine()
    tag = "py3-none-linux_%s" % machine
    entries = []  # (name in the wheel, bytes, executable)
    package = os.path.join(HERE, "whittle")
    for file in sorted(os.listdir(package)):
        path = os.path.join(package, file)
        if os.path.isfile(path) and (file.endswith(".py") or file == "py.typed"):
            with open(path, "rb") as f:
                entries.append(("whittle/" + file, f.read(), False))
    with tempfile.TemporaryDirectory(prefix="whittle-wheel-") as work:
        stripped = os.path.join(work, "whittle")
        shutil.copyfile(args.binary, stripped)
        if shutil.which("strip"):
            subprocess.run(["strip", stripped], check=True)
        with open(stripped, "rb") as f:
            entries.append(("whittle/bin/whittle", f.read(), True))
    for soname, path in libraries(args.binary):
        with open(path, "rb") as f:
            entries.append(("whittle/lib/" + soname, f.read(), False))
    info = "whittle-%s.dist-info" % number
    metadata = "\n".join([
        "Metadata-Version: 2.1", "Name: whittle", "Version: " + number,
        "Summary: Compile ONNX models to small standalone C for microcontrollers and Raspberry Pi, compress them, and run the C from Python",
        "Requires-Python: >=3.8", "Requires-Dist: numpy", "", ""])
    wheel = "\n".join(["Wheel-Version: 1.0", "Generator: whittle build_wheel.py", "Root-Is-Purelib: false", "Tag: " + tag, "", ""])
    entry_points = "[console_scripts]\nwhittle = whittle._cli:main\n"
    entries += [(info + "/METADATA", metadata.encode(), False), (info + "/WHEEL", wheel.encode(), False),
                (info + "/entry_points.txt", entry_points.encode(), False)]
    record = "\n".join([record_line(name, data) for name, data, _ in entries] + [info + "/RECORD,,", ""])
    entries.append((info + "/RECORD", record.encode(), False))
    os.makedirs(args.out, exist_ok=True)
    target = os.path.join(args.out, "whittle-%s-%s.whl" % (number, tag))
    with zipfile.ZipFile(target + ".tmp", "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data, executable in entries:
            item = zipfile.ZipInfo(name, date_time=EPOCH)
            item.external_attr = (0o100755 if executable else 0o100644) << 16
            item.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(item, data)
    os.replace(target + ".tmp", target)
    print("wrote %s (%.1f MB)" % (target, os.path.getsize(target) / 1e6))


if __name__ == "__main__":
    main()
