"""SQL store URLs -> the driver's connect arguments, without importing any driver.

``postgresql://`` and ``postgres://`` name psycopg 3, ``mysql://`` and ``mariadb://`` PyMySQL;
``scheme+psycopg`` / ``scheme+pymysql`` name the same drivers explicitly, and any other
``+driver`` is refused. User and password may be percent-encoded, and the password may hold a
raw ``@`` (the host starts after the *last* one).

A PostgreSQL URL goes to libpq whole (as its ``conninfo``): libpq parses it, multi-host URLs
(``postgresql://u:p@h1:5432,h2:5433/db``) and every option included, and refuses an option it
does not know when the store opens (``dialects.Postgres.check``). A MySQL URL is parsed here;
its query options (``connect_timeout``, ``charset`` …) go to PyMySQL as keyword arguments, and
one PyMySQL does not take is refused when the store opens (``dialects.MySQL.check``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, Tuple
from urllib.parse import parse_qsl, quote, unquote

from wxapush.store.base import StoreURLError

#: scheme as written -> (dialect, the one driver we use for it)
SCHEMES = {
    "postgresql": ("postgresql", "psycopg"),
    "postgres": ("postgresql", "psycopg"),
    "mysql": ("mysql", "pymysql"),
    "mariadb": ("mysql", "pymysql"),
}
DEFAULT_CONNECT_TIMEOUT = 3  # seconds: a cold instance fails fast on an unreachable server
_DEFAULT_PORTS = {"postgresql": 5432, "mysql": 3306}
#: PyMySQL's keyword arguments that are not strings (a URL's query holds strings only)
_MYSQL_INTS = frozenset(
    {"connect_timeout", "read_timeout", "write_timeout", "client_flag", "max_allowed_packet"}
)
_MYSQL_BOOLS = frozenset(
    {"ssl_disabled", "ssl_verify_cert", "ssl_verify_identity", "local_infile", "binary_prefix"}
)
_TRUE, _FALSE = ("1", "true", "yes", "on"), ("0", "false", "no", "off")


@dataclass(frozen=True)
class Target:
    """Where a SQL store lives: its dialect and the driver's connect arguments.

    ``key`` names the target for sharing a pool; neither it nor the arguments (which hold the
    password) appear in the repr.
    """

    dialect: str  # "postgresql" or "mysql"
    key: str = field(repr=False)
    connect_args: Dict[str, Any] = field(repr=False, compare=False)
    host: str = ""
    database: str = ""


def parse_url(url: str) -> Target:
    """The target a ``postgresql://``, ``mysql://`` or ``mariadb://`` URL names."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        raise StoreURLError("a SQL store URL looks like postgresql://user@host/db")
    dialect = _dialect(scheme.lower())
    if dialect == "postgresql":
        return _postgres(rest)
    authority, _, query = rest.partition("?")
    authority = authority.partition("#")[0]
    userinfo, at, location = authority.rpartition("@")
    hostport, _, database = location.partition("/")
    host, port = _host_port(hostport)
    args: Dict[str, Any] = {}
    if at:
        user, colon, password = userinfo.partition(":")
        args["user"] = unquote(user)
        if colon:
            args["password"] = unquote(password)
    if host:
        args["host"] = host
    args["port"] = port or _DEFAULT_PORTS[dialect]
    database = unquote(database)
    args["dbname" if dialect == "postgresql" else "database"] = database
    args["connect_timeout"] = DEFAULT_CONNECT_TIMEOUT
    if dialect == "mysql":
        args["charset"] = "utf8mb4"  # emoji and all of Chinese
    for name, value in parse_qsl(query, keep_blank_values=True):
        args[name] = _option(dialect, name, value)
    key = f"{dialect}|" + "|".join(f"{k}={args[k]!r}" for k in sorted(args))
    return Target(dialect, key, args, host or "localhost", database)


def _postgres(rest: str) -> Target:
    """libpq's own URL, with ``connect_timeout`` defaulted; host and database for display.

    User and password are given to libpq percent-encoded: a raw ``@`` or ``/`` in a password
    works as on every store (the host starts after the last ``@``), where libpq alone would
    read the rest of the password as the host."""
    authority, mark, query = rest.partition("?")
    userinfo, at, location = authority.partition("#")[0].rpartition("@")
    hosts, _, database = location.partition("/")
    credentials = ""
    if at:
        user, colon, password = userinfo.partition(":")
        credentials = quote(unquote(user), safe="")
        if colon:
            credentials += ":" + quote(unquote(password), safe="")
        credentials += "@"
    for hostport in hosts.split(","):  # libpq would only say so when connecting
        if not hostport.startswith("["):
            port = hostport.rpartition(":")[2] if ":" in hostport else ""
            if port and not port.isdigit():
                raise StoreURLError("a SQL store URL's port must be a number")
    args: Dict[str, Any] = {"conninfo": f"postgresql://{credentials}{location}{mark}{query}"}
    if "connect_timeout" not in dict(parse_qsl(query, keep_blank_values=True)):
        args["connect_timeout"] = DEFAULT_CONNECT_TIMEOUT
    key = "postgresql|" + "|".join(f"{k}={args[k]!r}" for k in sorted(args))
    return Target("postgresql", key, args, unquote(hosts) or "localhost", unquote(database))


def _dialect(scheme: str) -> str:
    base, plus, driver = scheme.partition("+")
    if base not in SCHEMES:
        raise StoreURLError(f"unknown SQL scheme {base!r}; known: {', '.join(SCHEMES)}")
    dialect, ours = SCHEMES[base]
    if plus and driver != ours:
        raise StoreURLError(
            f"SQL driver {driver!r} is not supported: {base}:// uses {ours}"
            f" ({base}+{ours}:// or plain {base}://)"
        )
    return dialect


def _host_port(hostport: str) -> Tuple[str, int]:
    host, port = hostport, ""
    if hostport.startswith("["):  # [::1]:5432
        end = hostport.find("]")
        if end == -1:
            raise StoreURLError("a SQL store URL's IPv6 host lacks its closing ']'")
        host, port = hostport[1:end], hostport[end + 1 :].lstrip(":")
    elif ":" in hostport:
        host, _, port = hostport.rpartition(":")
    if port and not port.isdigit():
        raise StoreURLError("a SQL store URL's port must be a number")
    return unquote(host), int(port) if port else 0


def _option(dialect: str, name: str, value: str) -> Any:
    if dialect != "mysql":
        return value  # libpq takes every option as text
    if name == "port" or name in _MYSQL_INTS:
        if not value.isdigit():
            raise StoreURLError(f"the SQL URL option {name!r} must be a number")
        return int(value)
    if name in _MYSQL_BOOLS:
        if value.lower() not in _TRUE + _FALSE:
            raise StoreURLError(f"the SQL URL option {name!r} must be true or false")
        return value.lower() in _TRUE
    return value
