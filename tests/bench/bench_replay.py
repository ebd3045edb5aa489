"""``make bench``: throughput of the pure core and of the Kafka pipeline, measured side by side.

Machines here are shared and noisy, so the report gives ratios between variants measured in the
same run, over the same simulated day, alternating the variants over several rounds and taking the
median. Nothing here asserts a speed: numbers are printed for the README and issue notes.

    python -m tests.bench.bench_replay [--agents 60] [--hours 8] [--per-hour 600] [--rounds 3] [--kafka]
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path

from pipeline.core.driver import CoreDriver
from pipeline.records.validation import parse_json_line, validate_event
from pipeline.replay import iter_source, replay
from pipeline.simulate import Simulator
from pipeline.stats.config import Config, load_config


def make_day(path: Path, agents: int, hours: float, per_hour: float) -> int:
    n = 0
    with path.open("w") as fh:
        for event in Simulator(agents=agents, hours=hours, per_hour=per_hour, seed=3).events():
            fh.write(json.dumps(event, separators=(",", ":")) + "\n")
            n += 1
    return n


def timed(fn: Callable[[], object]) -> float:
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


def variants(path: Path, starter: Config) -> dict[str, Callable[[], object]]:
    lines = path.read_bytes().splitlines()
    events = [validate_event(parse_json_line(line)) for line in lines]

    def validate_only() -> None:
        for line in lines:
            validate_event(parse_json_line(line))

    def core_only() -> None:
        CoreDriver().push_all(events)

    def replay_actions() -> None:
        replay(iter_source(path), Config(), on_action=lambda a: None)

    def replay_with_starter_stats() -> None:
        replay(iter_source(path), starter, on_action=lambda a: None, on_stat=lambda r: None)

    return {
        "validate (parse + validate)": validate_only,
        "core (tracker + agents)": core_only,
        "replay, actions only": replay_actions,
        "replay, starter statistics": replay_with_starter_stats,
    }


def peak_memory(fn: Callable[[], object]) -> int:
    tracemalloc.start()
    fn()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak


def bench_kafka(path: Path, events: int, actions: int) -> None:
    """One worker on the broker: from worker start until the last action is on the actions topic."""
    from pipeline.kafka.bootstrap import resolve_bootstrap
    from tests.stream.harness import Pipeline, end_offsets

    bootstrap = resolve_bootstrap(None)
    with tempfile.TemporaryDirectory() as tmp:
        pipe = Pipeline(bootstrap, Path(tmp), config=None, clock="event")
        try:
            started = time.perf_counter()
            pipe.feed(path)
            fed = time.perf_counter() - started
            worker = pipe.start_worker()
            started = time.perf_counter()
            done = 0
            while done < actions and worker.poll() is None and time.perf_counter() - started < 1800:
                time.sleep(0.5)
                done = end_offsets(bootstrap, pipe.topic("actions"))
            took = time.perf_counter() - started
        finally:
            pipe.stop_all()
    print(
        f"  kafka: feed {events} events in {fed:.1f} s ({events / fed:,.0f}/s); one worker (starter "
        f"statistics, event clock) wrote {done} of {actions} actions in {took:.1f} s "
        f"({events / took:,.0f} events/s, start-up included)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--agents", type=int, default=60)
    parser.add_argument("--hours", type=float, default=8.0)
    parser.add_argument("--per-hour", type=float, default=600.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--kafka", action="store_true", help="also run the pipeline on the local broker")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "day.jsonl"
        n = make_day(path, args.agents, args.hours, args.per_hour)
        starter = load_config(None)
        runs = variants(path, starter)
        times: dict[str, list[float]] = {name: [] for name in runs}
        for _ in range(args.rounds):
            for name, fn in runs.items():
                times[name].append(timed(fn))
        print(
            f"simulated day: {n} events, {args.agents} agents, {args.hours} h, {args.per_hour}/h; "
            f"{args.rounds} rounds, median"
        )
        base = statistics.median(times["replay, actions only"])
        for name, samples in times.items():
            med = statistics.median(samples)
            print(f"  {name:<30} {med:7.2f} s  {n / med:>10,.0f} events/s  {med / base:5.2f}× replay-actions")
        peak = peak_memory(runs["replay, starter statistics"])
        print(f"  peak Python memory, replay with starter statistics: {peak / 2**20:.1f} MiB")
        if args.kafka:
            actions = len(
                CoreDriver().push_all(
                    validate_event(parse_json_line(x)) for x in path.read_bytes().splitlines()
                )
            )
            bench_kafka(path, n, actions)


if __name__ == "__main__":
    main()
