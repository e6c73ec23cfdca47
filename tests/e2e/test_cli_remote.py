"""`wxapush --url BASE --admin-key KEY send|log|broadcast`: the operator commands against a
deployment's functions over HTTP — here `wxapush dev`'s local Function URLs, from a shell that
has none of the deployment's settings (no AppSecret, no store)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.test_dashboard_browser import Stack
from tests.e2e.test_dev_stack import banner  # noqa: F401  (the running stack)
from wxapush.cli import main


@pytest.fixture
def bare_shell(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A shell with no WXAPUSH_* settings, in a folder with no running stack's dev.env."""
    for name in list(os.environ):
        if name.startswith("WXAPUSH_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, Any, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    try:
        out: Any = json.loads(captured.out)
    except ValueError:
        out = captured.out
    return code, out, captured.err


def send_args(stack: Stack, key: str) -> list[str]:
    args = ["send", "--to", stack.body["touser"], "--template", stack.body["template_id"]]
    for name, value in stack.body["data"].items():
        args += ["-d", f"{name}={value}"]
    return [*args, "--key", key]


def test_send_and_log_over_http_with_only_the_url_and_the_key(
    banner: str,  # noqa: F811
    bare_shell: None,
    capsys: pytest.CaptureFixture[str],
) -> None:
    stack = Stack(banner)
    remote = ["--url", stack.url, "--admin-key", stack.key]
    code, sent, err = run(capsys, *remote, *send_args(stack, "remote-1"))
    assert code == 0, err
    assert sent["status"] == "sent" and sent["duplicate"] is False
    code, again, _ = run(capsys, *remote, *send_args(stack, "remote-1"))
    assert code == 0 and again["duplicate"] is True and again["log_id"] == sent["log_id"]
    code, page, _ = run(capsys, *remote, "log", "--json")
    assert code == 0 and sent["log_id"] in [row["log_id"] for row in page["list"]]
    assert stack.key not in json.dumps(page)


def test_a_wrong_key_is_the_functions_own_answer(
    banner: str,  # noqa: F811
    bare_shell: None,
    capsys: pytest.CaptureFixture[str],
) -> None:
    stack = Stack(banner)
    code, answer, _ = run(capsys, "--url", stack.url, "--admin-key", "wrong", "log", "--json")
    assert code == 1 and (answer["error"], answer["errcode"]) == ("unauthorized", 990401)


def test_each_function_its_own_url_from_settings_and_a_broadcast_waited_for(
    banner: str,  # noqa: F811
    bare_shell: None,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """SCF gives each function a host of its own: WXAPUSH_URL_<FUNCTION>, no base."""
    stack = Stack(banner)
    monkeypatch.setenv("WXAPUSH_URL_BROADCAST", f"{stack.url}/broadcast")
    monkeypatch.setenv("WXAPUSH_ADMIN_KEY", stack.key)
    recipients = tmp_path / "openids.txt"
    recipients.write_text(stack.body["touser"] + "\n", encoding="utf-8")
    args = ["broadcast", "--template", stack.body["template_id"], "--to-file", str(recipients)]
    for name, value in stack.body["data"].items():
        args += ["-d", f"{name}={value}"]
    code, final, err = run(capsys, *args, "--id", "remote-campaign", "--wait", "--json")
    assert code == 0, err
    assert final["status"] == "done" and final["counts"].get("sent") == 1, final
    # send has no URL here: said, not guessed
    code, answer, _ = run(capsys, *send_args(stack, "remote-2"))
    assert (
        code == 1 and answer["error"] == "misconfigured" and "WXAPUSH_URL_SEND" in answer["errmsg"]
    )


def test_an_unreachable_url_says_so(bare_shell: None, capsys: pytest.CaptureFixture[str]) -> None:
    code, answer, _ = run(
        capsys, "--url", "http://127.0.0.1:1", "--admin-key", "k", "log", "--json"
    )
    assert (
        code == 1 and answer["error"] == "upstream_error" and "did not answer" in answer["errmsg"]
    )


def test_a_url_without_a_key_is_refused(
    bare_shell: None, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(capsys, "--url", "http://127.0.0.1:1", "log")
    assert code == 2 and "admin key" in err
