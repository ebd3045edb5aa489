"""The rows of ``make bench``: their sizes (full and ``--quick``), timeouts and what runs them.

Each row runs in its own subprocess (``python -m tests.bench.rows NAME [--quick] [--cache DIR]``),
which prints its figures as one JSON line after :data:`RESULT_MARK`; :mod:`tests.bench.run` starts
them one after another with the row's timeout, so one failing row cannot take the others down.

Replay rows run ``mediastat replay`` itself (the command a user runs, output serialised to
``/dev/null``) in a child process of the row: its time is measured inside that child around the
command (interpreter start-up and imports excluded) and its peak RSS by :class:`PeakRss`.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from tests.bench.days import DEFAULT_CACHE, Day, config_file, count_lines, events_file
from tests.bench.measure import REPO, PeakRss

RESULT_MARK = "BENCH-RESULT "
MB = 1e6


@dataclass(frozen=True)
class Sizes:
    """Everything a run's size decides; :data:`FULL` fits ~15 minutes on a quiet 2-core machine."""

    replay_small: Day
    replay_large: Day
    rss_large: Day
    worker: Day
    latency: Day
    latency_rate: float
    latency_floor_rate: float  # a rate one worker keeps up with: what is left is the pipeline's own
    latency_seconds: float
    worker_cap_s: float
    rss_worker_cap_s: float


FULL = Sizes(
    replay_small=Day(200, 2, 1200),
    replay_large=Day(2000, 0.25, 12000),
    rss_large=Day(10000, 0.1, 20000),
    worker=Day(100, 1, 600),
    latency=Day(200, 2, 1200),
    latency_rate=500,
    latency_floor_rate=50,
    latency_seconds=20,
    worker_cap_s=240,
    # the whole 10,000-agent day: about 5 minutes for one worker on the development machine
    rss_worker_cap_s=600,
)

QUICK = Sizes(
    replay_small=Day(20, 0.25, 200),
    replay_large=Day(60, 0.1, 300),
    rss_large=Day(100, 0.1, 300),
    worker=Day(10, 0.1, 100),
    latency=Day(20, 0.5, 600),
    latency_rate=500,
    latency_floor_rate=50,
    latency_seconds=2,
    worker_cap_s=90,
    rss_worker_cap_s=30,
)


# --- replay --------------------------------------------------------------------------------------

REPLAY_CHILD = """
import json, sys, time
from pipeline.cli import main
args = sys.argv[1:]
started, cpu = time.perf_counter(), time.process_time()
code = main(args)
print(json.dumps({"seconds": time.perf_counter() - started, "cpu": time.process_time() - cpu, "code": code}))
"""


@dataclass(frozen=True)
class Replayed:
    """One ``mediastat replay`` in a child: seconds in the command, its peak RSS (bytes, every
    process of it), and the CPU seconds of the command's own process (with ``jobs=1``, all of its
    work; not the statistics child's otherwise)."""

    seconds: float
    peak_rss: int
    cpu_s: float


def replay_once(
    events: Path, config: Path, *, statistics: bool, jobs: int | None = None, timeout_s: float = 1800
) -> Replayed:
    """``mediastat replay`` in a child (``jobs``: its ``--jobs``, else its default)."""
    args = ["replay", str(events), "--config", str(config), "--actions-out", os.devnull, "--quiet"]
    if statistics:
        args += ["--stats-out", os.devnull]
    if jobs is not None:
        args += ["--jobs", str(jobs)]
    with tempfile.TemporaryFile() as out_fh, tempfile.TemporaryFile() as err_fh:
        # Files, not pipes: the child is reaped by wait4 while nobody reads, so a pipe could fill.
        proc = subprocess.Popen(
            [sys.executable, "-c", REPLAY_CHILD, *args], cwd=REPO, stdout=out_fh, stderr=err_fh
        )
        ended = PeakRss(proc).wait(timeout_s)
        out_fh.seek(0)
        err_fh.seek(0)
        out, err = out_fh.read().decode(errors="replace"), err_fh.read().decode(errors="replace")
    if ended.timed_out:
        raise RuntimeError(f"replay took longer than {timeout_s:.0f} s")
    if ended.returncode != 0:
        raise RuntimeError(f"replay exited {ended.returncode}: {err.strip()[-300:]}")
    result = json.loads(out.strip().splitlines()[-1])
    if result["code"]:
        raise RuntimeError(f"mediastat replay returned {result['code']}: {err.strip()[-300:]}")
    return Replayed(result["seconds"], ended.peak_rss, result["cpu"])


