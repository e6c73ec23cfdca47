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
