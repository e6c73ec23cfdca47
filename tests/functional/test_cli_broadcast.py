"""`wxapush broadcast`: create from a file, watch with --wait/--work, status and cancel by id."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Dict

import pytest

from wxapush import cli_broadcast_file
from wxapush.cli import main
from wxemu import demo
from wxemu.testing import RunningServer

from .test_broadcast import DATA, users


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def data_args() -> list[str]:
    return [arg for key, value in DATA.items() for arg in ("-d", f"{key}={value}")]


def test_create_from_a_file_work_and_wait_then_status(
    env: dict[str, str], wxemu: RunningServer, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    openids = users(wxemu, 4)
    listing = tmp_path / "openids.txt"
    listing.write_text("# subscribers\n" + "\n".join([*openids, openids[0]]) + "\n\n")
    code, out, _ = run(
        capsys, "broadcast", "--template", demo.TEMPLATE_ID, *data_args(),
        "--to-file", str(listing), "--id", "cli-1", "--work", "--wait",
    )  # fmt: skip
    assert code == 0, out
    last = out.strip().splitlines()[-1]
    assert "100%" in last and "sent 4" in last and "done" in last
    assert len(wxemu.messages(demo.APPID)) == 4
    code, out, _ = run(capsys, "broadcast", "status", "cli-1")
    assert code == 0 and "sent 4" in out and "done" in out
    code, out, _ = run(capsys, "broadcast", "status", "cli-1", "--json")
    assert json.loads(out)["counts"]["sent"] == 4


def test_json_with_wait_prints_the_final_status_alone(
    env: dict[str, str], wxemu: RunningServer, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    listing = tmp_path / "openids.txt"
    listing.write_text("\n".join(users(wxemu, 3)))
    code, out, _ = run(
        capsys, "broadcast", "--template", demo.TEMPLATE_ID, *data_args(),
        "--to-file", str(listing), "--id", "cli-json", "--work", "--wait", "--json",
    )  # fmt: skip
    assert code == 0, out
    final = json.loads(out)  # one JSON document: no progress bar around it
    assert (final["status"], final["counts"]["sent"]) == ("done", 3)


def test_cancel_by_id_and_errors(
    env: dict[str, str], wxemu: RunningServer, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    listing = tmp_path / "openids.txt"
    listing.write_text("\n".join(users(wxemu, 2)))
    base = ["broadcast", "--template", demo.TEMPLATE_ID, *data_args(), "--to-file", str(listing)]
    code, out, _ = run(capsys, *base, "--id", "cli-2")
    assert code == 0 and json.loads(out)["status"] == "queued"
    code, out, _ = run(capsys, "broadcast", "cancel", "cli-2")
    assert code == 0 and "cancelled" in out
    code, out, _ = run(capsys, "broadcast", "cancel", "cli-2")
    assert code == 1 and json.loads(out)["error"] == "conflict"
    code, _, err = run(capsys, "broadcast", "explode", "x")
    assert code == 2 and "status ID" in err
    code, _, err = run(capsys, "broadcast", "--template", demo.TEMPLATE_ID)
    assert code == 2 and "--to-file" in err
    code, _, err = run(capsys, *base[:-1], str(tmp_path / "missing.txt"))
    assert code == 2 and "missing.txt" in err
    code, _, err = run(capsys, "broadcast", "--template", "t", "-d", "novalue", "--granted")
    assert code == 2 and "KEY=VALUE" in err


def test_a_to_file_upload_interrupted_before_its_start_is_cancelled_by_id(
    env: dict[str, str],
    wxemu: RunningServer,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    listing = tmp_path / "openids.txt"
    listing.write_text("\n".join(users(wxemu, 3)))
    step = cli_broadcast_file._step

    def interrupted(direct: Any, event: Dict[str, Any]) -> Dict[str, Any]:
        if event.get("action") == "start":
            raise KeyboardInterrupt  # Ctrl-C after the last append
        return step(direct, event)

    monkeypatch.setattr(cli_broadcast_file, "_step", interrupted)
    base = ["broadcast", "--template", demo.TEMPLATE_ID, *data_args(), "--to-file", str(listing)]
    with pytest.raises(KeyboardInterrupt):
        run(capsys, *base, "--id", "cli-open")
    monkeypatch.setattr(cli_broadcast_file, "_step", step)
    code, out, _ = run(capsys, "broadcast", "status", "cli-open", "--json")
    assert code == 0 and json.loads(out)["status"] == "open"
    code, out, _ = run(capsys, "broadcast", "cancel", "cli-open")
    assert code == 0 and "cancelled" in out and "skipped 3" in out, out
    code, out, _ = run(capsys, "broadcast", "cancel", "cli-open")
    answer = json.loads(out)
    assert code == 1 and (answer["error"], answer["errcode"]) == ("conflict", 990409)
    # The same command again answers the cancelled campaign: nothing is appended or sent.
    code, out, _ = run(capsys, *base, "--id", "cli-open")
    answer = json.loads(out)
    assert code == 0 and (answer["status"], answer["total"], answer["chunks"]) == (
        "cancelled",
        3,
        0,
    )
    assert wxemu.messages(demo.APPID) == []
