"""The fault soak: keyed sends through WeChat faults, store outages and killed instances.

``run_soak`` starts wxemu, splits the keys over worker processes (``soak_worker``: a function
instance and its retrying callers), kills some workers with SIGKILL mid-send and lets a fresh
one take over their unanswered keys (the callers retry), then runs reconciliation as
refresh_code's timer does once the pending bound has passed, and counts:

* ``lost``: keys WeChat delivered whose log holds no record saying it may have been sent
  (``sent``/``delivered``/``undelivered``/``unknown``), or answered success without one;
* ``duplicated``: WeChat messages beyond the first for one key;
* ``pending``: records still ``pending`` after reconciliation;
* ``unknown``: records reconciled ``unknown``, split into those WeChat did deliver and those it
  did not — every one accounted for against WeChat's own list;
* ``false_sent``: records ``sent`` for which WeChat holds no message;
* ``stranded``: keys WeChat holds no message for whose retry, after reconciliation, still
  does not send, though no record of theirs is ``unknown`` (a claim that never reached WeChat
  must never hold its key for good; an ``unknown`` one may, and is counted above).

``run_soak(..., proxy=StoreFaultProxy(...))`` sends the workers' store traffic through the
store fault proxy (``store_proxy``: lost replies, resets, delays) and ``backend_kills`` ends
the workers' server sessions for real (``pg_terminate_backend`` / ``KILL``) that many times;
reconciliation and the counting go to the store directly.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Optional

from wxapush.app import current_app, reset_app
from wxapush.config import reset_settings
from wxapush.errors import url_password
from wxapush.services.reconcile import reconcile
from wxapush.store.base import LogQuery, LogRecord
from wxemu import demo
from wxemu.testing import RunningServer, running_server

from .backend_kills import BackendKiller
from .logscan import capture_logs, leaks
from .store_proxy import StoreFaultProxy

ROOT = Path(__file__).resolve().parents[2]
MAY_HAVE_SENT = frozenset({"sent", "delivered", "undelivered", "unknown"})


@dataclass
class SoakReport:
    backend: str
    sends: int
    workers: int
    kills: int = 0
    attempts: int = 0
    wechat_messages: int = 0
    lost: int = 0
    duplicated: int = 0
    pending: int = 0
    unknown: int = 0
    unknown_delivered: int = 0
    unknown_not_delivered: int = 0
    false_sent: int = 0
    stranded: int = 0
    sent_on_retry: int = 0
    faults: dict[str, int] = field(default_factory=dict)
    log_lines: int = 0
    log_leaks: list[str] = field(default_factory=list)
    answers: dict[str, int] = field(default_factory=dict)
    statuses: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def clean(self) -> bool:
        accounted = self.unknown == self.unknown_delivered + self.unknown_not_delivered
        failures = self.lost or self.duplicated or self.pending or self.false_sent
        failures = failures or self.stranded
        return not failures and not self.log_leaks and accounted

    def line(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False, sort_keys=True)


def run_soak(
    sends: int,
    *,
    workers: int = 3,
    kills: int = 2,
    store_url: Optional[str] = None,
    cache_url: Optional[str] = None,
    wechat_faults: float = 0.2,
    store_faults: float = 0.05,
    seed: int = 11,
    proxy: Optional[StoreFaultProxy] = None,
    backend_kills: int = 0,
) -> SoakReport:
    """Run the soak and return its figures (see the module docstring)."""
    started = time.monotonic()
    rng = random.Random(seed)
    run = f"S{seed}x{os.getpid() % 10000}"
    keys = [f"{run}-{i}" for i in range(sends)]
    with tempfile.TemporaryDirectory() as tmp, running_server() as wxemu:
        wxemu.grant(demo.APPID, demo.OPENID, demo.TEMPLATE_ID, 3 * sends)
        env = dict(os.environ)
        for name in list(env):
            if name.startswith("WXAPUSH_"):
                del env[name]
        env.update(
            WXAPUSH_APPID=demo.APPID,
            WXAPUSH_APPSECRET=demo.SECRET,
            WXAPUSH_API_BASE=wxemu.base_url,
            WXAPUSH_STORE=store_url or f"sqlite:///{tmp}/soak.db",
            SOAK_WECHAT_FAULTS=str(wechat_faults),
            SOAK_STORE_FAULTS=str(store_faults),
        )
        if cache_url:
            env["WXAPUSH_CACHE"] = cache_url
        report = SoakReport(
            backend="+".join(u.split(":", 1)[0] for u in (env["WXAPUSH_STORE"], cache_url) if u),
            sends=sends,
            workers=workers,
        )
        direct = dict(env)
        if proxy is not None:
            env["WXAPUSH_STORE"] = proxy.url(env["WXAPUSH_STORE"])
        with BackendKiller(direct["WXAPUSH_STORE"], proxy, backend_kills) as killer:
            answers = _drive(keys, env, Path(tmp), workers, kills, rng, report)
        if proxy is not None:
            report.faults = dict(proxy.injected)
        if killer.killed:
            report.faults["backend_kill"] = killer.killed
        with capture_logs() as lines:
            _settle(direct, report, keys, answers, wxemu)
        for log_file in sorted(Path(tmp).glob("log-*.txt")):
            lines += log_file.read_text(errors="replace").splitlines()
        secrets = [demo.SECRET, demo.OPENID, *wxemu.emulator.tokens]
        secrets += [p for p in (url_password(store_url or ""), url_password(cache_url or "")) if p]
        report.log_lines = len(lines)
        report.log_leaks = leaks(lines, secrets)[:5]
    report.seconds = round(time.monotonic() - started, 1)
    return report


def _drive(
    keys: list[str],
    env: dict[str, str],
    tmp: Path,
    workers: int,
    kills: int,
    rng: random.Random,
    report: SoakReport,
) -> dict[str, dict[str, Any]]:
    """Run the workers to the end, killing ``kills`` of them mid-run; the final answers."""
    answers: dict[str, dict[str, Any]] = {}
    queue = [keys[i::workers] for i in range(workers)]
    running: list[tuple[subprocess.Popen[str], Path, list[str]]] = []
    spawned = 0

    def spawn(batch: list[str]) -> None:
        nonlocal spawned
        spawned += 1
        path = tmp / f"keys-{spawned}.txt"
        out = tmp / f"out-{spawned}.jsonl"
        path.write_text("\n".join(batch))
        with out.open("w") as sink, (tmp / f"log-{spawned}.txt").open("w") as log_sink:
            proc = subprocess.Popen(
                [sys.executable, "-m", "tests.reliability.soak_worker", str(path)],
                cwd=ROOT,
                env=env,
                stdout=sink,
                stderr=log_sink,
                text=True,
            )
        running.append((proc, out, batch))

    for batch in queue:
        if batch:
            spawn(batch)
    kill_at = sorted(rng.uniform(0.1, 0.7) for _ in range(kills))
    while running:
        done = len(answers) + sum(len(_read(out)) for _, out, _ in running)
        if kill_at and done >= kill_at[0] * len(keys):
            kill_at.pop(0)
            proc, out, batch = running.pop(rng.randrange(len(running)))
            proc.send_signal(signal.SIGKILL)  # an instance recycled mid-send
            proc.wait()
            report.kills += 1
            finished = _read(out)
            answers.update(finished)
            rest = [k for k in batch if k not in finished]
            if rest:  # its callers retry: a fresh instance takes over
                spawn(rest)
            continue
        for entry in list(running):
            proc, out, batch = entry
            if proc.poll() is not None:
                running.remove(entry)
                if proc.returncode != 0:
                    log = (tmp / f"log-{spawned}.txt").read_text(errors="replace")
                    tail = "\n".join(log.splitlines()[-15:])
                    raise RuntimeError(f"a soak worker failed ({proc.returncode}):\n{tail}")
                answers.update(_read(out))
        time.sleep(0.05)
    report.attempts = sum(a["attempts"] for a in answers.values())
    report.answers = dict(Counter(_outcome(a["answer"]) for a in answers.values()))
    missing = [k for k in keys if k not in answers]
    if missing:
        raise RuntimeError(f"{len(missing)} keys got no final answer")
    return answers


def _read(out: Path) -> dict[str, dict[str, Any]]:
    found = {}
    for line in out.read_text().splitlines():
        try:
            entry = json.loads(line)
        except ValueError:  # the last line of a killed worker may be cut short
            continue
        found[entry["key"]] = entry
    return found


def _outcome(answer: dict[str, Any]) -> str:
    if answer.get("errcode") == 0:
        return "ok" + (" (warned)" if answer.get("warnings") else "")
    return f"{answer.get('error')} {answer.get('errcode')}"


def _settle(
    env: dict[str, str],
    report: SoakReport,
    keys: list[str],
    answers: dict[str, dict[str, Any]],
    wxemu: RunningServer,
) -> None:
    """Reconcile as the timer does past the bound, then compare the log with WeChat's list."""
    saved = dict(os.environ)
    os.environ.update({k: v for k, v in env.items() if k.startswith("WXAPUSH_")})
    reset_settings()
    reset_app()
    try:
        app = current_app()
        reconcile(app, time.monotonic() + 600, bound=0.0)
        report.stranded, report.sent_on_retry = _retry_unsent(keys, wxemu)
        records = _all_records(app.store.log)
    finally:
        reset_app()
        os.environ.clear()
        os.environ.update(saved)
        reset_settings()
    delivered = Counter(m["data"]["character_string2"]["value"] for m in wxemu.messages(demo.APPID))
    report.wechat_messages = sum(delivered.values())
    report.duplicated = sum(n - 1 for n in delivered.values() if n > 1)
    by_key: dict[str, list[LogRecord]] = {}
    for record in records:
        by_key.setdefault(record.data["character_string2"]["value"], []).append(record)
    report.statuses = dict(Counter(r.status for r in records))
    report.pending = report.statuses.get("pending", 0)
    for key in keys:
        mine = by_key.get(key, [])
        logged = any(r.status in MAY_HAVE_SENT for r in mine)
        told_ok = answers[key]["answer"].get("errcode") == 0
        if (delivered[key] or told_ok) and not logged:
            report.lost += 1
        for record in mine:
            if record.status == "unknown":
                report.unknown += 1
                if delivered[key]:
                    report.unknown_delivered += 1
                else:
                    report.unknown_not_delivered += 1
            elif record.status == "sent" and not delivered[key]:
                report.false_sent += 1


