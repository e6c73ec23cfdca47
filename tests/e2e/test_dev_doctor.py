"""``wxapush doctor`` in another shell passes against the running ``wxapush dev`` stack."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import requests

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
    # The stack's message push and login are on: doctor checks their settings (from dev.env),
    # never reports them "not set".
    checks = {c["name"]: c for c in report["checks"]}
    assert checks["push Token"]["ok"] and checks["push Token"]["detail"] == "32 letters or digits"
    assert checks["EncodingAESKey"]["detail"] == "WXAPUSH_ENCODING_AES_KEY: 43 letters or digits"
    assert "push settings" not in checks
    assert checks["session secret"]["ok"] and "not set" not in checks["session secret"]["detail"]
    assert not any("not set" in c["detail"] for c in report["checks"] if "push" in c["name"])


def test_dev_env_holds_the_token_the_functions_verify_with(banner: str, tmp_path: Path) -> None:
    """The push Token in dev.env is the one the stack's receive_event runs with (and wxemu signs
    with): WeChat's URL check signed with it is answered with its echostr."""
    from wxapush.wechat.callback import sign
    from wxemu import devenv

    settings = devenv.read(tmp_path / ".wxapush" / "dev.env")
    for name in ("WXAPUSH_CALLBACK_TOKEN", "WXAPUSH_ENCODING_AES_KEY", "WXAPUSH_SESSION_SECRET"):
        assert settings.get(name), name
    gateway = re.search(r"functions\s+(http://\S+)/<function>", banner)
    assert gateway, banner
    timestamp, nonce = str(int(time.time())), "dev-env-nonce"
    query = {
        "signature": sign(settings["WXAPUSH_CALLBACK_TOKEN"], timestamp, nonce),
        "timestamp": timestamp,
        "nonce": nonce,
        "echostr": "dev-env-echo",
    }
    answer = requests.get(f"{gateway[1]}/receive_event", params=query, timeout=10)
    assert (answer.status_code, answer.text) == (200, "dev-env-echo")
