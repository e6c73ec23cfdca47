"""The tables of one namespace and their DDL, per dialect.

Every table is ``<prefix>_<name>``. Types: ``str:N`` is VARCHAR(N), ``text`` TEXT, ``double``
a double-precision float, ``int`` INTEGER, ``bigint`` BIGINT; a ``?`` after the type makes the
column nullable. The statements rendered here are the ones wxapush has created since schema
version 1 (same columns, types, keys, index names and MySQL table options).
"""

from __future__ import annotations

from types import MappingProxyType
from typing import Dict, List, Mapping, NamedTuple, Sequence, Tuple

from wxapush.store.sql.dialects import Dialect

_ID = "str:191"  # the longest VARCHAR whose utf8mb4 bytes fit any MySQL index (767 bytes)


class Table(NamedTuple):
    columns: Sequence[Tuple[str, str]]
    primary_key: Sequence[str]
    #: name suffix -> columns; ``<prefix>_<table>_<suffix>``
    indexes: Mapping[str, Sequence[str]] = MappingProxyType({})
    unique: Mapping[str, Sequence[str]] = MappingProxyType({})


_LOG_PAGE = ("created_at", "log_id")  # the page queries walk these backwards, newest first

TABLES: Dict[str, Table] = {
    "send_log": Table(
        [
            ("log_id", "str:32"),
            ("appid", "str:64"),
            ("touser", _ID),
            ("template_id", _ID),
            ("page", "text?"),
            ("data", "text"),
            ("miniprogram_state", "str:64"),
            ("lang", "str:64"),
            ("status", "str:16"),
            ("created_at", "double"),
            ("updated_at", "double"),
            ("errcode", "int?"),
            ("errmsg", "text?"),
            ("msgid", "bigint?"),  # unsigned 64-bit, stored as base.msgid_to_i64
            ("attempts", "int"),
            ("idempotency_key", _ID + "?"),
            ("payload_hash", "str:64?"),
            ("broadcast_id", _ID + "?"),  # schema v4
        ],
        ["log_id"],
        {
            "bcast": ("appid", "broadcast_id", *_LOG_PAGE),
            "created": ("created_at",),  # prune, across apps
            # expire_idempotency: the keyed records only (partial on PostgreSQL; NULLs sort
            # apart in MySQL's index)
            "keyed": ("idempotency_key", "created_at"),
            "msgid": ("appid", "msgid"),
            # SendLog.summarize reads these columns only: answered from the index alone
            "summary": ("appid", "created_at", "template_id", "status", "errcode"),
            "time": ("appid", *_LOG_PAGE),
            "tpl": ("appid", "template_id", *_LOG_PAGE),
            # schema v5: the records written since a rollup was counted (rollups.py)
            "updated": ("appid", "updated_at"),
            "user": ("appid", "touser", *_LOG_PAGE),
        },
        # NULL keys never collide (both databases), so unkeyed sends share the index freely
        {"idem": ("appid", "idempotency_key")},
    ),
    "schema_version": Table([("id", "int"), ("version", "int"), ("migrated_at", "double")], ["id"]),
    "tokens": Table(
        [("token_key", _ID), ("token", "text"), ("expires_at", "double"), ("fetched_at", "double")],
        ["token_key"],
    ),
    "locks": Table([("name", _ID), ("owner", _ID), ("expires_at", "double")], ["name"]),
    "grants": Table(
        [
            ("appid", "str:64"),
            ("openid", _ID),
            ("template_id", _ID),
            ("balance", "int"),
            ("updated_at", "double"),
        ],
        ["appid", "openid", "template_id"],
    ),
    "templates": Table(
        [
            ("appid", "str:64"),
            ("template_id", _ID),
            ("position", "int"),
            ("title", "text"),
            ("type", "int"),
            ("keywords", "text"),
            ("enum_values", "text"),
            ("content", "text"),
        ],
        ["appid", "template_id"],
    ),
    "template_sync": Table([("appid", "str:64"), ("synced_at", "double")], ["appid"]),
    "seen_events": Table([("event_key", _ID), ("expires_at", "double")], ["event_key"]),
    "rate_limits": Table([("bucket", _ID), ("tat", "bigint")], ["bucket"]),
    # schema v4: broadcast campaigns, their recipients (the queue) and the cap's counters
    "campaigns": Table(
        [
            ("appid", "str:64"),
            ("broadcast_id", _ID),
            ("template_id", _ID),
            ("page", "text?"),
            ("data", "text"),
            ("miniprogram_state", "str:64"),
            ("lang", "str:64"),
            ("status", "str:16"),
            ("total", "int"),
            ("created_at", "double"),
            ("updated_at", "double"),
            ("request_hash", "str:64"),
        ],
        ["appid", "broadcast_id"],
    ),
    # due_at: when the recipient may next be leased (its lease's end while leased)
    "recipients": Table(
        [
            ("appid", "str:64"),
            ("broadcast_id", _ID),
            ("seq", "int"),
            ("touser", _ID),
            ("data", "text?"),
            ("state", "str:16"),
            ("due_at", "double"),
            ("owner", "str:64?"),
            ("attempts", "int"),
        ],
        ["appid", "broadcast_id", "seq"],
        {"due": ("appid", "state", "due_at"), "open": ("appid", "broadcast_id", "state")},
    ),
    "counters": Table(
        [("counter_key", _ID), ("count", "int"), ("expires_at", "double")], ["counter_key"]
    ),
    # schema v5: the send log's counts per closed bucket of created_at (rollups.py); the marker
    # row of a bucket has template_id and status '' and says when it was counted
    "send_rollup": Table(
        [
            ("appid", "str:64"),
            ("bucket_start", "bigint"),
            ("bucket_end", "bigint"),
            ("template_id", _ID),
            ("status", "str:16"),
            ("errcode", "int"),
            ("n", "bigint"),
            ("rolled_at", "double"),
            ("oldest", "double?"),
        ],
        ["appid", "bucket_start", "bucket_end", "template_id", "status", "errcode"],
    ),
}

