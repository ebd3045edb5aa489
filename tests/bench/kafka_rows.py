"""The bench rows that need a broker: bare faust, the plain confluent-kafka loop, the worker end to
end, latency at a paced 500 events/s, and the worker's peak RSS.

Every row has its own topic prefix on the broker (``KAFKA_BOOTSTRAP_SERVERS``, else the local one)
and its own consumer groups, so rows and other users of the broker do not see each other's
records. Times of outputs are their Kafka timestamps (CreateTime, stamped by the producing client on
this machine), read back by :class:`OutputReader` in a thread; the rows never decode while they
time something.
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path

from confluent_kafka import Consumer, Producer
from fastavro import schemaless_reader

from pipeline.core.driver import CoreDriver
from pipeline.kafka.admin import ensure_pipeline_topics, ensure_topics, stat_topic, topic_name
from pipeline.kafka.bootstrap import resolve_bootstrap
from pipeline.records.codec import HEADER_LEN, decode, encode
from pipeline.records.keys import event_key
from pipeline.records.schemas import load_schema
from pipeline.records.validation import parse_json_line, validate_event
from pipeline.replay import replay
from pipeline.stats.config import load_config
from tests.bench.matching import COUNTERS, action_latencies, statistic_latencies
from tests.bench.measure import REPO, PeakRss, cpu_seconds, percentile, rss_bytes

READY_TIMEOUT_S = 180.0
PROBE_TENANT = "bench-probe"
MB = 1e6


class OutputReader(threading.Thread):
    """Reads topics from their start in a thread: counts, the latest Kafka timestamp (ms) and, with
    ``keep``, (topic, value, timestamp) of each record — a big day's outputs need not be held."""

    def __init__(self, bootstrap: str, topics: list[str], *, keep: bool = True) -> None:
        super().__init__(daemon=True)
        self.keep = keep
        self.total = 0
        self.max_ts = 0
        self.consumer = Consumer(
            {
                "bootstrap.servers": bootstrap,
                "group.id": "bench-reader-" + uuid.uuid4().hex,
                "auto.offset.reset": "earliest",
                "enable.auto.commit": False,
            }
        )
        self.consumer.subscribe(topics)
        self.records: list[tuple[str, bytes, int]] = []
        self.counts: dict[str, int] = {t: 0 for t in topics}
        self.last_arrival = time.monotonic()
        self._halt = threading.Event()

    def run(self) -> None:
        try:
            while not self._halt.is_set():
                for msg in self.consumer.consume(1000, 0.2):
                    if msg.error():
                        continue
                    ts = msg.timestamp()[1]
                    if self.keep:
                        self.records.append((msg.topic(), msg.value(), ts))
                    self.counts[msg.topic()] = self.counts.get(msg.topic(), 0) + 1
                    self.total += 1
                    self.max_ts = max(self.max_ts, ts)
                    self.last_arrival = time.monotonic()
        finally:
            self.consumer.close()

    def stop(self) -> None:
        self._halt.set()
        self.join(30)

    def idle_s(self) -> float:
        return time.monotonic() - self.last_arrival


