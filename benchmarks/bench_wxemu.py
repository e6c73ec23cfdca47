"""How fast wxemu answers subscribe sends: in-process dispatch vs. loopback HTTP.

Run on demand: ``.venv/bin/python benchmarks/bench_wxemu.py [--seconds N]``. Loopback only,
bounded in count and time. Prints sends/s for in-process ``dispatch``, for one keep-alive
``requests.Session``, and for a few concurrent keep-alive clients, and the HTTP/in-process ratio.
"""

from __future__ import annotations

import argparse
import json
import threading
import time
from typing import Callable

import requests

from wxemu import demo
from wxemu.dispatch import dispatch
from wxemu.state import Emulator
from wxemu.testing import running_server

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
    token = json.loads(dispatch(emulator, "GET", "/cgi-bin/token", query, {}, b"")[2])["access_token"]
    params = {"access_token": token}

    def one() -> None:
        status, _, body = dispatch(emulator, "POST", SEND, params, {}, BODY)
        if status != 200 or b'"errcode":0' not in body:
            raise RuntimeError(body)

    count, elapsed = _rate(one, seconds)
    return count / elapsed


def over_http(base_url: str, token: str, seconds: float, clients: int) -> float:
    counts = [0] * clients
    errors: list[str] = []
    barrier = threading.Barrier(clients + 1)
    url = f"{base_url}{SEND}?access_token={token}"

    def client(index: int) -> None:
        with requests.Session() as session:
            session.post(url, data=BODY)  # open the keep-alive connection
            barrier.wait()

            def one() -> None:
                answer = session.post(url, data=BODY)
                if b'"errcode":0' not in answer.content:
                    errors.append(answer.text)

            counts[index], _ = _rate(one, seconds)

    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    for thread in threads:
        thread.start()
    barrier.wait()
    started = time.perf_counter()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    if errors:
        raise RuntimeError(errors[0])
    return sum(counts) / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=3.0, help="duration of each phase")
    args = parser.parse_args()
    seconds = min(max(args.seconds, 0.5), 30.0)

    dispatch_rate = in_process(seconds)
    print(f"in-process dispatch       {dispatch_rate:10,.0f} sends/s")
    with running_server() as server:
        token = server.token()
        single = over_http(server.base_url, token, seconds, 1)
        print(f"HTTP, 1 keep-alive client {single:10,.0f} sends/s")
        multi = over_http(server.base_url, token, seconds, 4)
        print(f"HTTP, 4 keep-alive clients{multi:10,.0f} sends/s")
        accepted = len(server.emulator.messages())
    print(f"ratio HTTP(1)/in-process  {single / dispatch_rate:10.1%}")
    print(f"messages accepted over HTTP: {accepted:,}")


if __name__ == "__main__":
    main()
