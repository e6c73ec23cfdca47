"""What every storage backend shares: argument checks, encodings, the token-bucket arithmetic.

Kept out of ``base`` (the records and the Protocols callers program against) so that a backend's
plumbing does not crowd the seams.
"""

from __future__ import annotations

import json
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

from wxapush.store.base import (
    CONDITION_FIELDS,
    MSGID_MAX,
    STATUSES,
    SUMMARY_GRAIN,
    SUMMARY_MAX_PERIODS,
    UPDATABLE_FIELDS,
    LogQuery,
    LogRecord,
    LogSummary,
    TemplateInfo,
)


def check_status(status: str) -> None:
    if status not in STATUSES:
        raise ValueError(f"unknown status {status!r}; expected one of {', '.join(STATUSES)}")


def check_msgid(msgid: Optional[int]) -> None:
    if msgid is None:
        return
    if isinstance(msgid, bool) or not isinstance(msgid, int) or not 0 <= msgid <= MSGID_MAX:
        raise ValueError(f"msgid must be an integer in [0, 2**64), got {msgid!r}")


def check_record(record: LogRecord) -> None:
    """Refuse a record no backend could store faithfully."""
    check_status(record.status)
    check_msgid(record.msgid)
    if not record.log_id:
        raise ValueError("log_id is required")


def check_changes(changes: Mapping[str, Any]) -> None:
    """Refuse changes ``SendLog.update`` must not apply."""
    bad = sorted(set(changes) - UPDATABLE_FIELDS)
    if bad:
        raise ValueError(f"cannot update field(s) {', '.join(bad)}")
    if "status" in changes:
        check_status(changes["status"])
    check_msgid(changes.get("msgid"))


def check_conditions(only_if: Optional[Mapping[str, Any]]) -> Dict[str, Any]:
    """The conditions of ``SendLog.update(only_if=…)``, checked; {} for none."""
    conditions = dict(only_if or {})
    bad = sorted(set(conditions) - CONDITION_FIELDS)
    if bad:
        raise ValueError(f"cannot compare field(s) {', '.join(bad)}")
    if "status" in conditions:
        check_status(conditions["status"])
    attempts = conditions.get("attempts")
    if attempts is not None and (isinstance(attempts, bool) or not isinstance(attempts, int)):
        raise ValueError(f"attempts must be an integer, got {attempts!r}")
    return conditions


def check_query(q: LogQuery) -> None:
    if q.offset < 0 or q.count < 0:
        raise ValueError("offset and count must not be negative")
    if q.status is not None:
        check_status(q.status)
    if q.errcode is not None and (isinstance(q.errcode, bool) or not isinstance(q.errcode, int)):
        raise ValueError(f"errcode must be an integer, got {q.errcode!r}")
    if q.exact_up_to < 0:
        raise ValueError("exact_up_to must not be negative")


