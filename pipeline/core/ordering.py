"""The reorder window between stages.

Stage 2 applies agent events and the interaction actions that reach it in ``EventTime`` order,
holding its input for a bounded window of event time (default 2 s): input out of order by less than
the window is applied as if it had come in order, and with the watermarks below the number of
stage 1 partitions does not change the result (tested with 3 partitions on a backlog). It promises
no more: input later than the window can change the result (below). With several workers a
rebalance drops held input, which is delivered again from the committed offset (README, "Several
workers").

At equal time: agent events first (input order), then interaction bundles, per interaction in input
order, interactions by InteractionID. An item older than what was already released is applied on
arrival and counted as late.
"""

from __future__ import annotations

import heapq
from typing import Any

from pipeline.records.durations import parse_duration

#: The spec's default: input out of EventTime order by up to 2 s is applied in order.
DEFAULT_WINDOW_MS = 2000
#: The longest window ``--reorder-window`` takes. Everything in a window is held in memory and
#: every output waits for it; input later than minutes is better counted late than waited for.
MAX_WINDOW_MS = 600_000


def parse_window(text: str) -> int:
    """``--reorder-window``: ``2s`` (the default), ``500ms``, ``0`` … up to ``10m``; milliseconds.

    The window is the time every action waits for input that may still come before it: raw event →
    action latency is at least the window, so a site whose events arrive in order (one bridge, one
    partition) can shorten it; one with several bridges or clocks that disagree lengthens it.
    Replay must be given the same window as the worker to give the same records.
    """
    ms = parse_duration(text, "2s, 500ms, 0")
    if ms > MAX_WINDOW_MS:
        raise ValueError(f"reorder window {text.strip()!r} is longer than the most accepted, 10m")
    return ms


class ReorderBuffer:
    """A min-heap on (time, rank...) released once the event clock passes time + window."""

    def __init__(self, window_ms: int = DEFAULT_WINDOW_MS) -> None:
        self.window_ms = window_ms
        self._heap: list[tuple] = []
        self._arrivals = 0
        self.max_seen: int | None = None
        self.released_to: int | None = None  # time of the newest item released so far
        self.late = 0

    def __len__(self) -> int:
        return len(self._heap)

    def observe(self, time: int) -> None:
        """Advance the event clock without adding an item (input that reaches no agent)."""
        if self.max_seen is None or time > self.max_seen:
            self.max_seen = time

    def is_late(self, time: int) -> bool:
        """Older than the window, or than something already released: it can no longer be ordered."""
        if self.max_seen is not None and time < self.max_seen - self.window_ms:
            return True
        return self.released_to is not None and time < self.released_to

    def push(self, time: int, rank: tuple, item: Any) -> list[Any]:
        """Add an item; returns what is now ready (the item itself at once when it is late)."""
        self._arrivals += 1
        if self.is_late(time):
            self.late += 1
            return [item]
        heapq.heappush(self._heap, (time, rank, self._arrivals, item))
        self.observe(time)
        return self.ready()

    def hold(self, time: int, rank: tuple, item: Any) -> list[Any]:
        """Add an item without releasing others; returns ``[item]`` at once when it is late.

        For watermark-driven release: late means older than something already released (the
        event clock may be far ahead of a slower upstream partition without that being late).
        """
        self._arrivals += 1
        if self.released_to is not None and time < self.released_to:
            self.late += 1
            return [item]
        heapq.heappush(self._heap, (time, rank, self._arrivals, item))
        self.observe(time)
        return []

    def release_to(self, limit: int) -> list[Any]:
        """Everything at or before ``limit``, in order."""
        return self._release_to(limit)

    def ready(self, now: int | None = None) -> list[Any]:
        """Items whose time is at least ``window`` behind the clock (event clock unless ``now``)."""
        clock = self.max_seen if now is None else max(now, self.max_seen or now)
        if clock is None:
            return []
        return self._release_to(clock - self.window_ms)

    def flush(self) -> list[Any]:
        """Everything, in order (end of a file; or a wall-time flush live)."""
        if not self._heap:
            return []
        return self._release_to(max(t for t, *_ in self._heap))

    def _release_to(self, limit: int) -> list[Any]:
        out = []
        heap = self._heap
        while heap and heap[0][0] <= limit:
            time, _, _, item = heapq.heappop(heap)
            out.append(item)
            self.released_to = time
        return out


def agent_event_rank(arrival: int) -> tuple:
    """Agent events come first at equal time, in input order."""
    return (0, "", arrival)


def bundle_rank(interaction_id: str, seq: int) -> tuple:
    """Then interaction actions: interactions by id, each in its own input order."""
    return (1, interaction_id, seq)


def rank_of(item: dict, arrival: int) -> tuple:
    """Rank of a stage-2 input: a bundle (it has ``Actions``) or an agent event (by arrival)."""
    if "Actions" in item:
        return bundle_rank(item["InteractionID"], item["Seq"])
    return agent_event_rank(arrival)