def row_replay(name: str, day: Day, cache: Path, rss_key: str | None = None) -> list[dict]:
    """Actions only and starter statistics on one day, side by side; their ratio; peak RSS."""
    events, config = events_file(day, cache), config_file(cache)
    n = count_lines(events)
    actions_s = replay_once(events, config, statistics=False).seconds
    stats = replay_once(events, config, statistics=True)
    stats_s, peak = stats.seconds, stats.peak_rss
    figures = [
        {
            "key": f"{name}.actions",
            "what": f"replay, actions only ({day.describe(n)})",
            "value": n / actions_s,
            "unit": "events/s",
        },
        {
            "key": f"{name}.stats",
            "what": "replay, starter statistics",
            "value": n / stats_s,
            "unit": "events/s",
        },
        {
            "key": f"{name}.ratio",
            "what": "statistics / actions only",
            "value": actions_s / stats_s,
            "unit": "×",
        },
    ]
    if rss_key:
        figures.append(
            {"key": rss_key, "what": "peak RSS of replay with statistics", "value": peak / MB, "unit": "MB"}
        )
    return figures


def row_rss_replay(key: str, day: Day, cache: Path) -> list[dict]:
    events, config = events_file(day, cache), config_file(cache)
    n = count_lines(events)
    replayed = replay_once(events, config, statistics=True)
    seconds, peak = replayed.seconds, replayed.peak_rss
    return [
        {
            "key": key,
            "what": f"peak RSS of replay with statistics ({day.describe(n)})",
            "value": peak / MB,
            "unit": "MB",
            "note": f"{n / seconds:,.0f} events/s",
        }
    ]


# --- the registry --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Row:
    name: str
    broker: bool
    timeout_s: float  # full size; quick runs get a third (at least a minute)
    run: Callable[[Sizes, Path], list[dict]]


def _kafka():  # imported only by broker rows: broker-free rows need no Kafka client at all
    from tests.bench import kafka_rows

    return kafka_rows


def _worker_day(sizes: Sizes, cache: Path, day: Day) -> tuple[Path, Path, str]:
    events = events_file(day, cache)
    return events, config_file(cache), day.describe(count_lines(events))


ROWS: tuple[Row, ...] = (
    Row("replay-200", False, 600, lambda s, c: row_replay("replay-200", s.replay_small, c)),
    Row(
        "replay-2000",
        False,
        900,
        lambda s, c: row_replay("replay-2000", s.replay_large, c, rss_key="rss-replay-2000.peak"),
    ),
    Row("rss-replay-10000", False, 900, lambda s, c: row_rss_replay("rss-replay-10000.peak", s.rss_large, c)),
    Row(
        "faust-bare", True, 300, lambda s, c: _kafka().row_faust_bare(*_worker_day(s, c, s.worker)[::2], 180)
    ),
    Row(
        "kafka-loop", True, 300, lambda s, c: _kafka().row_kafka_loop(*_worker_day(s, c, s.worker)[::2], 180)
    ),
    Row("worker", True, 600, lambda s, c: _kafka().row_worker(*_worker_day(s, c, s.worker), s.worker_cap_s)),
    Row(
        "scale-out",
        True,
        1200,
        lambda s, c: _kafka().row_scale_out(*_worker_day(s, c, s.worker), s.worker_cap_s),
    ),
    Row(
        "latency",
        True,
        400,
        lambda s, c: _kafka().row_latency(
            *_worker_day(s, c, s.latency), rate=s.latency_rate, seconds=s.latency_seconds, drain_s=120
        ),
    ),
    Row(
        "latency-floor",
        True,
        600,
        lambda s, c: [
            figure
            for window, key in ((None, "latency-floor"), ("250ms", "latency-floor-250ms"))
            for figure in _kafka().row_latency(
                *_worker_day(s, c, s.latency), rate=s.latency_floor_rate, seconds=s.latency_seconds,
                drain_s=120, window=window, prefix_key=key,
            )
        ],
    ),
    Row(
        "rss-worker-2000",
        True,
        1200,
        lambda s, c: _kafka().row_worker_rss(
            *_worker_day(s, c, s.replay_large), "rss-worker-2000.peak", s.rss_worker_cap_s
        ),
    ),
    Row(
        "rss-worker-10000",
        True,
        1200,
        lambda s, c: _kafka().row_worker_rss(
            *_worker_day(s, c, s.rss_large), "rss-worker-10000.peak", s.rss_worker_cap_s
        ),
    ),
)

BY_NAME = {row.name: row for row in ROWS}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="run one bench row; prints its figures as JSON")
    parser.add_argument("row", choices=sorted(BY_NAME))
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE)
    args = parser.parse_args(argv)
    started = time.monotonic()
    figures = BY_NAME[args.row].run(QUICK if args.quick else FULL, args.cache)
    print(f"{args.row}: measured in {time.monotonic() - started:.0f} s", file=sys.stderr)
    print(RESULT_MARK + json.dumps(figures), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
