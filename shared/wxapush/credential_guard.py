"""Failed credentials are throttled on every function, in buckets the whole fleet shares.

A wrong ``Authorization: Bearer`` key, a forged ``Authorization: Session`` token, a forged
dashboard cookie and a wrong key at the dashboard's sign-in all draw from the same token
buckets in the shared store's rate limiter: per source address a burst of
:data:`PER_SOURCE` failures, then one every 10 s; per app :data:`PER_APP`, then one every 2 s.
A failure that finds its bucket empty answers ``rate_limited`` (990429, ``retry_after``) and
locks the scope until the bucket has a token again: a lock written to the shared store, which
every instance reads before it looks at a credential, so that a locked-out guesser is refused
even when the guess is right, whichever instance it reaches.

Which locks a credential must pass: always its source address's; the app-wide one only where
there is no source address (a Function URL passes none) and at the dashboard's sign-in.
Anyone can fail a credential, so an app-wide lock on every Bearer call would let a stranger
shut out the operator's own services; a guess at the key from many addresses is slow enough at
32 characters or more (``WXAPUSH_ADMIN_KEY``'s minimum).

A credential that is valid but no longer good (an expired session) is not a guess: it is not
counted.
"""

from __future__ import annotations

import time
from typing import List, Optional, Tuple

from wxapush.errors import RateLimited
from wxapush.store.base import Store, TokenRecord

#: (tokens per second, burst) of the per-source and the per-app bucket of failures.
PER_SOURCE = (0.1, 5)
PER_APP = (0.5, 30)
_LOCKED = "locked"


def _scopes(appid: str, source_ip: Optional[str]) -> List[Tuple[str, Tuple[float, int]]]:
    scopes: List[Tuple[str, Tuple[float, int]]] = []
    if source_ip:
        scopes.append((f"credentials:{appid}:{source_ip}", PER_SOURCE))
    scopes.append((f"credentials:{appid}", PER_APP))
    return scopes


def check(store: Store, appid: str, source_ip: Optional[str], *, app_wide: bool = False) -> None:
    """Refuse (:class:`RateLimited`) a credential from a locked scope, before looking at it:
    the source's lock, else (no source address, or ``app_wide``) the app's."""
    scopes = _scopes(appid, source_ip)
    checked = scopes if app_wide else scopes[:1]
    now = time.time()
    for name, _ in checked:
        key = f"{name}:locked"
        lock = store.tokens.get_token(key)
        if lock is None:
            continue
        if lock.expires_at > now:
            wait = lock.expires_at - now
            raise RateLimited(_message(wait), retry_after=round(wait, 3))
        store.tokens.invalidate_token(key, _LOCKED)  # an ended lock: tidy it away


def failed(store: Store, appid: str, source_ip: Optional[str]) -> None:
    """Count one failed credential in every scope it belongs to. When a scope has no failure
    left to give, lock it until it has, and refuse this one as :class:`RateLimited`."""
    longest = 0.0
    for name, (rate, burst) in _scopes(appid, source_ip):
        wait = store.limiter.acquire(name, rate, burst, max_wait=0.0)
        if wait > 0:
            now = time.time()
            lock = TokenRecord(token=_LOCKED, expires_at=now + wait, fetched_at=now)
            store.tokens.put_token(f"{name}:locked", lock)
            longest = max(longest, wait)
    if longest > 0:
        raise RateLimited(_message(longest), retry_after=round(longest, 3))


def prune(store: Store, appid: str, now: float) -> int:
    """Delete the app's ended locks (refresh_code): one record per locked address, which
    :func:`check` tidies only when that address comes back. Returns how many went."""
    return store.tokens.prune_tokens(f"credentials:{appid}:", now)


def _message(wait: float) -> str:
    # Read at the dashboard's sign-in too: Chinese first.
    seconds = max(1, round(wait))
    return f"失败次数过多，请 {seconds} 秒后再试 (too many failed credentials; retry in {seconds}s)"
