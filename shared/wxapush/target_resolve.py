"""What the layer must carry for its target (a dev-only module, like ``packaging``): the store
drivers a deployment needs (:func:`default_extras`), and the distributions the TARGET CPython
needs, with dependency markers evaluated for it rather than for the interpreter that builds.

``pip install --dry-run --python-version 3.9 --platform …`` picks wheels for the target but
evaluates environment markers (``python_full_version < "3.11.3"``) against the interpreter
running pip: built on 3.11, a 3.9 layer would lack redis's ``async-timeout``. So pip resolves,
and this module re-walks the dependency graph from pip's report with the target's marker
environment: what the target needs and pip left out is added to the requirements (and pip
resolves again), what only the build host needs is dropped.
"""

from __future__ import annotations

import re
from typing import Any, Dict, Iterable, List, Mapping, Sequence, Set, Tuple

try:  # the `packaging` distribution when installed; pip always carries a copy
    from packaging.markers import Marker
    from packaging.requirements import Requirement
except ImportError:  # pragma: no cover - depends on the build machine
    from pip._vendor.packaging.markers import Marker  # type: ignore[assignment]
    from pip._vendor.packaging.requirements import Requirement  # type: ignore[assignment]

__all__ = [
    "DEFAULT_EXTRAS",
    "STORE_EXTRAS",
    "Marker",
    "Requirement",
    "default_extras",
    "marker_environment",
    "walk",
]

#: Extras vendored unless asked otherwise: the SSM client (small, pure Python) and the driver of
#: every store URL the docs list — SCF needs a shared store, so a layer without its driver
#: answers every call "backend not available".
DEFAULT_EXTRAS = ("tencent", "redis", "sql")
#: The extra whose driver a store URL scheme needs (sqlite is in the standard library).
STORE_EXTRAS = {
    "sqlite": None,
    "redis": "redis",
    "rediss": "redis",
    "unix": "redis",
    "postgresql": "sql",
    "postgres": "sql",
    "mysql": "sql",
    "mariadb": "sql",
}


def marker_environment(python_version: str) -> Dict[str, str]:
    """PEP 508 marker values of SCF's Linux x86_64 CPython ``python_version`` (e.g. ``3.9``).

    The patch level is not published for SCF's runtimes; ``.0`` is assumed (the markers seen in
    practice compare minor versions, or patch levels of later minors).
    """
    return {
        "implementation_name": "cpython",
        "implementation_version": f"{python_version}.0",
        "os_name": "posix",
        "platform_machine": "x86_64",
        "platform_python_implementation": "CPython",
        "platform_release": "",
        "platform_system": "Linux",
        "platform_version": "",
        "python_full_version": f"{python_version}.0",
        "python_version": python_version,
        "sys_platform": "linux",
    }


def canonical(name: str) -> str:
    """A distribution name as PEP 503 compares it."""
    return re.sub(r"[-_.]+", "-", name).lower()


def walk(
    roots: Sequence[str], resolved: Iterable[Mapping[str, Any]], python_version: str
) -> Tuple[List[str], Set[str]]:
    """From pip's report (its ``install`` items), the requirements the target needs that pip
    did not resolve, and the canonical names of resolved distributions the target needs.

    ``roots`` are the top-level requirement strings; each item's ``metadata.requires_dist``
    is evaluated with :func:`marker_environment` and the extras that reached it.
    """
    environment = marker_environment(python_version)
    metadata = {canonical(i["metadata"]["name"]): i["metadata"] for i in resolved}
    missing: Dict[str, str] = {}
    seen: Set[Tuple[str, str]] = set()
    todo: List[Tuple[Requirement, str]] = []
    for text in roots:
        root = Requirement(text)
        if root.marker is None or root.marker.evaluate(dict(environment)):
            todo.append((root, ""))
    needed: Set[str] = set()
    while todo:
        requirement, _ = todo.pop()
        name = canonical(requirement.name)
        extras = sorted(requirement.extras)
        key = (name, ",".join(extras))
        if key in seen:
            continue
        seen.add(key)
        if name not in metadata:
            bare = Requirement(str(requirement))
            bare.marker = None
            missing.setdefault(name, str(bare))
            continue
        needed.add(name)
        for text in metadata[name].get("requires_dist") or []:
            dependency = Requirement(text)
            if _applies(dependency.marker, environment, extras):
                todo.append((dependency, name))
    return sorted(missing.values()), needed


def _applies(marker: Any, environment: Mapping[str, str], extras: Sequence[str]) -> bool:
    if marker is None:
        return True
    return any(marker.evaluate({**environment, "extra": extra}) for extra in ["", *extras])


def default_extras(env: Mapping[str, str]) -> Tuple[Tuple[str, ...], str]:
    """The extras to vendor when none are asked for, and why: exactly the drivers that
    ``WXAPUSH_STORE`` / ``WXAPUSH_CACHE`` name when either is set (plus ``tencent``), else
    the drivers of every store. Unset values (empty, ``undefined``, ``null``) count as unset."""
    chosen: List[str] = ["tencent"]
    named = []
    for name in ("WXAPUSH_STORE", "WXAPUSH_CACHE"):
        value = env.get(name, "").strip()
        if value.lower() in ("", "undefined", "null"):
            continue
        scheme = re.split(r"[+:]", value, maxsplit=1)[0].lower()
        if scheme not in STORE_EXTRAS:
            raise ValueError(f"{name}: no store driver is known for {scheme}:// URLs")
        named.append(name)
        extra = STORE_EXTRAS[scheme]
        if extra is not None and extra not in chosen:
            chosen.append(extra)
    if not named:
        unset = "the drivers of every store: WXAPUSH_STORE and WXAPUSH_CACHE are unset"
        return DEFAULT_EXTRAS, unset
    return tuple(chosen), "the drivers that " + " and ".join(named) + " name"
