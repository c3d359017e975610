#!/usr/bin/env python3
"""Installs the wheel `make wheel` built into a fresh virtual environment (with NumPy, at the pinned
version) and runs wheel_session.py there with the Swift toolchain off PATH: the compiled C's top-1 on
the digits test images must equal the command line's, and errors must arrive as WhittleError. Prints
the timings; leaves nothing behind.

    python3 Tests/Python/wheel_test.py dist/whittle-*.whl
"""
import glob
import os
import re
import shutil
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def pinned(package):
    with open(os.path.join(ROOT, "Tests", "requirements.txt")) as f:
        for line in f:
            if line.split("==")[0].strip().lower() == package:
                return line.strip()
    sys.exit("error: %s is not pinned in Tests/requirements.txt" % package)


def main():
    wheels = [w for pattern in sys.argv[1:] for w in glob.glob(pattern)]
    if len(wheels) != 1:
        sys.exit("error: give one wheel (found %s)" % (wheels or "none"))
    work = tempfile.mkdtemp(prefix="whittle-wheel-test-")
    try:
        subprocess.run([sys.executable, "-m", "venv", work + "/venv"], check=True)
        python = work + "/venv/bin/python"
        subprocess.run([python, "-m", "pip", "install", "-q", wheels[0], pinned("numpy")], check=True)
        # No Swift toolchain: only the system's folders and the environment's own.
        env = {"PATH": work + "/venv/bin:/usr/bin:/bin", "HOME": work, "TMPDIR": work}
        done = subprocess.run([python, os.path.join(ROOT, "Tests", "Python", "wheel_session.py"), ROOT], cwd=work, env=env,
                              capture_output=True, text=True)
        print(done.stdout, end="")
        if done.returncode != 0:
            sys.exit("error: the session failed:\n" + done.stderr[-3000:])
        results = dict(line.split(" ", 2)[1:] for line in done.stdout.splitlines() if line.startswith("result: "))
        failures = []
        if results.get("c_accuracy") != results.get("cli_accuracy"):
            failures.append("top-1 through CompiledModel.run (%s) differs from the command line's (%s)" % (results.get("c_accuracy"), results.get("cli_accuracy")))
        if not float(results.get("c_accuracy", 0)) > 0.95:
            failures.append("top-1 %s is below the float model's 0.95" % results.get("c_accuracy"))
        if not results.get("error", "").startswith("error:") or "no-such-target" not in results.get("error", ""):
            failures.append("a bad target gave %r, not WhittleError with the error line" % results.get("error"))
        if results.get("html") != "1":
            failures.append("Compiled._repr_html_ is not the HTML report")
        if not re.fullmatch(r"[0-9.]+", results.get("version", "")) or results.get("module_version") != results.get("version"):
            failures.append("whittle.version() gave %r, python -m whittle --version %r" % (results.get("version"), results.get("module_version")))
        speed = float(results["cli_seconds"]) / max(float(results["c_seconds"]), 1e-9)
        print("wheel: top-1 %s both ways; CompiledModel.run %.3f s, whittle run one image at a time %.1f s (%.0fx)"
              % (results["c_accuracy"], float(results["c_seconds"]), float(results["cli_seconds"]), speed))
        leftovers = [p for p in os.listdir(work) if p.startswith("whittle-")]
        if leftovers:
            failures.append("temporary folders left behind: %s" % leftovers)
        if failures:
            sys.exit("error: " + "; ".join(failures))
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
