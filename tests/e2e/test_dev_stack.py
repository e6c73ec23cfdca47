"""`wxapush dev`, the README's main job, driven over real HTTP as a person would."""

from __future__ import annotations

import json
import os
import re
import shlex
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

ROOT = Path(__file__).resolve().parents[2]


#: Far from Shanghai on both sides: at any hour one of them is on another date than Shanghai, so
#: a "today" taken from the machine's zone instead of WXAPUSH_TZ fails one of the two runs.
FAR_ZONES = ("Etc/GMT+12", "Etc/GMT-14")


def clean_env(tz: str) -> dict[str, str]:
    """The environment of a newcomer's shell: no WXAPUSH_* settings, a machine zone far away."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("WXAPUSH_")}
    env["TZ"] = tz
    return env


@pytest.fixture(params=FAR_ZONES)
def banner(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[str]:
    """Start `wxapush dev` (default store, in a fresh folder) and return what it printed."""
    command = [sys.executable, "-m", "wxapush", "dev", "--port", "0", "--wxemu-port", "0"]
    proc = subprocess.Popen(
        command,
        cwd=tmp_path,
        env=clean_env(request.param),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert proc.stdout is not None
    lines: list[str] = []
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        lines.append(line)
        if line.strip().endswith("wxapush log"):
            break  # the last line of the banner
    try:
        yield "".join(lines)
    finally:
        # SIGTERM (`kill`) stops it as Ctrl-C does, cleaning up (SIGINT is ignored by a
        # process started in the background of a non-interactive shell).
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        finally:
            proc.kill()
    assert proc.returncode == 0
    assert not (tmp_path / ".wxapush" / "dev.env").exists()  # removed when the stack stops


def printed_command(banner: str, name: str) -> list[str]:
    """The banner's `.venv/bin/wxapush NAME …` line (with its continuations), ready to run."""
    text = banner.replace("\\\n", " ")
    line = next(
        row for row in text.splitlines() if row.strip().startswith(f".venv/bin/wxapush {name}")
    )
    words = shlex.split(line)
    return [sys.executable, "-m", "wxapush", *words[1:]]


def test_the_printed_curl_line_sends_and_send_log_lists_it(banner: str, tmp_path: Path) -> None:
    assert "refresh_code ok" in banner, banner
    assert (tmp_path / ".wxapush" / "dev.db").is_file()  # the default store: under the cwd
    gateway = re.search(r"functions\s+(http://\S+)/<function>", banner)
    key = re.search(r"admin key\s+(\S+)", banner)
    body = re.search(r"-d '(\{.*\})'", banner)
    read_back = re.search(r"curl -s '(http://\S+/send_log\?[^']+)'", banner)
    assert gateway and key and body and read_back, banner
    headers = {"Authorization": f"Bearer {key[1]}", "Content-Type": "application/json"}

    sent = requests.post(f"{gateway[1]}/send", data=body[1].encode(), headers=headers, timeout=10)
    assert sent.status_code == 200, sent.text
    result = sent.json()
    assert result["errcode"] == 0 and result["status"] == "sent"
    again = requests.post(f"{gateway[1]}/send", data=body[1].encode(), headers=headers, timeout=10)
    assert again.json()["duplicate"] is True and again.json()["msgid"] == result["msgid"]

    def send_log() -> dict[str, Any]:
        # The banner's own read-back line: its day is today in WXAPUSH_TZ, whatever TZ says.
        answer = requests.get(read_back[1], headers=headers, timeout=10)
        found: dict[str, Any] = answer.json()
        return found

    # No manual step: wxemu pushes subscribe_msg_sent_event to receive_event on its own. (The
    # issue asks for "within a second"; it takes tens of milliseconds. The generous bound keeps
    # timing out of a pass/fail test.)
    deadline = time.monotonic() + 5
    listed = send_log()
    while listed["list"][0]["status"] != "delivered" and time.monotonic() < deadline:
        time.sleep(0.02)
        listed = send_log()
    assert "receive_event" in banner
    assert listed["list"][0]["status"] == "delivered", listed
    assert (listed["list"][0]["errcode"], listed["list"][0]["errmsg"]) == (0, "success")
    assert listed["total"] == 1
    assert listed["list"][0]["msgid"] == result["msgid"]
    assert listed["list"][0]["data"] == {
        k: {"value": v} for k, v in json.loads(body[1])["data"].items()
    }

    refused = requests.post(f"{gateway[1]}/get_token", json={}, timeout=10)
    assert refused.status_code == 401 and refused.json()["error"] == "unauthorized"


