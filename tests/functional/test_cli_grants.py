"""`wxapush grants import`: existing subscribers brought into the grant ledger from a file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from wxapush.app import current_app, reset_app
from wxapush.cli import main
from wxapush.config import reset_settings
from wxemu import demo
from wxemu.testing import RunningServer

from .conftest import Invoke, send_event
from .test_send import assert_error

OTHER = "oWxEmu-Imported-000000000000B2"


@pytest.fixture
def synced(
    invoke: Invoke, wxemu: RunningServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The template registry synced (refresh_code), and no `wxapush dev` settings in the cwd."""
    monkeypatch.chdir(tmp_path)
    assert invoke("refresh_code", {})["errcode"] == 0


def balance(openid: str, template_id: str) -> object:
    return current_app().store.grants.balance(demo.APPID, openid, template_id)


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["grants", "import", *argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_a_csv_of_subscribers_fills_the_ledger_once(
    synced: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "subscribers.csv"
    path.write_text(
        "openid,template_id,count\n"
        f"{demo.OPENID},{demo.TEMPLATE_ID},3\n"
        f"{OTHER},{demo.TEMPLATE_ID},1\n"
        f"{demo.OPENID},{demo.LONG_TERM_TEMPLATE_ID},long-term\n",
        encoding="utf-8",
    )
    code, out, err = run(capsys, str(path))
    assert code == 0, err
    assert "imported 3 grant(s); 0 already in the ledger" in out
    assert balance(demo.OPENID, demo.TEMPLATE_ID) == 3
    assert balance(OTHER, demo.TEMPLATE_ID) == 1
    assert balance(demo.OPENID, demo.LONG_TERM_TEMPLATE_ID) == 1
    code, out, _ = run(capsys, str(path))  # run again: nothing changes
    assert code == 0 and "imported 0 grant(s); 3 already in the ledger" in out
    assert balance(demo.OPENID, demo.TEMPLATE_ID) == 3


def test_a_refusal_the_ledger_learned_is_kept(
    synced: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    current_app().store.grants.revoke(demo.APPID, OTHER, demo.TEMPLATE_ID)  # the user rejected
    path = tmp_path / "old-export.jsonl"
    path.write_text(
        json.dumps({"openid": OTHER, "template_id": demo.TEMPLATE_ID, "count": 5}) + "\n",
        encoding="utf-8",
    )
    code, out, _ = run(capsys, str(path))
    assert code == 0 and "1 already in the ledger (kept)" in out
    assert balance(OTHER, demo.TEMPLATE_ID) == 0


def test_under_enforce_imported_subscribers_are_sent_to(
    synced: None,
    invoke: Invoke,
    wxemu: RunningServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("WXAPUSH_GRANT_POLICY", "enforce")
    reset_settings()
    reset_app()
    assert_error(invoke("send", send_event()), "not_subscribed", 43101)  # the ledger is empty
    path = tmp_path / "subscribers.jsonl"
    path.write_text(json.dumps({"openid": demo.OPENID, "count": 1}) + "\n", encoding="utf-8")
    code, _, err = run(capsys, str(path), "--template", demo.TEMPLATE_ID)
    assert code == 0, err
    reset_app()
    assert invoke("send", send_event())["errcode"] == 0
    assert balance(demo.OPENID, demo.TEMPLATE_ID) == 0  # the imported grant was used


def test_bad_lines_are_named_and_the_good_ones_imported(
    synced: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "mixed.csv"
    path.write_text(
        "openid,template,count\n"
        f"{OTHER},{demo.TEMPLATE_ID},two\n"
        f",{demo.TEMPLATE_ID},1\n"
        f"{OTHER},{demo.TEMPLATE_ID},long-term\n"
        f"{OTHER},{demo.LONG_TERM_TEMPLATE_ID},\n",
        encoding="utf-8",
    )
    code, out, err = run(capsys, str(path))
    assert code == 1
    assert "line 2: count must be a whole number or long-term" in err
    assert "line 3: no openid" in err
    assert "line 4: template " + demo.TEMPLATE_ID + " is one-time: give a count" in err
    assert "imported 1 grant(s)" in out and "3 line(s) refused" in out
    assert balance(OTHER, demo.TEMPLATE_ID) is None
    assert balance(OTHER, demo.LONG_TERM_TEMPLATE_ID) == 1


def test_a_dry_run_writes_nothing(
    synced: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "s.csv"
    path.write_text(f"openid,template_id,count\n{OTHER},{demo.TEMPLATE_ID},2\n", encoding="utf-8")
    code, out, _ = run(capsys, str(path), "--dry-run")
    assert code == 0 and "would import 1 grant(s)" in out
    assert balance(OTHER, demo.TEMPLATE_ID) is None


def test_a_csv_without_an_openid_column_is_refused_whole(
    synced: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "s.csv"
    path.write_text(f"user,template_id\n{OTHER},{demo.TEMPLATE_ID}\n", encoding="utf-8")
    code, _, err = run(capsys, str(path))
    assert code == 2 and "header must name openid" in err
