"""How long a Kubernetes CronJob schedule can leave between two runs.

The schedule is parsed by croniter (five fields or a macro such as ``@hourly``, as the CronJob
controller accepts); the longest gap is then computed over two years of calendar, honouring the
month, day-of-month and day-of-week fields (both day fields restricted means either may match, as
in cron). A schedule that never runs (``0 0 31 2 *``) has an infinite gap.
"""

from __future__ import annotations

import datetime
import functools
import itertools
import math

from croniter import croniter

_WINDOW_DAYS = 2 * 366
_START = datetime.date(2026, 1, 1)


def _values(field: list[int | str], full: range) -> set[int] | None:
    if field == ["*"]:
        return set(full)
    if not all(isinstance(v, int) for v in field):
        return None
    return {int(v) for v in field}


@functools.lru_cache(maxsize=256)
def max_gap_minutes(schedule: str) -> float | None:
    """The longest interval between two consecutive runs, in minutes; None if not a valid schedule."""
    if not isinstance(schedule, str) or len(schedule.split()) not in (1, 5):
        return None
    try:
        fields, _ = croniter.expand(schedule)
    except Exception:  # croniter raises several types for malformed expressions
        return None
    if len(fields) != 5:
        return None
    minutes, hours = _values(fields[0], range(60)), _values(fields[1], range(24))
    doms, months, dows = (
        _values(fields[2], range(1, 32)),
        _values(fields[3], range(1, 13)),
        _values(fields[4], range(7)),
    )
    if None in (minutes, hours, doms, months, dows):
        return None
    assert minutes is not None and hours is not None and doms is not None and months is not None and dows is not None
    dows = {d % 7 for d in dows}
    dom_restricted, dow_restricted = fields[2] != ["*"], fields[4] != ["*"]
    times = sorted(h * 60 + m for h in hours for m in minutes)
    if not times:
        return math.inf
    days = []
    for offset in range(_WINDOW_DAYS):
        day = _START + datetime.timedelta(days=offset)
        dom_ok, dow_ok = day.day in doms, (day.weekday() + 1) % 7 in dows
        ok = (dom_ok or dow_ok) if dom_restricted and dow_restricted else (dom_ok and dow_ok)
        if day.month in months and ok:
            days.append(offset)
    runs = len(days) * len(times)
    if runs < 2:
        return math.inf
    gap = max((b - a for a, b in itertools.pairwise(times)), default=0)
    for a, b in itertools.pairwise(days):
        gap = max(gap, (b * 1440 + times[0]) - (a * 1440 + times[-1]))
    return float(gap)
