"""A regular expression compiled at its first use, not at import.

Compiling is the costly part of a pattern (the keyword rules' Chinese character classes take
milliseconds each), and most patterns of a module are not needed by a given cold start.
"""

from __future__ import annotations

import re
from typing import Optional


class LazyPattern:
    """``re.compile(source, flags)``, done by the first :meth:`get`."""

    __slots__ = ("_compiled", "_flags", "_source")

    def __init__(self, source: str, flags: int = 0) -> None:
        self._source = source
        self._flags = flags
        self._compiled: Optional[re.Pattern[str]] = None

    def get(self) -> re.Pattern[str]:
        compiled = self._compiled
        if compiled is None:  # a race only compiles twice; both results are equal
            compiled = self._compiled = re.compile(self._source, self._flags)
        return compiled
