"""The checks of ``wxapush doctor`` (:mod:`wxapush.cli_doctor`) read from the settings alone —
keys, push settings, the alert webhook, the deploy descriptors; those that reach WeChat and the
store are in :mod:`wxapush.cli_doctor_remote`.

Each returns :class:`~wxapush.cli_doctor.Check` values and never raises for what it checks: a
failure is a ✘ line naming the setting and what to do. Secrets are never printed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional

from wxapush.cli_doctor import (
    ADMIN_KEY_MIN,
    AES_KEY,
    PUSH_TOKEN,
    SESSION_SECRET_MIN,
    Check,
    value,
)
from wxapush.config import Settings
from wxapush.errors import WxapushError, redact

GENERATE = "python -c 'import secrets; print(secrets.token_urlsafe(32))'"


def admin_key(env: Mapping[str, str]) -> Check:
    key = value(env, "WXAPUSH_ADMIN_KEY")
    if key is None:
        return Check("admin key", True, "not set: HTTP service calls and the dashboard refused")
    if len(key) < ADMIN_KEY_MIN:
        return Check(
            "admin key",
            False,
            f"WXAPUSH_ADMIN_KEY has {len(key)} characters, fewer than {ADMIN_KEY_MIN}",
            f"set WXAPUSH_ADMIN_KEY to ≥ {ADMIN_KEY_MIN} random characters: {GENERATE}",
            "WXAPUSH_ADMIN_KEY",
        )
    return Check("admin key", True, f"{len(key)} characters")


def session_secret(env: Mapping[str, str]) -> Check:
    """WXAPUSH_SESSION_SECRET (and its ``_PREVIOUS``) at least as long as the settings require."""
    secret = value(env, "WXAPUSH_SESSION_SECRET")
    if secret is None:
        ssm = value(env, "WXAPUSH_SESSION_SECRET_SSM")
        detail = "read from SSM at login" if ssm else "not set: login and sessions refused"
        return Check("session secret", True, detail)
    for name in ("WXAPUSH_SESSION_SECRET", "WXAPUSH_SESSION_SECRET_PREVIOUS"):
        raw = value(env, name)
        if raw is not None and len(raw) < SESSION_SECRET_MIN:
            return Check(
                "session secret",
                False,
                f"{name} 只有 {len(raw)} 个字符，少于 {SESSION_SECRET_MIN} / "
                f"{name} has {len(raw)} characters, fewer than {SESSION_SECRET_MIN}",
                f"把 {name} 设为至少 {SESSION_SECRET_MIN} 个随机字符 / "
                f"set {name} to ≥ {SESSION_SECRET_MIN} random characters: {GENERATE}",
                name,
            )
    return Check("session secret", True, f"{len(secret)} characters")


def push_settings(env: Mapping[str, str]) -> List[Check]:
    """The message-push Token and EncodingAESKey, as the mini-program console accepts them."""
    token = value(env, "WXAPUSH_CALLBACK_TOKEN")
    key = value(env, "WXAPUSH_ENCODING_AES_KEY")
    console = "the mini-program console (开发管理 → 消息推送)"
    if token is None and key is None:
        return [Check("push settings", True, "not set: delivery reports (receive_event) off")]
    checks = []
    if token is None or not PUSH_TOKEN.match(token):
        checks.append(
            Check(
                "push Token",
                False,
                "WXAPUSH_CALLBACK_TOKEN is not 3–32 letters or digits",
                f"set WXAPUSH_CALLBACK_TOKEN to the Token of {console}",
                "WXAPUSH_CALLBACK_TOKEN",
            )
        )
    else:
        checks.append(Check("push Token", True, f"{len(token)} letters or digits"))
    for name in ("WXAPUSH_ENCODING_AES_KEY", "WXAPUSH_ENCODING_AES_KEY_PREVIOUS"):
        raw = value(env, name)
        if raw is None and name.endswith("PREVIOUS"):
            continue
        if raw is None and token is not None:  # receive_event takes plaintext pushes then
            detail = "未设置：只收明文模式的推送 / not set: plaintext mode only (明文模式)"
            checks.append(Check("EncodingAESKey", True, detail))
            continue
        if raw is None or not AES_KEY.match(raw):
            checks.append(
                Check(
                    "EncodingAESKey",
                    False,
                    f"{name} is not 43 letters or digits",
                    f"copy {name} from {console} (43 characters), or unset it for plaintext mode",
                    name,
                )
            )
        else:
            checks.append(Check("EncodingAESKey", True, f"{name}: 43 letters or digits"))
    return checks


def webhook(env: Mapping[str, str], post: bool) -> Check:
    """WXAPUSH_ALERT_WEBHOOK: a test message posted (or the URL judged only, ``post`` False)."""
    from wxapush.alerts import robots
    from wxapush.alerts.settings import alert_settings

    try:
        cfg = alert_settings(env)
    except WxapushError as error:
        return Check(
            "alert webhook",
            False,
            error.errmsg,
            "fix the setting named",
            error.extras.get("setting"),
        )
    if not cfg.webhook:
        return Check("alert webhook", True, "not set: alerts are on the dashboard only")
    kind = robots.kind_of(cfg.webhook, cfg.kind)
    if not post:
        return Check(
            "alert webhook", True, f"{kind} robot at {robots.where(cfg.webhook)} (not posted)"
        )
    body = robots.message(
        kind,
        "wxapush doctor：测试消息 / test message",
        "告警通道正常 / the alert channel works",
        "doctor",
        "notice",
    )
    outcome = robots.post(cfg.webhook, kind, body)
    if outcome.ok:
        return Check(
            "alert webhook",
            True,
            f"the {kind} robot at {robots.where(cfg.webhook)} took a test message",
        )
    return Check(
        "alert webhook",
        False,
        f"the {kind} robot at {robots.where(cfg.webhook)} refused: {outcome.code} {outcome.detail}",
        "check WXAPUSH_ALERT_WEBHOOK (the robot's key, its keyword or signature settings) "
        "and WXAPUSH_ALERT_KIND",
        "WXAPUSH_ALERT_WEBHOOK",
    )


def descriptors(env: Mapping[str, str], folder: Path) -> List[Check]:
    """serverless.yml: timeouts above their margins, the broadcast lease above its timeout, a
    refresh_code timer enabled, literal values equal to the environment's."""
    from wxapush.services.broadcast_worker import MARGIN

    path = folder / "serverless.yml"
    if not path.is_file():
        return [Check("descriptors", True, f"no serverless.yml in {folder}: not checked")]
    try:
        import yaml

        inputs: Dict[str, Any] = (yaml.safe_load(path.read_text(encoding="utf-8")) or {})["inputs"]
    except Exception as error:
        return [
            Check(
                "descriptors",
                False,
                f"{path.name} unreadable: {type(error).__name__}",
                "fix the YAML",
            )
        ]
    problems: List[str] = []
    default = inputs.get("timeout", 3)
    functions: Dict[str, Any] = inputs.get("functions") or {}
    timeouts = {name: (spec or {}).get("timeout", default) for name, spec in functions.items()}
    for name, seconds in sorted(timeouts.items()):
        if not isinstance(seconds, (int, float)) or seconds <= MARGIN:
            problems.append(f"{name}'s timeout {seconds} is not above its margin of {MARGIN:g} s")
    environment = {e.get("key"): e.get("value") for e in inputs.get("environments") or []}
    lease_raw = value(env, "WXAPUSH_BROADCAST_LEASE") or environment.get("WXAPUSH_BROADCAST_LEASE")
    lease = float(lease_raw) if lease_raw and str(lease_raw).replace(".", "", 1).isdigit() else 60.0
    broadcast = timeouts.get("broadcast")
    if isinstance(broadcast, (int, float)) and broadcast >= lease:
        problems.append(
            f"broadcast's timeout {broadcast} s is not below WXAPUSH_BROADCAST_LEASE {lease:g} s"
        )
    triggers = inputs.get("triggers") or []
    if not any(
        t.get("type") == "timer"
        and t.get("function") == "refresh_code"
        and (t.get("parameters") or {}).get("enable")
        for t in triggers
    ):
        problems.append("no enabled timer trigger runs refresh_code")
    local = _is_local(value(env, "WXAPUSH_API_BASE"))  # wxapush dev: wxemu's base, by design
    for key, literal in sorted(environment.items()):
        if local or not isinstance(literal, str) or "${" in literal or not key:
            continue
        mine = value(env, key)
        if mine is not None and mine != literal:
            problems.append(f"{key} is {literal!r} in serverless.yml but {mine!r} here")
    if problems:
        return [
            Check(
                "descriptors", False, problem, "edit serverless.yml (and cloudbaserc.json) to agree"
            )
            for problem in problems
        ]
    return [Check("descriptors", True, f"{path.name}: {len(timeouts)} functions consistent")]


def _is_local(url: Optional[str]) -> bool:
    from urllib.parse import urlsplit

    return (urlsplit(url or "").hostname or "") in ("127.0.0.1", "localhost", "::1")


def reason(error: BaseException, settings: Settings) -> str:
    """An error in a few words, with every secret masked."""
    if isinstance(error, WxapushError):
        text = f"{error.slug}: {error.errmsg}"
    else:
        text = f"{type(error).__name__}: {error}"
    return redact(text, *settings.secrets())[:300]
