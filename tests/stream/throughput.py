"""One worker end to end next to a bare faust agent, on the same broker, the same events, one run.

Not a test (nothing here asserts a speed): numbers for the README and issue notes. The bare agent
is what faust allows per event — consume, one RocksDB table write, produce one record — and the
worker (all three stages, the starter statistics, the event clock) should reach a good fraction of
it. With ``--baseline DIR`` (another checkout of the repository, e.g. ``git archive`` of an older
commit) the worker of that checkout runs too, on the same events, for a before/after comparison.

    KAFKA_BOOTSTRAP_SERVERS=... python -m tests.stream.throughput [--agents 40] [--hours 4] \
        [--per-hour 300] [--baseline DIR] [--profile FILE]

Times run from the first output record to the last (start-up excluded); the worker's end is when
the statistic topics hold as many records as replay writes (stage 3 is last), polled every 0.25 s.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import textwrap
import time
import uuid
from pathlib import Path

from confluent_kafka import Consumer, KafkaException, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

from pipeline.core.driver import CoreDriver
from pipeline.kafka.bootstrap import resolve_bootstrap
from pipeline.records.validation import parse_json_line, validate_event
from pipeline.replay import iter_source, replay
from pipeline.simulate import Simulator
from pipeline.stats.config import load_config
from tests.stream.harness import REPO, Pipeline

BARE_AGENT = textwrap.dedent(
    """
    import sys
    import faust

    bootstrap, app_id, source, target, datadir = sys.argv[1:6]
    app = faust.App(
        app_id, broker="kafka://" + bootstrap, store="rocksdb://", datadir=datadir,
        key_serializer="raw", value_serializer="raw", web_enabled=False,
        consumer_auto_offset_reset="earliest", topic_partitions=1,
    )
    src = app.topic(source, key_type=bytes, value_type=bytes)
    dst = app.topic(target, key_type=bytes, value_type=bytes)
    table = app.Table("bare", default=None, key_type=bytes, value_type=bytes, partitions=1)

    @app.agent(src)
    async def bare(stream):
        async for event in stream.events():
            table[event.key or b"none"] = event.value
            await dst.send(key=event.key, value=event.value)

    sys.argv = [sys.argv[0], "worker", "--loglevel", "warn"]
    app.main()
    """
)


class Offsets:
    """End offsets of whole topics through one consumer (polled often: no client per call)."""

    def __init__(self, bootstrap: str) -> None:
        self.consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "offsets-" + uuid.uuid4().hex})
        self.partitions: dict[str, list[int]] = {}

    def total(self, topics: list[str]) -> int:
        out = 0
        for topic in topics:
            if not self.partitions.get(topic):  # not created yet: ask again next time
                meta = self.consumer.list_topics(topic, timeout=10).topics[topic]
                self.partitions[topic] = sorted(meta.partitions)
            for p in self.partitions[topic]:
                try:
                    out += self.consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1]
                except KafkaException:  # just created, no leader yet
                    self.partitions[topic] = []
        return out

    def close(self) -> None:
        self.consumer.close()


def wait_output(
    bootstrap: str, topics: list[str], proc: subprocess.Popen, want: int | None, timeout_s: float = 1800
) -> tuple[float, int]:
    """Seconds from the first record on ``topics`` to the last (``want`` reached, or 8 s quiet)."""
    first = last = None
    seen = 0
    offsets = Offsets(bootstrap)
    deadline = time.monotonic() + timeout_s
    try:
        while time.monotonic() < deadline and proc.poll() is None:
            now_seen = offsets.total(topics)
            now = time.monotonic()
            if now_seen and first is None:
                first = now
            if now_seen != seen:
                seen, last = now_seen, now
            if want is not None and seen >= want:
                break
            if want is None and last is not None and now - last > 8:
                break
            time.sleep(0.25)
    finally:
        offsets.close()
    if first is None or last is None:
        raise RuntimeError("no output")
    return max(last - first, 1e-3), seen


def bare_agent(bootstrap: str, pipe: Pipeline, events: int, tmp: Path) -> float:
    target = pipe.topic("bare-out")
    admin = AdminClient({"bootstrap.servers": bootstrap})
    admin.create_topics([NewTopic(target, 1, 1)])[target].result()
    script = tmp / "bare_agent.py"
    script.write_text(BARE_AGENT)
    proc = subprocess.Popen(
        [
            sys.executable,
            str(script),
            bootstrap,
            pipe.prefix + "-bare",
            pipe.topic("events"),
            target,
            str(tmp / "bare-state"),
        ],
        stdout=open(tmp / "bare.log", "w"),
        stderr=subprocess.STDOUT,
    )
    try:
        took, seen = wait_output(bootstrap, [target], proc, events)
    finally:
        proc.terminate()
        proc.wait(30)
    assert seen >= events, (tmp / "bare.log").read_text()[-2000:]
    return events / took


def worker(
    want_stats: int,
    bootstrap: str,
    pipe: Pipeline,
    events: int,
    actions: int,
    repo: Path,
    name: str,
    profile: Path | None,
) -> tuple[float, float]:
    """(events/s to the last action, events/s to the last statistic record) of one worker."""
    stat_topics = [pipe.topic(f"stat.{n}") for n in load_config(None).stat_types]
    app_id = f"{pipe.prefix}-{name}"
    prefix = f"{pipe.prefix}"
    cmd = [sys.executable]
    if profile is not None:
        cmd += ["-m", "cProfile", "-o", str(profile)]
    cmd += [
        "-m",
        "pipeline.cli",
        "worker",
        "--app-id",
        app_id,
        "--data-dir",
        str(pipe.workdir / name),
        "--clock",
        "event",
        "--loglevel",
        "warning",
        "--web-port",
        "-1",
    ]
    env = {
        **os.environ,
        "KAFKA_BOOTSTRAP_SERVERS": bootstrap,
        "MEDIASTAT_TOPIC_PREFIX": prefix,
        "PYTHONPATH": str(repo),
    }
    log = open(pipe.workdir / f"{name}.log", "w")
    proc = subprocess.Popen(cmd, cwd=repo, stdout=log, stderr=subprocess.STDOUT, env=env)
    offsets = Offsets(bootstrap)
    first = done_actions = last_stat = None
    stats = 0
    try:
        deadline = time.monotonic() + 1800
        while time.monotonic() < deadline and proc.poll() is None:
            seen = offsets.total([pipe.topic("actions")])
            now_stats = offsets.total(stat_topics)
            now = time.monotonic()
            if seen and first is None:
                first = now
            if done_actions is None and seen >= actions:
                done_actions = now
                print(f"  {name}: {seen} actions in {now - first:.1f} s", file=sys.stderr, flush=True)
            if now_stats != stats:
                stats, last_stat = now_stats, now
            if done_actions is not None and now_stats >= want_stats:
                break
            if done_actions is not None and now - max(last_stat or now, done_actions) > 60:
                break  # stuck: reported as fewer records than replay's
            time.sleep(0.25)
        assert done_actions is not None and first is not None and last_stat is not None, (
            pipe.workdir / f"{name}.log"
        ).read_text()[-3000:]
        print(
            f"  {name}: {stats} statistic records in {last_stat - first:.1f} s", file=sys.stderr, flush=True
        )
        took_actions, took_stats = done_actions - first, max(last_stat, done_actions) - first
    finally:
        offsets.close()
        proc.terminate()  # SIGTERM: faust stops cleanly, so cProfile writes its file
        proc.wait(60)
    return events / took_actions, events / took_stats


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--agents", type=int, default=40)
    parser.add_argument("--hours", type=float, default=4.0)
    parser.add_argument("--per-hour", type=float, default=300.0)
    parser.add_argument("--baseline", type=Path, help="another checkout whose worker runs too")
    parser.add_argument(
        "--profile",
        type=Path,
        help="cProfile output of this checkout's worker (the baseline's: .baseline.prof)",
    )
    args = parser.parse_args()
    bootstrap = resolve_bootstrap(None)
    with tempfile.TemporaryDirectory() as name:
        tmp = Path(os.environ.get("THROUGHPUT_DIR") or name)
        day = tmp / "day.jsonl"
        with day.open("w") as fh:
            for event in Simulator(
                agents=args.agents, hours=args.hours, per_hour=args.per_hour, seed=3
            ).events():
                fh.write(json.dumps(event, separators=(",", ":")) + "\n")
        lines = day.read_bytes().splitlines()
        events = len(lines)
        actions = len(CoreDriver().push_all(validate_event(parse_json_line(x)) for x in lines))
        records = [0]

        def count(_record: dict) -> None:
            records[0] += 1

        replay(iter_source(day), load_config(None), on_action=lambda a: None, on_stat=count)
        want_stats = records[0]
        # Two pipelines (topic prefixes): the actions topic of the second worker must start empty.
        rows = []
        pipe = Pipeline(bootstrap, tmp, config=None, clock="event")
        pipe.feed(day)
        rows.append(
            (
                "bare faust agent (consume, 1 table write, produce 1)",
                bare_agent(bootstrap, pipe, events, tmp),
                None,
            )
        )
        a, s = worker(want_stats, bootstrap, pipe, events, actions, REPO, "worker", args.profile)
        rows.append(("worker end to end (this checkout)", a, s))
        if args.baseline is not None:
            other = Pipeline(bootstrap, tmp, config=None, clock="event")
            other.feed(day)
            baseline_profile = None if args.profile is None else args.profile.with_suffix(".baseline.prof")
            a, s = worker(
                want_stats,
                bootstrap,
                other,
                events,
                actions,
                args.baseline.resolve(),
                "baseline",
                baseline_profile,
            )
            rows.append((f"worker end to end ({args.baseline.name})", a, s))
    print(f"{events} events, {actions} actions, {args.agents} agents, {args.hours} h, {args.per_hour}/h")
    bare = rows[0][1]
    for label, to_actions, to_stats in rows:
        if to_stats is None:
            print(f"  {label:<55} {to_actions:8,.0f} events/s")
        else:
            print(
                f"  {label:<55} {to_stats:8,.0f} events/s to the last statistic "
                f"({to_stats / bare:4.0%} of bare); {to_actions:,.0f}/s to the last action"
            )


if __name__ == "__main__":
    main()