#: indexes that cover part of the table on PostgreSQL (MySQL has no partial indexes)
_PARTIAL = {("send_log", "keyed"): "idempotency_key IS NOT NULL"}


def columns(name: str) -> List[str]:
    return [column for column, _ in TABLES[name].columns]


def index_names(name: str) -> List[str]:
    return sorted(TABLES[name].indexes)


def _type(dialect: Dialect, spec: str) -> str:
    base = spec.rstrip("?")
    if base.startswith("str:"):
        sql = f"VARCHAR({base[4:]})"
    else:
        sql = {"text": "TEXT", "double": dialect.double, "int": "INTEGER", "bigint": "BIGINT"}[base]
    return sql if spec.endswith("?") else sql + " NOT NULL"


def create_table(dialect: Dialect, prefix: str, name: str) -> str:
    table = TABLES[name]
    items = [f"{column} {_type(dialect, spec)}" for column, spec in table.columns]
    items.append(f"PRIMARY KEY ({', '.join(table.primary_key)})")
    for suffix, cols in table.unique.items():
        items.append(f"CONSTRAINT {prefix}_{name}_{suffix} UNIQUE ({', '.join(cols)})")
    body = ", \n\t".join(items)
    return f"CREATE TABLE {prefix}_{name} (\n\t{body}\n){dialect.table_options}"


def create_index(dialect: Dialect, prefix: str, name: str, suffix: str) -> str:
    cols = ", ".join(TABLES[name].indexes[suffix])
    sql = f"CREATE INDEX {prefix}_{name}_{suffix} ON {prefix}_{name} ({cols})"
    where = _PARTIAL.get((name, suffix))
    if where and dialect.name == "postgresql":
        sql += f" WHERE {where}"
    return sql
