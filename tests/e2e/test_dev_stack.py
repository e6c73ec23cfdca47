"""`wxapush dev`, the README's main job, driven over real HTTP as a person would."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
import requests

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def banner(tmp_path: Path) -> Iterator[str]:
    """Start `wxapush dev` on ephemeral ports and return what it printed."""
    command = [
        sys.executable, "-m", "wxapush.cli", "dev", "--port", "0", "--wxemu-port", "0",
        "--store", f"sqlite:///{tmp_path / 'dev.db'}",
    ]  # fmt: skip
    proc = subprocess.Popen(
        command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    assert proc.stdout is not None
    lines: list[str] = []
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        lines.append(line)
        if len(lines) > 1 and "send_log?" in lines[-2] and "Authorization" in line:
            break  # the last line of the banner
    try:
        yield "".join(lines)
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=10)
        finally:
            proc.kill()
    assert proc.returncode == 0


def test_the_printed_curl_line_sends_and_send_log_lists_it(banner: str) -> None:
    assert "refresh_code ok" in banner, banner
    gateway = re.search(r"functions\s+(http://\S+)/<function>", banner)
    key = re.search(r"admin key\s+(\S+)", banner)
    body = re.search(r"-d '(\{.*\})'", banner)
    assert gateway and key and body, banner
    headers = {"Authorization": f"Bearer {key[1]}", "Content-Type": "application/json"}

    sent = requests.post(f"{gateway[1]}/send", data=body[1].encode(), headers=headers, timeout=10)
    assert sent.status_code == 200, sent.text
    result = sent.json()
    assert result["errcode"] == 0 and result["status"] == "sent"
    again = requests.post(f"{gateway[1]}/send", data=body[1].encode(), headers=headers, timeout=10)
    assert again.json()["duplicate"] is True and again.json()["msgid"] == result["msgid"]

    day = datetime.now(timezone(timedelta(hours=8))).date().isoformat()
    listed = requests.get(
        f"{gateway[1]}/send_log",
        params={"begin_date": day, "end_date": day},
        headers=headers,
        timeout=10,
    ).json()
    assert listed["total"] == 1
    assert listed["list"][0]["msgid"] == result["msgid"]
    assert listed["list"][0]["data"] == {
        k: {"value": v} for k, v in json.loads(body[1])["data"].items()
    }

    refused = requests.post(f"{gateway[1]}/get_token", json={}, timeout=10)
    assert refused.status_code == 401 and refused.json()["error"] == "unauthorized"
