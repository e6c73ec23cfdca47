"""``wxapush doctor``: passes on a sound configuration, and names the setting and the fix."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.functional.conftest import Invoke
from tests.functional.test_functions import TIMER
from wxapush import cli
from wxapush.config import MIN_SESSION_SECRET_LENGTH, load_settings, reset_settings
from wxapush.errors import Misconfigured
from wxemu.testing import RunningServer

ROOT = Path(__file__).resolve().parents[2]
ROBOT_KEY = "test-robot-key-0001"
AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"


def doctor(capsys: pytest.CaptureFixture[str], *extra: str) -> tuple[int, dict[str, Any]]:
    status = cli.main(["doctor", "--json", "--descriptors", str(ROOT), *extra])
    report: dict[str, Any] = json.loads(capsys.readouterr().out)
    return status, report


def failed(report: dict[str, Any]) -> list[dict[str, Any]]:
    return [c for c in report["checks"] if not c["ok"]]


@pytest.fixture
def sound(
    invoke: Invoke, wxemu: RunningServer, monkeypatch: pytest.MonkeyPatch
) -> pytest.MonkeyPatch:
    """A configuration that passes: keys long enough, push settings, a robot, templates synced."""
    wxemu.control("DELETE", "robots")
    for name, value in {
        "WXAPUSH_ADMIN_KEY": "test-admin-key-0123456789-long-enough-for-doctor",
        "WXAPUSH_CALLBACK_TOKEN": "testcallbacktoken",
        "WXAPUSH_ENCODING_AES_KEY": AES_KEY,
        "WXAPUSH_RATE_LIMIT": "5",
        "WXAPUSH_ALERT_WEBHOOK": f"{wxemu.base_url}/cgi-bin/webhook/send?key={ROBOT_KEY}",
    }.items():
        monkeypatch.setenv(name, value)
    reset_settings()
    assert invoke("refresh_code", TIMER)["errcode"] == 0  # the registry synced
    return monkeypatch


def test_a_sound_configuration_passes_every_check(
    sound: pytest.MonkeyPatch, wxemu: RunningServer, capsys: pytest.CaptureFixture[str]
) -> None:
    status, report = doctor(capsys)
    assert failed(report) == [] and status == 0 and report["ok"] is True
    names = {c["name"] for c in report["checks"]}
    assert {"AppID/AppSecret", "store", "admin key", "EncodingAESKey", "templates"} <= names
    assert {"rate limit", "alert webhook", "descriptors"} <= names
    (post,) = wxemu.control("GET", "robots")["posts"]
    assert "测试" in post["body"]["markdown"]["content"]


def test_the_text_report_has_one_line_per_check(
    sound: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    sound.setenv("WXAPUSH_ADMIN_KEY", "short-admin-key")
    assert cli.main(["doctor", "--descriptors", str(ROOT), "--no-post"]) == 1
    out = capsys.readouterr().out
    assert "✘ admin key: WXAPUSH_ADMIN_KEY has 15 characters" in out
    assert "→ set WXAPUSH_ADMIN_KEY to ≥ 32" in out and "short-admin-key" not in out
    assert "✔ store:" in out


@pytest.mark.parametrize(
    ("name", "value", "check"),
    [
        ("WXAPUSH_ADMIN_KEY", "short-admin-key", "admin key"),
        ("WXAPUSH_STORE", "postgresql://wxapush@127.0.0.1:1/none", "store"),
        ("WXAPUSH_ENCODING_AES_KEY", "too-short-and-not-alphanumeric", "EncodingAESKey"),
        ("WXAPUSH_CALLBACK_TOKEN", "has spaces in it", "push Token"),
        ("WXAPUSH_RATE_LIMIT", "100000", "rate limit"),
    ],
)
def test_a_bad_setting_fails_naming_it_and_the_fix(
    sound: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    name: str,
    value: str,
    check: str,
) -> None:
    sound.setenv(name, value)
    status, report = doctor(capsys, "--no-post")
    assert status == 1 and report["ok"] is False
    bad = [c for c in failed(report) if c["name"] == check]
    assert bad and bad[0]["setting"] == name and bad[0]["fix"], report
    assert value not in json.dumps(report) or name in ("WXAPUSH_STORE", "WXAPUSH_RATE_LIMIT")


@pytest.mark.parametrize("name", ["WXAPUSH_SESSION_SECRET", "WXAPUSH_SESSION_SECRET_PREVIOUS"])
@pytest.mark.parametrize("length", [MIN_SESSION_SECRET_LENGTH - 1, MIN_SESSION_SECRET_LENGTH, 20])
def test_the_session_secret_check_holds_the_configurations_minimum(
    sound: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], name: str, length: int
) -> None:
    """doctor passes exactly the session secrets the settings accept (config is the rule)."""
    secret = "s" * length
    sound.setenv("WXAPUSH_SESSION_SECRET", "current-session-secret-0123456789")
    sound.setenv(name, secret)
    try:
        load_settings({"WXAPUSH_APPID": "wx1", "WXAPUSH_APPSECRET": "x", name: secret})
        accepted = True
    except Misconfigured as error:
        assert error.extras["setting"] == name
        accepted = False
    assert accepted is (length >= 16)  # the README's "≥ 16 characters"
    status, report = doctor(capsys, "--no-post")
    (check,) = [c for c in report["checks"] if c["name"] == "session secret"]
    assert check["ok"] is accepted and (status == 0) is accepted, report
    assert secret not in json.dumps(report)
    if not accepted:
        assert check["setting"] == name
        assert check["detail"].startswith(f"{name} 只有 {length} 个字符，少于 16 / ")
        assert check["fix"].startswith(f"把 {name} 设为至少 16 个随机字符 / ")


def test_a_push_token_without_a_key_passes_as_plaintext_mode(
    sound: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The settings (and receive_event) take a Token alone: the console's plaintext mode."""
    sound.delenv("WXAPUSH_ENCODING_AES_KEY")
    load_settings(
        {"WXAPUSH_APPID": "wx1", "WXAPUSH_APPSECRET": "x", "WXAPUSH_CALLBACK_TOKEN": "t0k"}
    )
    status, report = doctor(capsys, "--no-post")
    assert failed(report) == [] and status == 0
    (key,) = [c for c in report["checks"] if c["name"] == "EncodingAESKey"]
    assert key["ok"] and "明文模式" in key["detail"] and "plaintext" in key["detail"]
    sound.setenv("WXAPUSH_ENCODING_AES_KEY_PREVIOUS", "short")  # a bad previous key still fails
    status, report = doctor(capsys, "--no-post")
    assert status == 1 and [
        c["setting"] for c in failed(report) if c["name"] == "EncodingAESKey"
    ] == ["WXAPUSH_ENCODING_AES_KEY_PREVIOUS"]


