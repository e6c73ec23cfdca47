"""Which ``WXAPUSH_*`` variables the layer reads, and which the README's Configuration table
lists: the two inventories the deploy-descriptor tests hold the descriptors against.

What the layer reads is found two ways, because neither alone sees everything:
* every string constant that is a whole variable name, in every module that ships in the layer
  (``packaging.DEV_ONLY`` stays out: the ``wxapush`` command's own settings are not a
  deployment's) — this sees the reads that happen only on some paths (fan-out, SSM);
* what the settings readers ask a recording environment for — this sees the names that are
  put together at run time (``f"{name}_SSM"``).
"""

from __future__ import annotations

import ast
import re
from pathlib import Path
from typing import Any, Dict, Iterator, Set

ROOT = Path(__file__).resolve().parents[2]
LAYER = ROOT / "shared" / "wxapush"
NAME = re.compile(r"WXAPUSH_[A-Z0-9_]+")


class RecordingEnv(Dict[str, str]):
    """An environment that remembers every name it was asked for."""

    def __init__(self, values: Dict[str, str]) -> None:
        super().__init__(values)
        self.asked: Set[str] = set()

    def get(self, key: str, default: Any = None) -> Any:  # type: ignore[override]
        self.asked.add(key)
        return super().get(key, default)

    def __getitem__(self, key: str) -> str:
        self.asked.add(key)
        return super().__getitem__(key)

    def __contains__(self, key: object) -> bool:
        if isinstance(key, str):
            self.asked.add(key)
        return super().__contains__(key)


def _layer_modules() -> Iterator[Path]:
    from wxapush.packaging import DEV_ONLY

    for path in sorted(LAYER.rglob("*.py")):
        if path.relative_to(LAYER).as_posix() not in DEV_ONLY:
            yield path


def named_in_layer() -> Set[str]:
    """Every string constant of the layer's modules that is a whole ``WXAPUSH_*`` name."""
    found: Set[str] = set()
    for path in _layer_modules():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            value = node.value if isinstance(node, ast.Constant) else None
            if isinstance(value, str) and NAME.fullmatch(value):
                found.add(value)
    return found


def asked_by_readers() -> Set[str]:
    """The names the settings readers look up (config, the alerts', the logs', fan-out's)."""
    from wxapush import logs
    from wxapush.alerts.settings import alert_settings
    from wxapush.config import configured_store_urls, configured_zone, load_settings
    from wxapush.services.broadcast_fanout import fanout_count

    env = RecordingEnv({"WXAPUSH_APPID": "wx-inventory", "WXAPUSH_APPSECRET": "inventory"})
    load_settings(env)
    configured_store_urls(env)
    configured_zone(env)
    alert_settings(env)
    logs.log_format(env)
    logs.log_level(env)
    logs.log_zone(env)
    fanout_count(env)
    return {name for name in env.asked if NAME.fullmatch(name)}


def layer_reads() -> Set[str]:
    """Every ``WXAPUSH_*`` variable a deployed function may read."""
    return named_in_layer() | asked_by_readers()


def readme_variables() -> Set[str]:
    """The variables the README's Configuration table lists in its first column; a suffix in the
    same cell (``(+ `_PREVIOUS`, or `_SSM`)``) names that variant of each variable there."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("\n## Configuration\n", 1)[1].split("\n## ", 1)[0]
    found: Set[str] = set()
    for line in section.splitlines():
        if not line.startswith("| `"):
            continue
        cell = line.split("|")[1]
        words = re.findall(r"`([^`]+)`", cell)
        names = [w for w in words if NAME.fullmatch(w)]
        suffixes = [w for w in words if re.fullmatch(r"_[A-Z0-9_]+", w)]
        found.update(names)
        found.update(n + s for n in names for s in suffixes)
    return found
