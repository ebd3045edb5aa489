"""A broker-free driver of the whole action flow: events → interactions → agents → actions.

It plays, in one process, what the Kafka pipeline does across topics and workers: stage 1 per
InteractionID, the reorder window, stage 2 per Tenant/Agent. ``replay`` and the tests use it (the
analogue of Kafka Streams' TopologyTestDriver); the Faust stages call the same ``track`` /
``apply_input`` functions over their RocksDB tables.
"""

from __future__ import annotations

from collections import Counter, deque
from collections.abc import Iterable

from pipeline.core import agents, interactions
from pipeline.core.capacity import CapacityConfig
from pipeline.core.ordering import DEFAULT_WINDOW_MS, ReorderBuffer, rank_of
from pipeline.records.catalog import AGENT_EVENTS, IGNORED_EVENTS
from pipeline.records.keys import agent_key, interaction_key

#: How long a finished interaction is kept to absorb trailing events without anomalies.
DEFAULT_RETENTION_MS = 3_600_000


class CoreDriver:
    """Feed validated events with :meth:`push`; collect the action records it returns."""

    def __init__(
        self,
        capacity: CapacityConfig | None = None,
        window_ms: int = DEFAULT_WINDOW_MS,
        retention_ms: int = DEFAULT_RETENTION_MS,
    ) -> None:
        self.capacity = capacity or CapacityConfig()
        self.interactions: dict[str, dict] = {}
        self.agents: dict[str, dict] = {}
        self.buffer = ReorderBuffer(window_ms)
        self.retention_ms = retention_ms
        self.counters: Counter[str] = Counter()
        self.anomalies: Counter[str] = Counter()
        self._finished: deque[tuple[int, str]] = deque()
        self._agent_arrivals = 0

    # -- input ---------------------------------------------------------------------------------

    def push(self, event: dict) -> list[dict]:
        """Apply one validated event; returns the action records released by it, in order."""
        self.counters["events"] += 1
        name = event["Event"]
        if name in IGNORED_EVENTS:
            self.counters["ignored"] += 1
            return []
        if name in AGENT_EVENTS:
            self._agent_arrivals += 1
            ready = self.buffer.push(event["EventTime"], rank_of(event, self._agent_arrivals), event)
            return self._apply_stage2(ready)
        out = self._apply_stage1(event)
        return out

    def flush(self) -> list[dict]:
        """End of input: release everything still held in the reorder window."""
        return self._apply_stage2(self.buffer.flush())

    def push_all(self, events: Iterable[dict]) -> list[dict]:
        out: list[dict] = []
        for event in events:
            out.extend(self.push(event))
        out.extend(self.flush())
        return out

    # -- stages --------------------------------------------------------------------------------

    def _apply_stage1(self, event: dict) -> list[dict]:
        key = interaction_key(event)
        state, result = interactions.track(self.interactions.get(key), event)
        self.interactions[key] = state
        if result.duplicate:
            self.counters["duplicates"] += 1
            return []
        self.anomalies.update(result.anomalies)
        if event["Event"] == "EventProcessingStopped":
            self._finished.append((state["stopped_at"], key))
        out = list(result.queue_actions)
        ready: list = []
        for bundle in result.bundles:
            ready.extend(
                self.buffer.push(bundle["EventTime"], rank_of(bundle, 0), bundle)
            )
        if not result.bundles:
            self.buffer.observe(event["EventTime"])
            ready.extend(self.buffer.ready())
        out.extend(self._apply_stage2(ready))
        self._expire(event["EventTime"])
        return out

    def _apply_stage2(self, items: list) -> list[dict]:
        out: list[dict] = []
        points = agents.evaluation_points(items, self._agent_state)
        for item, evaluate in zip(items, points, strict=True):
            key = agent_key(item["TenantID"], item["AgentID"])
            state, result = agents.apply_input(self.agents.get(key), item, self.capacity, evaluate)
            self.agents[key] = state
            self.counters["duplicates"] += result.duplicate
            self.anomalies.update(result.anomalies)
            out.extend(result.actions)
        self.counters["late"] = self.buffer.late
        return out

    def _agent_state(self, item: dict) -> dict | None:
        return self.agents.get(agent_key(item["TenantID"], item["AgentID"]))

    def _expire(self, now: int) -> None:
        """Forget finished interactions once their retention has passed (bounded state)."""
        while self._finished and self._finished[0][0] + self.retention_ms <= now:
            stopped_at, key = self._finished.popleft()
            state = self.interactions.get(key)
            if state is not None and state["stopped_at"] == stopped_at:
                del self.interactions[key]
