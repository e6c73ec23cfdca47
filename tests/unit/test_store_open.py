"""open_store: URL forms, the default path rule, errors for other schemes, lazy imports."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any, Dict, Optional

import pytest

from wxapush.store import (
    BackendNotAvailableError,
    StoreURLError,
    default_store_path,
    open_store,
    sqlite_path,
)
from wxapush.store.sqlite import SqliteStore


@pytest.fixture
def local(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """A writable cwd, not on SCF."""
    monkeypatch.delenv("TENCENTCLOUD_RUNENV", raising=False)
    monkeypatch.delenv("SCF_RUNTIME", raising=False)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_default_path_is_under_the_current_directory(local: Path) -> None:
    assert default_store_path() == str(local / ".wxapush" / "wxapush.db")


@pytest.mark.parametrize("var", ["TENCENTCLOUD_RUNENV", "SCF_RUNTIME"])
def test_default_path_is_under_tmp_on_scf(
    local: Path, monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory, var: str
) -> None:
    monkeypatch.setenv(var, "SCF")
    fake_tmp = tmp_path_factory.mktemp("tmp")
    monkeypatch.setattr("tempfile.tempdir", str(fake_tmp))
    assert default_store_path() == str(fake_tmp / ".wxapush" / "wxapush.db")


def test_default_path_leaves_an_unwritable_cwd(
    local: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("os.access", lambda path, mode: False)
    assert not default_store_path().startswith(str(local))


def test_open_default_creates_the_file_owner_only(local: Path) -> None:
    store = open_store(None)
    try:
        assert isinstance(store, SqliteStore)
        assert store.path == str(local / ".wxapush" / "wxapush.db")
        assert os.stat(store.path).st_mode & 0o077 == 0
    finally:
        store.close()
    again = open_store("")
    assert isinstance(again, SqliteStore) and again.path == store.path
    again.close()


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("sqlite:///data/wx.db", "/data/wx.db"),
        ("sqlite:////data/wx.db", "/data/wx.db"),  # SQLAlchemy's absolute spelling
        ("sqlite:///data/my%20store.db", "/data/my store.db"),
        ("SQLITE:///data/wx.db", "/data/wx.db"),
    ],
)
def test_absolute_sqlite_urls(url: str, expected: str) -> None:
    assert sqlite_path(url) == expected


@pytest.mark.parametrize("url", ["sqlite:rel/wx.db", "sqlite://rel/wx.db"])
def test_relative_sqlite_urls_resolve_against_the_base_directory(local: Path, url: str) -> None:
    assert sqlite_path(url) == str(local / "rel" / "wx.db")


def test_bare_sqlite_url_is_the_default_path(local: Path) -> None:
    assert sqlite_path("sqlite://") == default_store_path()


@pytest.mark.parametrize(
    "url", ["sqlite:///:memory:", "sqlite:///x.db?mode=ro", "nothing", "://x", "ftp://host/x"]
)
def test_bad_urls_are_store_url_errors(url: str) -> None:
    with pytest.raises(StoreURLError) as raised:
        open_store(url)
    assert isinstance(raised.value, ValueError)


@pytest.mark.parametrize(
    ("url", "dialect", "expected"),
    [
        (  # libpq parses PostgreSQL URLs itself (its conninfo)
            "postgresql://u@h/db",
            "postgresql",
            {"conninfo": "postgresql://u@h/db", "connect_timeout": 3},
        ),
        (
            "postgres://u:pw@h:6432/db?sslmode=require&connect_timeout=9",
            "postgresql",
            {"conninfo": "postgresql://u:pw@h:6432/db?sslmode=require&connect_timeout=9"},
        ),
        (
            "postgresql+psycopg://u@h/db?application_name=wx",
            "postgresql",
            {"conninfo": "postgresql://u@h/db?application_name=wx", "connect_timeout": 3},
        ),
        (
            "mysql://u@h/db",
            "mysql",
            {"user": "u", "host": "h", "port": 3306, "database": "db", "connect_timeout": 3,
             "charset": "utf8mb4"},
        ),
        (
            "mariadb://u@h:3307/db?ssl_verify_cert=true&read_timeout=5",
            "mysql",
            {"user": "u", "host": "h", "port": 3307, "database": "db", "connect_timeout": 3,
             "charset": "utf8mb4", "ssl_verify_cert": True, "read_timeout": 5},
        ),
        (
            "mysql+pymysql://u@h/db?charset=utf8&connect_timeout=1",
            "mysql",
            {"user": "u", "host": "h", "port": 3306, "database": "db", "connect_timeout": 1,
             "charset": "utf8"},
        ),
        (  # percent-encoded user and password; a raw "@" and "/" in the password
            "mysql://us%3Aer:p@ss/w%40rd@[::1]:3306/my%20db",
            "mysql",
            {"user": "us:er", "password": "p@ss/w@rd", "host": "::1", "port": 3306,
             "database": "my db", "connect_timeout": 3, "charset": "utf8mb4"},
        ),
    ],
)  # fmt: skip
def test_sql_urls_map_to_their_drivers_arguments(
    url: str, dialect: str, expected: Dict[str, Any]
) -> None:
    from wxapush.store.sql.urls import parse_url

    target = parse_url(url)
    assert (target.dialect, target.connect_args) == (dialect, expected)
    assert "pw" not in repr(target) and "ss/w" not in repr(target)


@pytest.mark.parametrize(
    ("url", "message"),
    [
        (
            "postgresql+psycopg2://u@h/db",
            r"'psycopg2' is not supported: postgresql:// uses psycopg",
        ),
        ("mysql+mysqldb://u@h/db", r"'mysqldb' is not supported: mysql:// uses pymysql"),
        ("mariadb+mariadbconnector://u@h/db", r"mariadb:// uses pymysql"),
        ("postgresql://u@h:port/db", "port must be a number"),
        ("mysql://u@h/db?connect_timeout=soon", "'connect_timeout' must be a number"),
        ("mysql://u@h/db?ssl_verify_cert=maybe", "'ssl_verify_cert' must be true or false"),
    ],
)
def test_unsupported_sql_drivers_and_bad_options_are_refused(url: str, message: str) -> None:
    with pytest.raises(StoreURLError, match=message):
        open_store(url)


@pytest.mark.parametrize(
    ("url", "message"),
    [  # refused before any connection is tried: no server needed (issue 19, finding 8)
        ("mysql://u@127.0.0.1:1/db?charset=bogus", "'charset' names no charset"),
        ("mysql://u@127.0.0.1:1/db?nosuch=1", "'nosuch' is not one PyMySQL takes"),
        ("mysql://u@127.0.0.1:1/db?autocommit=0", "'autocommit' is not one PyMySQL takes"),
        ("postgresql://u@127.0.0.1:1/db?nosuchoption=1", "libpq refuses.*nosuchoption"),
    ],
)
def test_options_the_driver_would_not_take_are_refused_when_the_store_opens(
    url: str, message: str
) -> None:
    pytest.importorskip("psycopg" if url.startswith("postgresql") else "pymysql")
    with pytest.raises(StoreURLError, match=message):
        open_store(url)


def test_a_multi_host_postgresql_url_reaches_libpq_whole() -> None:
    psycopg = pytest.importorskip("psycopg")
    from wxapush.store.sql.urls import parse_url

    target = parse_url("postgresql://u:p@h1:5432,h2:5433/db")
    assert target.connect_args["conninfo"] == "postgresql://u:p@h1:5432,h2:5433/db"
    parsed = psycopg.conninfo.conninfo_to_dict(**target.connect_args)
    assert (parsed["host"], parsed["port"], parsed["dbname"]) == ("h1,h2", "5432,5433", "db")
    assert "p@" not in repr(target)


def test_a_raw_at_sign_in_a_postgresql_password_still_works() -> None:
    """The host starts after the last ``@`` on every store; libpq alone would read ``b2@h`` as
    the host."""
    psycopg = pytest.importorskip("psycopg")
    from wxapush.store.sql.urls import parse_url

    target = parse_url("postgresql://us%3Aer:Pw-9c1f@b2/x@h:6432/my%20db?sslmode=disable")
    parsed = psycopg.conninfo.conninfo_to_dict(**target.connect_args)
    assert (parsed["user"], parsed["password"]) == ("us:er", "Pw-9c1f@b2/x")
    assert (parsed["host"], parsed["port"], parsed["dbname"]) == ("h", "6432", "my db")
    assert parsed["sslmode"] == "disable" and target.host == "h:6432"


@pytest.mark.parametrize(
    "url",
    [
        "redis://127.0.0.1:1/0?prefix=bad:prefix",
        "postgresql://u@127.0.0.1:1/db?prefix=Upper",
        "mysql://u@127.0.0.1:1/db?prefix=" + "x" * 41,
    ],
)
def test_a_bad_namespace_prefix_is_a_store_url_error(url: str) -> None:
    with pytest.raises(StoreURLError, match="prefix"):
        open_store(url)


@pytest.mark.parametrize(
    ("url", "driver", "extra"),
    [
        ("redis://h/0", "redis", "redis"),
        ("mysql://u@h/db", "pymysql", "sql"),
        ("postgresql://u@h/db", "psycopg", "sql"),
    ],
)
def test_a_missing_driver_names_the_extra_to_install(
    monkeypatch: pytest.MonkeyPatch, url: str, driver: str, extra: str
) -> None:
    monkeypatch.setitem(sys.modules, driver, None)  # as if not installed: import fails
    for name in [m for m in sys.modules if m.startswith(f"wxapush.store.{extra}")]:
        monkeypatch.delitem(sys.modules, name)
    with pytest.raises(BackendNotAvailableError, match=rf"pip install 'wxapush\[{extra}\]'"):
        open_store(url)


def test_opening_a_redis_url_imports_redis_and_no_sql_driver() -> None:
    code = (
        "import sys; from wxapush.store import open_store\n"
        "try: open_store('redis://127.0.0.1:1/0?prefix=x')\n"  # opening reads the schema version
        "except Exception as e: print(type(e).__module__.split('.')[0], type(e).__name__)\n"
        "print('redis' in sys.modules,"
        " [m for m in ('sqlalchemy', 'psycopg', 'pymysql') if m in sys.modules])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["redis", "ConnectionError", "True", "[]"]


def test_opening_sqlite_imports_no_shared_backend_driver(tmp_path: Path) -> None:
    code = (
        "import sys; from wxapush.store import open_store;"
        f"s = open_store('sqlite://{tmp_path}/x.db'); s.limiter.acquire('k', 1.0); s.close();"
        "print(','.join(m for m in ('redis', 'sqlalchemy', 'psycopg', 'pymysql',"
        " 'wxapush.store.redis', 'wxapush.store.sql') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_unknown_scheme_names_it() -> None:
    with pytest.raises(StoreURLError, match="'mongodb'"):
        open_store("mongodb://h/db")


def test_importing_the_store_loads_no_driver() -> None:
    code = (
        "import sys, wxapush.store, wxapush.store.base;"
        "bad = [m for m in ('redis', 'sqlalchemy', 'psycopg', 'pymysql', 'sqlite3',"
        " 'wxapush.store.sqlite') if m in sys.modules];"
        "print(','.join(bad))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_a_version_1_file_is_migrated_in_place(tmp_path: Path) -> None:
    import sqlite3

    from wxapush.store.sqlite.database import MIGRATIONS, SCHEMA_VERSION

    path = tmp_path / "v1.db"
    conn = sqlite3.connect(path)
    for statement in MIGRATIONS[1]:
        conn.execute(statement)
    conn.execute("PRAGMA user_version = 1")
    conn.commit()
    conn.close()
    store = SqliteStore(str(path))
    try:
        assert store.events.first_seen("k", ttl=60) is True
    finally:
        store.close()
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    conn.close()


@pytest.mark.parametrize(
    ("store_url", "cache_url", "setting"),
    [
        ("sqlite:///{tmp}/x.db?bad=1", None, "WXAPUSH_STORE"),
        ("postgresql+psycopg2://u:pw@127.0.0.1:1/db", None, "WXAPUSH_STORE"),
        ("mysql://u:pw@127.0.0.1:1/db?connect_timeout=soon", None, "WXAPUSH_STORE"),
        (
            "sqlite:///{tmp}/x.db",
            "redis://:pw@127.0.0.1:6379/15?prefix=no%20good!",
            "WXAPUSH_CACHE",
        ),
    ],
)
def test_a_bad_store_is_misconfigured_naming_its_setting(
    tmp_path: Path, store_url: str, cache_url: Optional[str], setting: str
) -> None:
    from wxapush.app import open_shared_store
    from wxapush.config import Settings
    from wxapush.errors import Misconfigured

    settings = Settings(
        appid="wx1",
        store_url=store_url.format(tmp=tmp_path),
        cache_url=cache_url,
    )
    with pytest.raises(Misconfigured) as caught:
        open_shared_store(settings)
    assert caught.value.extras["setting"] == setting
    assert "pw" not in caught.value.errmsg


@pytest.mark.parametrize(
    ("url", "driver"),
    [("postgresql://u@127.0.0.1:1/db", "psycopg"), ("mariadb://u@127.0.0.1:1/db", "pymysql")],
)
def test_opening_a_sql_url_imports_its_driver_alone(url: str, driver: str) -> None:
    code = (
        "import sys; from wxapush.store import open_store\n"
        f"try: open_store({url!r})\n"
        "except Exception as exc: print(type(exc).__module__.partition('.')[0])\n"
        "print(','.join(m for m in ('redis', 'sqlalchemy', 'psycopg', 'pymysql')"
        " if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == [driver, driver]  # refused by that driver; nothing else loaded