def wait_until(done: Callable[[], bool], timeout_s: float, alive: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not done():
        if not alive():
            raise RuntimeError(f"the process died while waiting for {what}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"no {what} within {timeout_s:.0f} s")
        time.sleep(0.1)


def load_events(path: Path) -> list[dict]:
    """The day's events, validated (in memory: times in ms), in file order."""
    with path.open("rb") as fh:
        return [validate_event(parse_json_line(line)) for line in fh if line.strip()]


def probe_event(first: dict) -> dict:
    """A copy of the day's first event (a login) for another tenant: shows the consumer is running."""
    return {**first, "TenantID": PROBE_TENANT, "EventTime": first["EventTime"] - 60_000}


def producer(bootstrap: str, linger_ms: int = 5) -> Producer:
    return Producer({"bootstrap.servers": bootstrap, "linger.ms": linger_ms, "enable.idempotence": True})


def produce_all(prod: Producer, topic: str, encoded: list[tuple[bytes, bytes]]) -> None:
    for key, value in encoded:
        while True:
            try:
                prod.produce(topic, value=value, key=key)
                break
            except BufferError:
                prod.poll(0.05)
        prod.poll(0)
    if prod.flush(120) != 0:
        raise RuntimeError("the producer could not deliver every event")


def encode_events(events: list[dict]) -> list[tuple[bytes, bytes]]:
    return [(event_key(e).encode(), encode("ReportingEvent", e)) for e in events]


def _python_env(bootstrap: str, prefix: str) -> dict[str, str]:
    return {**os.environ, "KAFKA_BOOTSTRAP_SERVERS": bootstrap, "MEDIASTAT_TOPIC_PREFIX": prefix}


def start_worker(
    bootstrap: str, prefix: str, workdir: Path, clock: str, config: Path, extra: tuple[str, ...] = ()
) -> subprocess.Popen:
    args = [
        sys.executable,
        "-m",
        "pipeline.cli",
        "worker",
        "--bootstrap",
        bootstrap,
        "--prefix",
        prefix,
        "--app-id",
        f"{prefix}-app",
        "--data-dir",
        str(workdir / "state"),
        "--clock",
        clock,
        "--config",
        str(config),
        "--loglevel",
        "warning",
        "--web-port",
        "-1",
        *extra,
    ]
    log = open(workdir / "worker.log", "wb")
    return subprocess.Popen(
        args, cwd=REPO, stdout=log, stderr=subprocess.STDOUT, env=_python_env(bootstrap, prefix)
    )


def stop(proc: subprocess.Popen, rss: PeakRss | None = None) -> int:
    """SIGTERM, then the peak RSS (bytes) as the child is reaped."""
    rss = rss or PeakRss(proc)
    if proc.returncode is None:  # not proc.poll(): reaping here would take the rusage away
        try:
            os.kill(proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
    return rss.wait(60).peak_rss


def _log_tail(workdir: Path) -> str:
    try:
        return (workdir / "worker.log").read_text(errors="replace").strip().splitlines()[-1][-300:]
    except (OSError, IndexError):
        return ""


# --- the worker on a day: throughput and peak RSS ------------------------------------------------


def drop_topics(bootstrap: str, prefix: str) -> None:
    """Delete every topic of a row's prefix (its pipeline's and its workers' changelogs) once it is
    measured. A whole 10,000-agent day leaves gigabytes on the broker (four million records, and
    checkpoints that rewrite the statistics state): a few runs filled the development machine's
    disk."""
    from confluent_kafka.admin import AdminClient

    admin = AdminClient({"bootstrap.servers": bootstrap})
    names = [name for name in admin.list_topics(timeout=30).topics if name.startswith(prefix)]
    for future in admin.delete_topics(names, operation_timeout=30).values() if names else ():
        try:
            future.result(60)
        except Exception as problem:  # noqa: BLE001 - a topic left behind only costs disk
            print(f"bench: could not delete a topic of {prefix}: {problem}", file=sys.stderr)


def expected_outputs(events_path: Path, config_path: Path) -> tuple[int, int]:
    """(actions, statistic records) the worker must publish for the day: what replay makes from
    it (its Change and Reset records: the worker sends no finals at the end of a file), cached
    beside the day by the configuration's digest (a 10,000-agent day takes a minute and a half).

    A worker is done when both are on their topics. Waiting for a quiet spell alone was not
    enough: stage 3 applying one release (the shift's end) published nothing for longer than the
    spell, so the row stopped before its last records."""
    digest = hashlib.sha256(config_path.read_bytes()).hexdigest()[:16]
    cached = events_path.with_name(f"{events_path.stem}.expected-{digest}.json")
    if cached.exists():
        known = json.loads(cached.read_text())
        return known["actions"], known["statistics"]
    config = load_config(config_path)

    class Count:
        """A sink of rows (``pipeline.stats.rows``): counts the records that are not finals."""

        def __init__(self) -> None:
            self.records = 0

        def write_batches(self, batches) -> int:
            n = 0
            for rows in batches:
                n += len(rows)
                self.records += sum(1 for row in rows if row[7] != "Final")
            return n

    count = Count()
    with events_path.open("rb") as lines:
        summary = replay(enumerate(lines, 1), config, on_stat=count, wall_ms=None)
    cached.write_text(json.dumps({"actions": summary.actions, "statistics": count.records}))
    return summary.actions, count.records


def worker_on_day(
    events_path: Path, config_path: Path, *, cap_s: float, idle_s: float = 8.0, workers: int = 1,
    partitions: int = 1,
) -> dict:
    """Start ``workers`` workers (event clock, one consumer group) on topics of ``partitions``
    partitions, wait until the pipeline answers a probe, feed the day at full speed.

    With several workers, a second probe is answered after they have all started and the group
    has had time to settle, so the timed part does not include the first rebalance. Ends when
    every action and statistic record replay makes from the day (:func:`expected_outputs`; the
    actions only, with several partitions) is on its topic and no output came for ``idle_s``, or at
    ``cap_s``.
    """
    bootstrap = resolve_bootstrap(None)
    prefix = "bench" + uuid.uuid4().hex[:10]
    config = load_config(config_path)
    events = load_events(events_path)
    expected, expected_stats = expected_outputs(events_path, config_path)
    if partitions > 1:
        # Partitioned statistics give replay's values, not necessarily its number of records (stage
        # 4 notifies on merged changes): there the row waits for the actions and a quiet spell.
        expected_stats = 0
    encoded = encode_events(events)
    ensure_pipeline_topics(bootstrap, prefix, config.stat_types, partitions=partitions)
    actions_topic = topic_name("actions", prefix)
    reader = OutputReader(
        bootstrap, [actions_topic] + [stat_topic(s, prefix) for s in config.stat_types], keep=False
    )
    reader.start()
    with tempfile.TemporaryDirectory(prefix="bench-worker-") as tmp:
        procs: list[subprocess.Popen] = []
        peaks: list[PeakRss] = []
        try:
            for n in range(workers):
                workdir = Path(tmp) / f"w{n}"
                workdir.mkdir()
                procs.append(start_worker(bootstrap, prefix, workdir, "event", config_path))
                peaks.append(PeakRss(procs[-1]))
            alive = lambda: all(p.poll() is None for p in procs)  # noqa: E731
            prod = producer(bootstrap)
            probes = [probe_event(events[0])]
            if workers > 1:
                probes.append({**probes[0], "AgentID": f"{probes[0]['AgentID']}-again"})
            for n, probe in enumerate(probes):
                if n:
                    time.sleep(10.0)  # the group settles (faust rebalances as workers join)
                before = reader.counts[actions_topic]
                produce_all(prod, topic_name("events", prefix), encode_events([probe]))
                wait_until(
                    lambda before=before: reader.counts[actions_topic] > before,
                    READY_TIMEOUT_S,
                    alive,
                    "answer to the probe",
                )
            time.sleep(1.0)  # the probes' own few actions
            base_actions, base_records = reader.counts[actions_topic], reader.total
            cpu_before = sum(cpu_seconds(p.pid) for p in procs)
            idle_rss = sum(rss_bytes(p.pid) for p in procs)  # started, answered the probe, nothing fed
            started = time.time()
            produce_all(prod, topic_name("events", prefix), encoded)
            deadline = time.monotonic() + cap_s
            while time.monotonic() < deadline and alive():
                for rss in peaks:
                    rss.sample()
                actions_seen = reader.counts[actions_topic] - base_actions
                stats_seen = reader.total - base_records - actions_seen
                if actions_seen >= expected and stats_seen >= expected_stats and reader.idle_s() >= idle_s:
                    break
                time.sleep(0.5)
            if not alive():
                dead = next(n for n, p in enumerate(procs) if p.poll() is not None)
                raise RuntimeError(f"worker {dead} exited: {_log_tail(Path(tmp) / f'w{dead}')}")
            cpu = sum(cpu_seconds(p.pid) for p in procs) - cpu_before
            seen = reader.counts[actions_topic] - base_actions
            outputs = reader.total - base_records
            stats_seen = outputs - seen
            ended = reader.max_ts / 1000  # the probes' outputs all came before the day was fed
        finally:
            peak = max((stop(p, rss) for p, rss in zip(procs, peaks, strict=True)), default=0)
            reader.stop()
            drop_topics(bootstrap, prefix)
    return {
        "events": len(events),
        "expected_actions": expected,
        "expected_statistics": expected_stats,
        "actions": seen,
        "statistics": stats_seen,
        "records": outputs,
        "seconds": max(ended - started, 1e-3),
        # every action and every statistic record replay makes from the day: the worker is done
        "complete": seen >= expected and stats_seen >= expected_stats,
        "peak_rss": peak,
        "idle_rss": idle_rss,
        "cpu_s": cpu,
    }


def row_worker(events_path: Path, config_path: Path, described: str, cap_s: float) -> list[dict]:
    """The worker on the day, then the same day's computation alone (``mediastat replay --jobs 1``:
    the same core and statistics, no Kafka) beside it: what one worker process could do at most on
    this machine, and how much of it the worker reaches."""
    from tests.bench.rows import replay_once  # rows imports this module lazily

    got = worker_on_day(events_path, config_path, cap_s=cap_s)
    alone = replay_once(events_path, config_path, statistics=True, jobs=1)
    done = got["actions"] / max(got["expected_actions"], 1)
    rate = got["events"] * min(done, 1.0) / got["seconds"]
    note = f"{got['actions']:,} actions, {got['statistics']:,} statistic records"
    if not got["complete"]:
        note = (f"stopped at {cap_s:.0f} s: {got['actions']:,} of {got['expected_actions']:,} actions, "
                f"{got['statistics']:,} of {got['expected_statistics']:,} statistic records")
    return [
        {
            "key": "worker.events_per_s",
            "partial": not got["complete"],
            "what": f"one worker end to end, event clock, starter statistics ({described})",
            "value": rate,
            "unit": "events/s",
            "note": note,
        },
        {"key": "worker.rss", "what": "peak RSS of that worker", "value": got["peak_rss"] / MB, "unit": "MB"},
        {
            "key": "worker.cpu",
            "what": "that worker's CPU time (user + system) per 1,000 events, fed to idle",
            "value": 1000 * got["cpu_s"] / max(got["events"] * min(done, 1.0), 1),
            "unit": "s",
        },
        {
            "key": "worker.compute_events_per_s",
            "what": "the same day computed alone: replay, one process, starter statistics, no Kafka "
                    "(the most one worker process could do here)",
            "value": got["events"] / alone.seconds,
            "unit": "events/s",
        },
        {
            "key": "worker.compute_cpu",
            "what": "its CPU time per 1,000 events",
            "value": 1000 * alone.cpu_s / max(got["events"], 1),
            "unit": "s",
        },
        {
            "key": "worker.vs_compute",
            "what": "worker / the same day computed alone",
            "value": rate * alone.seconds / got["events"],
            "unit": "×",
        },
    ]


def row_scale_out(
    events_path: Path, config_path: Path, described: str, cap_s: float, partitions: int = 4
) -> list[dict]:
    """One worker, then two, on topics of ``partitions`` partitions, the same day: events/s each,
    and the second over the first. On a 2-core machine that also runs the broker, two workers share
    the same two cores: the ratio says what a second process adds there, not what a second
    machine would."""
    rates: list[float] = []
    notes: list[str] = []
    for workers in (1, 2):
        got = worker_on_day(events_path, config_path, cap_s=cap_s, workers=workers, partitions=partitions)
        done = got["actions"] / max(got["expected_actions"], 1)
        rates.append(got["events"] * min(done, 1.0) / got["seconds"])
        notes.append(
            f"{got['actions']:,} actions" if got["complete"]
            else f"stopped at {cap_s:.0f} s: {got['actions']:,} of {got['expected_actions']:,} actions"
        )
    return [
        {
            "key": f"scale-out.w{n}",
            "what": f"{n} worker{'s' if n > 1 else ''} on {partitions} partitions, event clock ({described})",
            "value": rate,
            "unit": "events/s",
            "note": note,
        }
        for n, (rate, note) in enumerate(zip(rates, notes, strict=True), start=1)
    ] + [
        {"key": "scale-out.ratio", "what": "2 workers / 1 worker", "value": rates[1] / rates[0], "unit": "×"}
    ]


def row_worker_rss(
    events_path: Path, config_path: Path, described: str, key: str, cap_s: float
) -> list[dict]:
    """The worker's peak RSS on the day, beside what it is made of: the worker's own RSS before the
    day (interpreter, faust, the Kafka clients, RocksDB) and the peak RSS of the same day's state
    without Kafka (``mediastat replay --jobs 1``: the same core and statistics in one process)."""
    from tests.bench.rows import replay_once  # rows imports this module lazily

    got = worker_on_day(events_path, config_path, cap_s=cap_s)
    alone = replay_once(events_path, config_path, statistics=True, jobs=1)
    base = key.removesuffix(".peak")
    note = (
        "whole day"
        if got["complete"]
        else (f"after {got['actions']:,} of {got['expected_actions']:,} actions and {got['statistics']:,} of "
              f"{got['expected_statistics']:,} statistic records, capped at {cap_s:.0f} s")
    )
    return [
        {
            "key": key,
            "partial": not got["complete"],
            "what": f"peak RSS of one worker ({described})",
            "value": got["peak_rss"] / MB,
            "unit": "MB",
            "note": note,
        },
        {
            "key": f"{base}.idle",
            "what": "that worker's RSS before the day is fed (started, the probe answered)",
            "value": got["idle_rss"] / MB,
            "unit": "MB",
        },
        {
            "key": f"{base}.replay",
            "what": "peak RSS of the same day computed alone (replay, one process, no Kafka)",
            "value": alone.peak_rss / MB,
            "unit": "MB",
        },
    ]


# --- bare faust and the plain confluent-kafka loop ------------------------------------------------


def row_faust_bare(events_path: Path, described: str, cap_s: float) -> list[dict]:
    """The bare faust agent over the same encoded events: first event fed → last output record."""
    bootstrap = resolve_bootstrap(None)
    prefix = "bench" + uuid.uuid4().hex[:10]
    events = load_events(events_path)
    encoded = encode_events(events)
    in_topic, out_topic = f"{prefix}.bare-in", f"{prefix}.bare-out"
    ensure_topics(bootstrap, [in_topic, out_topic])
    reader = OutputReader(bootstrap, [out_topic])
    reader.start()
    with tempfile.TemporaryDirectory(prefix="bench-faust-") as tmp:
        workdir = Path(tmp)
        log = open(workdir / "worker.log", "wb")
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tests.bench.bare_faust",
                bootstrap,
                in_topic,
                out_topic,
                str(workdir / "state"),
                f"{prefix}-app",
            ],
            cwd=REPO,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=_python_env(bootstrap, prefix),
        )
        alive = lambda: proc.poll() is None  # noqa: E731
        try:
            prod = producer(bootstrap)
            produce_all(prod, in_topic, encoded[:1])
            wait_until(lambda: reader.counts[out_topic] > 0, READY_TIMEOUT_S, alive, "answer to the probe")
            base = reader.counts[out_topic]
            base_records = len(reader.records)
            cpu_before = cpu_seconds(proc.pid)
            started = time.time()
            produce_all(prod, in_topic, encoded)
            wait_until(lambda: reader.counts[out_topic] - base >= len(encoded), cap_s, alive, "every output")
            cpu = cpu_seconds(proc.pid) - cpu_before
            outputs = reader.records[base_records:]
        finally:
            stop(proc)
            reader.stop()
    ended = max(ts for _, _, ts in outputs) / 1000
    return [
        {
            "key": "faust-bare.events_per_s",
            "what": f"bare faust agent: consume, one RocksDB write, one send per event ({described})",
            "value": len(encoded) / max(ended - started, 1e-3),
            "unit": "events/s",
        },
        {
            "key": "faust-bare.cpu",
            "what": "its CPU time (user + system) per 1,000 events",
            "value": 1000 * cpu / len(encoded),
            "unit": "s",
        },
    ]


def row_kafka_loop(events_path: Path, described: str, cap_s: float) -> list[dict]:
    """confluent-kafka consume → fastavro decode → produce 6 records per event, over pre-fed events."""
    bootstrap = resolve_bootstrap(None)
    prefix = "bench" + uuid.uuid4().hex[:10]
    encoded = encode_events(load_events(events_path))
    in_topic, out_topic = f"{prefix}.loop-in", f"{prefix}.loop-out"
    ensure_topics(bootstrap, [in_topic, out_topic])
    produce_all(producer(bootstrap), in_topic, encoded)
    schema = load_schema("ReportingEvent").parsed
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"{prefix}-loop",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
        }
    )
    out = producer(bootstrap, linger_ms=5)
    consumer.subscribe([in_topic])
    done = 0
    started = None
    deadline = time.monotonic() + cap_s
    try:
        while done < len(encoded):
            if time.monotonic() > deadline:
                raise RuntimeError(f"the loop read {done:,} of {len(encoded):,} events in {cap_s:.0f} s")
            for msg in consumer.consume(1000, 0.5):
                if msg.error():
                    continue
                if started is None:
                    started = time.perf_counter()
                record = schemaless_reader(io.BytesIO(msg.value()[HEADER_LEN:]), schema, None)
                key = record["TenantID"].encode()
                for n in range(6):
                    while True:
                        try:
                            out.produce(out_topic, value=msg.value(), key=key + bytes([n]))
                            break
                        except BufferError:
                            out.poll(0.01)
                done += 1
            out.poll(0)
        if out.flush(120) != 0:
            raise RuntimeError("the loop's producer could not deliver every record")
        took = time.perf_counter() - (started or time.perf_counter())
    finally:
        consumer.close()
    return [
        {
            "key": "kafka-loop.events_per_s",
            "what": f"plain confluent-kafka loop: consume, fastavro decode, produce 6 ({described})",
            "value": done / max(took, 1e-3),
            "unit": "events/s",
        }
    ]


