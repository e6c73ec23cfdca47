"""``wxapush broadcast --to-file``: a file of any size, streamed to one campaign in chunks.

The file is read line by line, never whole: each chunk of openids (under ``CHUNK_BYTES`` of
JSON, so it passes the 256 KiB body limit of every shape, HTTP included) is one ``append`` to an
open campaign, then ``start`` queues them all. An openid repeated anywhere in the file counts
once (its first line). Every step is idempotent — the create by its ``broadcast_id``, an append
by its chunk number — so a step whose answer was lost is simply sent again, and the same
command run again with the same ``--id`` after an interruption completes the same campaign
instead of making a second one; ``wxapush broadcast cancel ID`` abandons it instead (an open
campaign is cancelled like a running one, and the command run again then answers it as is).
"""

from __future__ import annotations

import itertools
import json
import time
from typing import Any, Callable, Dict, Iterator, List, Set
from uuid import uuid4

from wxapush.services.broadcast_chunks import CHUNK_SPAN

Direct = Callable[..., Dict[str, Any]]

#: A chunk's recipients as JSON, at most: the 256 KiB body limit less room for the rest.
CHUNK_BYTES = 200 * 1024
#: Attempts of one step whose answer says it may pass later (retryable).
ATTEMPTS = 4


def new_id() -> str:
    """A broadcast_id for a campaign the command names itself (printed with the answer)."""
    return f"file.{time.strftime('%Y%m%d', time.gmtime())}.{uuid4().hex[:16]}"


def openids(path: str) -> Iterator[str]:
    """The file's openids, one a line ('#' starts a comment), each once, in order."""
    seen: Set[str] = set()
    with open(path, encoding="utf-8") as lines:
        for line in lines:
            openid = line.split("#", 1)[0].strip()
            if openid and openid not in seen:
                seen.add(openid)
                yield openid


def chunks(path: str, limit_bytes: int = CHUNK_BYTES) -> Iterator[List[str]]:
    """The file's openids in chunks of at most ``CHUNK_SPAN`` and ``limit_bytes`` of JSON."""
    chunk: List[str] = []
    size = 0
    for openid in openids(path):
        cost = len(json.dumps(openid, ensure_ascii=False).encode()) + 1
        if chunk and (len(chunk) >= CHUNK_SPAN or size + cost > limit_bytes):
            yield chunk
            chunk, size = [], 0
        chunk.append(openid)
        size += cost
    if chunk:
        yield chunk


def create(direct: Direct, head: Dict[str, Any], path: str) -> Dict[str, Any]:
    """Open the campaign ``head`` describes, append the file's openids, start it.

    Returns a create's answer (``broadcast_id``, ``total``, ``status``, ``duplicate``, and
    ``chunks``: how many appends), or the first failing step's answer.
    ``head``: the create's fields (template_id, data, page, broadcast_id…), no recipients.
    """
    parts = chunks(path)
    first = next(parts, None)
    if first is None:  # refused before anything is written
        return _refused(f"--to-file: {path} holds no openid")
    bid: str = head.get("broadcast_id") or new_id()
    opened = _step(direct, {**head, "broadcast_id": bid, "open": True})
    if opened.get("errcode") != 0 or opened.get("status") != "open":
        # Refused, or started already by an earlier run of this command: its campaign as is.
        return {**opened, "chunks": 0}
    for number, listed in enumerate(itertools.chain([first], parts)):
        answer = _step(
            direct, {"action": "append", "broadcast_id": bid, "chunk": number, "recipients": listed}
        )
        if answer.get("errcode") != 0:
            return {**answer, "broadcast_id": bid, "chunk": number}
    started = _step(direct, {"action": "start", "broadcast_id": bid})
    if started.get("errcode") != 0:
        return started
    # A create's answer, as for a campaign created in one request.
    return {
        "errcode": 0,
        "errmsg": "ok",
        "broadcast_id": bid,
        "total": started["total"],
        "status": started["status"],
        "duplicate": bool(opened.get("duplicate")),
        "chunks": number + 1,
        "workers_started": started.get("workers_started", 0),
    }


def _step(direct: Direct, event: Dict[str, Any]) -> Dict[str, Any]:
    answer: Dict[str, Any] = {}
    for attempt in range(ATTEMPTS):
        answer = direct("broadcast", event)
        if answer.get("errcode") == 0 or not answer.get("retryable"):
            return answer
        time.sleep(min(float(answer.get("retry_after") or 0.5 * 2**attempt), 5.0))
    return answer


def _refused(message: str) -> Dict[str, Any]:
    return {"errcode": 990400, "errmsg": message, "error": "invalid_request", "retryable": False}
