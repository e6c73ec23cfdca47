"""The request limits: what the README's Limits table says is what the code enforces."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from wxapush import limits
from wxapush.errors import InvalidArgument, InvalidRequest
from wxapush.services import send_log

README = (Path(__file__).resolve().parents[2] / "README.md").read_text()


def test_the_readme_states_the_limits_the_code_enforces() -> None:
    table = README[README.index("### Limits") :]
    table = table[: table.index("\n\n", table.index("| what |"))]
    assert f"{limits.MAX_REQUEST_BYTES // 1024} KiB" in table
    assert f"whole event with the platform's envelope {limits.MAX_EVENT_BYTES // 1024} KiB" in table
    assert f"{limits.MAX_DEPTH} levels" in table
    assert f"≤ {limits.MAX_DATA_ITEMS} items" in table
    assert f"keys 1–{limits.MAX_DATA_KEY} characters" in table
    assert f"string values ≤ {limits.MAX_DATA_VALUE} characters" in table
    assert f"years {send_log.MIN_YEAR}–{send_log.MAX_YEAR}" in table
    assert f"`offset` ≤ {send_log.MAX_OFFSET:,}" in table
    assert re.search(r"≤ 18 digits", table)


def test_a_shared_container_is_walked_but_a_cycle_is_refused() -> None:
    shared = {"a": 1}
    limits.check_event({"x": shared, "y": shared})
    loop: list[object] = []
    loop.append(loop)
    with pytest.raises(InvalidRequest, match=r"event\.x\[0\] refers back to itself"):
        limits.check_event({"x": loop})


def test_refusals_name_the_path_never_the_value() -> None:
    with pytest.raises(InvalidRequest) as caught:
        limits.check_event({"data": {"thing1": {"value": "secret\x00value"}}})
    assert caught.value.errmsg == "event.data.thing1.value contains a NUL character"
    with pytest.raises(InvalidArgument) as refused:
        limits.check_send_data({"thing1": {"value": "x", "color": "#000"}})
    assert refused.value.extras["field"] == "data.thing1"
    assert "color" in refused.value.errmsg and "hint" in refused.value.extras


def test_an_objects_text_leaves_are_sized_and_checked_in_place() -> None:
    """Text leaves of an object are counted where they sit (no walk of their own): the same
    size, and the same refusals, as any other value."""
    assert limits.check_event({"k": "ab"}) == 2 + (1 + 4) + (2 + 2)
    assert limits.check_event({"k": "é"}) == limits.check_event({"k": "ab"})  # UTF-8 bytes
    assert limits.check_event(["ab"]) == limits.check_event(["é"]) == 2 + 1 + 2 + 2
    for event, message in (
        ({"a": {"b\x00": "x"}}, "event.a.b? contains a NUL character"),
        ({"a": ["x", "\ud800"]}, "event.a[1] is not valid Unicode"),
        ({"a": {"b": "\ud800"}}, "event.a.b is not valid Unicode"),
    ):
        with pytest.raises(InvalidRequest) as refused:
            limits.check_event(event)
        assert refused.value.errmsg.startswith(message), refused.value.errmsg
        assert (refused.value.slug, refused.value.errcode) == ("invalid_request", 990400)
    wide = {f"k{i}": "x" * 100 for i in range(20)}  # 2,000+ bytes in leaves alone
    with pytest.raises(InvalidRequest) as too_large:
        limits.check_event(wide, limit=1000, what="push")
    assert too_large.value.errmsg == "the push is larger than 1000 bytes"
    assert (too_large.value.slug, too_large.value.errcode) == ("invalid_request", 990413)