def test_a_webhook_that_refuses_fails_naming_it(
    sound: pytest.MonkeyPatch, wxemu: RunningServer, capsys: pytest.CaptureFixture[str]
) -> None:
    wxemu.control("POST", "robots", json={"refuse": ROBOT_KEY})
    status, report = doctor(capsys)
    (bad,) = failed(report)
    assert status == 1 and bad["name"] == "alert webhook"
    assert bad["setting"] == "WXAPUSH_ALERT_WEBHOOK" and "93000" in bad["detail"]
    assert ROBOT_KEY not in json.dumps(report)


def test_descriptors_that_disagree_fail(
    sound: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = (ROOT / "serverless.yml").read_text(encoding="utf-8")
    text = text.replace("      timeout: 30\n", "      timeout: 90\n")  # broadcast's
    (tmp_path / "serverless.yml").write_text(text, encoding="utf-8")
    status = cli.main(["doctor", "--json", "--descriptors", str(tmp_path), "--no-post"])
    report = json.loads(capsys.readouterr().out)
    assert status == 1
    assert any("WXAPUSH_BROADCAST_LEASE" in c["detail"] for c in failed(report)), report


def test_a_database_newer_than_the_code_fails_the_store_check(
    sound: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import sqlite3
    from contextlib import closing

    newer = tmp_path / "newer.db"
    with closing(sqlite3.connect(newer)) as conn:
        conn.execute("PRAGMA user_version = 99")
    sound.setenv("WXAPUSH_STORE", f"sqlite:///{newer}")
    status, report = doctor(capsys, "--no-post")
    (bad,) = [c for c in failed(report) if c["name"] == "store"]
    assert status == 1 and bad["setting"] == "WXAPUSH_STORE" and "newer layer" in bad["fix"]