def dump_json(value: Any) -> str:
    """Compact JSON that keeps non-ASCII text readable (and smaller) in the database."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)


def msgid_to_i64(msgid: Optional[int]) -> Optional[int]:
    """Map the unsigned 64-bit msgid onto a signed BIGINT (two's complement), exactly."""
    if msgid is None:
        return None
    return msgid - 2**64 if msgid >= 2**63 else msgid


def msgid_from_i64(value: Optional[int]) -> Optional[int]:
    if value is None:
        return None
    return value + 2**64 if value < 0 else value


def template_to_json(t: TemplateInfo) -> Tuple[str, str]:
    """(keywords, enum_values) as JSON text, for backends that store them as columns."""
    enums = {code: list(values) for code, values in t.enum_values.items()}
    return dump_json([list(k) for k in t.keywords]), dump_json(enums)


def template_from_json(
    template_id: str, title: str, type_: int, keywords: str, enum_values: str, content: str
) -> TemplateInfo:
    return TemplateInfo(
        template_id=template_id,
        title=title,
        type=int(type_),
        keywords=tuple((str(code), str(kind)) for code, kind in json.loads(keywords)),
        enum_values={code: tuple(v) for code, v in json.loads(enum_values).items()},
        content=content,
    )


def bucket_step(
    tat: Optional[int], now: int, rate: float, burst: int, max_wait: float
) -> Tuple[float, Optional[int]]:
    """One token-bucket decision, in microseconds; ``(wait seconds, new state or None)``.

    The bucket is kept as one number (GCRA): ``tat``, the time at which it would be full again.
    Each token pushes it ``1/rate`` later; a request may go once ``tat`` is within
    ``(burst - 1) / rate`` of its start time. ``None`` as the new state: nothing reserved.
    Shared by the SQL backends; Redis runs the same arithmetic in Lua.
    """
    check_bucket(rate, burst, max_wait)
    interval = max(1, int(1_000_000 / rate + 0.5))  # rounded half up, as the Lua does
    base = now if tat is None or tat < now else tat
    start = max(now, base - (burst - 1) * interval)
    wait = (start - now) / 1_000_000
    if wait > max_wait:
        return wait, None
    return wait, base + interval


def check_bucket(rate: float, burst: int, max_wait: float) -> None:
    if not rate > 0 or rate == float("inf"):
        raise ValueError(f"rate must be a positive number, got {rate!r}")
    if isinstance(burst, bool) or not isinstance(burst, int) or burst < 1:
        raise ValueError(f"burst must be a positive integer, got {burst!r}")
    if not max_wait >= 0:
        raise ValueError(f"max_wait must not be negative, got {max_wait!r}")


def check_bounds(bounds: Sequence[float]) -> List[int]:
    """``SendLog.summarize``'s bounds as integers, refused unless valid (see its docstring)."""
    if not 2 <= len(bounds) <= SUMMARY_MAX_PERIODS + 1:
        raise ValueError(f"bounds must hold 2 to {SUMMARY_MAX_PERIODS + 1} instants")
    out: List[int] = []
    for bound in bounds:
        if isinstance(bound, bool) or bound != bound or int(bound) != bound:
            raise ValueError(f"bounds must be whole seconds, got {bound!r}")
        if int(bound) % SUMMARY_GRAIN:
            raise ValueError(f"bounds must be multiples of {SUMMARY_GRAIN} s, got {bound!r}")
        if out and int(bound) <= out[-1]:
            raise ValueError("bounds must increase")
        out.append(int(bound))
    return out


class SummaryBuilder:
    """Collects aggregate rows into a :class:`LogSummary` (shared by the backends)."""

    def __init__(self, periods: int) -> None:
        self.periods: List[Dict[str, int]] = [{} for _ in range(periods)]
        self.templates: Dict[str, Dict[str, int]] = {}
        self.errcodes: Dict[Tuple[str, str, int], int] = {}

    def row(
        self, index: int, template_id: str, status: str, errcode: Optional[int], count: int
    ) -> None:
        """One row of ``GROUP BY period, template_id, status, errcode`` (0 for none)."""
        self.period(index, status, count)
        self.template(template_id, status, count)
        if errcode:
            self.errcode(template_id, status, errcode, count)

    def period(self, index: int, status: str, count: int) -> None:
        _add(self.periods[index], status, count)

    def template(self, template_id: str, status: str, count: int) -> None:
        _add(self.templates.setdefault(template_id, {}), status, count)

    def errcode(self, template_id: str, status: str, errcode: int, count: int) -> None:
        if errcode:
            _add(self.errcodes, (template_id, status, int(errcode)), count)

    def build(self) -> LogSummary:
        templates = {tpl: counts for tpl, counts in self.templates.items() if counts}
        return LogSummary(tuple(self.periods), templates, self.errcodes)


def _add(counts: Dict[Any, int], key: Any, count: int) -> None:
    total = counts.get(key, 0) + int(count)
    if total:
        counts[key] = total
    else:
        counts.pop(key, None)
