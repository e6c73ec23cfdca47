"""How fast wxemu answers subscribe sends: in-process dispatch vs. loopback HTTP.

Run on demand: ``.venv/bin/python benchmarks/bench_wxemu.py [--seconds N]``. Loopback only,
bounded in count and time. The HTTP figures are measured against ``wxemu serve`` in its own
process (as the local stack runs it), so client and server do not share a GIL. Prints sends/s
for in-process ``dispatch``; for one keep-alive ``requests.Session``; for one keep-alive
``http.client`` connection (a thin client, closer to the server's own capacity); for a few
concurrent keep-alive ``requests`` clients, each in its own process; and the HTTP/in-process ratio.
"""

from __future__ import annotations

import argparse
import http.client
import json
import multiprocessing
import os
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable
from urllib.parse import urlsplit

import requests

from wxemu import demo
from wxemu.dispatch import dispatch
from wxemu.state import Emulator

SEND = "/cgi-bin/message/subscribe/send"
MAX_SENDS = 200_000
BODY = json.dumps(
    {
        "touser": demo.OPENID,
        "template_id": demo.LONG_TERM_TEMPLATE_ID,  # long-term: grants never run out
        "data": {
            "time1": {"value": "2024年5月20日 12:00:00"},
            "enum_string2": {"value": "客厅"},
            "thing4": {"value": "洗衣机"},
        },
    },
    ensure_ascii=False,
).encode("utf-8")


def _rate(run_one: Callable[[], None], seconds: float) -> tuple[int, float]:
    count, started = 0, time.perf_counter()
    deadline = started + seconds
    while count < MAX_SENDS:
        run_one()
        count += 1
        if count % 50 == 0 and time.perf_counter() >= deadline:
            break
    return count, time.perf_counter() - started


def in_process(seconds: float) -> float:
    emulator = Emulator()
    query = f"grant_type=client_credential&appid={demo.APPID}&secret={demo.SECRET}"
    answer = dispatch(emulator, "GET", "/cgi-bin/token", query, {}, b"")[2]
    params = {"access_token": json.loads(answer)["access_token"]}

    def one() -> None:
        status, _, body = dispatch(emulator, "POST", SEND, params, {}, BODY)
        if status != 200 or b'"errcode":0' not in body:
            raise RuntimeError(body)

    count, elapsed = _rate(one, seconds)
    return count / elapsed


def with_requests(url: str, seconds: float) -> tuple[int, float]:
    with requests.Session() as session:
        session.post(url, data=BODY)  # open the keep-alive connection first

        def one() -> None:
            answer = session.post(url, data=BODY)
            if b'"errcode":0' not in answer.content:
                raise RuntimeError(answer.text)

        return _rate(one, seconds)


def with_http_client(url: str, seconds: float) -> float:
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port)
    target = f"{parts.path}?{parts.query}"

    def one() -> None:
        conn.request("POST", target, body=BODY)
        if b'"errcode":0' not in conn.getresponse().read():
            raise RuntimeError("send refused")

    count, elapsed = _rate(one, seconds)
    conn.close()
    return count / elapsed


def _client_process(
    url: str, seconds: float, start_at: float, out: multiprocessing.Queue[int]
) -> None:
    time.sleep(max(start_at - time.time(), 0))
    count, _ = with_requests(url, seconds)
    out.put(count)


def concurrent(url: str, seconds: float, clients: int) -> float:
    out: multiprocessing.Queue[int] = multiprocessing.Queue()
    start_at = time.time() + 1.0
    procs = [
        multiprocessing.Process(target=_client_process, args=(url, seconds, start_at, out))
        for _ in range(clients)
    ]
    for proc in procs:
        proc.start()
    total = sum(out.get(timeout=seconds + 60) for _ in procs)
    for proc in procs:
        proc.join(timeout=10)
    return total / seconds


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (Linux /proc; 0 elsewhere)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def start_server() -> tuple[subprocess.Popen[str], str]:
    script = Path(sys.executable).with_name("wxemu")
    command = [str(script)] if script.exists() else [sys.executable, "-m", "wxemu"]
    proc = subprocess.Popen([*command, "serve", "--port", "0"], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    first = proc.stdout.readline()
    match = re.search(r"listening on (http://\S+)", first)
    if match is None:
        proc.kill()
        raise RuntimeError(f"wxemu serve did not start: {first!r}")
    return proc, match.group(1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=3.0, help="duration of each phase")
    parser.add_argument("--clients", type=int, default=4, help="concurrent clients (processes)")
    args = parser.parse_args()
    seconds = min(max(args.seconds, 0.5), 30.0)
    clients = min(max(args.clients, 1), 16)

    dispatch_rate = in_process(seconds)
    print(f"in-process dispatch                 {dispatch_rate:10,.0f} sends/s")
    server, base_url = start_server()
    try:
        params = {"grant_type": "client_credential", "appid": demo.APPID, "secret": demo.SECRET}
        token = requests.get(f"{base_url}/cgi-bin/token", params=params).json()["access_token"]
        url = f"{base_url}{SEND}?access_token={token}"
        cpu_before = cpu_seconds(server.pid)
        count, elapsed = with_requests(url, seconds)
        server_cpu = cpu_seconds(server.pid) - cpu_before
        single = count / elapsed
        print(f"HTTP, 1 keep-alive requests.Session {single:10,.0f} sends/s")
        if server_cpu:
            busy = server_cpu / elapsed
            print(
                f"  server CPU {server_cpu / count * 1e6:,.0f} µs/send, busy {busy:.0%} of one core"
                " (the rest of the time is the client's)"
            )
        thin = with_http_client(url, seconds)
        print(f"HTTP, 1 keep-alive http.client      {thin:10,.0f} sends/s")
        multi = concurrent(url, seconds, clients)
        print(
            f"HTTP, {clients} keep-alive requests clients {multi:8,.0f} sends/s (one process each)"
        )
        accepted = len(requests.get(f"{base_url}/__wxemu__/messages").json()["messages"])
    finally:
        server.terminate()
        server.wait(timeout=10)
    print(f"ratio HTTP (requests) / in-process  {single / dispatch_rate:10.1%}")
    print(f"ratio HTTP (http.client) / in-proc  {thin / dispatch_rate:10.1%}")
    print(f"messages accepted over HTTP: {accepted:,}")


if __name__ == "__main__":
    main()
