"""``.wxapush/dev.env``: the settings of a running ``wxapush dev``, handed to the operator commands.

The local stack configures its own process (the demo app, wxemu's URL, the store, the admin
key). ``wxapush send/log/invoke`` run in another shell, so the stack writes those settings here
while it runs (and removes the file when it stops). The file is shell syntax as well:
``source .wxapush/dev.env`` exports them into a shell for other tools.

Which wins: a shell that sets ``WXAPUSH_APPID`` has its own configuration, and the file is
ignored whole — never mixed with it, so a production setting cannot meet the emulator's.
"""

from __future__ import annotations

import os
import shlex
from pathlib import Path
from typing import Mapping, MutableMapping, Optional

#: Relative to the current directory, beside the default dev store.
DEV_ENV = Path(".wxapush") / "dev.env"

_HEADER = (
    "# Written by `wxapush dev` while it runs; removed when it stops.\n"
    "# `wxapush send/log/invoke` read it when WXAPUSH_APPID is not set in the environment;\n"
    "# `source` it to export these settings into a shell.\n"
)


def write(values: Mapping[str, str], path: Path = DEV_ENV) -> Path:
    """Write ``values`` as ``export NAME='value'`` lines, readable only by the owner."""
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = "".join(f"export {name}={shlex.quote(value)}\n" for name, value in values.items())
    temporary = path.with_name(path.name + ".tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)  # it holds a secret
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(_HEADER + lines)
    os.replace(temporary, path)
    return path


def read(path: Path = DEV_ENV) -> dict[str, str]:
    """The ``NAME=value`` pairs of a file written by :func:`write` (comments ignored)."""
    values: dict[str, str] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        words = shlex.split(line, comments=True)
        if words[:1] == ["export"]:
            words = words[1:]
        for word in words:
            name, sep, value = word.partition("=")
            if sep and name.startswith("WXAPUSH_"):
                values[name] = value
    return values


def remove(path: Path = DEV_ENV) -> None:
    """Forget the running stack's settings (it stopped)."""
    path.unlink(missing_ok=True)


def apply(environ: MutableMapping[str, str], path: Path = DEV_ENV) -> Optional[Path]:
    """Load ``path`` into ``environ`` unless ``environ`` has a configuration of its own.

    Returns the file loaded, or None (the environment set ``WXAPUSH_APPID``, or no stack runs).
    """
    if (environ.get("WXAPUSH_APPID") or "").strip() or not path.is_file():
        return None
    environ.update(read(path))
    return path
