"""The alert settings, read from the environment beside the layer's own (config.py)."""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from typing import Mapping, Optional
from urllib.parse import urlsplit

from wxapush.config import env_value
from wxapush.errors import Misconfigured

from .robots import KINDS

#: WXAPUSH_ALERT_DELIVERY_RATE's default: alert when under 80 % of accepted sends are delivered.
DEFAULT_DELIVERY_RATE = 0.8


@dataclass(frozen=True, repr=False)
class AlertSettings:
    """``webhook`` is a secret (a robot's key is in it): never shown by ``repr``."""

    webhook: Optional[str] = None
    kind: Optional[str] = None
    delivery_rate: float = DEFAULT_DELIVERY_RATE

    def __repr__(self) -> str:
        shown = "'***'" if self.webhook else "None"
        return f"AlertSettings(webhook={shown}, kind={self.kind!r}, rate={self.delivery_rate})"


def alert_settings(env: Mapping[str, str] = os.environ) -> AlertSettings:
    """WXAPUSH_ALERT_WEBHOOK, _KIND and _DELIVERY_RATE; :class:`Misconfigured` names a bad one
    (never quoting the webhook)."""
    webhook = env_value(env, "WXAPUSH_ALERT_WEBHOOK")
    if webhook is not None:
        parts = urlsplit(webhook)
        if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
            raise Misconfigured(
                "WXAPUSH_ALERT_WEBHOOK must be an http(s):// URL (a group robot's webhook)",
                setting="WXAPUSH_ALERT_WEBHOOK",
            )
    kind = env_value(env, "WXAPUSH_ALERT_KIND")
    if kind is not None and kind.lower() not in KINDS:
        raise Misconfigured(
            f"WXAPUSH_ALERT_KIND must be one of {', '.join(KINDS)}", setting="WXAPUSH_ALERT_KIND"
        )
    raw = env_value(env, "WXAPUSH_ALERT_DELIVERY_RATE")
    rate = DEFAULT_DELIVERY_RATE
    if raw is not None:
        try:
            rate = float(raw.rstrip("%")) / (100.0 if raw.endswith("%") else 1.0)
        except ValueError:
            rate = math.nan
        if not 0.0 <= rate <= 1.0:
            raise Misconfigured(
                "WXAPUSH_ALERT_DELIVERY_RATE must be a fraction from 0 to 1 (or 0% to 100%)",
                setting="WXAPUSH_ALERT_DELIVERY_RATE",
            )
    return AlertSettings(webhook, kind.lower() if kind else None, rate)
