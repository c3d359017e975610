"""Whittle from Python: compile ONNX models to small standalone C, compress them, and run the exact C
that will ship on the host, on NumPy batches.

    import whittle
    compiled = whittle.compile("model.onnx", target="cortex-m4f")
    compiled.report["arenaBytes"]
    outputs = compiled.load().run(images)          # the C, built for the host, via ctypes

Options are the command line's, ``-`` written ``_`` (``ram_budget="64K"``, ``explain=True``); the
package carries its own ``whittle`` executable (``python -m whittle`` is the command line). Failures
raise :class:`WhittleError` with whittle's ``error:`` line.
"""
from __future__ import annotations

import atexit
import json
import os
import shutil
import tempfile
import weakref
from pathlib import Path
from typing import Any, Dict, List, Optional, Union

from ._cli import WhittleError, flags, run as _run
from ._runtime import CompiledModel, Port

__all__ = ["compile", "quantize", "prune", "binarize", "distill_export", "inspect", "Compiled", "CompiledModel", "Port",
           "WhittleError", "version"]

ModelLike = Union[str, "os.PathLike[str]", Any]

_scratch: List[str] = []


def _temporary(prefix: str) -> str:
    """A folder removed when the interpreter exits (for outputs the caller did not place)."""
    folder = tempfile.mkdtemp(prefix=prefix)
    _scratch.append(folder)
    return folder


@atexit.register
def _clean() -> None:
    for folder in _scratch:
        shutil.rmtree(folder, ignore_errors=True)


def _model_path(model: ModelLike) -> str:
    """A path for ``model``: a file name as given, an ``onnx.ModelProto`` serialized to a scratch file."""
    if hasattr(model, "SerializeToString"):
        path = os.path.join(_temporary("whittle-model-"), "model.onnx")
        with open(path, "wb") as f:
            f.write(model.SerializeToString())
        return path
    return os.fspath(model)


def version() -> str:
    """The version of the bundled whittle executable."""
    return _run(["--version"]).stdout.strip()


class Compiled:
    """What ``compile`` wrote: the C files, the report, and the model's C loaded on the host."""

    def __init__(self, directory: str, name: str, target: str, owned: bool) -> None:
        self.directory = Path(directory)
        self.name = name
        self.target = target
        if owned:
            self._finalizer = weakref.finalize(self, shutil.rmtree, directory, True)

    @property
    def files(self) -> List[Path]:
        """The generated files (header, C, weights, build snippets, reports)."""
        return sorted(p for p in self.directory.rglob("*") if p.is_file() and ".host" not in p.parts)

    @property
    def report(self) -> Dict[str, Any]:
        """The compile report (``NAME_report.json``): arena and its lower bound, weights, MACs, layers, stack."""
        with open(self.directory / (self.name + "_report.json")) as f:
            return json.load(f)

    def load(self, compiler: str = "cc") -> CompiledModel:
        """The C built for the host as a shared library (once; cached beside the files) and loaded."""
        return CompiledModel(self.directory, self.name, compiler=compiler, owner=self)

    def _repr_html_(self) -> str:
        page = self.directory / (self.name + "_report.html")
        return page.read_text() if page.is_file() else "<pre>%s</pre>" % json.dumps(self.report, indent=2)

    def __repr__(self) -> str:
        r = self.report
        return "<Compiled %s for %s: arena %d B, weights %d B, %d MACs, in %s>" % (
            self.name, self.target, r.get("arenaBytes", 0), r.get("weightBytes", 0), r.get("macs", 0), self.directory)


def compile(model: ModelLike, target: str = "host", output: Optional[str] = None, name: str = "model", **options: Any) -> Compiled:
    """Compiles ``model`` (a path or an ``onnx.ModelProto``) to C for ``target`` into ``output`` (default: a
    folder removed with the returned object). Options are ``whittle compile``'s (``ram_budget="64K"``,
    ``quantize="int8", calibration="data.npz"``, ``weights="c"``, ...)."""
    owned = output is None
    directory = tempfile.mkdtemp(prefix="whittle-compiled-") if owned else output
    arguments = ["compile", _model_path(model), "--target", target, "--name", name, "-o", directory,
                 "--report-html", os.path.join(directory, name + "_report.html")] + flags(options)
    try:
        _run(arguments)
    except WhittleError:
        if owned:
            shutil.rmtree(directory, ignore_errors=True)
        raise
    return Compiled(directory, name, target, owned)


def _transform(command: str, model: ModelLike, output: Optional[str], options: Dict[str, Any], extra: List[str]) -> str:
    destination = output or os.path.join(_temporary("whittle-%s-" % command), "model.onnx")
    _run([command, _model_path(model), "-o", destination] + extra + flags(options))
    return destination


def quantize(model: ModelLike, calibration: str, output: Optional[str] = None, **options: Any) -> str:
    """``whittle quantize``: an int8 (or int4-weight, int16-activation) ONNX QDQ model; returns its path."""
    return _transform("quantize", model, output, options, ["--calibration", calibration])


def prune(model: ModelLike, output: Optional[str] = None, **options: Any) -> str:
    """``whittle prune`` (``sparsity=0.75``, ``pattern="1:4"``, ...); returns the pruned model's path."""
    return _transform("prune", model, output, options, [])


def binarize(model: ModelLike, output: Optional[str] = None, **options: Any) -> str:
    """``whittle binarize``; returns the binarized model's path."""
    return _transform("binarize", model, output, options, [])


def distill_export(model: ModelLike, output: Optional[str] = None, **options: Any) -> str:
    """``whittle distill-export``: the compressed student in trainable ONNX with its teacher's targets;
    returns the output folder."""
    destination = output or _temporary("whittle-distill-")
    _run(["distill-export", _model_path(model), "-o", destination] + flags(options))
    return destination


def inspect(model: ModelLike, **options: Any) -> Dict[str, Any]:
    """``whittle inspect --json``: the model's inputs, outputs, operators and what is supported, as a dict."""
    return json.loads(_run(["inspect", _model_path(model), "--json"] + flags(options)).stdout)
