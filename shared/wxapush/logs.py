"""Structured logs: one JSON object per line on SCF, for Tencent's log service (CLS) to index.

Every line carries ``time`` (ISO 8601 with ``WXAPUSH_TZ``'s offset), ``level``, ``logger``,
``message`` and the invocation's ``function``, ``request_id`` and ``cold_start``; where known
also ``caller`` (``service``, ``user``, ``wechat``, ``timer``: the kind only, an openid is never
written), ``errcode``, ``error``, ``duration_ms``, ``log_id``, ``msgid`` and ``broadcast_id``.
The runtime writes one INFO summary per invocation (:func:`finish`); details go at DEBUG.

``WXAPUSH_LOG_FORMAT``: ``json`` (the default on SCF) or ``text`` (the default elsewhere: under
``wxapush dev``, in a terminal). ``WXAPUSH_LOG_LEVEL``: the root level on SCF (INFO); elsewhere
it is applied only when set (text on stderr shows WARNING and above otherwise, as Python does),
so a host's logging (pytest's, an embedding app's) stays its own.
Stdlib only, and cheap: a contextvar per invocation and one ``json.dumps`` per line.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import time
from contextvars import ContextVar, Token
from typing import Any, Dict, Mapping, Optional, TextIO

from wxapush.dates import iso

__all__ = ["JsonFormatter", "begin", "configure", "finish", "install", "note", "note_result"]

#: Keys a record may carry (``log.info(..., extra={"errcode": 40001})``) or the invocation notes.
FIELDS = (
    "function",
    "request_id",
    "cold_start",
    "caller",
    "shape",
    "asked",
    "errcode",
    "error",
    "errmsg",
    "status",
    "duration_ms",
    "log_id",
    "msgid",
    "broadcast_id",
)
#: The result fields copied into the summary (ids an operator searches by).
RESULT_IDS = ("log_id", "msgid", "broadcast_id")
FORMATS = ("json", "text")
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"

_current: ContextVar[Optional[Dict[str, Any]]] = ContextVar("wxapush_invocation", default=None)
_cold = True
_configured = False
summary_log = logging.getLogger("wxapush.invocation")


class JsonFormatter(logging.Formatter):
    """A record as one JSON line: the fixed keys, the invocation's fields, the record's extras."""

    def __init__(self, tz: Any = None) -> None:
        super().__init__()
        self.tz = tz if tz is not None else log_zone()

    def format(self, record: logging.LogRecord) -> str:
        message = record.getMessage()
        if record.exc_info:
            message += "\n" + self.formatException(record.exc_info)
        entry: Dict[str, Any] = {
            "time": iso(record.created, self.tz),
            "level": record.levelname,
            "logger": record.name,
            "message": message,
        }
        fields = _current.get()
        if fields:
            entry.update(fields)
        extras = record.__dict__
        for key in FIELDS:
            if key in extras:
                entry[key] = extras[key]
        return json.dumps(entry, ensure_ascii=False, default=str)


class _TextContext(logging.Formatter):
    """The text format, with the invocation's request id and function when there is one."""

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        fields = _current.get()
        if fields:
            line += f" [{fields.get('function')} {fields.get('request_id')}]"
        return line


def _env(env: Mapping[str, str], name: str) -> str:
    value = (env.get(name) or "").strip()
    return "" if value.lower() in ("undefined", "null") else value


def log_format(env: Mapping[str, str] = os.environ) -> str:
    """``json`` or ``text``: WXAPUSH_LOG_FORMAT, else ``json`` on SCF only."""
    chosen = _env(env, "WXAPUSH_LOG_FORMAT").lower()
    if chosen in FORMATS:
        return chosen
    return "json" if env.get("TENCENTCLOUD_RUNENV") or env.get("SCF_RUNTIME") else "text"


def log_level(env: Mapping[str, str] = os.environ) -> Optional[int]:
    """WXAPUSH_LOG_LEVEL as a level number; None when unset or not a level name."""
    name = _env(env, "WXAPUSH_LOG_LEVEL").upper()
    level = logging.getLevelName(name) if name else None
    return level if isinstance(level, int) else None


def install(stream: Optional[TextIO] = None, tz: Any = None) -> logging.Handler:
    """A handler writing JSON lines to ``stream`` (stdout), for the root logger or a test."""
    handler = logging.StreamHandler(stream if stream is not None else sys.stdout)
    handler.setFormatter(JsonFormatter(tz))
    return handler


