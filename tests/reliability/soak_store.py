"""The store-fault soak: keyed sends while the store's network and server misbehave.

``run_store_soak(kind, store, server_url, sends)`` runs ``soak.run_soak`` with the workers' store
traffic through :class:`StoreFaultProxy` and no WeChat faults, so that every ``unknown`` record
must be a message WeChat holds (the call did reach WeChat's door). Kinds:

* ``lose_reply``: a request runs on the server and its reply is lost (COMMIT included);
* ``reset``: the connection is reset before a request reaches the server;
* ``delay``: requests wait before they reach the server;
* ``kill``: the server ends the workers' sessions (``pg_terminate_backend``, ``KILL``,
  ``CLIENT KILL``);
* ``mixed``: all of the above at once (the CI's bounded run).

Each run must end with 0 lost, 0 duplicated, 0 left ``pending``, 0 stranded keys and 0
``unknown`` records WeChat holds no message for.
"""

from __future__ import annotations

import uuid
from typing import Dict
from urllib.parse import urlsplit

from tests.functional.store import _namespaces

from .soak import SoakReport, run_soak
from .store_proxy import StoreFaultProxy

STORES = ("postgresql", "mysql", "redis")
KINDS = ("lose_reply", "reset", "delay", "kill", "mixed")
RATES: Dict[str, Dict[str, float]] = {
    "lose_reply": {"lose_reply": 0.03},
    "reset": {"reset": 0.03},
    "delay": {"delay": 0.1},
    "kill": {},
    "mixed": {"lose_reply": 0.02, "reset": 0.02, "delay": 0.05},
}
#: Redis carries fewer requests per send (one script per write): its rates are scaled up.
SCALE = {"redis": 3.0}
#: Real backend kills per send, for the kinds that have them, and the least.
KILLS = {"kill": (0.1, 6), "mixed": (0.03, 3)}


def run_store_soak(kind: str, store: str, server_url: str, sends: int) -> SoakReport:
    """One run of ``kind`` on the ``store`` server at ``server_url`` (a namespace of its own)."""
    prefix = f"soak{uuid.uuid4().hex[:8]}"
    parts = urlsplit(server_url)
    rates = {name: rate * SCALE.get(store, 1.0) for name, rate in RATES[kind].items()}
    with StoreFaultProxy(parts.hostname or "127.0.0.1", int(parts.port or 0), **rates) as p:
        sep = "&" if "?" in server_url else "?"
        try:
            report = run_soak(
                sends,
                workers=2,
                kills=0,
                store_url=f"{server_url}{sep}prefix={prefix}",
                wechat_faults=0.0,
                store_faults=0.0,
                proxy=p,
                backend_kills=_kills(kind, sends),
            )
        finally:
            if store == "redis":
                _namespaces.drop_redis(server_url, prefix)
            else:
                _namespaces.drop_sql(server_url, prefix)
    report.backend = f"{store} ({kind})"
    return report


def _kills(kind: str, sends: int) -> int:
    per_send, least = KILLS.get(kind, (0.0, 0))
    return max(least, int(per_send * sends)) if per_send else 0


def figures(report: SoakReport) -> str:
    """The line a person reads: the figures that must be 0, then what was injected."""
    return (
        f"{report.backend}: sends={report.sends} faults={report.faults} lost={report.lost} "
        f"duplicated={report.duplicated} pending={report.pending} stranded={report.stranded} "
        f"unknown={report.unknown} (not at WeChat: {report.unknown_not_delivered}) "
        f"false_sent={report.false_sent} ({report.seconds:.0f} s)"
    )


def clean(report: SoakReport) -> bool:
    return report.clean and report.unknown_not_delivered == 0
