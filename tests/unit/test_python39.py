"""The code that runs on SCF stays within Python 3.9 (SCF runs Python 3.9 and 3.10).

``tests/e2e/test_scf_layout.py`` runs the packaged send function on a real CPython 3.9 where
the machine has one; these checks cover every module statically, whatever the interpreter (mypy
no longer type-checks for 3.9) with two checks:

* the stdlib parser with ``feature_version=(3, 9)``: syntax newer than 3.9 (``match``,
  ``except*``, parenthesised context managers…) fails to parse;
* ``vermin`` (PyPI): standard-library modules, functions and arguments newer than 3.9
  (``tomllib``, ``zip(strict=…)``, ``datetime.UTC``…), annotations evaluated as 3.9 would.

``vermin`` is a dev dependency; without it the second check skips, except in CI (``CI`` set),
where it fails.
"""

from __future__ import annotations

import ast
import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
#: What runs in a function: the layer and the entry points (the emulator never does).
CLOUD_CODE = (ROOT / "shared" / "wxapush", ROOT / "functions")
SOURCES = sorted(p for root in CLOUD_CODE for p in root.rglob("*.py"))


def test_there_is_code_to_check() -> None:
    assert len(SOURCES) > 20


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(ROOT)))
def test_parses_as_python_3_9(path: Path) -> None:
    ast.parse(path.read_text(encoding="utf-8"), str(path), feature_version=(3, 9))


def test_the_parser_check_catches_newer_syntax() -> None:
    with pytest.raises(SyntaxError):
        ast.parse("match x:\n    case 1:\n        pass\n", feature_version=(3, 9))


def _vermin(*paths: Path) -> subprocess.CompletedProcess[str]:
    if importlib.util.find_spec("vermin") is None:
        if os.environ.get("CI"):
            pytest.fail("vermin is not installed: add it to the dev dependencies")
        pytest.skip("vermin is not installed (pip install vermin)")
    # The package has no __main__: call its console-script function.
    run = "import sys, vermin; sys.argv[0] = 'vermin'; sys.exit(vermin.main())"
    command = [sys.executable, "-c", run, "-q", "--target=3.9-", "--violations",
               "--eval-annotations", "--no-tips", *map(str, paths)]  # fmt: skip
    return subprocess.run(command, capture_output=True, text=True, timeout=120)


def test_no_standard_library_newer_than_3_9() -> None:
    done = _vermin(*CLOUD_CODE)
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_vermin_check_catches_newer_library_use(tmp_path: Path) -> None:
    newer = tmp_path / "newer.py"
    newer.write_text("import tomllib\nprint(list(zip([1], [2], strict=True)))\n")
    done = _vermin(newer)
    assert done.returncode != 0 and "tomllib" in done.stdout
