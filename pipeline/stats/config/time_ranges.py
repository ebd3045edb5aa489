"""The ``time_ranges`` section: ``"LOW-HIGH"`` bounds in seconds for the *InTimeRange categories."""

from __future__ import annotations

import re
from typing import Any

from pipeline.stats.config.shapes import Shapes
from pipeline.stats.model import TimeRange

_RANGE = re.compile(r"^(\d+(?:\.\d+)?)\s*-\s*(\d+(?:\.\d+)?)$")


class TimeRangeSection(Shapes):
    def time_ranges(self, section: Any) -> dict[str, TimeRange]:
        ranges: dict[str, TimeRange] = {}
        for key, value in self.mapping(section, "time_ranges").items():
            where = f"time_ranges.{key}"
            name = self.name(key, where)
            m = _RANGE.match(value.strip()) if isinstance(value, str) else None
            if not m:
                self.fail(where, f'expected "LOW-HIGH" in seconds such as "0-30", found {value!r}')
            low, high = float(m[1]), float(m[2])
            if low > high:
                self.fail(where, f"the low bound {m[1]} is above the high bound {m[2]}")
            ranges[name] = TimeRange(name=name, low_s=low, high_s=high)
        return ranges
