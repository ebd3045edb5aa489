"""Replay's driver of the action flow: events → stage 1 → stage 2 → actions, on one partition.

It runs the same step objects as the Kafka stages (:mod:`pipeline.core.steps`) over dict tables:
one :class:`~pipeline.core.steps.InteractionStep` and one :class:`~pipeline.core.steps.AgentStep`,
stage 1's messages handed to stage 2 at once, in order. Stage 2 releases on replay's event clock
(``release="clock"``: the file is one upstream in order, so the largest time seen is its watermark);
:mod:`pipeline.topology` runs the same steps with any number of partitions and watermarks.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator

from pipeline.core.capacity import CapacityConfig
from pipeline.core.ordering import DEFAULT_WINDOW_MS, ReorderBuffer
from pipeline.core.steps import (
    ACTIONS,
    AGENT_INPUTS,
    DEFAULT_RETENTION_MS,
    AgentStep,
    DictTable,
    InteractionStep,
    Message,
)
from pipeline.records.keys import agent_key, interaction_key

__all__ = ["DEFAULT_RETENTION_MS", "CoreDriver", "agent_key", "interaction_key"]


class CoreDriver:
    """Feed validated events with :meth:`push`; collect the action records it returns."""

    def __init__(
        self,
        capacity: CapacityConfig | None = None,
        window_ms: int = DEFAULT_WINDOW_MS,
        retention_ms: int = DEFAULT_RETENTION_MS,
    ) -> None:
        self.capacity = capacity or CapacityConfig()
        self._counts: Counter[str] = Counter()
        self._interactions = DictTable()
        self._agents = DictTable()
        # stats_partitions=0: replay applies the actions itself; no stats-inputs bundles are made
        self.stage1 = InteractionStep(0, self._interactions, stats_partitions=0, retention_ms=retention_ms,
                                      counts=self._counts)
        self.stage2 = AgentStep(0, self._agents, self.capacity, stats_partitions=0, window_ms=window_ms,
                                release="clock", counts=self._counts)
        self._offset = 0  # of the next event (stage 1's input partition)
        self._agent_offset = 0  # of the next agent input (stage 2's input partition)

    # -- what tests and replay read ----------------------------------------------------------------

    @property
    def buffer(self) -> ReorderBuffer:
        """Stage 2's reorder window."""
        return self.stage2.buffer

    @property
    def interactions(self) -> dict[bytes, dict]:
        return self._interactions.data

    @property
    def agents(self) -> dict[bytes, dict]:
        return self._agents.data

    @property
    def counters(self) -> Counter[str]:
        """events, ignored, duplicates, late (and actions, redelivered)."""
        return Counter({k: v for k, v in self._counts.items() if not k.startswith("anomaly:")})

    @property
    def anomalies(self) -> Counter[str]:
        return Counter({k[8:]: v for k, v in self._counts.items() if k.startswith("anomaly:") and v})

    # -- input ---------------------------------------------------------------------------------

    def push(self, event: dict) -> list[dict]:
        """Apply one validated event; returns the action records released by it, in order."""
        return list(self.iter_push(event))

    def iter_push(self, event: dict) -> Iterator[dict]:
        """:meth:`push` one action at a time: stage 1 applies the event at once, and each input
        stage 2 releases is applied only as the actions before it have been read. One event can
        release a whole instant (every agent logging out at the end of a shift: 148,000 actions at
        10,000 agents); replay hands each action on as it is made and never holds them all."""
        offset = self._offset
        self._offset += 1
        self._counts["events"] += 1
        # One partition and no crash: every input before this one is durable (committed).
        messages = self.stage1.step(offset, event, committed=offset + 1)
        messages += self.stage1.end_batch(force=True)
        return self._deliver(messages)

    def flush(self) -> list[dict]:
        """End of input: release everything still held in the reorder window."""
        return list(self.iter_flush())

    def iter_flush(self) -> Iterator[dict]:
        """:meth:`flush` one action at a time (see :meth:`iter_push`)."""
        return (m.value for m in self.stage2.iter_flush() if m.kind == ACTIONS)

    def push_all(self, events: Iterable[dict]) -> list[dict]:
        out: list[dict] = []
        for event in events:
            out.extend(self.push(event))
        out.extend(self.flush())
        return out

    def _deliver(self, messages: list[Message]) -> Iterator[dict]:
        """Stage 1's actions as they are; its agent inputs through stage 2, in production order."""
        for m in messages:
            if m.kind == ACTIONS:
                yield m.value
            elif m.kind == AGENT_INPUTS:
                offset = self._agent_offset
                self._agent_offset += 1
                for r in self.stage2.iter_step_on_clock(offset, m.value):
                    if r.kind == ACTIONS:
                        yield r.value
