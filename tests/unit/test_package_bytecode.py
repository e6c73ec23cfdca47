"""The layer's bytecode: compiled by a given interpreter, reproducibly, unchecked-hash pycs.

The running interpreter stands in for the target here (the build itself, with CPython 3.9, is
tested in tests/e2e/test_scf_layout.py when the machine has one).
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

from wxapush import packaging
from wxapush.packaging import PackagingError
from wxapush.packaging_bytecode import BytecodeError, compile_layer, find_interpreter

TAG = sys.implementation.cache_tag
FILES = {
    # ``in`` a set literal compiles to a frozenset constant, marshalled in hash order.
    "pkg/__init__.py": b"def known(x):\n    return x in {'alpha', 'beta', 'gamma', 'delta'}\n",
    "pkg/sub/mod.py": "WORD = '微信'\ndef f():\n    return {1, 2, 'z'}\n".encode(),
    "top.py": b"import pkg\n",
    "pkg/legacy.py": b"print 'python 2'\n",
    "pkg/data.txt": b"not python\n",
}


def test_every_source_gets_an_unchecked_hash_pyc_beside_it() -> None:
    pycs, done = compile_layer(FILES, sys.executable)
    assert done.cache_tag == TAG and done.compiled == 3
    assert set(pycs) == {
        f"pkg/__pycache__/__init__.{TAG}.pyc",
        f"pkg/sub/__pycache__/mod.{TAG}.pyc",
        f"__pycache__/top.{TAG}.pyc",
    }
    for pyc in pycs.values():
        assert pyc[:4] == importlib.util.MAGIC_NUMBER
        assert int.from_bytes(pyc[4:8], "little") == 0b01  # PEP 552: hash-based, unchecked


def test_a_source_the_target_cannot_compile_gets_none_and_is_named() -> None:
    pycs, done = compile_layer(FILES, sys.executable)
    assert done.failed == ("pkg/legacy.py",)
    assert not [name for name in pycs if "legacy" in name]


@pytest.mark.parametrize("runtime", ["3.9", "3.10"])
def test_the_same_sources_give_the_same_bytes(runtime: str) -> None:
    # Before 3.11, marshal writes a frozenset in hash order, and str hashes are salted per
    # process: the compiler runs under a fixed seed.
    interpreter = find_interpreter(runtime)
    if interpreter is None:
        pytest.skip(f"no CPython {runtime} on this machine")
    runs = [compile_layer(FILES, interpreter)[0] for _ in range(4)]
    assert all(run == runs[0] for run in runs)


def test_the_pycs_are_what_the_importer_uses(tmp_path: Path) -> None:
    pycs, _ = compile_layer(FILES, sys.executable)
    for name, data in {**FILES, **pycs}.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(data)
    # Unchecked: the importer trusts the pyc without reading its source, so a changed source
    # (which an immutable layer never has) shows which one ran.
    (tmp_path / "pkg" / "sub" / "mod.py").write_text("WORD = 'source'\n")
    script = "import pkg.sub.mod as m; print(m.WORD, m.__spec__.cached.endswith('.pyc'))"
    done = subprocess.run(
        [sys.executable, "-B", "-c", script], cwd=tmp_path, capture_output=True, text=True
    )
    assert done.stdout.split() == ["微信", "True"], done.stderr


def test_the_running_interpreter_is_found_for_its_own_version() -> None:
    version = "{}.{}".format(*sys.version_info[:2])
    assert find_interpreter(version) is not None
    assert find_interpreter(version, sys.executable) == sys.executable


def test_a_named_interpreter_of_another_version_is_refused() -> None:
    with pytest.raises(BytecodeError, match=r"not the target's 2\.7"):
        find_interpreter("2.7", sys.executable)


def test_bytecode_on_without_the_target_interpreter_refuses_plainly(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # no python3.9 on PATH
    monkeypatch.setenv("PYENV_ROOT", str(tmp_path))  # and no pyenv versions
    (tmp_path / "functions" / "send").mkdir(parents=True)
    (tmp_path / "functions" / "send" / "index.py").write_text("")
    other = "3.9" if sys.version_info[:2] != (3, 9) else "3.10"
    with pytest.raises(PackagingError, match=f"no Python {other} on this machine"):
        packaging.build(
            tmp_path / "dist", other, (), tmp_path, tmp_path / "functions", bytecode="on"
        )
    assert not (tmp_path / "dist").exists()


def test_an_unknown_bytecode_choice_is_refused() -> None:
    with pytest.raises(PackagingError, match="auto, on, off"):
        packaging.build(Path("dist"), "3.9", (), bytecode="yes")
