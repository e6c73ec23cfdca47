"""The built-in public template library behind ``/wxaapi/newtmpl/`` (``data/library.json``).

A handful of realistic public templates across five categories, with keywords of most types
(thing, date, time, amount, character_string, phrase, number, name, phone_number, car_number,
letter) and one template with enum keywords (``enum_string`` and their ``enumValueList``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

_DATA = Path(__file__).with_name("data") / "library.json"


@dataclass(frozen=True)
class Keyword:
    kid: int
    name: str
    example: str
    rule: str
    enum_values: tuple[str, ...] = ()

    @property
    def code(self) -> str:
        """The code the keyword gets in a private template: type and kid (``thing1``)."""
        return f"{self.rule}{self.kid}"

    def to_wechat(self) -> dict[str, Any]:
        return {"kid": self.kid, "name": self.name, "example": self.example, "rule": self.rule}


@dataclass(frozen=True)
class PublicTemplate:
    tid: int
    title: str
    type: int
    category_id: int
    keywords: tuple[Keyword, ...]

    def keyword(self, kid: int) -> Keyword | None:
        return next((k for k in self.keywords if k.kid == kid), None)

    def to_wechat(self) -> dict[str, Any]:
        return {
            "tid": self.tid,
            "title": self.title,
            "type": self.type,
            "categoryId": str(self.category_id),
        }


@dataclass(frozen=True)
class Library:
    categories: tuple[tuple[int, str], ...]
    templates: tuple[PublicTemplate, ...]

    def template(self, tid: int) -> PublicTemplate | None:
        return next((t for t in self.templates if t.tid == tid), None)


@lru_cache(maxsize=1)
def library() -> Library:
    """The library, loaded once."""
    raw = json.loads(_DATA.read_text(encoding="utf-8"))
    templates = tuple(
        PublicTemplate(
            t["tid"],
            t["title"],
            t["type"],
            t["categoryId"],
            tuple(
                Keyword(
                    k["kid"], k["name"], k["example"], k["rule"], tuple(k.get("enumValueList", ()))
                )
                for k in t["keywords"]
            ),
        )
        for t in raw["templates"]
    )
    categories = tuple((c["id"], c["name"]) for c in raw["categories"])
    return Library(categories, templates)
