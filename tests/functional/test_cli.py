"""The operator commands: `wxapush invoke`, `send` and `log`, with the environment's config."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from functools import partial
from pathlib import Path

import pytest

from wxapush.cli import main
from wxapush.services import send_log
from wxapush.store import LogQuery
from wxemu import demo, devenv
from wxemu.testing import RunningServer

from .conftest import send_event


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    code = main(list(argv))
    return code, capsys.readouterr().out


@pytest.fixture(params=["Etc/GMT+12", "Etc/GMT-14"])
def far_zone(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The process's local zone far west or far east of Shanghai: at any hour one of the two is
    on another date than Shanghai, so a "today" from the machine's zone fails one of them."""
    monkeypatch.setenv("TZ", request.param)
    time.tzset()
    yield request.param
    monkeypatch.undo()
    time.tzset()


def test_invoke_send_then_log(
    env: dict[str, str],
    wxemu: RunningServer,
    far_zone: str,
    capsys: pytest.CaptureFixture[str],
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


def test_log_says_when_counting_stopped(
    env: dict[str, str],
    wxemu: RunningServer,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    for _ in range(3):
        assert run(capsys, "invoke", "send", "--data", json.dumps(send_event()))[0] == 0
    monkeypatch.setattr(send_log, "LogQuery", partial(LogQuery, exact_up_to=2))
    code, out = run(capsys, "log")
    assert code == 0 and out.splitlines()[0] == "2+ message(s)"


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


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit:
        main(["--version"])
    assert exit.value.code == 0
    assert capsys.readouterr().out.startswith("wxapush 0.")


def test_python_dash_m_runs_the_command() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "wxapush", "log", "--help"], capture_output=True, text=True
    )
    assert done.returncode == 0
    assert "WXAPUSH_TZ" in done.stdout and "rejected" in done.stdout


def test_log_with_a_bad_zone_says_so(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("WXAPUSH_APPID", "wx-from-the-shell")  # no dev.env involved
    monkeypatch.setenv("WXAPUSH_TZ", "Mars/Olympus")
    assert main(["log"]) == 1
    assert "WXAPUSH_TZ 'Mars/Olympus'" in capsys.readouterr().err


def test_the_running_stack_settings_apply_only_to_an_unconfigured_shell(tmp_path: Path) -> None:
    path = devenv.write(
        {"WXAPUSH_APPID": "wxdemo", "WXAPUSH_STORE": "sqlite:/a b/it's.db"}, tmp_path / "dev.env"
    )
    assert path.stat().st_mode & 0o777 == 0o600  # it holds the admin key and AppSecret
    assert devenv.read(path) == {"WXAPUSH_APPID": "wxdemo", "WXAPUSH_STORE": "sqlite:/a b/it's.db"}

    shell: dict[str, str] = {"WXAPUSH_TZ": "UTC"}
    assert devenv.apply(shell, path) == path
    assert shell == {
        "WXAPUSH_TZ": "UTC",
        "WXAPUSH_APPID": "wxdemo",
        "WXAPUSH_STORE": "sqlite:/a b/it's.db",
    }

    configured = {"WXAPUSH_APPID": "wxprod"}  # the shell's own configuration wins, whole
    assert devenv.apply(configured, path) is None
    assert configured == {"WXAPUSH_APPID": "wxprod"}

    devenv.remove(path)
    assert devenv.apply({}, path) is None


def test_a_second_stack_in_the_same_folder_leaves_the_first_ones_settings(
    tmp_path: Path,
) -> None:
    path = tmp_path / "dev.env"
    first = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        assert devenv.write({"WXAPUSH_APPID": "first"}, path, pid=first.pid) == path
        assert devenv.owner(path) == first.pid
        # a second stack starting, then stopping, in the same folder
        assert devenv.write({"WXAPUSH_APPID": "second"}, path) is None
        devenv.remove(path)
        assert devenv.read(path) == {"WXAPUSH_APPID": "first"}
    finally:
        first.kill()
        first.wait()
    # the first stack gone without cleaning up (killed): its file is stale, the next takes it
    assert devenv.write({"WXAPUSH_APPID": "third"}, path) == path
    assert devenv.read(path) == {"WXAPUSH_APPID": "third"}
    devenv.remove(path)
    assert not path.exists()


def test_every_operator_command_uses_the_running_stack(
    wxemu: RunningServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """With .wxapush/dev.env in the folder and no WXAPUSH_APPID, broadcast reaches the stack too."""
    from wxapush.app import reset_app
    from wxapush.config import reset_settings

    for name in list(os.environ):
        if name.startswith("WXAPUSH_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    devenv.write(
        {
            "WXAPUSH_APPID": demo.APPID,
            "WXAPUSH_APPSECRET": demo.SECRET,
            "WXAPUSH_API_BASE": wxemu.base_url,
            "WXAPUSH_STORE": f"sqlite:///{tmp_path / 'dev.db'}",
        }
    )
    reset_settings()
    reset_app()
    try:
        code = main(["broadcast", "status", "no-such-campaign", "--json"])
        captured = capsys.readouterr()
        assert "dev.env" in captured.err
        assert "misconfigured" not in captured.out, captured.out
        assert code == 1 and json.loads(captured.out)["error"] == "invalid_request", captured.out
    finally:
        reset_app()
        reset_settings()
