"""Structured logs: the JSON line's keys, the invocation's fields, the one summary per call."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from datetime import timedelta, timezone
from typing import Any

import pytest

from tests.functional.conftest import ADMIN_KEY
from tests.reliability.secrets_plugin import SecretScan
from wxapush import logs, runtime
from wxapush.config import reset_settings
from wxapush.errors import Forbidden
from wxapush.invocation import Invocation, RawResponse

CONTEXT = {"request_id": "req-0001", "function_name": "wxapush-send", "time_limit_in_ms": 3000}


@pytest.fixture
def lines() -> Iterator[io.StringIO]:
    """The JSON lines every logger writes during the test (as on SCF)."""
    stream = io.StringIO()
    handler = logs.install(stream, tz=timezone(timedelta(hours=9)))
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        yield stream
    finally:
        root.removeHandler(handler)


def written(stream: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def answer(inv: Invocation) -> dict[str, Any]:
    logging.getLogger("wxapush.services.test").debug("detail of %s", inv.request.get("action"))
    return {"errcode": 0, "errmsg": "ok", "log_id": "L-1", "msgid": 7}


def refuse(inv: Invocation) -> dict[str, Any]:
    raise Forbidden("not yours")


def test_every_line_of_an_invocation_is_json_with_its_keys_and_one_summary(
    lines: io.StringIO,
) -> None:
    result = runtime.invoke(answer, {"action": "go", "touser": "o-someone"}, CONTEXT)
    assert result["errcode"] == 0
    entries = written(lines)
    assert all(e["request_id"] == "req-0001" and e["function"] == "wxapush-send" for e in entries)
    assert all(e["time"].endswith("+09:00") for e in entries)  # the zone given, not the machine's
    detail = [e for e in entries if e["logger"] == "wxapush.services.test"]
    assert detail[0]["level"] == "DEBUG" and detail[0]["message"] == "detail of go"
    (summary,) = [e for e in entries if e["logger"] == "wxapush.invocation"]
    assert summary["level"] == "INFO" and summary["caller"] == "service"
    assert summary["errcode"] == 0 and summary["log_id"] == "L-1" and summary["msgid"] == 7
    assert isinstance(summary["duration_ms"], float) and isinstance(summary["cold_start"], bool)
    assert "action=go" in summary["message"] and "touser" in summary["asked"]
    assert "o-someone" not in lines.getvalue()  # field names, never a value that is personal


def test_a_refusal_is_summarised_with_its_slug_and_errcode(lines: io.StringIO) -> None:
    result = runtime.invoke(refuse, {}, CONTEXT)
    assert (result["error"], result["errcode"]) == ("forbidden", 990403)
    (summary,) = [e for e in written(lines) if e["logger"] == "wxapush.invocation"]
    assert (summary["error"], summary["errcode"]) == ("forbidden", 990403)
    assert summary["errmsg"] == "not yours" and "forbidden" in summary["message"]


def test_a_timer_and_a_user_are_named_by_kind_never_by_openid(
    lines: io.StringIO, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WXAPUSH_APPID", "wx-logs-test")
    monkeypatch.setenv("WXAPUSH_APPSECRET", "appsecret-0123456789abcdef")
    reset_settings()
    runtime.invoke(answer, {"Type": "Timer", "TriggerName": "t", "Time": "x"}, CONTEXT)
    user = dict(CONTEXT, environment=json.dumps({"WX_OPENID": "o-user-openid-0001"}))
    runtime.invoke(answer, {}, user)
    callers = [e["caller"] for e in written(lines) if e["logger"] == "wxapush.invocation"]
    assert callers == ["timer", "user"]
    assert "o-user-openid-0001" not in lines.getvalue()
    reset_settings()


def test_lines_outside_an_invocation_carry_no_invocation_keys(lines: io.StringIO) -> None:
    logging.getLogger("wxapush.test").info("alone", extra={"errcode": 45009})
    (entry,) = written(lines)
    assert entry["errcode"] == 45009 and "request_id" not in entry


def test_format_and_level_follow_the_settings() -> None:
    assert logs.log_format({"TENCENTCLOUD_RUNENV": "SCF"}) == "json"
    assert logs.log_format({}) == "text"
    assert logs.log_format({"TENCENTCLOUD_RUNENV": "SCF", "WXAPUSH_LOG_FORMAT": "text"}) == "text"
    assert logs.log_format({"WXAPUSH_LOG_FORMAT": "JSON"}) == "json"
    assert logs.log_level({"WXAPUSH_LOG_LEVEL": "debug"}) == logging.DEBUG
    assert logs.log_level({"WXAPUSH_LOG_LEVEL": "undefined"}) is None
    assert logs.log_zone({"WXAPUSH_TZ": "UTC"}).utcoffset(None) == timedelta(0)
    assert logs.log_zone({}).utcoffset(None) == timedelta(hours=8)


def test_the_secrets_scan_reads_the_json_keys_too() -> None:
    # A secret in an extra key never reaches getMessage(): the scan must read the JSON line.
    scan = SecretScan()
    record = logging.LogRecord("wxapush.x", logging.INFO, __file__, 1, "clean", None, None)
    record.errmsg = f"leaked {ADMIN_KEY}"
    scan.emit(record)
    assert scan.found and "test-a" in scan.found[0]


def test_a_page_answered_over_http_is_summarised_by_its_status(lines: io.StringIO) -> None:
    event = {"body": "", "headers": {}, "httpMethod": "GET", "path": "/nowhere", "queryString": {}}

    def page(inv: Invocation) -> RawResponse:
        return RawResponse("not here", status=404)

    answer = runtime.invoke(page, event, CONTEXT, auth="none", methods=None)
    assert answer["statusCode"] == 404
    (summary,) = [e for e in written(lines) if e["logger"] == "wxapush.invocation"]
    assert summary["status"] == 404 and "errcode" not in summary
    assert "HTTP 404" in summary["message"] and "GET /nowhere" in summary["asked"]
    assert summary["caller"] == "anonymous"  # not receive_event's WeChat, nor login's user


CONFIGURE = """
import logging, sys
from wxapush import logs
logs.configure()
logging.getLogger("wxapush.probe").info("an info line")
logging.getLogger("wxapush.probe").warning("a warning line")
"""


@pytest.mark.parametrize(
    ("env", "stdout", "stderr"),
    [
        ({}, [], ["a warning line"]),  # text, WARNING: Python's own default
        ({"WXAPUSH_LOG_LEVEL": "INFO"}, [], ["an info line", "a warning line"]),
        ({"TENCENTCLOUD_RUNENV": "SCF"}, ["an info line", "a warning line"], []),  # JSON, INFO
    ],
)
def test_configure_picks_the_format_stream_and_level(
    env: dict[str, str], stdout: list[str], stderr: list[str]
) -> None:
    import os
    import subprocess
    import sys

    clean = {k: v for k, v in os.environ.items() if not k.startswith(("WXAPUSH_", "TENCENT"))}
    done = subprocess.run(
        [sys.executable, "-c", CONFIGURE], env={**clean, **env}, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert [json.loads(line)["message"] for line in done.stdout.splitlines()] == stdout
    # text: "<time> <LEVEL> wxapush.probe <message>"
    assert [line.split(" wxapush.probe ")[1] for line in done.stderr.splitlines()] == stderr
