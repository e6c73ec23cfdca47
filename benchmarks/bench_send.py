"""send's overhead and cold start, each against a baseline measured in the same run.

Run on demand: ``.venv/bin/python benchmarks/bench_send.py [--sends N] [--cold RUNS]``.

* warm: a keyed ``send`` through ``functions/send/index.py``'s ``main_handler`` (validation,
  token cache, idempotency claim, the send log before and after, the grant ledger decremented)
  against a bare post of the same payload to the same wxemu endpoint with a known token, by
  ``requests`` and by ``http.client`` on a kept-alive connection (aim ≤ 1.10).
* cold: a new process from interpreter start to its first accepted send, wxapush against
  wechatpy doing the same work — fetch a token, send one message (aim ≤ 1.0) — with each one's
  peak resident memory (aim < 64 MB). The ratio is the median over pairs of runs taken back to
  back in alternating order, so a burst of load hits one pair, not one client's series. Under
  ``PYTHONDONTWRITEBYTECODE`` wxapush compiles its modules every time (as from SCF's read-only
  layer), while wechatpy keeps the bytecode pip wrote at install.
* import: the import time of each entry point (``functions/*/index.py``) in a fresh process,
  the median of three.

wxemu runs in its own process, so the measured client does not share a GIL with the server.
Loopback only; every loop is bounded.
"""

from __future__ import annotations

import argparse
import http.client
import itertools
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
from pathlib import Path
from typing import Any

import requests

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "functions" / "send"))

from wxemu import demo  # noqa: E402

SEND_PATH = "/cgi-bin/message/subscribe/send"

DATA = {
    "thing1": {"value": "手机保护壳"},
    "character_string2": {"value": "SF1234567890"},
    "date3": {"value": "2026-11-27 10:30"},
    "amount6": {"value": "¥128.00"},
}
PAYLOAD = {"touser": demo.OPENID, "template_id": demo.TEMPLATE_ID, "data": DATA}

COLD_WXAPUSH = """
import json, resource, sys, time
start = float(sys.argv[2])
sys.path.insert(0, sys.argv[1])
from index import main_handler
result = main_handler(json.loads(sys.argv[3]), {"time_limit_in_ms": 10000})
assert result["errcode"] == 0, result
print(json.dumps({"seconds": time.time() - start,
                  "rss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}))
"""

COLD_WECHATPY = """
import json, resource, sys, time
start = float(sys.argv[1])
base = sys.argv[2]
from wechatpy.client import WeChatClient
from wechatpy.client.api import WeChatWxa
class Wxa(WeChatWxa):
    API_BASE_URL = base + "/"
class Client(WeChatClient):
    API_BASE_URL = base + "/cgi-bin/"
    wxa = Wxa()
    def fetch_access_token(self):
        return self._fetch_access_token(url=base + "/cgi-bin/token", params={
            "grant_type": "client_credential", "appid": self.appid, "secret": self.secret})
payload = json.loads(sys.argv[3])
result = Client(sys.argv[4], sys.argv[5]).wxa.send_subscribe_message(
    payload["touser"], payload["template_id"], payload["data"])
assert result["errcode"] == 0, result
print(json.dumps({"seconds": time.time() - start,
                  "rss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}))
"""

IMPORT_ONLY = """
import sys, time
sys.path.insert(0, sys.argv[1])
start = time.perf_counter()
import index
print(time.perf_counter() - start)
"""


def start_wxemu() -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "wxemu", "serve", "--port", "0"],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    base_url = proc.stdout.readline().split("listening on ")[1].strip()
    grants = {"appid": demo.APPID, "openid": demo.OPENID, "template_id": demo.TEMPLATE_ID}
    requests.post(f"{base_url}/__wxemu__/subscriptions", json=dict(grants, count=1_000_000))
    return proc, base_url


def warm(base_url: str, sends: int, env: dict[str, str]) -> dict[str, float]:
    """Median seconds of one send by each path, their calls alternated.

    wxapush runs with every guarantee on: a fresh idempotency key per send, validation, the
    send log (pending, then the outcome) and the grant ledger (``track``, with a balance to
    take from, so each send really decrements it). The baselines post the same payload with a
    token already in hand: ``requests`` (what a hand-written function uses) and the standard
    library's ``http.client`` on one kept-alive connection (the floor: wxapush's own transport).
    """
    os.environ.update(env)
    from index import main_handler  # the real entry point

    from wxapush.app import current_app

    context = {"time_limit_in_ms": 10_000}
    session = requests.Session()
    token = _token(session, base_url)  # stable mode: the same token wxapush gets
    url = f"{base_url}/cgi-bin/message/subscribe/send"
    origin = urllib.parse.urlsplit(base_url)
    conn = http.client.HTTPConnection(origin.hostname, origin.port)
    target = f"{SEND_PATH}?{urllib.parse.urlencode({'access_token': token})}"
    body = json.dumps(PAYLOAD, ensure_ascii=False, separators=(",", ":")).encode()
    headers = {"Content-Type": "application/json"}
    keys = itertools.count()

    def bare_requests() -> None:
        answer = session.post(url, params={"access_token": token}, json=PAYLOAD).json()
        assert answer["errcode"] == 0, answer

    def bare_http_client() -> None:
        conn.request("POST", target, body=body, headers=headers)
        answer = json.loads(conn.getresponse().read())
        assert answer["errcode"] == 0, answer

    def wxapush() -> None:
        result = main_handler(dict(PAYLOAD, idempotency_key=f"k{next(keys)}"), context)
        assert result["errcode"] == 0, result

    paths = (("requests", bare_requests), ("http.client", bare_http_client), ("wxapush", wxapush))
    for _ in range(20):  # warm every path: connections, caches, the token
        for _, call in paths:
            call()
    store = current_app().store
    store.grants.grant(demo.APPID, demo.OPENID, demo.TEMPLATE_ID, 10 * sends + 100)
    balance = store.grants.balance(demo.APPID, demo.OPENID, demo.TEMPLATE_ID)
    timings: dict[str, list[float]] = {name: [] for name, _ in paths}
    for _ in range(sends):  # alternate single calls, so load drift hits every path alike
        for name, call in paths:
            start = time.perf_counter()
            call()
            timings[name].append(time.perf_counter() - start)
    used = balance - store.grants.balance(demo.APPID, demo.OPENID, demo.TEMPLATE_ID)
    assert used == sends, f"the ledger took {used} grants for {sends} sends"
    conn.close()
    return {name: statistics.median(samples) for name, samples in timings.items()}


