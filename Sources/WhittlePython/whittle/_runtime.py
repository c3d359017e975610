"""The compiled C on the host: built once as a shared library, called through ctypes."""
from __future__ import annotations

import ctypes
import hashlib
import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, List

from ._cli import WhittleError

if TYPE_CHECKING:
    import numpy as np

# The flags of the verified host build: ISO C99 without contraction (a fused multiply-add would round
# differently from the interpreter), optimized.
CFLAGS = ["-std=c99", "-O2", "-ffp-contract=off", "-fPIC", "-shared"]

# NumPy's names for the header's element types (bool tensors are bytes in the C).
_DTYPES = {
    "float32": "float32", "float64": "float64", "float16": "float16", "int8": "int8", "uint8": "uint8", "int16": "int16",
    "uint16": "uint16", "int32": "int32", "uint32": "uint32", "int64": "int64", "uint64": "uint64", "bool": "uint8",
}
_INTERFACE = re.compile(r'^/\* (input|output) (\d+) "(.*)": (\w+) \[([0-9, ]*)\] \*/$')


@dataclass(frozen=True)
class Port:
    """One input or output of the compiled model, as its header declares it."""

    name: str
    dtype: str
    shape: tuple

    @property
    def numpy_dtype(self) -> "np.dtype":
        import numpy as np

        if self.dtype not in _DTYPES:
            raise WhittleError("%s \"%s\" is %s, which the Python runner does not handle (NumPy has no such type)" % (
                "port", self.name, self.dtype))
        return np.dtype(_DTYPES[self.dtype])


def interface(header: Path) -> tuple:
    """The inputs and outputs a generated NAME.h declares, in order."""
    ports = {"input": [], "output": []}
    for line in header.read_text().splitlines():
        match = _INTERFACE.match(line.strip())
        if match:
            kind, _, name, dtype, dims = match.groups()
            shape = tuple(int(d) for d in dims.split(",") if d.strip())
            ports[kind].append(Port(name, dtype, shape))
    return ports["input"], ports["output"]


def build(directory: Path, name: str, compiler: str = "cc") -> Path:
    """Builds NAME.c and its weights as a shared library in ``directory/.host`` once; the name carries a
    hash of the sources and flags, so a changed model or flag builds again."""
    sources = [directory / (name + ".c"), directory / (name + "_weights.c")]
    for source in sources:
        if not source.is_file():
            raise WhittleError("%s is missing: the Python runner needs the C weights (compile with weights=\"c\")" % source)
    digest = hashlib.sha256(" ".join(CFLAGS + [compiler]).encode())
    for source in sources:
        digest.update(source.read_bytes())
    library = directory / ".host" / ("lib%s-%s.so" % (name, digest.hexdigest()[:16]))
    if library.is_file():
        return library
    library.parent.mkdir(exist_ok=True)
    if shutil.which(compiler) is None:
        raise WhittleError("no C compiler \"%s\" to build the model for the host (install gcc, or give compiler=...)" % compiler)
    temporary = library.with_suffix(".tmp%d" % os.getpid())
    done = subprocess.run([compiler] + CFLAGS + ["-I", str(directory), "-o", str(temporary)] + [str(s) for s in sources] + ["-lm"],
                          capture_output=True, text=True)
    if done.returncode != 0:
        raise WhittleError("building %s for the host failed: %s" % (name, done.stderr.strip()[-2000:]))
    os.replace(temporary, library)
    return library


class CompiledModel:
    """The compiled C of a model, loaded on the host: ``run`` takes NumPy batches (a leading batch axis
    on every input) and returns one array per output, with the same leading axis."""

    def __init__(self, directory: Path, name: str, compiler: str = "cc", owner: object = None) -> None:
        self._owner = owner  # keeps the compiled folder alive as long as the library is loaded
        self.name = name
        self.inputs, self.outputs = interface(directory / (name + ".h"))
        self.library_path = build(directory, name, compiler)
        self._library = ctypes.CDLL(str(self.library_path))
        self._run = getattr(self._library, name + "_run")
        self._run.restype = ctypes.c_int
        self._run.argtypes = [ctypes.c_void_p] * (len(self.inputs) + len(self.outputs))

    def run(self, *inputs: "np.ndarray") -> List["np.ndarray"]:
        """Runs every row of the batch through the C, in order; inputs are converted to the model's dtypes
        (floats of another precision only) and must have its shape after the batch axis."""
        import numpy as np

        if len(inputs) != len(self.inputs):
            raise WhittleError("%s takes %d inputs (%s), %d given" % (
                self.name, len(self.inputs), ", ".join(p.name for p in self.inputs), len(inputs)))
        arrays = []
        batch = None
        for port, given in zip(self.inputs, inputs):
            array = np.asarray(given)
            if array.dtype != port.numpy_dtype:
                if array.dtype.kind == "f" and port.numpy_dtype.kind == "f":
                    array = array.astype(port.numpy_dtype)
                else:
                    raise WhittleError("input \"%s\" is %s, given %s" % (port.name, port.dtype, array.dtype))
            per_row = int(np.prod(port.shape)) if port.shape else 1
            if array.ndim == 0 or int(np.prod(array.shape[1:])) != per_row:
                raise WhittleError("input \"%s\" takes a batch of shape (N, %s); given %s" % (
                    port.name, ", ".join(str(d) for d in port.shape), tuple(array.shape)))
            if batch is not None and array.shape[0] != batch:
                raise WhittleError("the inputs have different batch sizes (%d and %d)" % (batch, array.shape[0]))
            batch = array.shape[0]
            arrays.append(np.ascontiguousarray(array.reshape(array.shape[0], per_row)))
        batch = batch if batch is not None else 1
        results = [np.empty((batch,) + port.shape, dtype=port.numpy_dtype) for port in self.outputs]
        flat = [r.reshape(batch, -1) for r in results]
        for i in range(batch):
            pointers = [a[i].ctypes.data for a in arrays] + [f[i].ctypes.data for f in flat]
            status = self._run(*pointers)
            if status != 0:
                raise WhittleError("%s_run returned %d on row %d" % (self.name, status, i))
        return results

    def __repr__(self) -> str:
        ports = lambda ps: ", ".join("%s %s%s" % (p.name, p.dtype, list(p.shape)) for p in ps)
        return "<CompiledModel %s: (%s) -> (%s)>" % (self.name, ports(self.inputs), ports(self.outputs))
