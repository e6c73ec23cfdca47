"""``wxapush doctor``: check a deployment's settings as a whole, one line per check.

    wxapush doctor [--json] [--descriptors DIR] [--no-post]

Reads the settings from the environment (or, while ``wxapush dev`` runs, its
``.wxapush/dev.env``) and checks them as the deployed functions will see them: the credentials
(a token fetched, the AppSecret read from SSM), the store and the cache (reachable, schema
current), the admin key and session secret (long enough), the push Token and EncodingAESKey
(well formed), the rate limit (within WeChat's quota), the template registry (synced, every
template in use present), the alert webhook (answering: a test message is posted unless
``--no-post``) and the deploy descriptors (timeouts above their margins, the broadcast lease
above its timeout, values consistent with the environment). Exit status 0 only when every check
passes.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable, List, Mapping, Optional, Tuple

from wxapush.config import (
    MIN_ADMIN_KEY_LENGTH,
    MIN_SESSION_SECRET_LENGTH,
    Settings,
    env_value,
    load_settings,
)
from wxapush.errors import WxapushError

#: The least lengths the configuration accepts (config is the rule; doctor only reports it).
ADMIN_KEY_MIN = MIN_ADMIN_KEY_LENGTH
SESSION_SECRET_MIN = MIN_SESSION_SECRET_LENGTH
#: The console's Token: 3 to 32 letters or digits; the EncodingAESKey: 43 letters or digits.
PUSH_TOKEN = re.compile(r"^[A-Za-z0-9]{3,32}$")
AES_KEY = re.compile(r"^[A-Za-z0-9]{43}$")
SEND_PATH = "/cgi-bin/message/subscribe/send"
#: A registry older than this was not synced by refresh_code lately (it runs every 5 minutes).
SYNC_STALE = 86400.0
#: Templates used within this long must be in the registry.
IN_USE = 7 * 86400.0
DEADLINE = 15.0
#: Settings that refuse to load when malformed but that a check of their own reports.
SELF_CHECKED = ("WXAPUSH_ADMIN_KEY", "WXAPUSH_ADMIN_KEY_PREVIOUS")


@dataclass(frozen=True)
class Check:
    """One line of the report: what was checked, whether it passed, and what to do if not."""

    name: str
    ok: bool
    detail: str
    fix: str = ""
    setting: Optional[str] = None

    def line(self) -> str:
        mark = "✔" if self.ok else "✘"
        text = f"{mark} {self.name}: {self.detail}"
        return text if self.ok or not self.fix else f"{text}\n    → {self.fix}"


def add_parser(commands: Any) -> None:
    """Register ``doctor`` on the ``wxapush`` command's subparsers."""
    parser = commands.add_parser(
        "doctor",
        help="check a deployment's settings (credentials, store, keys, webhook, descriptors)",
        description=__doc__.split("\n\n")[2].replace("\n", " ") if __doc__ else None,
    )
    parser.add_argument("--json", action="store_true", help="print the checks as JSON")
    parser.add_argument(
        "--descriptors", metavar="DIR", help="where serverless.yml is (default: this folder)"
    )
    parser.add_argument(
        "--no-post", action="store_true", help="do not post a test message to the alert webhook"
    )
    parser.set_defaults(run=run_doctor, operator=True)


def run_doctor(args: argparse.Namespace) -> int:
    folder = Path(args.descriptors) if args.descriptors else Path.cwd()
    checks = diagnose(os.environ, folder, post=not args.no_post)
    if args.json:
        report = {"ok": all(c.ok for c in checks), "checks": [asdict(c) for c in checks]}
        print(json.dumps(report, ensure_ascii=False, indent=2))
    else:
        for check in checks:
            print(check.line())
        failed = sum(not c.ok for c in checks)
        print(f"{len(checks) - failed} passed, {failed} failed")
    return 0 if all(c.ok for c in checks) else 1


def diagnose(env: Mapping[str, str], folder: Path, post: bool = True) -> List[Check]:
    """Every check, in order; those that need loadable settings are skipped without them."""
    from wxapush import cli_doctor_checks as dc
    from wxapush import cli_doctor_remote as remote

    checks: List[Check] = []
    settings: Optional[Settings] = None
    try:
        settings = load_settings(env)
        checks.append(Check("settings", True, "every WXAPUSH_* variable parses"))
    except WxapushError as error:
        name = str(error.extras.get("setting") or "WXAPUSH_*")
        if name in SELF_CHECKED:  # its own check below says what to do; check the rest anyway
            settings = _settings_without(env, SELF_CHECKED)
        else:
            checks.append(Check("settings", False, error.errmsg, f"fix {name}", name))
    checks += [dc.admin_key(env), dc.session_secret(env), *dc.push_settings(env)]
    if settings is not None:
        steps: List[Callable[[Settings], List[Check]]] = [
            remote.credentials,
            remote.store,
            remote.rate_limit,
            remote.templates,
        ]
        for step in steps:
            checks += step(settings)
    checks.append(dc.webhook(env, post))
    checks += dc.descriptors(env, folder)
    return checks


def _settings_without(env: Mapping[str, str], names: Tuple[str, ...]) -> Optional[Settings]:
    try:
        return load_settings({k: v for k, v in env.items() if k not in names})
    except WxapushError:
        return None


def deadline() -> float:
    return time.monotonic() + DEADLINE


def value(env: Mapping[str, str], name: str) -> Optional[str]:
    return env_value(env, name)
