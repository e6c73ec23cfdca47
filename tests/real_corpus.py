"""The corpus of WeChat's real answers (tests/fixtures/real/*.json) and how a replay is judged.

Each file holds cases of one endpoint; tests/fixtures/real/README.md describes a case. A replay
compares the errcode always, and the errmsg for answers of today's form whose text was posted
exactly, with the rid's value folded (its separator kept: ``…, rid: `` is jscode2session's form).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

CORPUS = Path(__file__).resolve().parent / "fixtures" / "real"
_RID = re.compile(r"(?P<sep>[ ,]*)rid: ?(?:[0-9a-f]{8}-[0-9a-f]{8}-[0-9a-f]{8})$")


def load(name: Optional[str] = None) -> list[dict[str, Any]]:
    """Every case (of ``name``.json only, if given), each with ``file`` set."""
    found: list[dict[str, Any]] = []
    for path in sorted(CORPUS.glob("*.json")):
        if name is not None and path.stem != name:
            continue
        for case in json.loads(path.read_text(encoding="utf-8"))["cases"]:
            found.append({**case, "file": path.stem})
    return found


def decidable(case: dict[str, Any]) -> bool:
    return "undecided" not in case


def expected_errmsg(case: dict[str, Any]) -> Optional[str]:
    """The errmsg a replay must match (rid folded), or ``None`` when it is not compared."""
    answer = case["answer"]
    if case.get("form") != "today" or case.get("errmsg_exact") is False:
        return None
    errmsg = answer.get("errmsg")
    return fold(errmsg) if isinstance(errmsg, str) else None


def fold(errmsg: str) -> str:
    """``errmsg`` with the rid's value replaced: ``… rid: <rid>``; without a rid, as it is."""
    return _RID.sub(lambda m: f"{m['sep']}rid: <rid>", errmsg)


def errmsg_agrees(expected: str, got: str) -> bool:
    """Agreement of a posted errmsg with a replayed one: the same text and rid separator; a
    posted answer whose poster cut the rid away is compared on the text before the rid."""
    folded = fold(got)
    if "rid: <rid>" in expected:
        return folded == expected
    return _RID.sub("", got) == expected


@dataclass
class Tally:
    """Agreement figures of one replay run."""

    label: str
    errcode_total: int = 0
    errcode_agree: int = 0
    errmsg_total: int = 0
    errmsg_agree: int = 0
    disagreements: list[str] = field(default_factory=list)

    def add(self, case_id: str, errcode_ok: bool, errmsg_ok: Optional[bool]) -> None:
        self.errcode_total += 1
        self.errcode_agree += errcode_ok
        if errmsg_ok is not None:
            self.errmsg_total += 1
            self.errmsg_agree += errmsg_ok
        if not errcode_ok or errmsg_ok is False:
            self.disagreements.append(case_id)

    @property
    def errmsg_percent(self) -> float:
        return 100.0 * self.errmsg_agree / self.errmsg_total if self.errmsg_total else 100.0

    def line(self) -> str:
        return (
            f"{self.label}: errcode agrees on {self.errcode_agree}/{self.errcode_total} decidable "
            f"cases; errmsg on {self.errmsg_agree}/{self.errmsg_total} of today's "
            f"({self.errmsg_percent:.0f} %)"
        )
