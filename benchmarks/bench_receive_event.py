"""receive_event's pushes per second on one core, beside wechatpy's decrypt + parse of the same
pushes, in the same run.

Run on demand: ``.venv/bin/python benchmarks/bench_receive_event.py [--pushes N]
[--store sqlite|redis] [--profile]``.

Each push is a secure-mode XML ``subscribe_msg_popup_event`` (one accepted template) for its own
user, signed and encrypted as WeChat does: ``functions/receive_event``'s ``main_handler`` gets
it in the API gateway's shape and does all of its work — signature (constant time) and timestamp
checks, decryption and the appid check, parsing, the event's dedupe claim, the grant ledger's
write, the ``success`` answer. wechatpy (the dev extra's) decrypts (with its signature check) and
parses the same bodies: ``WeChatCrypto.decrypt_message`` then ``parse_message``, which write
nothing. The rates are pushes per second of this process's CPU time (one core), the median of
``--rounds`` rounds taken in alternating order; aim: wxapush ≥ 5,000/s. ``--profile`` prints
the top of a cProfile of one wxapush round.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any, Callable, Dict, List, Tuple

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from wxapush.wechat.callback import encrypt, sign  # noqa: E402
from wxemu import demo  # noqa: E402

TOKEN = "benchCallbackToken"
AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
REDIS = os.environ.get("WXAPUSH_TEST_REDIS", "redis://127.0.0.1:6379/15")


def xml_push(openid: str, created: int) -> str:
    return (
        f"<xml><ToUserName><![CDATA[gh_1]]></ToUserName><FromUserName><![CDATA[{openid}]]>"
        f"</FromUserName><CreateTime>{created}</CreateTime><MsgType><![CDATA[event]]></MsgType>"
        "<Event><![CDATA[subscribe_msg_popup_event]]></Event><SubscribeMsgPopupEvent><List>"
        f"<TemplateId><![CDATA[{demo.TEMPLATE_ID}]]></TemplateId><SubscribeStatusString>"
        "<![CDATA[accept]]></SubscribeStatusString><PopupScene>0</PopupScene></List>"
        "</SubscribeMsgPopupEvent></xml>"
    )


def pushes(count: int, tag: str) -> List[Tuple[Dict[str, str], str]]:
    """(query, body) of ``count`` pushes, each for its own user."""
    out = []
    timestamp = str(int(time.time()))
    for i in range(count):
        message = xml_push(f"oBench{tag}{i:08d}", int(timestamp) - i % 60)
        encrypted = encrypt(message.encode(), AES_KEY, demo.APPID)
        nonce = str(1000 + i)
        query = {
            "signature": sign(TOKEN, timestamp, nonce),
            "timestamp": timestamp,
            "nonce": nonce,
            "openid": f"oBench{tag}{i:08d}",
            "encrypt_type": "aes",
            "msg_signature": sign(TOKEN, timestamp, nonce, encrypted),
        }
        body = (
            "<xml><ToUserName><![CDATA[gh_1]]></ToUserName>"
            f"<Encrypt><![CDATA[{encrypted}]]></Encrypt></xml>"
        )
        out.append((query, body))
    return out


def gateway_event(query: Dict[str, str], body: str) -> Dict[str, Any]:
    return {
        "httpMethod": "POST",
        "path": "/receive_event",
        "headers": {"content-type": "text/xml", "user-agent": "Mozilla/4.0"},
        "queryString": query,
        "body": body,
        "isBase64Encoded": False,
        "requestContext": {"path": "/receive_event", "httpMethod": "POST", "requestId": "r"},
    }


def wxapush_round(handler: Callable[..., Any], batch: List[Tuple[Dict[str, str], str]]) -> float:
    events = [gateway_event(q, b) for q, b in batch]
    context = {"request_id": "r", "time_limit_in_ms": 3000}
    start = time.process_time()
    for event in events:
        answer = handler(event, context)
        assert answer["body"] == "success", answer
    return len(events) / (time.process_time() - start)


def wechatpy_round(batch: List[Tuple[Dict[str, str], str]]) -> float:
    from wechatpy import parse_message
    from wechatpy.crypto import WeChatCrypto

    crypto = WeChatCrypto(TOKEN, AES_KEY, demo.APPID)
    start = time.process_time()
    for query, body in batch:
        xml = crypto.decrypt_message(
            body, query["msg_signature"], query["timestamp"], query["nonce"]
        )
        parse_message(xml)
    return len(batch) / (time.process_time() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pushes", type=int, default=2000, help="pushes per round")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--store", choices=("sqlite", "redis"), default="sqlite")
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--sort", default="tottime", help="the profile's order (cumtime…)")
    args = parser.parse_args()

    from tests.functional.store import _namespaces
    from wxapush.app import reset_app
    from wxapush.config import reset_settings
    from wxemu.gateway import load_handler

    prefix = f"bench{uuid.uuid4().hex[:8]}"
    with tempfile.TemporaryDirectory() as tmp:
        store = (
            f"sqlite:///{tmp}/bench.db" if args.store == "sqlite" else f"{REDIS}?prefix={prefix}"
        )
        os.environ.update(
            WXAPUSH_APPID=demo.APPID,
            WXAPUSH_APPSECRET=demo.SECRET,
            WXAPUSH_STORE=store,
            WXAPUSH_CALLBACK_TOKEN=TOKEN,
            WXAPUSH_ENCODING_AES_KEY=AES_KEY,
        )
        reset_settings()
        reset_app()
        handler = load_handler(ROOT / "functions" / "receive_event" / "index.py")
        try:
            wxapush_round(handler, pushes(50, "warm"))  # the store opened, tables made
            wechatpy_round(pushes(50, "warmp"))
            mine, theirs = [], []
            for r in range(args.rounds):
                batch = pushes(args.pushes, f"r{r}")
                if r % 2:
                    theirs.append(wechatpy_round(batch))
                    mine.append(wxapush_round(handler, batch))
                else:
                    mine.append(wxapush_round(handler, batch))
                    theirs.append(wechatpy_round(batch))
            if args.profile:
                profile = cProfile.Profile(time.process_time)
                batch = pushes(args.pushes, "prof")
                profile.runcall(wxapush_round, handler, batch)
                pstats.Stats(profile).sort_stats(args.sort).print_stats(30)
        finally:
            reset_app()
            if args.store == "redis":
                _namespaces.drop_redis(REDIS, prefix)
    w, p = statistics.median(mine), statistics.median(theirs)
    print(f"receive_event on {args.store}, pushes per CPU second (median of {args.rounds} rounds):")
    print(
        f"  wxapush  (verify, decrypt, parse, dedupe, ledger, answer)  {w:8,.0f}/s  (aim >= 5,000)"
    )
    print(f"  wechatpy (verify, decrypt, parse; writes nothing)          {p:8,.0f}/s")
    print(f"  ratio wxapush / wechatpy {w / p:.2f}")


if __name__ == "__main__":
    main()
