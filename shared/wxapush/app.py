"""The per-instance composition root: settings, store, client and tokens, built once, lazily.

Nothing is built at import time: a cold start pays for the store and the HTTP session only when
the first invocation needs them, and a function never imports a driver it does not use.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Callable, Optional

from wxapush import pacing
from wxapush.config import Settings, get_settings
from wxapush.errors import Misconfigured, redact
from wxapush.pacing import SEND_TIME as SEND_TIME  # re-exported: the send path keeps it
from wxapush.store import (
    SchemaBehindError,
    SchemaVersionError,
    Store,
    StoreURLError,
    on_scf,
    open_store,
)
from wxapush.store.base import TemplateInfo
from wxapush.wechat.client import Transport, WeChatClient
from wxapush.wechat.tokens import TokenManager

#: How long an instance trusts its copy of a template (refresh_code syncs every few minutes).
TEMPLATE_TTL = 60.0


@dataclass
class App:
    """What one function instance shares between its invocations."""

    settings: Settings
    store: Store
    transport: Transport
    tokens: TokenManager
    client: WeChatClient
    _templates: dict[str, tuple[float, Optional[TemplateInfo]]] = field(default_factory=dict)
    #: The wall clock of quiet hours, caps and campaign due times (a test moves it with wxemu's).
    clock: Callable[[], float] = time.time

    @classmethod
    def build(cls, settings: Settings) -> App:
        store = open_shared_store(settings)
        transport = Transport(settings.api_base)
        tokens = TokenManager(
            appid=settings.appid,
            secret=settings.resolve_appsecret,
            mode=settings.token_mode,
            cache=store.tokens,
            transport=transport,
        )
        return cls(settings, store, transport, tokens, WeChatClient(transport, tokens))

    def template(self, template_id: str) -> Optional[TemplateInfo]:
        """The registry's entry for ``template_id``, remembered for ``TEMPLATE_TTL`` seconds.

        The registry changes only when refresh_code syncs it, so a send need not read the store.
        """
        now = time.monotonic()
        seen = self._templates.get(template_id)
        if seen is None or now - seen[0] > TEMPLATE_TTL:
            info = self.store.templates.get_template(self.settings.appid, template_id)
            seen = self._templates[template_id] = (now, info)
        return seen[1]

    def pace_send(self, deadline: float, campaign: bool = False) -> None:
        """Take this send's slots of ``WXAPUSH_RATE_LIMIT`` (one bucket per app, shared by all
        instances; a campaign's send first takes one of the campaigns' share, see
        :mod:`wxapush.pacing`).

        Waits for the slot when the wait still leaves ``SEND_TIME`` before ``deadline``;
        otherwise raises :class:`RateLimited` (retryable) having reserved nothing of the app's
        bucket, so the caller sends nothing. Slots are evenly spaced (burst 1): WeChat counts
        per minute and per day
        (https://developers.weixin.qq.com/miniprogram/dev/server/API/openApi-mgnt/api_getapiquota.html),
        and an even pace never bunches a minute's sends into its first second.
        """
        pacing.pace(self.settings, self.store.limiter, deadline, campaign)

    def forget_templates(self) -> None:
        self._templates.clear()

    def close(self) -> None:
        self.transport.close()
        self.store.close()


def open_shared_store(settings: Settings) -> Store:
    """The configured store; a malformed or missing one is ``misconfigured``, naming it."""
    if settings.store_url is None and settings.store_ssm is None and on_scf():
        # Each SCF instance — and each function — has its own /tmp: an embedded store there
        # would give every instance its own token and every function its own send log.
        raise Misconfigured(
            "WXAPUSH_STORE is required on SCF: set a shared store (redis://, postgresql://, "
            "mysql://); the embedded sqlite file would be private to one instance",
            setting="WXAPUSH_STORE",
        )
    migrate = settings.migrate == "auto"
    store_url, cache_url = settings.resolve_store_urls()  # an _SSM secret is read here
    records = _open(store_url, "WXAPUSH_STORE", migrate)
    if not cache_url:
        return records
    try:
        cache = _open(cache_url, "WXAPUSH_CACHE", migrate)
    except BaseException:
        records.close()
        raise
    from wxapush.store.combined import CombinedStore

    return CombinedStore(records, cache)


def _open(url: Optional[str], setting: str, migrate: bool = True) -> Store:
    try:
        return open_store(url, migrate=migrate)
    except StoreURLError as error:  # e.g. the driver of its scheme is not installed
        raise Misconfigured(f"{setting}: {redact(str(error))}", setting=setting) from None
    except SchemaVersionError as error:  # after a rollback: say so, never ``internal``
        raise Misconfigured(
            f"{setting}: {redact(str(error))}. Deploy a release that reads schema version"
            f" {error.found} again (roll forward), or restore the store as it was before the"
            " newer release migrated it (docs/deploy.md, Rolling back)",
            setting=setting,
            schema_version=error.found,
            supported_version=error.supported,
        ) from None
    except SchemaBehindError as error:  # WXAPUSH_MIGRATE=off and a schema behind this code
        raise Misconfigured(
            f"{setting}: {redact(str(error))}. Run `wxapush migrate --apply` with this"
            " release's settings, or set WXAPUSH_MIGRATE=auto (docs/deploy.md, Upgrading)",
            setting="WXAPUSH_MIGRATE",
            schema_version=error.found,
            supported_version=error.supported,
        ) from None


_app: Optional[App] = None
_lock = threading.Lock()


def current_app() -> App:
    """The instance's App, built on first use from the environment."""
    global _app
    if _app is None:
        with _lock:
            if _app is None:
                _app = App.build(get_settings())
    return _app


def reset_app() -> None:
    """Drop the instance's App (tests, or a changed environment)."""
    global _app
    with _lock:
        if _app is not None:
            _app.close()
        _app = None
