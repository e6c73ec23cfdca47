"""broadcast's open campaigns through the real entry point: append per chunk, then start."""

from __future__ import annotations

from typing import Any, Dict, List

from wxemu import demo
from wxemu.testing import RunningServer

from .conftest import Invoke
from .test_broadcast import DATA, assert_error, status, users


def open_(invoke: Invoke, bid: str = "big-1", **more: Any) -> Dict[str, Any]:
    event = {"template_id": demo.TEMPLATE_ID, "data": DATA, "broadcast_id": bid, "open": True}
    result: Dict[str, Any] = invoke("broadcast", {**event, **more})
    return result


def append(invoke: Invoke, chunk: Any, recipients: Any, bid: str = "big-1") -> Dict[str, Any]:
    event = {"action": "append", "broadcast_id": bid, "chunk": chunk, "recipients": recipients}
    result: Dict[str, Any] = invoke("broadcast", event)
    return result


def test_chunks_appended_then_started_are_sent_once_each(
    invoke: Invoke, wxemu: RunningServer
) -> None:
    openids = users(wxemu, 5)
    opened = open_(invoke)
    assert (opened["errcode"], opened["status"], opened["total"]) == (0, "open", 0), opened
    assert open_(invoke)["duplicate"] is True  # a create retried
    first = append(invoke, 0, openids[:3])
    assert (first["appended"], first["total"], first["duplicate"]) == (3, 3, False), first
    own = {"touser": openids[4], "data": {"thing1": "专属价"}}
    assert append(invoke, 1, [openids[3], own])["total"] == 5
    again = append(invoke, 0, openids[:3])  # a chunk retried after its answer was lost
    assert (again["errcode"], again["total"], again["duplicate"]) == (0, 5, True)
    assert_error(append(invoke, 0, openids[1:4]), "conflict", 990409)  # another list, same chunk
    report = status(invoke, "big-1")
    assert (report["status"], report["counts"]["queued"]) == ("open", 5)
    assert report["eta_seconds"] is None  # not started: no ETA (0 would mean over)
    # Open: no worker sees it.
    assert invoke("broadcast", {"action": "work"})["worked"] == {}
    assert wxemu.messages(demo.APPID) == []
    started = invoke("broadcast", {"action": "start", "broadcast_id": "big-1"})
    assert (started["errcode"], started["status"], started["total"]) == (0, "queued", 5)
    assert invoke("broadcast", {"action": "work"})["worked"] == {"sent": 5}
    messages = wxemu.messages(demo.APPID)
    assert sorted(m["touser"] for m in messages) == sorted(openids)
    [mine] = [m for m in messages if m["touser"] == openids[4]]
    assert mine["data"]["thing1"]["value"] == "专属价"
    # Started: no more appends; a repeated start answers the campaign as it stands.
    assert_error(append(invoke, 2, users(wxemu, 1)), "conflict", 990409)
    repeated = invoke("broadcast", {"action": "start", "broadcast_id": "big-1"})
    assert (repeated["errcode"], repeated["status"]) == (0, "done")
    done = invoke("broadcast", {"action": "cancel", "broadcast_id": "big-1"})
    assert_error(done, "conflict", 990409)  # over
    assert len(wxemu.messages(demo.APPID)) == 5


def test_open_append_and_start_refuse_what_they_cannot_take(
    invoke: Invoke, wxemu: RunningServer
) -> None:
    openids: List[str] = users(wxemu, 2)
    event = {"template_id": demo.TEMPLATE_ID, "data": DATA, "open": True}
    assert_error(invoke("broadcast", event), "invalid_request", 990400)  # no broadcast_id
    assert_error(open_(invoke, recipients=openids), "invalid_request", 990400)
    assert_error(open_(invoke, data={"thing1": "x" * 40}), "invalid_argument", 47003)
    assert_error(append(invoke, 0, openids, bid="nobody"), "invalid_request", 990400)
    assert open_(invoke)["errcode"] == 0
    for chunk in (-1, "1", True, 100_000, None):
        assert_error(append(invoke, chunk, openids), "invalid_request", 990400)
    assert_error(append(invoke, 0, []), "invalid_request", 990400)
    assert_error(append(invoke, 0, ["o" * 30] * 10_001), "invalid_request", 990400)
    assert_error(append(invoke, 0, [{"touser": openids[0], "x": 1}]), "invalid_request", 990400)
    bad = append(invoke, 0, [{"touser": openids[0], "data": {"thing1": "x" * 40}}])
    assert_error(bad, "invalid_argument", 47003)
    assert bad["recipient"] == openids[0]
    start = {"action": "start", "broadcast_id": "big-1"}
    assert_error(invoke("broadcast", start), "invalid_request", 990400)  # nothing appended
    assert status(invoke, "big-1")["status"] == "open"
    assert wxemu.messages(demo.APPID) == []


def test_an_interrupted_upload_is_cancelled_and_nothing_of_it_is_sent(
    invoke: Invoke, wxemu: RunningServer
) -> None:
    openids = users(wxemu, 5)
    assert open_(invoke)["errcode"] == 0
    assert append(invoke, 0, openids[:3])["total"] == 3  # then the upload was interrupted
    cancelled = invoke("broadcast", {"action": "cancel", "broadcast_id": "big-1"})
    assert (cancelled["errcode"], cancelled["status"], cancelled["total"]) == (0, "cancelled", 3)
    assert (cancelled["counts"]["cancelled"], cancelled["counts"]["queued"]) == (3, 0)
    assert cancelled["eta_seconds"] == 0  # over
    # Over: a second cancel and an append are conflicts; a start queues nothing.
    assert_error(
        invoke("broadcast", {"action": "cancel", "broadcast_id": "big-1"}), "conflict", 990409
    )
    assert_error(append(invoke, 1, openids[3:]), "conflict", 990409)
    assert_error(append(invoke, 0, openids[:3]), "conflict", 990409)  # even the same chunk
    started = invoke("broadcast", {"action": "start", "broadcast_id": "big-1"})
    assert (started["errcode"], started["status"], started["total"]) == (0, "cancelled", 3)
    assert invoke("broadcast", {"action": "work"})["worked"] == {}
    assert wxemu.messages(demo.APPID) == []
    report = status(invoke, "big-1")
    assert (report["status"], report["total"], report["counts"]["cancelled"]) == (
        "cancelled",
        3,
        3,
    )
    assert report["counts"]["queued"] == 0
    # The same create again answers the cancelled campaign: it is not reopened.
    again = open_(invoke)
    assert (again["errcode"], again["status"], again["duplicate"]) == (0, "cancelled", True)
