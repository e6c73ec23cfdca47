"""``wxapush broadcast --to-file``: a file of any size is one campaign, each openid once.

On the embedded store and Redis, through the real command (in-process, as a service):

* 200,000 openids (each over its limit as one request: 256 KiB is about 7,000) become one
  campaign of 200,000 in chunks, one chunk's answer lost on the way and the chunk sent again;
  the whole queue is then leased (a worker's first step) and every openid of the file is
  handed out exactly once. Sending 200,000 messages over HTTP would take minutes, so here the
  queue is checked at the store;
* a smaller file, many chunks, answers lost, drained end to end by the command's own worker
  (``--work --wait``) against wxemu: every openid receives exactly one message.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable, Dict, List

import pytest

from tests.functional.store.conftest import BACKENDS
from tests.functional.test_broadcast import DATA
from wxapush import cli, cli_broadcast_file
from wxapush.app import current_app, reset_app
from wxapush.cli import main
from wxapush.config import reset_settings
from wxemu import demo
from wxemu.testing import RunningServer

LOST = {
    "errcode": 990503,
    "errmsg": "the answer was lost on the way",
    "error": "upstream_error",
    "retryable": True,
}


@pytest.fixture(params=["sqlite", "redis"])
def shared_store(
    request: pytest.FixtureRequest, env: Dict[str, str], tmp_path: Path, monkeypatch: Any
) -> str:
    url = BACKENDS[request.param](request, tmp_path)
    monkeypatch.setenv("WXAPUSH_STORE", url)
    reset_settings()
    reset_app()
    return url


def losing_answers(monkeypatch: pytest.MonkeyPatch, lose: Callable[[Dict[str, Any]], bool]) -> None:
    """The command's calls run, but the answer of each call ``lose`` picks is lost, once."""
    real, lost = cli.direct, set()

    def direct(function: str, event: Dict[str, Any], *more: Any) -> Dict[str, Any]:
        answer = real(function, event, *more)
        step = json.dumps([event.get("action"), event.get("chunk")])
        if lose(event) and step not in lost:
            lost.add(step)
            return dict(LOST)
        return answer

    monkeypatch.setattr(cli, "direct", direct)


def data_args() -> List[str]:
    return [arg for key, value in DATA.items() for arg in ("-d", f"{key}={value}")]


def broadcast(capsys: pytest.CaptureFixture[str], *argv: str) -> Dict[str, Any]:
    code = main(["broadcast", "--template", demo.TEMPLATE_ID, *data_args(), *argv])
    out = capsys.readouterr().out
    assert code == 0, out
    answer: Dict[str, Any] = json.loads(out)
    return answer


def test_two_hundred_thousand_openids_are_one_campaign_each_openid_queued_once(
    shared_store: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    openids = [f"oFile{i:07d}".ljust(28, "x") for i in range(200_000)]
    listing = tmp_path / "openids.txt"
    listing.write_text("# everyone\n" + "\n".join(openids) + f"\n{openids[7]}\n")
    losing_answers(monkeypatch, lambda event: event.get("chunk") == 3)
    created = broadcast(capsys, "--to-file", str(listing), "--id", "big-1")
    assert (created["broadcast_id"], created["total"], created["status"]) == (
        "big-1",
        200_000,
        "queued",
    )
    assert created["chunks"] > 200_000 * 31 // (256 * 1024)  # none over the body limit
    queue = current_app().store.campaigns
    assert queue.counts(demo.APPID, "big-1") == {"queued": 200_000}
    handed: List[str] = []
    seqs = set()
    while True:
        leases = queue.lease(demo.APPID, "w1", current_app().clock(), 600, 5000)
        if not leases:
            break
        assert {lease.broadcast_id for lease in leases} == {"big-1"}
        handed += [lease.touser for lease in leases]
        seqs |= {lease.seq for lease in leases}
    assert len(handed) == len(seqs) == 200_000
    assert sorted(handed) == openids


def test_a_file_in_many_chunks_is_drained_end_to_end_each_openid_once(
    shared_store: str,
    wxemu: RunningServer,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    openids = [f"oDrain{i:05d}".ljust(28, "x") for i in range(500)]
    for openid in openids:
        wxemu.emulator.grant(demo.APPID, openid, demo.TEMPLATE_ID, 1)
    listing = tmp_path / "openids.txt"
    listing.write_text("\n".join([*openids, *openids[:50]]))
    monkeypatch.setattr(cli_broadcast_file, "CHUNK_BYTES", 2048)  # 66 a chunk: 8 chunks
    losing_answers(monkeypatch, lambda event: event.get("chunk") in (0, 5) or "open" in event)
    final = broadcast(
        capsys, "--to-file", str(listing), "--id", "drain-1", "--work", "--wait", "--json"
    )
    assert (final["status"], final["total"], final["counts"]["sent"]) == ("done", 500, 500)
    received = sorted(m["touser"] for m in wxemu.messages(demo.APPID))
    assert received == openids
    # The same command again: the same campaign, nothing appended or sent twice.
    again = broadcast(capsys, "--to-file", str(listing), "--id", "drain-1")
    assert (again["broadcast_id"], again["total"], again["duplicate"]) == ("drain-1", 500, True)
    assert len(wxemu.messages(demo.APPID)) == 500
