"""``GET /metrics``: the worker's counters in the Prometheus text format (prometheus-client).

The stages keep plain ``Counter``s (cheap, no Prometheus import on the hot path); a custom
collector turns them into metric families at scrape time, with the processing histogram and the
clocks check of :mod:`pipeline.telemetry`, consumer lag per partition and the wallboard's
own figures.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator, Mapping

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from pipeline import telemetry
from pipeline.web.store import StatStore

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
#: (topic, partition) → messages not yet read
LagSource = Callable[[], Mapping[tuple[str, int], int]]


class PipelineCollector:
    """Counters of every stage (``{stage: Counter}``), read at each scrape."""

    def __init__(
        self, sources: Mapping[str, Counter], lag: LagSource | None, store: StatStore | None
    ) -> None:
        self.sources = sources
        self.lag = lag
        self.store = store

    def collect(self) -> Iterator[Metric]:
        def family(name: str, doc: str, labels: list[str]) -> CounterMetricFamily:
            return CounterMetricFamily(name, doc, labels=labels)

        events = family("mediastat_events_in", "Raw events read by stage 1", [])
        actions = family("mediastat_actions_out", "Action records sent to the actions topic", ["stage"])
        dead = family("mediastat_dead_letters", "Bad records sent to the dead-letter topic", ["reason"])
        dups = family("mediastat_duplicates", "Repeated events (same EventID) dropped", ["stage"])
        anomalies = family("mediastat_anomalies", "Inconsistent but valid input reconstructed", ["kind"])
        late = family(
            "mediastat_late",
            "Late input (stage2: behind the reorder window; stage3: "
            "contributions to closed statistic intervals)",
            ["stage"],
        )
        redelivered = family(
            "mediastat_redeliveries", "Inputs redelivered after a restart and skipped", ["stage"]
        )
        ignored = family("mediastat_ignored_events", "Events accepted and ignored (EventCustomReporting)", [])
        records = family("mediastat_statistic_records", "Statistic notifications published", [])
        events.add_metric([], 0)
        ignored.add_metric([], 0)
        records.add_metric([], 0)
        for stage in self.sources:
            for fam in (dups, late, redelivered):
                fam.add_metric([stage], 0)
        if "stage1" in self.sources or "stage2" in self.sources:
            for stage in ("stage1", "stage2"):
                actions.add_metric([stage], self.sources.get(stage, Counter()).get("actions", 0))
        reasons: Counter = Counter()
        kinds: Counter = Counter()
        for stage, counts in self.sources.items():
            for key, value in list(counts.items()):
                if key == "events" and stage == "stage1":
                    events.samples.clear()
                    events.add_metric([], value)
                elif key.startswith("dead-letter:"):
                    reasons[key.split(":", 1)[1]] += value
                elif key.startswith("anomaly:"):
                    kinds[key.split(":", 1)[1]] += value
                elif key in ("duplicates", "late", "redelivered"):
                    fam = {"duplicates": dups, "late": late, "redelivered": redelivered}[key]
                    fam.samples[:] = [s for s in fam.samples if s.labels.get("stage") != stage]
                    fam.add_metric([stage], value)
                elif key == "ignored":
                    ignored.samples.clear()
                    ignored.add_metric([], value)
                elif key == "records":
                    records.samples.clear()
                    records.add_metric([], value)
        for reason, value in sorted(reasons.items()):
            dead.add_metric([reason], value)
        for kind, value in sorted(kinds.items()):
            anomalies.add_metric([kind], value)
        yield from (events, actions, dead, dups, anomalies, late, redelivered, ignored, records)

        clock = GaugeMetricFamily(
            "mediastat_clock_mismatch",
            "1 when, on the wall clock, events older than the current statistics interval arrived "
            "(they count as late): for backfills run the worker with --clock event",
        )
        clock.add_metric([], 1 if telemetry.CLOCK.warned else 0)
        yield clock
        clock_late = family(
            "mediastat_clock_late_contributions",
            "Contributions to closed intervals seen by the clocks check",
            [],
        )
        clock_late.add_metric([], telemetry.CLOCK.late)
        yield clock_late

        lag = GaugeMetricFamily(
            "mediastat_consumer_lag",
            "Messages not yet read, per input partition",
            labels=["topic", "partition"],
        )
        if self.lag is not None:
            try:
                lags = self.lag()
            except Exception:  # a consumer in the middle of a rebalance: report none this time
                lags = {}
            for (topic, partition), value in sorted(lags.items()):
                lag.add_metric([topic, str(partition)], value)
        yield lag

        yield from offset_guard(self.sources)

        if self.store is not None:
            received = family("mediastat_wallboard_records", "Statistic records read by the web side", [])
            received.add_metric([], self.store.received)
            yield received
            clients = GaugeMetricFamily("mediastat_wallboard_clients", "Open server-push connections")
            clients.add_metric([], self.store.subscribers)
            yield clients


def offset_guard(sources: Mapping[str, Counter]) -> Iterator[Metric]:
    """The offset guard's figures (pipeline.stream.guard): inputs that came ahead of the offset a
    stage expected (not processed; the stage sought back), below it (redeliveries), the seeks, and
    the partitions silent while they have lag."""
    ahead = CounterMetricFamily(
        "mediastat_offset_ahead",
        "Inputs ahead of the offset the stage expected (a gap after a rebalance): not processed, "
        "the stage sought back",
        labels=["stage"],
    )
    repeats = CounterMetricFamily(
        "mediastat_offset_repeats",
        "Inputs below the offset the stage expected (redelivered)",
        labels=["stage"],
    )
    seeks = CounterMetricFamily(
        "mediastat_offset_seeks", "Seeks back to the expected offset", labels=["stage"]
    )
    reports = CounterMetricFamily(
        "mediastat_silent_partition_reports",
        "Times an assigned partition with lag delivered nothing for the silence limit",
        labels=["stage"],
    )
    for stage, counts in sources.items():
        ahead.add_metric([stage], counts.get("guard:ahead", 0))
        repeats.add_metric([stage], counts.get("guard:repeat", 0))
        seeks.add_metric([stage], counts.get("guard:seeks", 0))
        reports.add_metric([stage], counts.get("guard:silent", 0))
    silent = GaugeMetricFamily(
        "mediastat_silent_partition_lag",
        "Messages to read on an assigned partition silent while it has lag (when reported)",
        labels=["stage", "topic", "partition"],
    )
    for (stage, topic, partition), lag in sorted(telemetry.SILENT_PARTITIONS.items()):
        silent.add_metric([stage, topic, str(partition)], lag)
    yield from (ahead, repeats, seeks, reports, silent)


class _Histograms:
    def collect(self) -> Iterator[Metric]:
        yield from telemetry.PROCESSING.collect()


def build_registry(
    sources: Mapping[str, Counter], lag: LagSource | None = None, store: StatStore | None = None
) -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(PipelineCollector(sources, lag, store))
    registry.register(_Histograms())
    return registry


def render(registry: CollectorRegistry) -> bytes:
    return generate_latest(registry)