def test_the_printed_operator_commands_reach_the_running_stack(banner: str, tmp_path: Path) -> None:
    """In another shell with no WXAPUSH_* set, the banner's `wxapush send` and `wxapush log`
    lines use the stack's settings (.wxapush/dev.env) and show the message delivered."""
    env = clean_env(os.environ.get("TZ", "Etc/GMT+12"))
    run = {"cwd": tmp_path, "env": env, "capture_output": True, "text": True, "timeout": 60}
    sent = subprocess.run(printed_command(banner, "send"), **run)  # type: ignore[call-overload]
    assert sent.returncode == 0, sent.stdout + sent.stderr
    assert "dev.env" in sent.stderr
    msgid = json.loads(sent.stdout)["msgid"]
    deadline = time.monotonic() + 5
    while True:
        log = subprocess.run(printed_command(banner, "log"), **run)  # type: ignore[call-overload]
        assert log.returncode == 0, log.stdout + log.stderr
        row = next(line for line in log.stdout.splitlines() if f"msgid={msgid}" in line)
        if "delivered" in row or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert "delivered" in row, log.stdout


def test_dev_refuses_to_start_when_its_store_is_unusable(tmp_path: Path) -> None:
    (tmp_path / "ro").mkdir(mode=0o500)
    command = [
        sys.executable, "-m", "wxapush", "dev", "--port", "0", "--wxemu-port", "0",
        "--store", "redis://127.0.0.1:1/0",
    ]  # fmt: skip
    done = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert done.returncode != 0
    assert "refresh_code failed" in done.stdout + done.stderr
    assert "the local stack is up" not in done.stdout


def test_a_page_over_function_urls_logs_in_and_sends_to_itself(banner: str) -> None:
    gateway = re.search(r"functions\s+(http://\S+)/<function>", banner)
    wxemu = re.search(r"wxemu\s+(http://\S+)", banner)
    app = re.search(r"demo app\s+appid (\S+)\s+openid (\S+)", banner)
    template = re.search(r"template (\S+)", banner)
    assert gateway and wxemu and app and template, banner
    base = gateway[1]
    assert requests.get(f"{base}/login", timeout=10).headers["Allow"] == "POST"
    missing = requests.get(f"{base}/no_such_function", timeout=10)
    assert missing.status_code == 404 and "/login" in missing.text

    # What wx.login() gives the page (wxemu mints it), then what the page does with it.
    code = requests.post(
        f"{wxemu[1]}/__wxemu__/logincodes", json={"appid": app[1], "openid": app[2]}, timeout=10
    ).json()["code"]
    login = requests.post(f"{base}/login", json={"code": code}, timeout=10)
    assert login.status_code == 200, login.text
    assert login.json()["openid"] == app[2] and "session_key" not in login.text
    headers = {"Authorization": f"Session {login.json()['session']}"}
    from wxemu.stack import DEMO_DATA

    request = {"template_id": template[1], "data": DEMO_DATA}
    sent = requests.post(f"{base}/send", json=request, headers=headers, timeout=10)
    assert sent.status_code == 200 and sent.json()["status"] == "sent", sent.text
    to_other = {**request, "touser": "oSomebodyElse0000000000000a"}
    other = requests.post(f"{base}/send", json=to_other, headers=headers, timeout=10)
    assert (other.status_code, other.json()["error"]) == (403, "forbidden")
    assert requests.get(f"{base}/get_token", headers=headers, timeout=10).status_code == 405


@pytest.mark.parametrize(
    ("command", "option"),
    [
        (["wxapush", "dev", "--wxemu-port", "0", "--port"], "--port"),
        (["wxapush", "dev", "--port", "0", "--wxemu-port"], "--wxemu-port"),
        (["wxemu", "serve", "--port"], "--port"),
    ],
)
def test_a_port_in_use_is_one_line_naming_it(
    tmp_path: Path, command: list[str], option: str
) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        argv = [sys.executable, "-m", f"{command[0]}.cli", *command[1:], str(port)]
        done = subprocess.run(argv, cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert done.returncode != 0
    assert "Traceback" not in done.stderr
    [line] = done.stderr.strip().splitlines()
    assert f"port {port} on 127.0.0.1 is in use; choose another with {option} PORT" in line


def test_a_second_stack_in_the_same_folder_leaves_the_first_ones_settings(
    banner: str, tmp_path: Path
) -> None:
    """A second `wxapush dev` started (then stopped) beside a running one neither replaces nor
    removes the first one's .wxapush/dev.env: the operator commands still reach the first."""
    dev_env = tmp_path / ".wxapush" / "dev.env"
    first = dev_env.read_text(encoding="utf-8")
    command = [sys.executable, "-m", "wxapush", "dev", "--port", "0", "--wxemu-port", "0",
               "--store", "sqlite:.wxapush/second.db"]  # fmt: skip
    second = subprocess.Popen(
        command,
        cwd=tmp_path,
        env=clean_env(os.environ.get("TZ", "Etc/GMT+12")),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert second.stdout is not None
    lines: list[str] = []
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        line = second.stdout.readline()
        if not line:
            break
        lines.append(line)
        if "left as it is when this one stops" in line:
            break
    second.send_signal(signal.SIGTERM)
    try:
        second.wait(timeout=10)
    finally:
        second.kill()
    said = "".join(lines)
    assert "belongs to the wxapush dev already running in this folder" in said, said
    assert dev_env.read_text(encoding="utf-8") == first
