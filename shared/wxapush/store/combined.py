"""A deployment's two stores as one: records in one (SQL), the hot, short-lived state in a cache.

``WXAPUSH_STORE=postgresql://…`` with ``WXAPUSH_CACHE=redis://…``: the send log, the grant
ledger, the template registry and the event log stay in the durable database; tokens, the
single-flight lock and the rate limiter live in Redis, where every instance reads them on every
call and losing them costs at most one token fetch. See docs/stores.md.
"""

from __future__ import annotations

from wxapush.store.base import (
    CampaignQueue,
    ChoiceLedger,
    Counters,
    EventLog,
    GrantLedger,
    RateLimiter,
    SendLog,
    Store,
    TemplateRegistry,
    TokenCache,
)


class CombinedStore:
    """``records`` for the log, grants, templates, events (and choices) and campaigns;
    ``cache`` for tokens, limits and counters."""

    def __init__(self, records: Store, cache: Store) -> None:
        self.records = records
        self.cache = cache

    @property
    def tokens(self) -> TokenCache:
        return self.cache.tokens

    @property
    def limiter(self) -> RateLimiter:
        return self.cache.limiter

    @property
    def counters(self) -> Counters:
        return self.cache.counters

    @property
    def campaigns(self) -> CampaignQueue:
        return self.records.campaigns

    @property
    def log(self) -> SendLog:
        return self.records.log

    @property
    def grants(self) -> GrantLedger:
        return self.records.grants

    @property
    def templates(self) -> TemplateRegistry:
        return self.records.templates

    @property
    def events(self) -> EventLog:
        return self.records.events

    @property
    def choices(self) -> ChoiceLedger:
        return self.records.choices

    def close(self) -> None:
        try:
            self.cache.close()
        finally:
            self.records.close()

    def __repr__(self) -> str:
        return f"CombinedStore(records={self.records!r}, cache={self.cache!r})"
