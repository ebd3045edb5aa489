"""Which actions stage 3 counted as late, one by one (for ``<prefix>.late``).

The engine only keeps a count of late contributions (``StatEngine.late``: contributions whose
interval had closed), summed over every accumulator. Summing it around every action would cost
O(accumulators) per action, so :class:`LateWatch` first asks whether the action *can* be late:
its ``EventTime`` is before the latest start of a current interval (Growing: the last reset;
Sliding: the window's oldest bucket) at the engine's clock. Only such actions, rare live, are
measured; an action in time costs one comparison. Late contributions of ``SinceLogin`` statistics
(an action after its agent's session closed) are not reported: they are counted by the engine but
any action could be one, so finding them would cost the O(accumulators) sum on every action.

The watch wraps the engine's ``on_action_rows`` (which its public ``on_action`` calls) of one
:class:`~pipeline.stats.ordered.OrderedStats` instance, so stage 3 and replay need one call each and
the engine is not changed.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from pipeline.records.late import stage2_late, stage3_late
from pipeline.records.times import parse_time
from pipeline.stats import profiles


class LateWatch:
    """Collects a ``LateRecord`` (``pending``) for every action the engine counted late."""

    def __init__(
        self,
        stats: Any,
        wall_ms: Callable[[], int] | None = None,
        sink: Callable[[dict[str, Any]], None] | None = None,
    ) -> None:
        self.engine = stats.engine
        self.pending: list[dict[str, Any]] = []
        self.sink = sink if sink is not None else self.pending.append
        self._wall_ms = wall_ms or (lambda: int(time.time() * 1000))
        seen: dict[str, Any] = {}
        for stat in self.engine.config.statistics:
            if stat.profile.kind in ("Growing", "Sliding"):
                seen.setdefault(stat.profile.name, stat.profile)
        self._profiles = tuple(seen.values())
        self._bound: int | None = None
        self._valid: tuple[int, int] | None = None  # clock range [from, until) the bound holds for
        # ``on_action_rows``: the engine's ``on_action`` and stage 3 (``OrderedStats``) both go through it
        self._on_action = self.engine.on_action_rows
        self.engine.on_action_rows = self.on_action  # instance attribute: this engine only

    def bound(self, clock: int) -> int | None:
        """The latest start of a current Growing/Sliding interval at ``clock`` (None: no such profile)."""
        if self._valid is not None and self._valid[0] <= clock < self._valid[1]:
            return self._bound
        starts, ends = [], []
        for p in self._profiles:
            if p.kind == "Growing":
                starts.append(profiles.last_reset(p, clock))
                ends.append(profiles.next_reset(p, clock))
            else:
                starts.append(profiles.window_start(p, clock))
                ends.append(profiles.next_step(p, clock))
        self._bound = max(starts, default=None)
        self._valid = (clock, min(ends, default=clock + 1))
        return self._bound

    def on_action(self, action: dict[str, Any], now_ms: int) -> list[Any]:
        """The engine's ``on_action_rows``, measuring the late contributions of a possibly late action."""
        t = parse_time(action["EventTime"])
        clock = max(int(now_ms), t, self.engine.clock or 0)
        bound = self.bound(clock)
        if bound is None or t >= bound:
            return self._on_action(action, now_ms)
        before = self.engine.late
        out = self._on_action(action, now_ms)
        lost = self.engine.late - before
        if lost > 0:
            self.sink(stage3_late({**action, "EventTime": t}, bound, self._wall_ms(), lost))
        return out

    def take(self) -> list[dict[str, Any]]:
        """The records found since the last call (without a ``sink``)."""
        out = list(self.pending)
        self.pending.clear()
        return out


def watch_replay(
    buffer: Any, stats: Any, sink: Callable[[dict[str, Any]], None] | None, clock: Callable[[int], int]
) -> None:
    """Replay's late records, to ``sink``: stage 2's reorder ``buffer`` (inputs it counts late) and,
    when statistics run, stage 3's ``stats``. ``clock()`` is replay's event clock, its EmittedAt."""
    if sink is None:
        return
    push = buffer.push

    def watched_push(time_ms: int, rank: tuple, item: Any) -> list[Any]:
        before, applied_to = buffer.late, buffer.released_to
        out = push(time_ms, rank, item)
        if buffer.late > before:
            reference = max(applied_to or 0, (buffer.max_seen or 0) - buffer.window_ms)
            record = item[0] if isinstance(item, tuple) else item  # stage 2 holds (input, source, offset)
            sink(stage2_late(record, reference, clock(), record.get("EventID")))
        return out

    buffer.push = watched_push  # instance attribute: this buffer only
    if stats is not None:
        LateWatch(stats, wall_ms=clock, sink=sink)
