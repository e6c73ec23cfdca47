"""`wxapush package`'s choices made offline: default extras, markers for the target Python."""

from __future__ import annotations

from typing import Any, Dict, List

import pytest

from wxapush.packaging import DEFAULT_EXTRAS, PackagingError, default_extras
from wxapush.target_resolve import marker_environment, walk


@pytest.mark.parametrize(
    "env, extras",
    [
        ({}, ("tencent", "redis", "sql")),
        ({"WXAPUSH_STORE": "undefined", "WXAPUSH_CACHE": ""}, DEFAULT_EXTRAS),
        ({"WXAPUSH_STORE": "sqlite:///tmp/x.db"}, ("tencent",)),
        ({"WXAPUSH_STORE": "redis://h:6379/0"}, ("tencent", "redis")),
        ({"WXAPUSH_STORE": "postgresql+psycopg://u@h/db"}, ("tencent", "sql")),
        (
            {"WXAPUSH_STORE": "mysql://u@h/db", "WXAPUSH_CACHE": "rediss://h"},
            ("tencent", "sql", "redis"),
        ),
    ],
)
def test_default_extras_follow_the_store_settings(env: Dict[str, str], extras: Any) -> None:
    chosen, why = default_extras(env)
    assert chosen == extras
    assert ("every store" in why) == (extras == DEFAULT_EXTRAS)


def test_an_unknown_store_scheme_is_refused_plainly() -> None:
    with pytest.raises(PackagingError, match="WXAPUSH_STORE"):
        default_extras({"WXAPUSH_STORE": "mongodb://h/db"})


def _item(name: str, requires: List[str]) -> Dict[str, Any]:
    return {"metadata": {"name": name, "version": "1", "requires_dist": requires}}


def test_markers_are_read_for_the_target_not_the_build_host() -> None:
    # What pip reports when it runs on 3.11.7 for a 3.9 target: async-timeout left out.
    resolved = [
        _item("redis", ['async-timeout>=4.0.3; python_full_version < "3.11.3"']),
        _item(
            "psycopg",
            [
                'typing-extensions>=4.6; python_version < "3.13"',
                'tzdata; sys_platform == "win32"',
                'psycopg-c; extra == "c"',
            ],
        ),
        _item("typing_extensions", []),
        _item("tomli", []),  # needed by the host only (python_version >= "3.11" elsewhere)
    ]
    missing, needed = walk(["redis>=5", "psycopg>=3.1"], resolved, "3.9")
    assert missing == ["async-timeout>=4.0.3"]
    assert needed == {"redis", "psycopg", "typing-extensions"}  # tomli, tzdata dropped
    missing, _ = walk(["redis>=5"], resolved, "3.12")
    assert missing == []


def test_extras_of_a_root_reach_their_dependencies() -> None:
    resolved = [_item("psycopg", ['psycopg-binary==3.2.1; extra == "binary"'])]
    missing, _ = walk(["psycopg[binary]>=3.1"], resolved, "3.9")
    assert missing == ["psycopg-binary==3.2.1"]


def test_the_marker_environment_is_scf_linux_cpython() -> None:
    env = marker_environment("3.10")
    assert env["python_version"] == "3.10" and env["sys_platform"] == "linux"
    assert env["platform_machine"] == "x86_64"