# --- latency at a paced rate on the wall clock ---------------------------------------------------


def row_latency(
    events_path: Path, config_path: Path, described: str, *, rate: float, seconds: float, drain_s: float,
    window: str | None = None, prefix_key: str = "latency",
) -> list[dict]:
    """Events stamped now, paced at ``rate``/s, through a wall-clock worker; see :mod:`matching`.

    ``window``: the worker's ``--reorder-window`` (None: its default, 2 s); ``prefix_key`` prefixes the
    figures' keys, so that one table can hold the row at several rates and windows.
    """
    bootstrap = resolve_bootstrap(None)
    prefix = "bench" + uuid.uuid4().hex[:10]
    config = load_config(config_path)
    wanted = int(rate * seconds)
    events = load_events(events_path)[:wanted]
    if len(events) < wanted:
        raise RuntimeError(f"the day has {len(events):,} events, {wanted:,} needed")
    ensure_pipeline_topics(bootstrap, prefix, config.stat_types)
    actions_topic = topic_name("actions", prefix)
    counter_topics = [stat_topic(name, prefix) for name in COUNTERS if name in config.stat_types]
    reader = OutputReader(bootstrap, [actions_topic, *counter_topics])
    reader.start()
    events_topic = topic_name("events", prefix)
    with tempfile.TemporaryDirectory(prefix="bench-latency-") as tmp:
        workdir = Path(tmp)
        extra = ("--reorder-window", window) if window else ()
        proc = start_worker(bootstrap, prefix, workdir, "wall", config_path, extra)
        alive = lambda: proc.poll() is None  # noqa: E731
        try:
            prod = producer(bootstrap, linger_ms=0)
            probe = probe_event(events[0])
            probe["EventTime"] = int(time.time() * 1000)
            produce_all(prod, events_topic, encode_events([probe]))
            wait_until(
                lambda: reader.counts[actions_topic] > 0, READY_TIMEOUT_S, alive, "answer to the probe"
            )
            time.sleep(2.0)
            base_records = len(reader.records)
            last = 0
            started = time.monotonic()
            for i, event in enumerate(events):
                due = started + i / rate
                pause = due - time.monotonic()
                if pause > 0:
                    time.sleep(pause)
                last = max(int(time.time() * 1000), last + 1)  # strictly increasing: names the event
                event["EventTime"] = last
                prod.produce(
                    events_topic, value=encode("ReportingEvent", event), key=event_key(event).encode()
                )
                prod.poll(0)
            fed_s = time.monotonic() - started
            prod.flush(60)
            # Until the outputs stop (the core's expected actions are computed only afterwards, so
            # the measuring process takes no CPU from the worker while it works).
            deadline = time.monotonic() + drain_s
            while time.monotonic() < deadline and alive() and reader.idle_s() < 5:
                time.sleep(0.5)
            if not alive():
                kept = REPO / ".bench" / "latency-worker.log"  # the temporary directory goes away
                kept.write_bytes((workdir / "worker.log").read_bytes())
                why = _log_tail(workdir)
                raise RuntimeError(f"the worker stopped (exit {proc.returncode}, log: {kept}): {why}")
            outputs = reader.records[base_records:]
        finally:
            stop(proc)
            reader.stop()
            drop_topics(bootstrap, prefix)
    expected = CoreDriver(config.capacity).push_all(events)
    stamps = sorted({a["EventTime"] for a in expected})
    seen_actions, seen_counters = [], []
    for topic, value, ts in outputs:
        record = decode(value)[1]
        if topic == actions_topic:
            seen_actions.append((record["EventTime"], ts))
        else:
            seen_counters.append((record, ts))
    to_action = action_latencies(stamps, seen_actions)
    to_stat = statistic_latencies(expected, seen_counters)
    note = f"{len(events):,} events fed in {fed_s:.1f} s, stamped now, from a day of {described}"
    if window:
        note += f"; --reorder-window {window}"
    figures = []
    for key, what, values in (
        (f"{prefix_key}.action", "raw event → action", to_action),
        (f"{prefix_key}.stat", "raw event → statistic (Queue_Entered, Offered, Accepted)", to_stat),
    ):
        if not values:
            raise RuntimeError(f"no {what} pairs to measure")
        missing = sum(1 for v in values if math.isinf(v))
        tail = ""
        if missing:
            seen = [v for v in values if not math.isinf(v)]
            tail = f"; {missing:,} of {len(values):,} never seen within {drain_s:.0f} s"
            if seen:
                tail += (
                    f"; of those seen: p50 {percentile(seen, 50):,.0f} ms, p99 {percentile(seen, 99):,.0f} ms"
                )
        figures += [
            {
                "key": f"{key}_p50",
                "what": f"{what}, p50 at {rate:,.0f} events/s",
                "value": percentile(values, 50),
                "unit": "ms",
                "note": f"{len(values):,} pairs{tail}",
            },
            {"key": f"{key}_p99", "what": f"{what}, p99", "value": percentile(values, 99), "unit": "ms"},
        ]
    figures[0]["note"] += f"; {note}"
    return figures