def configure(env: Mapping[str, str] = os.environ) -> None:
    """Set the instance's logging up once (the runtime calls it at every invocation's start).

    JSON: every handler the platform put on the root logger formats JSON (one is added on
    stdout if there is none), and the root logger takes WXAPUSH_LOG_LEVEL (INFO). Text: a
    handler on stderr only if nobody configured logging; the level only when it is set.
    """
    global _configured
    if _configured:
        return
    _configured = True
    root = logging.getLogger()
    level = log_level(env)
    if log_format(env) == "json":
        formatter = JsonFormatter(log_zone(env))
        if not root.handlers:
            root.addHandler(logging.StreamHandler(sys.stdout))
        for handler in root.handlers:
            handler.setFormatter(formatter)
        root.setLevel(level if level is not None else logging.INFO)
        logging.captureWarnings(True)  # a library's warning is a JSON line too, not bare stderr
        return
    if not root.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(_TextContext(TEXT_FORMAT))
        root.addHandler(handler)
        # WARNING unless asked: `wxapush dev` runs its broadcast workers twice a second, and a
        # summary of each would bury what matters (WXAPUSH_LOG_LEVEL=INFO shows them).
        root.setLevel(level if level is not None else logging.WARNING)
    elif level is not None:
        logging.getLogger("wxapush").setLevel(level)


def reset() -> None:
    """Let :func:`configure` run again (tests)."""
    global _configured
    _configured = False


def log_zone(env: Mapping[str, str] = os.environ) -> Any:
    """WXAPUSH_TZ's zone for the ``time`` key. The default, Asia/Shanghai, as its fixed +08:00
    (exact since 1991) so that logging never loads the tz database; UTC if the zone is bad (the
    settings report that)."""
    from datetime import timedelta, timezone

    name = _env(env, "WXAPUSH_TZ")
    if not name or name == "Asia/Shanghai":
        return timezone(timedelta(hours=8))
    try:
        from wxapush.config import configured_zone

        return configured_zone(env)
    except Exception:
        return timezone.utc


def begin(context: Mapping[str, Any], function: str) -> Token[Optional[Dict[str, Any]]]:
    """Open an invocation's fields: every line until :func:`finish` carries them."""
    global _cold
    name = context.get("function_name")
    rid = context.get("request_id")
    fields: Dict[str, Any] = {
        "function": name if isinstance(name, str) and name else function,
        "request_id": rid if isinstance(rid, str) else None,
        "cold_start": _cold,
    }
    _cold = False
    return _current.set(fields)


def note(**values: Any) -> None:
    """Add what became known (``caller``, ``errcode``…) to the current invocation's fields."""
    fields = _current.get()
    if fields is not None:
        fields.update(values)


def note_result(result: Mapping[str, Any]) -> None:
    """The answer's errcode, slug and ids, for the summary."""
    fields = _current.get()
    if fields is None:
        return
    fields["errcode"] = result.get("errcode", 0)
    if result.get("error") is not None:
        fields["error"] = result.get("error")
        fields["errmsg"] = result.get("errmsg")
    for key in RESULT_IDS:
        value = result.get(key)
        if isinstance(value, (str, int)) and not isinstance(value, bool):
            fields[key] = value


def finish(started: float, token: Token[Optional[Dict[str, Any]]]) -> None:
    """Write the invocation's INFO summary (what was asked, what was answered, how long)."""
    fields = _current.get()
    if fields is None:
        return
    try:
        _summarize(fields, started)
    finally:
        _current.reset(token)


def _summarize(fields: Dict[str, Any], started: float) -> None:
    fields["duration_ms"] = round((time.monotonic() - started) * 1000.0, 1)
    if "errcode" in fields:
        answer = f"errcode {fields['errcode']}"
    else:
        answer = f"HTTP {fields.get('status', '?')}"
    if fields.get("error"):
        answer += f" {fields['error']}: {fields.get('errmsg') or ''}"
    summary_log.info(
        "%s %s %s -> %s in %.1f ms",
        fields["function"],
        fields.get("shape", "?"),
        fields.get("asked", ""),
        answer,
        fields["duration_ms"],
    )


def caller_label(caller: Any, service: Any) -> str:
    """The ``caller`` key: ``timer``, ``service``, ``user``, ``wechat`` or ``anonymous`` (a
    page's visitor before sign-in); never an openid."""
    kind = getattr(caller, "kind", "?")
    if kind == "service":
        return "timer" if getattr(caller, "source", None) == "timer" else "service"
    if kind == "anonymous":  # receive_event authenticates WeChat; login takes a user's code
        module = getattr(service, "__module__", "")
        if module.endswith("receive_event"):
            return "wechat"
        return "user" if module.endswith(".login") else "anonymous"
    return str(kind)


def asked(inv: Any) -> str:
    """What was asked, without values that could be personal: the method and path of an HTTP
    call, the request's field names, and its ``action``."""
    request = inv.request if isinstance(inv.request, dict) else {}
    parts = []
    if inv.http is not None:
        parts.append(f"{inv.http.method} {inv.http.path}")
    action = request.get("action")
    if isinstance(action, str) and len(action) <= 32:
        parts.append(f"action={action}")
    keys = sorted(str(k)[:32] for k in list(request)[:20])
    if keys:
        parts.append("{" + ",".join(keys) + "}")
    return " ".join(parts)
