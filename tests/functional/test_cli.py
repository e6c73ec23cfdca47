"""The operator commands: `wxapush invoke`, `send` and `log`, with the environment's config."""

from __future__ import annotations

import json

import pytest

from wxapush.cli import main
from wxemu import demo
from wxemu.testing import RunningServer

from .conftest import send_event


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    code = main(list(argv))
    return code, capsys.readouterr().out


def test_invoke_send_then_log(
    env: dict[str, str], wxemu: RunningServer, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out = run(capsys, "invoke", "send", "--data", json.dumps(send_event()))
    assert code == 0
    sent = json.loads(out)
    assert sent["status"] == "sent"
    code, out = run(capsys, "log", "--json")
    assert code == 0
    assert json.loads(out)["list"][0]["msgid"] == sent["msgid"]
    code, out = run(capsys, "log")
    assert code == 0 and "1 message(s)" in out and str(sent["msgid"]) in out


def test_send_command_builds_the_request(
    env: dict[str, str], wxemu: RunningServer, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out = run(
        capsys, "send", "--to", demo.OPENID, "--template", demo.TEMPLATE_ID,
        "-d", "thing1=手机保护壳", "-d", "character_string2=SF1", "-d", "date3=2026-11-27",
        "-d", "amount6=¥1.00", "--page", "pages/a?b=1", "--key", "k-1",
    )  # fmt: skip
    assert code == 0, out
    [message] = wxemu.messages(demo.APPID)
    assert message["page"] == "pages/a?b=1" and message["data"]["amount6"] == {"value": "¥1.00"}


def test_invoke_as_a_user_is_confined(
    env: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    code, out = run(capsys, "invoke", "get_token", "--as-user", demo.OPENID)
    assert code == 1
    assert json.loads(out)["error"] == "forbidden"


def test_a_refused_send_exits_non_zero(
    env: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    code, out = run(capsys, "send", "--to", demo.OPENID, "--template", demo.TEMPLATE_ID,
                    "-d", "thing1=" + "字" * 21)  # fmt: skip
    assert code == 1
    assert json.loads(out)["errcode"] == 47003


@pytest.mark.parametrize("argv", [["invoke", "send", "--data", "{oops"], ["send", "--to", "o",
                                  "--template", "t", "-d", "novalue"]])  # fmt: skip
def test_bad_arguments_exit_2(capsys: pytest.CaptureFixture[str], argv: list[str]) -> None:
    assert main(argv) == 2


def test_help_lists_every_command(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit:
        main(["--help"])
    assert exit.value.code == 0
    out = capsys.readouterr().out
    for command in ("dev", "invoke", "send", "log"):
        assert command in out
