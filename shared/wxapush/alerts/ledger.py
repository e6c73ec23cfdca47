"""Where alerts live: one small JSON document per app in the store's token cache.

The token cache is a shared key-value record with a lock beside it (``TokenCache``) on every
backend, so the fleet shares the alerts' state — which conditions are firing, when each was last
posted, the campaigns being watched, the last run, the recent alerts the dashboard lists —
without a table of its own. The lock keeps two overlapping timers from posting the same alert
twice. When the store itself fails, the instance keeps the state in memory, so a warm timer
still posts the store's alert once, not at every tick.
"""

from __future__ import annotations

import json
import uuid
from typing import Any, Dict, List, Optional

from wxapush.store.base import TokenCache, TokenRecord

#: How long the document outlives its last write (the store's token cache expires records).
KEEP = 8 * 86400.0
#: Alerts kept for the dashboard: the newest, at most this many and this old, and the whole
#: document under DOC_MAX bytes (a MySQL TEXT column holds 65535).
HISTORY_MAX = 200
HISTORY_AGE = 7 * 86400.0
DOC_MAX = 48 * 1024
TEXT_MAX = 200
LOCK_TTL = 30.0

_memory: Dict[str, Dict[str, Any]] = {}


def key(appid: str) -> str:
    return f"wxapush-alerts:{appid}"


def empty() -> Dict[str, Any]:
    return {"v": 1, "last_run": None, "firing": {}, "watch": {}, "history": []}


def load(tokens: TokenCache, appid: str) -> Dict[str, Any]:
    """The app's alert document (empty when there is none or it cannot be read)."""
    record = tokens.get_token(key(appid))
    if record is None:
        return empty()
    try:
        doc = json.loads(record.token)
    except ValueError:
        return empty()
    if not isinstance(doc, dict) or doc.get("v") != 1:
        return empty()
    for name, default in empty().items():
        doc.setdefault(name, default)
    return doc


def save(tokens: TokenCache, appid: str, doc: Dict[str, Any], now: float) -> None:
    """Write the document back, its history trimmed."""
    history: List[Dict[str, Any]] = doc.get("history", [])
    doc["history"] = [h for h in history if h.get("at", 0) >= now - HISTORY_AGE][-HISTORY_MAX:]
    for entry in doc["history"]:
        for name in ("title", "detail"):
            entry[name] = str(entry.get(name, ""))[:TEXT_MAX]
    text = json.dumps(doc, ensure_ascii=False, separators=(",", ":"))
    while len(text.encode("utf-8")) > DOC_MAX and doc["history"]:
        del doc["history"][: max(1, len(doc["history"]) // 4)]  # the oldest go first
        text = json.dumps(doc, ensure_ascii=False, separators=(",", ":"))
    tokens.put_token(key(appid), TokenRecord(text, now + KEEP, now))


def remembered(appid: str) -> Dict[str, Any]:
    """The instance's own copy (used while the store fails)."""
    return _memory.setdefault(appid, empty())


def remember(appid: str, doc: Dict[str, Any]) -> None:
    _memory[appid] = doc


def forget_memory() -> None:
    """Drop the instance's copies (tests)."""
    _memory.clear()


class Held:
    """The document's lock, taken without waiting (another timer is at work: skip this tick)."""

    def __init__(self, tokens: TokenCache, appid: str) -> None:
        self.tokens, self.name, self.owner = tokens, key(appid), uuid.uuid4().hex
        self.taken = False

    def __enter__(self) -> bool:
        self.taken = self.tokens.acquire_lock(self.name, self.owner, LOCK_TTL)
        return self.taken

    def __exit__(self, *exc: object) -> None:
        if self.taken:
            self.tokens.release_lock(self.name, self.owner)


def alerts_between(
    tokens: TokenCache, appid: str, since: float, until: float
) -> List[Dict[str, Any]]:
    """The alerts recorded in ``[since, until)``, newest first (the dashboard's list)."""
    try:
        history = load(tokens, appid)["history"]
    except Exception:  # the dashboard shows what it can; the store's alert says the rest
        history = remembered(appid)["history"]
    return [h for h in reversed(history) if since <= h.get("at", 0) < until]


def last_run(doc: Dict[str, Any]) -> Optional[float]:
    value = doc.get("last_run")
    return float(value) if isinstance(value, (int, float)) else None
