"""``<prefix>.late`` on Kafka: the stages report late input here, one call each.

Stage 2 calls :meth:`LateSink.stage2` after holding an input (it checks whether the reorder buffer
counted it late); stage 3 calls :meth:`LateSink.watch` once per partition engine
(:class:`~pipeline.stats.late_watch.LateWatch`). Records are sent by a timer of their own every
:data:`FLUSH_S`, not awaited in the stages' paths: they are diagnostics, and a redelivered input
found late again after a crash gives the same ``LateID`` (readers drop repeats by it).
"""

from __future__ import annotations

import time
import weakref
from typing import Any

import faust

from pipeline.records.codec import encode
from pipeline.records.late import stage2_late
from pipeline.stats.late_watch import LateWatch
from pipeline.stream.producer import shared_producer

FLUSH_S = 0.5


class LateSink:
    """Late records of one app, waiting to be sent to ``topics.late``."""

    def __init__(self, app: faust.App, topics: Any, settings: Any) -> None:
        self.name = topics.late
        self.producer = shared_producer(app, settings)
        self.serialization = getattr(settings, "serialization", None)  # the worker's framing
        self.pending: list[dict[str, Any]] = []
        self.watches: weakref.WeakSet[LateWatch] = weakref.WeakSet()
        self.sent = 0

        @app.timer(interval=FLUSH_S, name="late-records")
        async def send_late() -> None:
            await self.flush()

    def stage2(self, buffer: Any, late_before: int, item: dict[str, Any], source: str | None) -> None:
        """After ``buffer.hold(item)``: a record when the buffer counted it late."""
        if buffer.late > late_before and buffer.released_to is not None:
            self.pending.append(stage2_late(item, buffer.released_to, int(time.time() * 1000), source))

    def watch(self, stats: Any) -> LateWatch:
        """Report the actions that ``stats`` (an OrderedStats) counts late."""
        watch = LateWatch(stats)
        self.watches.add(watch)
        return watch

    def take(self) -> list[dict[str, Any]]:
        out, self.pending = self.pending, []
        for watch in list(self.watches):
            out += watch.take()
        return out

    def encode(self, record: dict[str, Any]) -> bytes:
        if self.serialization is None:
            return encode("LateRecord", record)
        return self.serialization.encode("LateRecord", record, self.name)

    async def flush(self) -> None:
        records = self.take()
        if records:
            batch = self.producer.batch()  # the worker's one producer (pipeline.stream.producer)
            for r in records:
                batch.produce(self.name, r["LateID"].encode(), self.encode(r))
            await batch.delivered()
            self.sent += len(records)


def sink(app: faust.App, topics: Any, settings: Any) -> LateSink:
    """The app's one sink (made on first use, so either stage may ask first)."""
    existing = getattr(app, "_mediastat_late_sink", None)
    if existing is None:
        existing = LateSink(app, topics, settings)
        app._mediastat_late_sink = existing  # type: ignore[attr-defined]
    return existing
