"""``wxapush doctor`` in another shell passes against the running ``wxapush dev`` stack."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.e2e.test_dev_stack import ROOT, banner, clean_env

__all__ = ["banner"]  # the fixture, imported for the test below


def test_doctor_passes_against_the_running_stack(banner: str, tmp_path: Path) -> None:
    env = clean_env(os.environ.get("TZ", "Etc/GMT+12"))
    command = [sys.executable, "-m", "wxapush", "doctor", "--json", "--descriptors", str(ROOT)]
    done = subprocess.run(
        command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60
    )
    report = json.loads(done.stdout)
    assert done.returncode == 0, [c for c in report["checks"] if not c["ok"]]
    assert "dev.env" in done.stderr
    names = [c["name"] for c in report["checks"]]
    assert "AppID/AppSecret" in names and "store" in names and "templates" in names
