"""Bytecode for the layer, compiled by the target's own interpreter (a dev-only module).

SCF unpacks a layer into ``/opt``, which is read-only: a module imported from there without
bytecode beside it is compiled from source in every new instance, and the result is thrown away.
Shipping ``__pycache__/<module>.cpython-39.pyc`` beside each source saves that work.

Only CPython 3.9 can write bytecode CPython 3.9 reads (the format changes with each minor
version, and ``marshal`` cannot write another version's code objects), so the build runs the
target's interpreter in a subprocess: one found on the machine (``python3.9`` on ``PATH``, a
pyenv version, or the running interpreter when it is the target), or the one named. The pycs
are *unchecked-hash* (PEP 552): their header holds a hash of the source instead of its mtime, so
no build date enters the bytes, and the importer trusts them without reading the source (the
layer is immutable: a source can never change under its pyc). ``PYTHONHASHSEED=0`` fixes the
order in which sets of constants are marshalled, so the same sources give the same bytes.
"""

from __future__ import annotations

import glob
import os
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Mapping, Optional, Tuple

__all__ = ["Bytecode", "BytecodeError", "compile_layer", "find_interpreter"]

#: Where SCF mounts a layer: the path a traceback of the compiled code names.
LAYER_ROOT = "/opt/"

# Runs in the target interpreter: compile each listed file; report the cache tag and failures.
_COMPILER = r"""
import py_compile, sys
print(sys.implementation.cache_tag, flush=True)
mode = py_compile.PycInvalidationMode.UNCHECKED_HASH
root, prefix = sys.argv[1], sys.argv[2]
for line in sys.stdin.read().splitlines():
    try:
        py_compile.compile(root + "/" + line, dfile=prefix + line, doraise=True,
                           invalidation_mode=mode, optimize=0)
    except (py_compile.PyCompileError, SyntaxError, ValueError) as exc:
        print("failed " + line, flush=True)
"""


class BytecodeError(Exception):
    """No interpreter of the target's version could compile the layer."""


@dataclass(frozen=True)
class Bytecode:
    """What was compiled: the interpreter, its cache tag, and the sources it refused."""

    interpreter: str
    cache_tag: str
    compiled: int
    failed: Tuple[str, ...]


def _version_of(interpreter: str) -> Optional[str]:
    probe = [interpreter, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"]
    try:
        done = subprocess.run(probe, capture_output=True, text=True, timeout=30, check=False)
    except OSError:
        return None
    return done.stdout.strip() if done.returncode == 0 else None  # a pyenv shim may refuse


def find_interpreter(runtime: str, named: Optional[str] = None) -> Optional[str]:
    """A CPython ``runtime`` (``3.9``) on this machine: ``named`` if given (it must be that
    version), else ``python3.9`` on ``PATH``, a pyenv version, or the running interpreter."""
    if named is not None:
        found = shutil.which(named) or named
        version = _version_of(found)
        if version != runtime:
            why = f"is Python {version}" if version else "does not run"
            raise BytecodeError(f"--python {named} {why}, not the target's {runtime}")
        return found
    pyenv_root = os.environ.get("PYENV_ROOT") or os.path.expanduser("~/.pyenv")
    candidates: List[Optional[str]] = [shutil.which(f"python{runtime}")]
    candidates += sorted(glob.glob(f"{pyenv_root}/versions/{runtime}.*/bin/python{runtime}"))
    if "{}.{}".format(*sys.version_info[:2]) == runtime:
        candidates.append(sys.executable)
    for candidate in candidates:
        if candidate and _version_of(candidate) == runtime:
            return candidate
    return None


def compile_layer(
    files: Mapping[str, bytes], interpreter: str
) -> Tuple[Dict[str, bytes], Bytecode]:
    """The pycs of every ``.py`` in ``files`` (zip paths), compiled by ``interpreter``, keyed by
    their zip paths (``pkg/__pycache__/mod.cpython-39.pyc``). A source the interpreter cannot
    compile (a wheel's Python 2 leftovers) gets no pyc, as pip's own install does."""
    sources = sorted(name for name in files if name.endswith(".py"))
    with tempfile.TemporaryDirectory(prefix="wxapush-pyc-") as tmp:
        for name in sources:
            path = Path(tmp, name)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(files[name])
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "PYTHONHASHSEED": "0"}
        done = subprocess.run(
            [interpreter, "-S", "-c", _COMPILER, tmp, LAYER_ROOT],
            input="\n".join(sources),
            capture_output=True,
            text=True,
            env=env,
            timeout=600,
            check=False,
        )
        if done.returncode != 0:
            raise BytecodeError(f"{interpreter} could not compile the layer:\n{done.stderr}")
        lines = done.stdout.splitlines()
        tag = lines[0].strip()
        failed = tuple(line[len("failed ") :] for line in lines[1:] if line.startswith("failed "))
        pycs: Dict[str, bytes] = {}
        for name in sources:
            if name in failed:
                continue
            pyc = _pyc_name(name, tag)
            pycs[pyc] = Path(tmp, pyc).read_bytes()
    return pycs, Bytecode(interpreter, tag, len(pycs), failed)


def _pyc_name(source: str, tag: str) -> str:
    head, _, module = source.rpartition("/")
    stem = re.sub(r"\.py$", "", module)
    return f"{head + '/' if head else ''}__pycache__/{stem}.{tag}.pyc"