def _token(session: requests.Session, base_url: str) -> str:
    body = {"grant_type": "client_credential", "appid": demo.APPID, "secret": demo.SECRET}
    token: str = session.post(f"{base_url}/cgi-bin/stable_token", json=body).json()["access_token"]
    return token


def cold(base_url: str, runs: int, env: dict[str, str]) -> dict[str, Any]:
    """Median seconds and peak RSS of each client's cold send, and the median of the ratios of
    each pair of runs (taken back to back, in alternating order: a burst of load on the shared
    machine hits one pair, not one client's whole series)."""
    results: dict[str, list[dict[str, float]]] = {"wxapush": [], "wechatpy": []}
    for run in range(runs):
        order = ("wxapush", "wechatpy") if run % 2 == 0 else ("wechatpy", "wxapush")
        for name in order:
            results[name].append(cold_once(name, base_url, env))
    pairs = zip(results["wxapush"], results["wechatpy"])
    summary: dict[str, Any] = {
        name: {
            "seconds": statistics.median(r["seconds"] for r in rows),
            "rss_mb": max(r["rss_kb"] for r in rows) / 1024,
        }
        for name, rows in results.items()
    }
    summary["ratio"] = statistics.median(w["seconds"] / p["seconds"] for w, p in pairs)
    return summary


def cold_once(name: str, base_url: str, env: dict[str, str]) -> dict[str, float]:
    """One new process from interpreter start to its first accepted send."""
    if name == "wechatpy":
        argv = [str(time.time()), base_url, json.dumps(PAYLOAD), demo.APPID, demo.SECRET]
        out = subprocess.run(
            [sys.executable, "-c", COLD_WECHATPY, *argv], capture_output=True, text=True, check=True
        ).stdout
        result: dict[str, float] = json.loads(out)
        return result
    with tempfile.TemporaryDirectory() as tmp:  # a new instance: a new embedded store
        child_env = dict(os.environ, **env)
        child_env["WXAPUSH_STORE"] = f"sqlite:///{tmp}/cold.db"
        argv = [str(ROOT / "functions" / "send"), str(time.time()), json.dumps(PAYLOAD)]
        out = subprocess.run(
            [sys.executable, "-c", COLD_WXAPUSH, *argv],
            env=child_env,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        result = json.loads(out)
        return result


def import_times() -> dict[str, float]:
    times = {}
    for folder in sorted((ROOT / "functions").iterdir()):
        if (folder / "index.py").is_file():
            samples = [
                float(
                    subprocess.run(
                        [sys.executable, "-c", IMPORT_ONLY, str(folder)],
                        capture_output=True,
                        text=True,
                        check=True,
                    ).stdout
                )
                for _ in range(3)
            ]
            times[folder.name] = statistics.median(samples)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sends", type=int, default=1000, help="warm sends per path")
    parser.add_argument("--cold", type=int, default=5, help="cold-start runs per client")
    args = parser.parse_args()
    proc, base_url = start_wxemu()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            env = {
                "WXAPUSH_APPID": demo.APPID,
                "WXAPUSH_APPSECRET": demo.SECRET,
                "WXAPUSH_API_BASE": base_url,
                "WXAPUSH_STORE": f"sqlite:///{tmp}/warm.db",
            }
            warmed = warm(base_url, args.sends, env)
            mine = warmed["wxapush"]
            print(f"warm send   wxapush {mine * 1e3:7.3f} ms (keyed, logged, ledger on)")
            for name in ("requests", "http.client"):
                bare = warmed[name]
                ratio = mine / bare
                print(
                    f"            bare {name:<11} {bare * 1e3:7.3f} ms   ratio {ratio:.2f}", end=""
                )
                print("  (aim <= 1.10)")
            started = cold(base_url, args.cold, env)
            w, p = started["wxapush"], started["wechatpy"]
            print(
                f"cold start  wxapush {w['seconds'] * 1e3:7.1f} ms   "
                f"wechatpy {p['seconds'] * 1e3:7.1f} ms   ratio {started['ratio']:.2f}"
                f"   (median of {args.cold} paired runs; aim <= 1.0)"
            )
            print(f"            ratio of the medians {w['seconds'] / p['seconds']:.2f}")
            print(
                f"peak RSS    wxapush {w['rss_mb']:.1f} MB   wechatpy {p['rss_mb']:.1f} MB"
                "   (aim < 64 MB)"
            )
            for name, seconds in import_times().items():
                print(f"import      functions/{name:<13} {seconds * 1e3:6.1f} ms")
    finally:
        proc.terminate()
        proc.wait(timeout=10)


if __name__ == "__main__":
    main()