def _retry_unsent(keys: list[str], wxemu: RunningServer) -> tuple[int, int]:
    """Send once more every key WeChat holds no message for, as a caller would after an
    outage: (still not sent, sent now). Run after reconciliation, before the counting."""
    from wxemu.gateway import load_handler

    from .soak_worker import event_for

    delivered = {m["data"]["character_string2"]["value"] for m in wxemu.messages(demo.APPID)}
    send = load_handler(ROOT / "functions" / "send" / "index.py")
    context = {"time_limit_in_ms": 3000, "request_id": "soak-retry"}
    stranded = sent = 0
    for key in keys:
        if key in delivered:
            continue
        answer = send(event_for(key), context)
        if answer.get("errcode") == 0:
            sent += 1
        elif answer.get("status") != "unknown":  # an unknown call holds its key, rightly
            stranded += 1
            record = current_app().store.log.get(str(answer.get("log_id")))
            if record is not None:
                print(f"stranded {key}: {record.status} attempts={record.attempts} "
                      f"{record.errcode} {record.errmsg}", file=sys.stderr)  # fmt: skip
    return stranded, sent


def _all_records(log: Any) -> list[LogRecord]:
    records: list[LogRecord] = []
    while True:
        query = LogQuery(demo.APPID, 0.0, 4e9, offset=len(records), count=100)
        page = log.query(query).records
        records += page
        if len(page) < 100:
            return records
