"""Finding and running the whittle executable that ships in this package."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Iterable, Mapping, Sequence

_HERE = Path(__file__).resolve().parent


class WhittleError(Exception):
    """A whittle command failed; the message is whittle's ``error:`` line (file, node and reason)."""

    def __init__(self, message: str, stdout: str = "", stderr: str = "") -> None:
        super().__init__(message)
        self.stdout = stdout
        self.stderr = stderr


def executable() -> str:
    """The whittle binary: the one in this package, else ``WHITTLE`` from the environment."""
    bundled = _HERE / "bin" / "whittle"
    if bundled.is_file():
        return str(bundled)
    override = os.environ.get("WHITTLE")
    if override:
        return override
    raise WhittleError("no whittle executable: this package has none (install the wheel built by `make wheel`) and WHITTLE is not set")


def environment() -> dict:
    """The process environment with the package's own copies of shared libraries first on the search path."""
    env = dict(os.environ)
    libraries = _HERE / "lib"
    if libraries.is_dir():
        env["LD_LIBRARY_PATH"] = str(libraries) + (os.pathsep + env["LD_LIBRARY_PATH"] if env.get("LD_LIBRARY_PATH") else "")
    return env


def flags(options: Mapping[str, object]) -> list:
    """Keyword options as command-line flags: ``calibrate="entropy"`` -> ``--calibrate entropy``,
    ``explain=True`` -> ``--explain``, a list repeats the flag, ``None`` and ``False`` leave it out."""
    result: list = []
    for key, value in options.items():
        flag = "--" + key.replace("_", "-")
        if value is None or value is False:
            continue
        if value is True:
            result.append(flag)
        elif isinstance(value, (list, tuple)):
            for item in value:
                result += [flag, str(item)]
        else:
            result += [flag, str(value)]
    return result


def run(arguments: Sequence[str], capture: bool = True) -> subprocess.CompletedProcess:
    """Runs ``whittle ARGUMENTS``; raises WhittleError with its ``error:`` line when it fails."""
    done = subprocess.run([executable()] + list(arguments), env=environment(), capture_output=capture, text=True)
    if done.returncode != 0:
        lines: Iterable[str] = (done.stderr or "").splitlines()
        reason = next((line for line in lines if line.startswith("error:")), None)
        if reason is None:
            reason = (done.stderr or done.stdout or "").strip().splitlines()[-1:] or ["whittle exited with status %d" % done.returncode]
            reason = reason[0] if isinstance(reason, list) else reason
        raise WhittleError(reason, done.stdout or "", done.stderr or "")
    return done


def main() -> int:
    """``python -m whittle ARGS`` is ``whittle ARGS``."""
    return subprocess.call([executable()] + sys.argv[1:], env=environment())
