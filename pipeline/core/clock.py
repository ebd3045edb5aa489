"""Clocks. The core never reads the wall clock: time comes in from outside.

In replay and tests the **event clock** (largest EventTime seen, or a fixed ``--until``) drives
everything; live, the wall clock, never behind the event clock.
"""

from __future__ import annotations

import time
from collections.abc import Callable


class EventClock:
    """The largest event time observed; tests may also set it directly."""

    def __init__(self, start_ms: int = 0) -> None:
        self._now = start_ms

    def observe(self, ms: int) -> int:
        if ms > self._now:
            self._now = ms
        return self._now

    def now(self) -> int:
        return self._now


class WallClock(EventClock):
    """Wall time, but never behind the event clock (late-arriving events must not rewind it)."""

    def __init__(self, source: Callable[[], float] = time.time) -> None:
        super().__init__(0)
        self._source = source

    def now(self) -> int:
        return self.observe(int(self._source() * 1000))