def action_rank(action: dict, arrival: int) -> tuple:
    """Stage 3's order at equal ``EventTime``, from the data alone, whatever the partitions.

    Agent and Place actions first, per agent in the order stage 2 produced them (``arrival``: one
    agent's actions come from one stage-2 partition, in order), agents by Tenant/AgentID; then
    Queue actions, per interaction in the order stage 1 produced them, interactions by id. Replay
    and the Kafka stage 3 rank alike, so the engine sees the same sequence of actions.
    """
    tenant = action.get("TenantID") or ""
    if action.get("ObjectType") == "Queue":
        return (1, tenant, action.get("InteractionID") or action.get("ObjectID") or "", arrival)
    return (0, tenant, action.get("AgentID") or action.get("ObjectID") or "", arrival)


def instant_ends(items: list[dict], skip: list[bool] | None = None) -> list[bool]:
    """For each stage-2 input of a released batch: is it the agent's last input of that instant?

    Stage 2 evaluates Routable / NotRoutable there (see ``agents.apply_input``). A batch holds
    every input up to the release time, so all inputs of one agent and instant are in it together.
    Inputs marked in ``skip`` (repeats that stage 2 will drop) are never an instant's end, so that
    the evaluation happens where it would without them.
    """
    skipped = skip or [False] * len(items)
    last: dict[tuple, int] = {}
    for i, item in enumerate(items):
        if not skipped[i]:
            last[(item["TenantID"], item["AgentID"], item["EventTime"])] = i
    return [
        last.get((item["TenantID"], item["AgentID"], item["EventTime"])) == i for i, item in enumerate(items)
    ]


class Watermarks:
    """How far each upstream partition has got in event time; release up to the slowest active one.

    Stage 2's inputs come from every partition of stage 1. Processing a backlog, one upstream
    partition can run hours of event time ahead of another, far beyond the reorder window; releasing
    on the event clock alone would then make the other partition's inputs late, and the result
    would depend on partitioning. Stage 1 therefore announces, per partition, the largest event time
    it has finished; stage 2 releases inputs up to the smallest announced time minus the window. A
    partition that has announced nothing for ``idle_s`` of wall time (no traffic, or its worker is
    gone) stops holding the others back; with no active partition the event-clock rule applies.
    """

    def __init__(self, sources: int, window_ms: int = DEFAULT_WINDOW_MS, idle_s: float = 5.0,
                 started: float = 0.0) -> None:
        self.sources = max(1, sources)
        self.window_ms = window_ms
        self.idle_s = idle_s
        self.started = started
        self._marks: dict[int, tuple[int, float]] = {}  # source partition → (event time, wall time)
        self._held: dict[int, float] = {}  # source with input unread and no mark yet → wall time

    def update(self, source: int, time: int, wall: float) -> None:
        current = self._marks.get(source)
        if current is None or time >= current[0]:
            self._marks[source] = (time, wall)
        self._held.pop(source, None)

    def hold(self, source: int, wall: float) -> None:
        """``source`` has input it has not read yet: it is not idle, however long it has been quiet.

        Without it, a source that has been quiet past ``idle_s`` (a partition without traffic while
        the others had some) stops holding the others back, and when a backlog then reaches every
        source at once, the others' marks run minutes ahead of its first one: its input comes late.
        A source with a mark keeps that mark, now active; one without holds everything back until
        it announces one (or stays without a hold for ``idle_s``).
        """
        current = self._marks.get(source)
        if current is not None:
            self._marks[source] = (current[0], wall)
        else:
            self._held[source] = wall

    def _holding(self, wall: float) -> bool:
        return any(wall - seen < self.idle_s for seen in self._held.values())

    def lowest(self) -> int | None:
        """The smallest mark once every source has announced one (idle or not), else ``None``.

        Stage 3's release: on the event clock it waits for every source, however long that takes.
        """
        if len(self._marks) < self.sources:
            return None
        return min(t for t, _ in self._marks.values())

    def highest(self) -> int | None:
        """The largest mark announced (``None`` before any): how far input has gone at all."""
        return max((t for t, _ in self._marks.values()), default=None)

    def idle(self, wall: float) -> bool:
        """No source has announced for ``idle_s`` (and the start-up grace is over)."""
        if wall - self.started < self.idle_s or self._holding(wall):
            return False
        return all(wall - seen >= self.idle_s for _, seen in self._marks.values())

    def marks(self) -> dict[int, int]:
        """Source → its mark (for a checkpoint)."""
        return {source: t for source, (t, _) in self._marks.items()}

    def limit(self, wall: float, fallback: int | None) -> int | None:
        """Release inputs at or before this time (``None``: hold everything for now)."""
        if self._holding(wall):
            return None  # a source with unread input has not announced anything yet
        active = [t for t, seen in self._marks.values() if wall - seen < self.idle_s]
        if len(active) == self.sources:
            return min(active) - self.window_ms
        if wall - self.started < self.idle_s:
            return None  # some partitions have not spoken yet: give them time
        if active:
            return min(active) - self.window_ms
        return fallback
