"""Instruments the stages fill and ``/metrics`` shows: a processing-latency histogram, and the
clocks check.

The clocks check: on the wall clock, statistics intervals follow today's time, so events from an
earlier interval (a file of yesterday fed to a live worker) only count as late. The worker says
so once in its log and in ``/metrics`` (``mediastat_clock_mismatch``), pointing to ``--clock
event``, instead of publishing zeros in silence.
"""

from __future__ import annotations

import logging
from collections import Counter

from prometheus_client import CollectorRegistry, Histogram

from pipeline.records.times import to_iso

log = logging.getLogger("mediastat.clock")

#: The worker's counters, per stage: events in, actions out, dead letters by reason (``dead-letter:<kind>``),
#: duplicates, anomalies by kind (``anomaly:<kind>``), late input, redeliveries, statistic records.
#: Plain counters (cheap on the hot path), read by ``/metrics`` at scrape time.
STAGES: dict[str, Counter[str]] = {
    "stage1": Counter(), "stage2": Counter(), "stage3": Counter(), "stage4": Counter(),
}

#: The offset guard (:mod:`pipeline.stream.guard`) counts in ``STAGES`` too: ``guard:ahead`` (inputs
#: ahead of the expected offset, not processed), ``guard:repeat`` (below it: redeliveries),
#: ``guard:seeks``, ``guard:not-ours``, ``guard:silent`` (reports). Partitions silent now while they
#: have lag: (stage, topic, partition) → messages to read when reported.
SILENT_PARTITIONS: dict[tuple[str, str, int], int] = {}

#: Stage instruments live in their own registry; the web side adds its collectors to a copy.
REGISTRY = CollectorRegistry(auto_describe=True)
PROCESSING = Histogram(
    "mediastat_processing_seconds",
    "Time a stage takes to handle one input message (decode, core, send, state; a batch's "
    "messages each observe their share)",
    ["stage"],
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
    registry=REGISTRY,
)


class ClockWatch:
    """Counts input older than the current statistics interval on the wall clock; warns once."""

    def __init__(self) -> None:
        self.late = 0
        self.warned = False

    def observe(self, late_total: int, event_time: int | None, now: int) -> bool:
        """``late_total``: the engine's late contributions so far. Returns True when it warned now."""
        if late_total <= self.late:
            return False
        self.late = late_total
        if self.warned:
            return False
        self.warned = True
        seen = f" (an event of {to_iso(event_time)})" if event_time is not None else ""
        log.warning(
            "statistics: events arrive older than the current interval on the wall clock%s, now %s: "
            "they change state but count as late, so today's statistics do not include them. "
            "For a backfill of past events run the worker with --clock event.",
            seen,
            to_iso(now),
        )
        return True


CLOCK = ClockWatch()
