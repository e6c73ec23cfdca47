"""The seam of a subscription push: its ledger changes, applied once per event.

Part of the storage seams (``wxapush.store.base`` re-exports them); stdlib only. A popup or
change event (receive_event) claims its event key and writes the grant ledger: two writes that
every backend could make with ``EventLog.first_seen`` and ``GrantLedger.grant``/``revoke``
(:class:`ComposedChoiceLedger`, which SQLite and the SQL stores use), and that Redis makes in one
script, one round trip per push. Every backend passes ``tests/functional/store/test_choices.py``.
"""

from __future__ import annotations

from typing import Protocol, Sequence, Tuple

#: A change of one balance: ``grant`` adds one, ``revoke`` sets it to 0 (``GrantLedger``).
GRANT = "grant"
REVOKE = "revoke"
CHANGES = (GRANT, REVOKE)

#: (template_id, GRANT or REVOKE), in the order they are applied.
Change = Tuple[str, str]


class ChoiceLedger(Protocol):
    """A push's choices recorded in the grant ledger once, however often WeChat re-pushes it."""

    def record_once(
        self, event: str, ttl: float, appid: str, openid: str, changes: Sequence[Change]
    ) -> bool:
        """Claim ``event`` as ``EventLog.first_seen(event, ttl)`` does and, for the first caller
        in the window only, apply ``changes`` to (appid, openid)'s balances in order; True if
        this call applied them, False if the event was seen already (nothing changes).

        Seen twice (or by N racing callers), the ledger changes once. A failure never loses
        the changes: if the call raises, the claim stands only if the changes were applied
        (``ComposedChoiceLedger`` drops it as ``EventLog.forget`` does when a change fails; one
        all-or-nothing write needs nothing), so WeChat's retry applies them unless they were.
        ValueError, before anything is written, for a change that is not (template_id, GRANT or
        REVOKE).
        """


def check_changes(changes: Sequence[Change]) -> None:
    """ValueError unless every change is (template_id, GRANT or REVOKE)."""
    for change in changes:
        if len(change) != 2 or change[1] not in CHANGES or not isinstance(change[0], str):
            raise ValueError(f"a change is (template_id, {GRANT!r} or {REVOKE!r}), got {change!r}")


class EventLogLike(Protocol):
    """What ComposedChoiceLedger uses of ``EventLog`` (base.py imports this module)."""

    def first_seen(self, key: str, ttl: float) -> bool: ...
    def forget(self, key: str) -> None: ...


class GrantLedgerLike(Protocol):
    """What ComposedChoiceLedger uses of ``GrantLedger``."""

    def grant(self, appid: str, openid: str, template_id: str, count: int = 1) -> int: ...
    def revoke(self, appid: str, openid: str, template_id: str) -> None: ...


class ComposedChoiceLedger:
    """``record_once`` from the two seams it spans: the claim, then each change (forgotten again
    if a change fails). On a store where each is a round trip, that is 1 + len(changes)."""

    def __init__(self, events: EventLogLike, grants: GrantLedgerLike) -> None:
        self._events = events
        self._grants = grants

    def record_once(
        self, event: str, ttl: float, appid: str, openid: str, changes: Sequence[Change]
    ) -> bool:
        check_changes(changes)
        if not self._events.first_seen(event, ttl):
            return False
        try:
            for template_id, change in changes:
                if change == GRANT:
                    self._grants.grant(appid, openid, template_id)
                else:
                    self._grants.revoke(appid, openid, template_id)
        except BaseException:
            self._events.forget(event)
            raise
        return True
