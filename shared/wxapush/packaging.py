"""``wxapush package``: the deployable zips, built reproducibly (a dev-only module).

SCF installs no Python dependencies: it unpacks a function's code into ``/var/user`` and each
layer into ``/opt``, with ``PYTHONPATH=/var/user:/opt``, so packages at the *root* of a layer zip
are importable (https://www.tencentcloud.com/document/product/583/40323, 583/37039). The build:

* ``layer.zip``: the ``wxapush`` package and its runtime dependencies (``cryptography``… and
  the extras asked for), from binary wheels for the target — Linux
  x86_64 (``manylinux2014``), CPython 3.9 or 3.10 — resolved by pip, fetched into a cache
  directory once, and unpacked. ``wxapush/cli.py`` and this module stay out: they run on a
  developer's machine (the CLI drives wxemu, this module drives pip), never in a function.
* ``<function>.zip`` per ``functions/<function>/``: ``index.py`` at the zip root.
* ``functions/<function>/``: the same files unzipped, the code roots ``serverless.yml`` and
  ``cloudbaserc.json`` deploy (both CLIs zip a folder themselves).

The same inputs (sources, wheels and the target's interpreter) give byte-identical zips: entries
sorted, one fixed timestamp, fixed permissions. The layer carries bytecode for the target
(``__pycache__/*.cpython-39.pyc``, unchecked-hash pycs compiled by a CPython of the target's
version: :mod:`wxapush.packaging_bytecode`), because ``/opt`` is read-only on SCF and every cold
instance would otherwise compile the layer from source. ``bytecode="auto"`` (the default) builds
without it when the machine has no such interpreter, and says so; ``"on"`` refuses to.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple
from urllib.parse import unquote, urlsplit

from wxapush import packaging_bytecode, target_resolve
from wxapush.target_resolve import DEFAULT_EXTRAS, STORE_EXTRAS

__all__ = [
    "BYTECODE_CHOICES",
    "DEFAULT_EXTRAS",
    "DEV_ONLY",
    "RUNTIMES",
    "STORE_EXTRAS",
    "Artifact",
    "Build",
    "PackagingError",
    "build",
    "default_extras",
    "layer_requirements",
]

#: SCF's Python runtimes this layer is built for (SCF offers Python3.9 and Python3.10).
RUNTIMES = ("3.9", "3.10")
PLATFORM = "manylinux2014_x86_64"

#: ``auto``: compile when a CPython of the target's version is on the machine; ``on``: must;
#: ``off``: never.
BYTECODE_CHOICES = ("auto", "on", "off")

#: Modules of the package that never run in a function.
DEV_ONLY = frozenset(
    {
        "__main__.py",
        "cli.py",
        "cli_broadcast.py",
        "cli_broadcast_file.py",
        "cli_doctor.py",
        "cli_doctor_checks.py",
        "cli_doctor_remote.py",
        "cli_grants.py",
        "cli_migrate.py",
        "cli_remote.py",
        "packaging.py",
        "packaging_bytecode.py",
        "target_resolve.py",
    }
)
FUNCTIONS_STAGE = "functions"
# The earliest time a zip can hold: no build date leaks into the bytes.
_EPOCH = (1980, 1, 1, 0, 0, 0)
_FILE_MODE = 0o100644 << 16
_SKIP_DIRS = frozenset({"__pycache__", ".pytest_cache", ".mypy_cache"})
_EXTRA_MARKER = re.compile(r"""^extra\s*==\s*["']([A-Za-z0-9._-]+)["']$""")
_SELF_REFERENCE = re.compile(r"^wxapush\[([^\]]+)\]$")
_WHEEL_DATA = re.compile(r"^[^/]+\.data/(purelib|platlib)/(.+)$")


class PackagingError(Exception):
    """The build could not be made (pip failed, a wheel is missing, a bad extra…)."""


@dataclass(frozen=True)
class Artifact:
    """One zip written: where, how big, how many files, its sha256."""

    path: Path
    size: int
    files: int
    sha256: str


@dataclass(frozen=True)
class Build:
    """What ``wxapush package`` produced."""

    layer: Artifact
    functions: Dict[str, Artifact]
    wheels: Tuple[str, ...]
    #: The bytecode compiled into the layer, or None when it was built without.
    bytecode: Optional[packaging_bytecode.Bytecode] = None


def default_extras(env: Mapping[str, str]) -> Tuple[Tuple[str, ...], str]:
    """The extras to vendor when none are asked for, and why (see
    :func:`wxapush.target_resolve.default_extras`)."""
    try:
        return target_resolve.default_extras(env)
    except ValueError as exc:
        raise PackagingError(str(exc)) from None


def layer_requirements(extras: Iterable[str]) -> List[str]:
    """The layer's requirements: the installed ``wxapush``'s own, plus those of ``extras``.

    Read from the package metadata (i.e. ``pyproject.toml``), the one place they are declared.
    """
    by_extra: Dict[str, List[str]] = {}
    for requirement in metadata.requires("wxapush") or []:
        spec, _, marker = (part.strip() for part in requirement.partition(";"))
        match = _EXTRA_MARKER.match(marker)
        extra, kept = (match.group(1), spec) if match else ("", requirement)
        by_extra.setdefault(extra, []).append(kept)
    chosen, out, todo = set(), list(by_extra.get("", [])), list(extras)
    while todo:
        extra = todo.pop()
        if extra == "dev" or extra not in by_extra:
            known = sorted(set(by_extra) - {"", "dev"})
            raise PackagingError(f"unknown extra {extra!r}: choose from {', '.join(known)}")
        if extra in chosen:
            continue
        chosen.add(extra)
        for spec in by_extra[extra]:
            self_ref = _SELF_REFERENCE.match(spec)  # e.g. all = ["wxapush[redis,sql,tencent]"]
            if self_ref is None:
                out.append(spec)
            else:
                todo.extend(e.strip() for e in self_ref.group(1).split(","))
    return sorted(set(out), key=str.lower)


def build(
    output: Path,
    python_version: str = "3.9",
    extras: Sequence[str] = DEFAULT_EXTRAS,
    cache_dir: Optional[Path] = None,
    functions_dir: Path = Path("functions"),
    bytecode: str = "auto",
    python: Optional[str] = None,
) -> Build:
    """Build ``layer.zip``, one zip per function and the staged function folders in ``output``.

    ``python_version`` is the target CPython (``3.9`` or ``3.10`` on SCF); wheels are fetched
    into ``cache_dir/<target>/`` (default ``~/.cache/wxapush/wheels``) and reused by later
    builds. ``bytecode`` is one of :data:`BYTECODE_CHOICES`; ``python`` names the target's
    interpreter that compiles it (default: found on the machine).
    """
    if bytecode not in BYTECODE_CHOICES:
        raise PackagingError(f"bytecode must be one of {', '.join(BYTECODE_CHOICES)}")
    interpreter = None
    if bytecode != "off":
        try:
            interpreter = packaging_bytecode.find_interpreter(python_version, python)
        except packaging_bytecode.BytecodeError as exc:
            raise PackagingError(str(exc)) from None
        if interpreter is None and bytecode == "on":
            raise PackagingError(
                f"no Python {python_version} on this machine to compile the layer's bytecode: "
                f"install one (pyenv install {python_version}), name it with --python, or "
                "build without bytecode (--bytecode off)"
            )
    cache_dir = cache_dir or Path.home() / ".cache" / "wxapush" / "wheels"
    if not functions_dir.is_dir():
        raise PackagingError(f"no {functions_dir}/ here: run it from the project's root")
    names = sorted(p.name for p in functions_dir.iterdir() if (p / "index.py").is_file())
    if not names:
        raise PackagingError(f"{functions_dir} holds no <function>/index.py")
    wheels = _fetch_wheels(layer_requirements(extras), python_version, cache_dir)
    files = _package_files(Path(__file__).resolve().parent)
    for wheel in wheels:
        files.update(_wheel_files(wheel))
    compiled = None
    if interpreter is not None:
        try:
            pycs, compiled = packaging_bytecode.compile_layer(files, interpreter)
        except packaging_bytecode.BytecodeError as exc:
            raise PackagingError(str(exc)) from None
        files.update(pycs)
    output.mkdir(parents=True, exist_ok=True)
    layer = _write_zip(output / "layer.zip", files)
    stage = output / FUNCTIONS_STAGE
    shutil.rmtree(stage, ignore_errors=True)
    functions = {}
    for name in names:
        code = _tree_files(functions_dir / name, "")
        functions[name] = _write_zip(output / f"{name}.zip", code)
        for arcname, data in code.items():
            target = stage / name / arcname
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
    return Build(layer, functions, tuple(w.name for w in wheels), compiled)


# -- wheels --------------------------------------------------------------------------------------


def _target_options(python_version: str) -> List[str]:
    if not re.match(r"^3\.\d+$", python_version):
        raise PackagingError(f"the runtime must look like 3.9, not {python_version!r}")
    abi = "cp" + python_version.replace(".", "")
    return [
        "--only-binary=:all:",
        "--platform",
        PLATFORM,
        "--python-version",
        python_version,
        "--implementation",
        "cp",
        "--abi",
        abi,
    ]


def _pip(*args: str) -> None:
    command = [sys.executable, "-m", "pip", "--disable-pip-version-check", *args]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise PackagingError(f"pip {args[0]} failed:\n{done.stderr.strip() or done.stdout}")


def _fetch_wheels(requirements: List[str], python_version: str, cache_dir: Path) -> List[Path]:
    """The wheels pip resolves for the target, downloaded into the cache only when missing."""
    options = _target_options(python_version)
    cache = cache_dir / f"cp{python_version.replace('.', '')}-{PLATFORM}"
    cache.mkdir(parents=True, exist_ok=True)
    resolved = _resolve_for_target(requirements, python_version, options)
    wanted: List[Tuple[Path, str, str]] = []
    for item in resolved:
        info = item["download_info"]
        filename = unquote(urlsplit(info["url"]).path.rsplit("/", 1)[-1])
        pin = f"{item['metadata']['name']}=={item['metadata']['version']}"
        digest = info.get("archive_info", {}).get("hashes", {}).get("sha256", "")
        wanted.append((cache / filename, pin, digest))
    missing = [pin for path, pin, digest in wanted if not _intact(path, digest)]
    if missing:
        _pip("download", "--no-deps", "--quiet", "--dest", str(cache), *options, *missing)
    for path, pin, digest in wanted:
        if not _intact(path, digest):
            raise PackagingError(f"{pin}: {path.name} is not in {cache} as pip resolved it")
    return sorted(path for path, _, _ in wanted)


def _resolve_for_target(
    requirements: List[str], python_version: str, options: List[str]
) -> List[Dict[str, Any]]:
    """pip's resolution (its report's ``install`` items), with markers evaluated for the
    target: what the target needs and pip left out (markers read on the build host) is added
    and resolved again; what only the build host needs is dropped."""
    asked = list(requirements)
    for _ in range(5):
        with tempfile.TemporaryDirectory() as tmp:
            report = Path(tmp) / "report.json"
            # A dry run resolves for the target without installing, and reports the exact files.
            _pip("install", "--dry-run", "--ignore-installed", "--quiet", "--report",
                 str(report), *options, *asked)  # fmt: skip
            resolved = json.loads(report.read_text(encoding="utf-8"))["install"]
        missing, needed = target_resolve.walk(requirements, resolved, python_version)
        if not missing:
            return [
                item
                for item in resolved
                if target_resolve.canonical(item["metadata"]["name"]) in needed
            ]
        asked.extend(missing)
    raise PackagingError(f"the dependencies for Python {python_version} did not settle")


def _intact(path: Path, sha256: str) -> bool:
    if not path.is_file():
        return False
    return not sha256 or hashlib.sha256(path.read_bytes()).hexdigest() == sha256


def _wheel_files(wheel: Path) -> Dict[str, bytes]:
    """A wheel's files as installed: ``*.data/purelib|platlib`` moved to the root, no scripts."""
    files: Dict[str, bytes] = {}
    with zipfile.ZipFile(wheel) as archive:
        for info in archive.infolist():
            name = info.filename
            if info.is_dir() or _skipped(name):
                continue
            data_dir = _WHEEL_DATA.match(name)
            if data_dir is not None:
                name = data_dir.group(2)
            elif re.match(r"^[^/]+\.data/", name):
                continue  # scripts, headers, data: nothing a function imports
            files[name] = archive.read(info)
    return files


# -- sources and zips ----------------------------------------------------------------------------


def _package_files(package_dir: Path) -> Dict[str, bytes]:
    files = _tree_files(package_dir, package_dir.name + "/")
    for module in DEV_ONLY:
        files.pop(f"{package_dir.name}/{module}", None)
    return files


def _tree_files(root: Path, prefix: str) -> Dict[str, bytes]:
    files: Dict[str, bytes] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if d not in _SKIP_DIRS]
        for filename in filenames:
            path = Path(dirpath) / filename
            arcname = prefix + path.relative_to(root).as_posix()
            if not _skipped(arcname):
                files[arcname] = path.read_bytes()
    return files


def _skipped(arcname: str) -> bool:
    parts = arcname.split("/")
    return arcname.endswith((".pyc", ".pyo")) or any(p in _SKIP_DIRS for p in parts)


def _write_zip(path: Path, files: Mapping[str, bytes]) -> Artifact:
    """Write ``files`` so that the same files always give the same bytes."""
    tmp = path.with_name(path.name + ".tmp")
    with zipfile.ZipFile(tmp, "w") as archive:
        for arcname in sorted(files):
            info = zipfile.ZipInfo(arcname, date_time=_EPOCH)
            info.create_system = 3  # Unix, whatever builds it: the permissions below apply
            info.external_attr = _FILE_MODE
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, files[arcname], compresslevel=9)
    os.replace(tmp, path)  # a failed build never leaves a half-written zip behind
    data = path.read_bytes()
    return Artifact(path, len(data), len(files), hashlib.sha256(data).hexdigest())
