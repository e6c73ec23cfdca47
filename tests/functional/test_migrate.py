"""The schema as an operation: `wxapush migrate` plans and applies, and a function meeting a
store written by a newer release answers `misconfigured` naming both versions, never `internal`.

Each test runs on SQLite, Redis, PostgreSQL and MariaDB, in a namespace of its own."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any, Callable, Dict, Optional

import pytest

from tests.functional.store import _namespaces
from tests.functional.store.conftest import _new_prefix, _with_prefix
from wxapush.app import reset_app
from wxapush.cli import main
from wxapush.config import reset_settings
from wxapush.store import schema_state
from wxapush.store.sql.schema import SCHEMA_VERSION as SQL_VERSION
from wxemu.testing import RunningServer

from .conftest import Invoke, send_event
from .test_send import assert_error


def _sql(fixture: str) -> Callable[[pytest.FixtureRequest, Path], str]:
    def make(request: pytest.FixtureRequest, tmp_path: Path) -> str:
        server, prefix = request.getfixturevalue(fixture), _new_prefix()
        request.addfinalizer(lambda: _namespaces.drop_sql(server, prefix))
        return _with_prefix(server, prefix)

    return make


def _redis(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    server, prefix = request.getfixturevalue("redis_url"), _new_prefix()
    request.addfinalizer(lambda: _namespaces.drop_redis(server, prefix))
    return _with_prefix(server, prefix)


FRESH: Dict[str, Callable[[pytest.FixtureRequest, Path], str]] = {
    "sqlite": lambda request, tmp_path: f"sqlite://{tmp_path / 'fresh.db'}",
    "redis": _redis,
    "postgresql": _sql("postgres_url"),
    "mysql": _sql("mysql_url"),
}


@pytest.fixture(params=sorted(FRESH))
def fresh_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A store URL under which nothing exists yet."""
    return FRESH[request.param](request, tmp_path)


