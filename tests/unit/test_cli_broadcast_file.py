"""``--to-file``'s chunks: each openid once, in order, every append under the body limit."""

from __future__ import annotations

import json
from pathlib import Path

from wxapush import cli_broadcast_file
from wxapush.invocation import MAX_BODY_BYTES
from wxapush.services.broadcast_chunks import CHUNK_SPAN


def test_openids_once_in_order_comments_and_blanks_skipped(tmp_path: Path) -> None:
    listing = tmp_path / "openids.txt"
    listing.write_text("# header\noA\n\n  oB  # a note\noA\noC\n")
    assert list(cli_broadcast_file.openids(str(listing))) == ["oA", "oB", "oC"]


def test_every_append_passes_the_body_limit_and_no_chunk_is_over_its_span(tmp_path: Path) -> None:
    long_ids = [f"oLong{i:07d}".ljust(28, "x") for i in range(20_000)]
    short_ids = [f"o{i}" for i in range(25_000)]
    for name, ids in (("long", long_ids), ("short", short_ids)):
        listing = tmp_path / f"{name}.txt"
        listing.write_text("\n".join(ids))
        chunks = list(cli_broadcast_file.chunks(str(listing)))
        assert [o for chunk in chunks for o in chunk] == ids
        for number, chunk in enumerate(chunks):
            assert len(chunk) <= CHUNK_SPAN
            event = {"action": "append", "broadcast_id": "x" * 64, "chunk": number,
                     "recipients": chunk}  # fmt: skip
            assert len(json.dumps(event, ensure_ascii=False).encode()) < MAX_BODY_BYTES
    assert max(len(c) for c in cli_broadcast_file.chunks(str(tmp_path / "short.txt"))) == CHUNK_SPAN
