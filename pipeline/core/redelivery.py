"""Redelivery detection and in-order acknowledgement: the pure part of the crash proof.

Kafka delivers an input again after a crash when its offset was not committed. A stage's state
remembers the source positions (topic:partition:offset) of the inputs it holds, so an input whose
effects are already in the state is recognised and skipped; and a stage that finishes inputs out
of offset order (the reorder window) acknowledges them strictly in offset order, so a commit never
passes an input still waiting. Both are plain data rules, used by the step objects
(:mod:`pipeline.core.steps`) live and offline; :mod:`pipeline.stream.delivery` re-exports them next
to the Kafka-side protocol they serve.
"""

from __future__ import annotations

from collections import deque

#: How many recent source positions a key's state remembers (inputs redelivered after a crash are
#: at most one commit interval old, far fewer than this per key).
RECENT_SOURCES = 256


def source_position(topic: str, partition: int, offset: int) -> str:
    return f"{topic}:{partition}:{offset}"


def seen(state: dict | None, source: str) -> bool:
    return state is not None and source in state.get("_sources", ())


def remember(state: dict, source: str) -> None:
    sources: list[str] = state.setdefault("_sources", [])
    sources.append(source)
    if len(sources) > RECENT_SOURCES:
        del sources[: len(sources) - RECENT_SOURCES]


def last_offset(state: dict) -> int:
    """The input offset of the newest source the state remembers (-1 if none)."""
    sources = state.get("_sources") or ()
    return max((int(s.split("/")[0].rsplit(":", 1)[1]) for s in sources), default=-1)


class OffsetAcks:
    """Which of one partition's input offsets may be acknowledged, strictly in offset order.

    faust commits the first run of consecutive acknowledged offsets, and it does not see a gap at
    the head of that run right after a start or when one offset is missing. A stage that finishes
    inputs out of order would then commit past an input still waiting, and lose it in a crash. So
    an input is released for acknowledgement only once every input received before it (on that
    partition) is finished too.
    """

    def __init__(self) -> None:
        self._received: deque[int] = deque()  # offsets in arrival (= offset) order
        self._finished: set[int] = set()

    def received(self, offset: int) -> None:
        self._received.append(offset)

    def finished(self, offset: int) -> list[int]:
        """Mark one input finished; returns the offsets now safe to acknowledge, in order."""
        self._finished.add(offset)
        out = []
        while self._received and self._received[0] in self._finished:
            done = self._received.popleft()
            self._finished.discard(done)
            out.append(done)
        return out

    def __len__(self) -> int:
        return len(self._received)
