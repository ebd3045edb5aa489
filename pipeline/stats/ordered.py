"""Stage 3's pure core: actions → reorder window → statistics engine.

Actions reach stage 3 interleaved (Queue actions leave stage 1 at once, agent actions wait in
stage 2's window), so stage 3 re-orders them by ``EventTime`` with the same window before the
engine sees them (README "Order"). Replay and the Faust stage both drive this class, so the
statistics they send are the same records in the same order.
"""

from __future__ import annotations

from typing import Any

from pipeline.config import Config
from pipeline.core.ordering import DEFAULT_WINDOW_MS, ReorderBuffer
from pipeline.stats.engine import StatEngine


class OrderedStats:
    """Push actions (each with an opaque ``tag`` returned once it is applied); collect records."""

    def __init__(self, config: Config, window_ms: int = DEFAULT_WINDOW_MS) -> None:
        self.engine = StatEngine(config)
        self.buffer = ReorderBuffer(window_ms)
        self._arrivals = 0

    def push(self, action: dict, tag: Any = None) -> tuple[list[Any], list[dict]]:
        """Add one action; returns (tags of the actions applied now, statistic records)."""
        self._arrivals += 1
        return self._apply(self.buffer.push(action["EventTime"], (self._arrivals,), (action, tag)))

    def release(self, clock: int) -> tuple[list[Any], list[dict]]:
        """Apply what the event clock has moved past the window."""
        self.buffer.observe(clock)
        return self._apply(self.buffer.ready())

    def flush(self) -> tuple[list[Any], list[dict]]:
        return self._apply(self.buffer.flush())

    def advance(self, now: int) -> list[dict]:
        """Move the engine's clock (resets, Time notifications) without new actions."""
        return self.engine.advance(now)

    def finals(self, until: int) -> list[dict]:
        return self.engine.finals(until)

    def _apply(self, released: list[tuple[dict, Any]]) -> tuple[list[Any], list[dict]]:
        tags: list[Any] = []
        records: list[dict] = []
        for action, tag in released:
            records.extend(self.engine.advance(action["EventTime"]))
            records.extend(self.engine.on_action(action, action["EventTime"]))
            tags.append(tag)
        return tags, records