@pytest.fixture(autouse=True)
def _elsewhere(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No running `wxapush dev`'s settings (.wxapush/dev.env of the cwd) reach the commands."""
    monkeypatch.chdir(tmp_path)


def _new_process() -> None:
    """What a cold start sees: no App, no settings, no schema checked in this process."""
    from wxapush.store.sql import schema

    schema._ready.clear()
    reset_settings()
    reset_app()


def set_version(url: str, version: Optional[int], readable_from: Optional[int] = None) -> None:
    """Write the store's schema version (and a newer release's compatibility marker) by hand.
    ``None``: as a release before the version was recorded left it (Redis only)."""
    scheme, prefix = url.partition(":")[0], url.rpartition("prefix=")[2]
    if scheme == "sqlite":
        conn = sqlite3.connect(url[len("sqlite://") :])
        conn.execute(f"PRAGMA user_version = {version}")
        if readable_from is not None:
            conn.execute("CREATE TABLE schema_compat (readable_from INTEGER NOT NULL)")
            conn.execute(f"INSERT INTO schema_compat VALUES ({readable_from})")
        conn.commit()
        conn.close()
    elif scheme == "redis":
        import redis

        client = redis.Redis.from_url(url.rpartition("?")[0])
        client.delete(f"{prefix}:schema")
        if version is not None:
            client.hset(f"{prefix}:schema", "version", version)
        if readable_from is not None:
            client.hset(f"{prefix}:schema", "readable_from", readable_from)
        client.close()
    else:
        with _namespaces.sql_connection(url.rpartition("?")[0]) as conn:
            conn.execute(f"UPDATE {prefix}_schema_version SET version = {version} WHERE id = 1")
            if readable_from is not None:
                conn.execute(f"CREATE TABLE {prefix}_schema_compat (readable_from INT NOT NULL)")
                conn.execute(f"INSERT INTO {prefix}_schema_compat VALUES ({readable_from})")
    _new_process()


def migrate(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    code = main(["migrate", *argv])
    captured = capsys.readouterr()
    return code, captured.out + captured.err


@pytest.fixture
def on(env: Dict[str, str], fresh_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """The functions' environment with WXAPUSH_STORE = ``fresh_url``."""
    monkeypatch.setenv("WXAPUSH_STORE", fresh_url)
    _new_process()
    return fresh_url


def test_migrate_plans_then_creates_a_new_store_and_says_what_it_did(
    on: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out = migrate(capsys)
    assert code == 0
    assert "WXAPUSH_STORE" in out and "no schema yet" in out and "--apply" in out
    assert schema_state.inspect(on).version is None  # the plan changed nothing
    code, out = migrate(capsys, "--apply")
    state = schema_state.inspect(on)
    assert code == 0 and state.version == state.target and state.pending == ()
    assert "applied 1 step(s)" in out and f"schema version {state.target}" in out
    code, out = migrate(capsys)
    assert code == 0 and "(up to date)" in out


def test_a_store_one_version_ahead_answers_misconfigured_naming_both_versions(
    on: str, invoke: Invoke, wxemu: RunningServer, capsys: pytest.CaptureFixture[str]
) -> None:
    assert invoke("send", send_event())["errcode"] == 0
    target = schema_state.inspect(on).target
    set_version(on, target + 1)
    for _ in range(2):  # every call, not the first only
        result = invoke("send", send_event())
        assert_error(result, "misconfigured", 990501)
        assert f"schema version {target + 1}" in result["errmsg"]
        assert f"up to version {target}" in result["errmsg"]
        assert "roll forward" in result["errmsg"]
        assert (result["schema_version"], result["supported_version"]) == (target + 1, target)
        assert result["setting"] == "WXAPUSH_STORE"
    code, out = migrate(capsys, "--apply")
    assert code == 1 and "refused" in out and "roll forward" in out
    assert schema_state.inspect(on).version == target + 1  # left as the newer release wrote it


def test_a_newer_store_that_marks_this_release_a_reader_is_used_as_it_is(
    on: str, invoke: Invoke, wxemu: RunningServer
) -> None:
    assert invoke("send", send_event())["errcode"] == 0
    target = schema_state.inspect(on).target
    set_version(on, target + 1, readable_from=target)
    assert invoke("send", send_event())["errcode"] == 0
    assert schema_state.inspect(on).version == target + 1


def test_with_migrate_off_a_cold_start_waits_for_wxapush_migrate(
    on: str,
    invoke: Invoke,
    wxemu: RunningServer,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("WXAPUSH_MIGRATE", "off")
    _new_process()
    result = invoke("send", send_event())
    assert_error(result, "misconfigured", 990501)
    assert result["setting"] == "WXAPUSH_MIGRATE" and "wxapush migrate" in result["errmsg"]
    assert schema_state.inspect(on).version is None  # nothing created
    assert migrate(capsys, "--apply")[0] == 0
    _new_process()
    assert invoke("send", send_event())["errcode"] == 0


def test_migrate_lists_and_runs_the_steps_of_an_older_sql_database(
    postgres_url: str, mysql_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    from wxapush.store import open_store

    for server in (postgres_url, mysql_url):
        prefix = _new_prefix()
        url = _with_prefix(server, prefix)
        try:
            open_store(url).close()
            set_version(url, 3)  # steps 4 on are safe to run again on what they already made
            code, out = migrate(capsys, "--store", url)
            assert code == 0 and "schema version 3" in out and "step 4: add" in out
            assert schema_state.inspect(url).version == 3
            code, out = migrate(capsys, "--store", url, "--apply")
            steps = SQL_VERSION - 3
            assert code == 0 and f"applied {steps} step(s)" in out and "step 4: add" in out
            assert schema_state.inspect(url).version == SQL_VERSION
        finally:
            _namespaces.drop_sql(server, prefix)
            _new_process()


def test_migrate_brings_a_version_3_sqlite_file_to_4(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from wxapush.store.sqlite.database import MIGRATIONS

    path = tmp_path / "v3.db"
    conn = sqlite3.connect(path)
    for step in (1, 2, 3):
        for statement in MIGRATIONS[step]:
            conn.execute(statement)
    conn.execute("PRAGMA user_version = 3")
    conn.commit()
    conn.close()
    url = f"sqlite://{path}"
    code, out = migrate(capsys, "--store", url, "--json")
    import json

    plan: Any = json.loads(out)["stores"][0]
    assert code == 0 and (plan["version"], plan["target"], plan["applied"]) == (3, 4, [])
    assert plan["pending"] == ["step 4: add send_log.broadcast_id, campaigns, recipients,"
                               " counters (broadcast)"]  # fmt: skip
    code, out = migrate(capsys, "--store", url, "--apply")
    assert code == 0 and "applied 1 step(s)" in out
    assert schema_state.inspect(url).version == 4


def test_migrate_names_an_unreachable_store_without_its_password(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out = migrate(capsys, "--store", "postgresql://me:s3cret-pw@127.0.0.1:1/test")
    assert code == 1 and "--store" in out and "s3cret-pw" not in out


@pytest.fixture(params=["mysql", "postgresql", "sqlite"])
def on_tables(
    env: Dict[str, str],
    request: pytest.FixtureRequest,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> str:
    """``on`` for the backends with schema steps (the Redis layout has none past version 1)."""
    url = FRESH[request.param](request, tmp_path)
    monkeypatch.setenv("WXAPUSH_STORE", url)
    _new_process()
    return url


def test_rolling_back_after_a_release_whose_steps_only_add_keeps_the_fleet_answering(
    on_tables: str,
    invoke: Invoke,
    wxemu: RunningServer,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The path of docs/deploy.md: the next release migrates ahead of its deploy, the fleet
    (this release) keeps sending, and rolling back to it after the migration keeps sending."""
    on = on_tables
    from wxapush.store.sql import schema
    from wxapush.store.sqlite import database

    assert invoke("send", send_event())["errcode"] == 0
    target = schema_state.inspect(on).target
    with monkeypatch.context() as next_release:  # one step that only adds
        next_release.setattr(database, "SCHEMA_VERSION", target + 1)
        next_release.setitem(database.MIGRATIONS, target + 1, ("CREATE TABLE extra (k TEXT)",))
        next_release.setattr(database, "READABLE_FROM", target)
        next_release.setattr(schema, "SCHEMA_VERSION", target + 1)
        next_release.setitem(schema.MIGRATIONS, target + 1, lambda conn, tables: None)
        next_release.setattr(schema, "READABLE_FROM", target)
        code, out = migrate(capsys, "--apply")
        assert code == 0 and f"releases reading version {target} may use it too" in out, out
    _new_process()  # this release's cold start, after the next one migrated
    assert invoke("send", send_event())["errcode"] == 0
    state = schema_state.inspect(on)
    assert (state.version, state.readable_from, state.usable) == (target + 1, target, True)


def test_migrate_reports_the_store_and_the_cache(
    env: Dict[str, str],
    tmp_path: Path,
    redis_url: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    import json

    prefix = _new_prefix()
    try:
        monkeypatch.setenv("WXAPUSH_STORE", f"sqlite://{tmp_path / 'records.db'}")
        monkeypatch.setenv("WXAPUSH_CACHE", _with_prefix(redis_url, prefix))
        code, out = migrate(capsys, "--apply", "--json")
        stores = json.loads(out)["stores"]
        assert code == 0
        assert [(s["setting"], s["backend"], s["version"]) for s in stores] == [
            ("WXAPUSH_STORE", "sqlite", 4),
            ("WXAPUSH_CACHE", "redis", 1),
        ]
    finally:
        _namespaces.drop_redis(redis_url, prefix)
