"""``.wxapush/dev.env``: the settings of a running ``wxapush dev``, handed to the operator commands.

The local stack configures its own process (the demo app, wxemu's URL, the store, the admin
key, the message-push Token and EncodingAESKey, the session secret). ``wxapush
send/log/invoke/doctor`` run in another shell, so the stack writes those settings here
while it runs (and removes the file when it stops). The file is shell syntax as well:
``source .wxapush/dev.env`` exports them into a shell for other tools.

Which wins: a shell that sets ``WXAPUSH_APPID`` has its own configuration, and the file is
ignored whole — never mixed with it, so a production setting cannot meet the emulator's.

One stack owns the file: it records its process id (``# pid N``). A second ``wxapush dev`` in
the same folder, started while the first runs, leaves the first's file alone (it says so), and
a stack stopping removes the file only if it is still its own.
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


def owner(path: Path = DEV_ENV) -> Optional[int]:
    """The process id of the stack that wrote ``path`` (None: no file, or no pid recorded)."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError:
        return None
    for line in text.splitlines():
        if line.startswith("# pid ") and line[6:].strip().isdigit():
            return int(line[6:].strip())
    return None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process: alive
        return True
    return True


def write(
    values: Mapping[str, str], path: Path = DEV_ENV, pid: Optional[int] = None
) -> Optional[Path]:
    """Write ``values`` as ``export NAME='value'`` lines, readable only by the owner, unless
    another live stack owns the file: then None, and the file is left as it is."""
    pid = os.getpid() if pid is None else pid
    holder = owner(path)
    if holder is not None and holder != pid and _alive(holder):
        return None
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = "".join(f"export {name}={shlex.quote(value)}\n" for name, value in values.items())
    temporary = path.with_name(f"{path.name}.{pid}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)  # it holds a secret
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(f"{_HEADER}# pid {pid}\n{lines}")
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


def remove(path: Path = DEV_ENV, pid: Optional[int] = None) -> None:
    """Forget the stack's settings (it stopped), if the file is still its own."""
    if owner(path) in (None, os.getpid() if pid is None else pid):
        path.unlink(missing_ok=True)


def apply(environ: MutableMapping[str, str], path: Path = DEV_ENV) -> Optional[Path]:
    """Load ``path`` into ``environ`` unless ``environ`` has a configuration of its own.

    Returns the file loaded, or None (the environment set ``WXAPUSH_APPID``, or no stack runs).
    """
    if (environ.get("WXAPUSH_APPID") or "").strip() or not path.is_file():
        return None
    environ.update(read(path))
    return path
