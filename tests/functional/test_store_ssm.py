"""Store and cache URLs from Tencent SSM (``WXAPUSH_STORE_SSM`` / ``WXAPUSH_CACHE_SSM``): the
real tencentcloud SDK against wxemu's SSM fake, as on SCF."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.functional.store import _namespaces
from tests.functional.store.conftest import _new_prefix, _with_prefix
from wxapush import ssm
from wxapush.app import reset_app
from wxapush.cli import main
from wxapush.config import reset_settings
from wxemu import demo
from wxemu.testing import RunningServer

from .conftest import Invoke, send_event
from .test_ssm import ROLE, assert_failure

STORE_SECRET = "wxapush-store"


@pytest.fixture
def ssm_env(
    env: dict[str, str], wxemu: RunningServer, monkeypatch: pytest.MonkeyPatch
) -> Iterator[dict[str, str]]:
    """The functions' environment with the SSM fake reachable and no WXAPUSH_STORE."""
    monkeypatch.delenv("WXAPUSH_STORE")
    values = {"WXAPUSH_SSM_ENDPOINT": wxemu.base_url, "WXAPUSH_SSM_REGION": "ap-guangzhou", **ROLE}
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    fresh()
    yield values
    ssm.reset_cache()


def fresh() -> None:
    reset_settings()
    reset_app()
    ssm.reset_cache()


def rows(path: Path) -> int:
    conn = sqlite3.connect(path)
    try:
        return int(conn.execute("SELECT count(*) FROM send_log").fetchone()[0])
    finally:
        conn.close()


def test_the_store_url_comes_from_ssm(
    ssm_env: dict[str, str],
    wxemu: RunningServer,
    invoke: Invoke,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    path = tmp_path / "from-ssm.db"
    wxemu.put_secret(STORE_SECRET, f"sqlite://{path}", version="v1")
    monkeypatch.setenv("WXAPUSH_STORE_SSM", f"{STORE_SECRET}@v1")
    monkeypatch.setenv("TENCENTCLOUD_RUNENV", "SCF")  # no embedded default on SCF: it needs one
    fresh()
    assert invoke("send", send_event())["errcode"] == 0
    assert rows(path) == 1


def test_the_cache_url_comes_from_ssm(
    ssm_env: dict[str, str],
    wxemu: RunningServer,
    invoke: Invoke,
    tmp_path: Path,
    redis_url: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import redis

    prefix = _new_prefix()
    try:
        wxemu.put_secret("wxapush-cache", _with_prefix(redis_url, prefix), version="v1")
        monkeypatch.setenv("WXAPUSH_STORE", f"sqlite://{tmp_path / 'records.db'}")
        monkeypatch.setenv("WXAPUSH_CACHE_SSM", "wxapush-cache@v1")
        fresh()
        assert invoke("send", send_event())["errcode"] == 0
        client = redis.Redis.from_url(redis_url)
        try:  # the token went to the cache the secret named
            assert client.keys(f"{prefix}:token:*")
        finally:
            client.close()
    finally:
        _namespaces.drop_redis(redis_url, prefix)


def test_a_store_set_twice_is_refused(
    ssm_env: dict[str, str], invoke: Invoke, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WXAPUSH_STORE", f"sqlite://{tmp_path / 'x.db'}")
    monkeypatch.setenv("WXAPUSH_STORE_SSM", STORE_SECRET)
    fresh()
    result = invoke("send", send_event())
    assert_failure(result, "misconfigured", 990501)
    assert result["setting"] == "WXAPUSH_STORE_SSM"


def test_a_missing_secret_names_the_setting(
    ssm_env: dict[str, str], invoke: Invoke, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WXAPUSH_STORE_SSM", "no-such-secret@v1")
    fresh()
    result = invoke("send", send_event())
    assert_failure(result, "misconfigured", 990501)
    assert result["setting"] == "WXAPUSH_STORE_SSM" and "no-such-secret" in result["errmsg"]


def test_a_secret_that_is_no_store_url_is_named_never_echoed(
    ssm_env: dict[str, str],
    wxemu: RunningServer,
    invoke: Invoke,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    wxemu.put_secret(STORE_SECRET, "mongodb://u:pw-9f3k2@h/db", version="v2")
    monkeypatch.setenv("WXAPUSH_STORE_SSM", f"{STORE_SECRET}@v2")
    fresh()
    result = invoke("send", send_event())
    assert_failure(result, "misconfigured", 990501)
    assert result["setting"] == "WXAPUSH_STORE_SSM" and "pw-9f3k2" not in str(result)


def test_the_password_of_a_url_from_ssm_never_reaches_the_answer(
    ssm_env: dict[str, str],
    wxemu: RunningServer,
    invoke: Invoke,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    wxemu.put_secret(STORE_SECRET, "postgresql://nobody:pw-7x1q0@127.0.0.1:1/test", version="v3")
    monkeypatch.setenv("WXAPUSH_STORE_SSM", f"{STORE_SECRET}@v3")
    fresh()
    result = invoke("send", send_event())
    assert_failure(result, "upstream_error", 990503)
    assert "pw-7x1q0" not in str(result) and wxemu.messages(demo.APPID) == []


def test_wxapush_migrate_reads_the_store_from_ssm(
    ssm_env: dict[str, str],
    wxemu: RunningServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    path = tmp_path / "migrated.db"
    wxemu.put_secret(STORE_SECRET, f"sqlite://{path}", version="v4")
    monkeypatch.setenv("WXAPUSH_STORE_SSM", f"{STORE_SECRET}@v4")
    monkeypatch.chdir(tmp_path)
    assert main(["migrate", "--apply"]) == 0
    out = capsys.readouterr().out
    assert "WXAPUSH_STORE: applied 1 step(s)" in out and str(path) in out
    assert rows(path) == 0  # the tables exist
