"""SCF timer crons: seven fields, ``second minute hour day month week year``.

Enough of the syntax for the local stack to fire timers as SCF would: ``*``, ``?``, values,
ranges ``a-b``, lists ``a,b`` and steps ``*/n`` / ``a/n`` / ``a-b/n``, month and weekday names,
weekday 0 = Sunday (https://cloud.tencent.com/document/product/583/9708). ``L``, ``W`` and ``#``
are refused rather than misread.
"""

from __future__ import annotations

from datetime import datetime

_NAMES = {
    4: ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"],
    5: ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"],
}
_BOUNDS = [(0, 59), (0, 59), (0, 23), (1, 31), (1, 12), (0, 6), (1970, 2099)]
_FIELDS = ["second", "minute", "hour", "day", "month", "week", "year"]


class Cron:
    """A parsed 7-field cron; ``matches(moment)`` says whether it fires in that second."""

    def __init__(self, expression: str) -> None:
        parts = expression.split()
        if len(parts) != 7:
            raise ValueError(f"a timer cron has 7 fields ({' '.join(_FIELDS)}), got {len(parts)}")
        self.expression = expression
        self.allowed = [_parse(part, index) for index, part in enumerate(parts)]

    def matches(self, moment: datetime) -> bool:
        weekday = (moment.weekday() + 1) % 7  # Python: Monday = 0; SCF: Sunday = 0
        values = [
            moment.second,
            moment.minute,
            moment.hour,
            moment.day,
            moment.month,
            weekday,
            moment.year,
        ]
        return all(value in allowed for value, allowed in zip(values, self.allowed))


def _value(text: str, index: int) -> int:
    names = _NAMES.get(index)
    if names and text.upper() in names:
        return names.index(text.upper()) + (1 if index == 4 else 0)
    if not text.isdigit():
        raise ValueError(f"cron {_FIELDS[index]}: {text!r} is not a value")
    return int(text)


def _parse(part: str, index: int) -> frozenset[int]:
    low, high = _BOUNDS[index]
    allowed: set[int] = set()
    for item in part.split(","):
        body, _, step_text = item.partition("/")
        step = int(step_text) if step_text.isdigit() and int(step_text) > 0 else None
        if step_text and step is None:
            raise ValueError(f"cron {_FIELDS[index]}: bad step in {item!r}")
        if body in ("*", "?"):
            start, stop = low, high
        elif "-" in body:
            first, _, last = body.partition("-")
            start, stop = _value(first, index), _value(last, index)
        else:
            start = _value(body, index)
            stop = high if step else start
        if not (low <= start <= stop <= high):
            raise ValueError(f"cron {_FIELDS[index]}: {item!r} is outside {low}-{high}")
        allowed.update(range(start, stop + 1, step or 1))
    return frozenset(allowed)
