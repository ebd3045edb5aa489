"""``mediastat replay``: the offline driver — a file of events through the same pure core, no Kafka.

File → validation → :class:`~pipeline.core.driver.CoreDriver` (actions) → statistics engine, with
the event clock. Users rely on it for backfill, what-if analysis of stat types, and tests; the
Kafka pipeline fed the same events (one partition, same order) gives the same action records and
the same final statistic values (records.md, "Offline replay").
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from pipeline import collector
from pipeline.core.driver import CoreDriver
from pipeline.core.ordering import DEFAULT_WINDOW_MS, parse_window
from pipeline.records.codec import read_avro_file, to_json
from pipeline.records.deadletter import build_dead_letter
from pipeline.records.durations import argument
from pipeline.records.errors import BadRecord
from pipeline.records.future import DEFAULT_FUTURE_TOLERANCE_MS, tolerance_argument
from pipeline.records.jsonlines import encode_line, encode_stat_line
from pipeline.records.times import parse_time
from pipeline.records.validation import parse_json_line, validate_event
from pipeline.stats.child import ChildFailed, StatsInChild
from pipeline.stats.child import available as child_available
from pipeline.stats.config import Config, ConfigError, load_config
from pipeline.stats.late_watch import watch_replay
from pipeline.stats.ordered import OrderedStats
from pipeline.stats.partials import check_mergeable
from pipeline.stats.rows import Row, write_lines
from pipeline.stats.topology import PartitionedStats

Sink = Callable[[dict], None]


@dataclass
class ReplaySummary:
    """What a replay did, printed at the end and returned to callers."""

    lines: int = 0
    events: int = 0
    actions: int = 0
    stats: int = 0
    dead_letters: int = 0
    after_until: int = 0
    counters: Counter = field(default_factory=Counter)
    anomalies: Counter = field(default_factory=Counter)
    dead_letter_kinds: Counter = field(default_factory=Counter)
    seconds: float = 0.0

    def render(self) -> str:
        rate = self.lines / self.seconds if self.seconds > 0 else 0.0
        parts = [
            f"events read: {self.lines}",
            f"valid: {self.events}",
            f"actions written: {self.actions}",
        ]
        if self.stats:
            parts.append(f"statistic records: {self.stats}")
        parts += [
            f"dead letters: {self.dead_letters}"
            + (f" ({_fmt(self.dead_letter_kinds)})" if self.dead_letters else ""),
            f"duplicates: {self.counters.get('duplicates', 0)}",
            f"ignored: {self.counters.get('ignored', 0)}",
            f"late: {self.counters.get('late', 0)}",
            f"anomalies: {sum(self.anomalies.values())}"
            + (f" ({_fmt(self.anomalies)})" if self.anomalies else ""),
        ]
        if self.after_until:
            parts.append(f"after --until (not read): {self.after_until}")
        parts.append(f"{rate:,.0f} events/s")
        return "replay: " + "; ".join(parts)


def _fmt(counter: Counter) -> str:
    return ", ".join(f"{k} {v}" for k, v in sorted(counter.items()))


def iter_source(path: Path) -> Iterator[tuple[int, bytes | dict]]:
    """(line number, raw line) for JSON Lines; (record number, dict) for ``.avro`` containers."""
    if path.suffix == ".avro":
        for n, record in enumerate(read_avro_file(path), start=1):
            yield n, record
        return
    with path.open("rb") as fh:
        for n, line in enumerate(fh, start=1):
            if line.strip():
                yield n, line.rstrip(b"\r\n")


def replay(
    source: Iterable[tuple[int, bytes | dict]],
    config: Config,
    *,
    until_ms: int | None = None,
    on_action: Sink | None = None,
    on_stat: Sink | None = None,
    on_dead_letter: Sink | None = None,
    source_name: str = "",
    progress: Callable[[int], None] | None = None,
    future_tolerance_ms: int | None = DEFAULT_FUTURE_TOLERANCE_MS,
    wall_ms: int | None = None,
    on_late: Sink | None = None,
    stats_partitions: int = 1,
    merge_partitions: int = 1,
    interleave: random.Random | None = None,
    window_ms: int = DEFAULT_WINDOW_MS,
    stats_file: IO[bytes] | None = None,
) -> ReplaySummary:
    """Run events through the core (and the statistics when ``on_stat`` or ``stats_file`` is given).

    An event more than ``future_tolerance_ms`` ahead of ``wall_ms`` (the command passes the time it
    started) is dead-lettered ``future-time`` (``pipeline.records.future``); ``None`` for either
    turns the rule off.

    ``stats_partitions`` > 1 runs the statistics as the partitioned pipeline does (stage 3 on that
    many partitions, stage 4 merging on ``merge_partitions``: ``pipeline.stats.topology``), with the
    hops between partitions delivered in a random interleaving when ``interleave`` is given; the
    statistic values are the same. Stage 3's late records are then not reported.

    ``window_ms`` is stage 2's reorder window (``--reorder-window``; the worker's option of that
    name): the records are the worker's only when both are given the same window.

    ``stats_file`` (instead of ``on_stat``, an open file): the statistics run in a child process
    that writes their JSON lines to it (``pipeline.stats.child``), the same file one process writes,
    made on a second core. Stage 3's late records are then not reported (stage 2's are).
    """
    if stats_file is not None and (on_stat is not None or stats_partitions > 1 or interleave is not None):
        raise ValueError("stats_file runs the statistics whole in a child: not with on_stat or partitions")
    with collector.tuned():  # the state is large: collect rarely (``pipeline.collector``)
        return _replay(source, config, until_ms=until_ms, on_action=on_action, on_stat=on_stat,
                       on_dead_letter=on_dead_letter, source_name=source_name, progress=progress,
                       future_tolerance_ms=future_tolerance_ms, wall_ms=wall_ms, on_late=on_late,
                       stats_partitions=stats_partitions, merge_partitions=merge_partitions,
                       interleave=interleave, window_ms=window_ms, stats_file=stats_file)


def _replay(
    source: Iterable[tuple[int, bytes | dict]],
    config: Config,
    *,
    on_stat: Sink | None,
    stats_partitions: int,
    merge_partitions: int,
    interleave: random.Random | None,
    window_ms: int,
    stats_file: IO[bytes] | None,
    **flow: Any,
) -> ReplaySummary:
    """:func:`replay` under the collector thresholds set there: stage 3 chosen, the rest of the
    arguments (``flow``) are :func:`_run`'s."""
    if stats_file is not None:
        started = time.perf_counter()
        with StatsInChild(config, window_ms, stats_file) as child:
            summary = _run(source, config, child, on_stat=None, window_ms=window_ms, **flow)
            summary.stats = child.close()
        summary.seconds = time.perf_counter() - started  # until the child has written its last record
        return summary
    stage3: OrderedStats | PartitionedStats | None = None
    if on_stat is not None and (stats_partitions > 1 or interleave is not None):
        stage3 = PartitionedStats(config, stats_partitions, merge_partitions, window_ms, interleave)
    elif on_stat is not None:
        stage3 = OrderedStats.once_each(config, window_ms)
    return _run(source, config, stage3, on_stat=on_stat, window_ms=window_ms, **flow)


def _run(
    source: Iterable[tuple[int, bytes | dict]],
    config: Config,
    stage3: OrderedStats | PartitionedStats | StatsInChild | None,
    *,
    until_ms: int | None,
    on_action: Sink | None,
    on_stat: Sink | None,
    on_dead_letter: Sink | None,
    source_name: str,
    progress: Callable[[int], None] | None,
    future_tolerance_ms: int | None,
    wall_ms: int | None,
    on_late: Sink | None,
    window_ms: int,
) -> ReplaySummary:
    """The events through stages 1 and 2, their actions to ``stage3`` (in this process or a child)."""
    summary = ReplaySummary()
    started = time.perf_counter()
    driver = CoreDriver(config.capacity, window_ms=window_ms)
    clock = 0  # the event clock: largest EventTime seen
    watched = stage3 if isinstance(stage3, OrderedStats) else None
    watch_replay(driver.buffer, watched, on_late, lambda: clock)  # late records (<prefix>.late's)

    write_all = getattr(on_stat, "write_all", None)
    # A sink of statistic lines takes the engine's rows as they are, a list at a time
    # (``pipeline.stats.rows``): no record dict is made for the 34 records per event of a busy day.
    write_rows = getattr(on_stat, "write_batches", None) if isinstance(stage3, OrderedStats) else None
    if isinstance(stage3, StatsInChild):  # the child writes the records: nothing comes back
        write_rows = lambda batches: 0  # noqa: E731
    if write_rows is not None:
        push, release, flush, finals = (stage3.iter_push_batches, stage3.iter_release_to_batches,
                                        stage3.iter_flush_batches, stage3.iter_finals_batches)
    elif stage3 is not None:
        push, release, flush, finals = (stage3.iter_push, stage3.iter_release_to, stage3.iter_flush,
                                        stage3.iter_finals)

    def to_stats(records: Iterable[dict] | Iterable[list[Row]]) -> None:
        if write_rows is not None:
            summary.stats += write_rows(records)
        elif write_all is not None:  # a LineSink: one loop, no call per record
            summary.stats += write_all(records)
        else:
            for rec in records:
                summary.stats += 1
                on_stat(rec)

    def emit_actions(actions: Iterable[dict]) -> None:
        for action in actions:
            summary.actions += 1
            if on_action is not None:
                on_action(action)
            if stage3 is not None:
                to_stats(push(action))

    for number, raw in source:
        summary.lines += 1
        if progress is not None:
            progress(len(raw) + 1 if isinstance(raw, bytes) else 1)
        try:
            obj = parse_json_line(raw) if isinstance(raw, bytes) else raw
            event = validate_event(
                obj, reference_ms=wall_ms, future_tolerance_ms=future_tolerance_ms
            )
        except BadRecord as bad:
            summary.dead_letters += 1
            summary.dead_letter_kinds[bad.kind] += 1
            if on_dead_letter is not None:
                payload = raw if isinstance(raw, bytes) else to_json(raw).encode()
                on_dead_letter(
                    build_dead_letter(
                        payload,
                        bad,
                        source_topic=source_name,
                        source_partition=None,
                        source_offset=number,
                        time_ms=clock,
                    )
                )
            continue
        if until_ms is not None and event["EventTime"] > until_ms:
            summary.after_until += 1
            continue
        summary.events += 1
        clock = max(clock, event["EventTime"])
        emit_actions(driver.iter_push(event))
        if stage3 is not None and driver.buffer.max_seen is not None:
            # Stage 2's watermark: every action at or before it has been produced (stage 1's at
            # once, stage 2's once its window passed them) — what stage 2 announces live.
            to_stats(release(driver.buffer.max_seen - driver.buffer.window_ms))
    emit_actions(driver.iter_flush())
    if stage3 is not None:
        to_stats(flush())
        to_stats(finals(until_ms if until_ms is not None else clock))
    summary.counters.update(driver.counters)
    summary.anomalies.update(driver.anomalies)
    summary.seconds = time.perf_counter() - started
    return summary


# --- command line --------------------------------------------------------------------------------


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.description = (
        "Run a file of reporting events through the same pure core as the Kafka pipeline, offline: "
        "writes every action record and, with --stats-out, every statistic notification plus one "
        "Final record per statistic and object."
    )
    parser.add_argument("events", type=Path, help="events file: JSON Lines (one event per line) or .avro")
    parser.add_argument(
        "--config", type=Path, help="statistics/capacity/groups YAML (default: the shipped starter)"
    )
    parser.add_argument("--actions-out", type=Path, help="write action records here (JSON Lines)")
    parser.add_argument("--stats-out", type=Path, help="write statistic records here (JSON Lines)")
    parser.add_argument(
        "--dead-letters-out",
        type=Path,
        help="write bad records here (JSON Lines; always created); default: summarised on stderr",
    )
    parser.add_argument(
        "--until",
        help="ISO time: events after it are not read; Final statistics are evaluated at it "
        "(default: the last EventTime)",
    )
    parser.add_argument(
        "--future-tolerance",
        type=tolerance_argument,
        default=DEFAULT_FUTURE_TOLERANCE_MS,
        metavar="DURATION",
        help="dead-letter events further ahead of the event clock (the largest EventTime accepted, "
        "never later than now) than this: 1d (default), 36h, 90m, 600s, or off",
    )
    parser.add_argument(
        "--reorder-window",
        type=argument(parse_window),
        default=DEFAULT_WINDOW_MS,
        metavar="DURATION",
        help="apply events out of EventTime order by up to this much in order, as the worker's "
        "option of that name: 2s (default), 500ms, 0 … 10m; give both the same to compare",
    )
    parser.add_argument(
        "--late-out", type=Path,
        help="write late records here (JSON Lines, as <prefix>.late: inputs later than the reorder "
        "window; with --stats-out, actions whose interval had closed)",
    )
    parser.add_argument(
        "--stats-partitions", type=_positive, default=1, metavar="N",
        help="compute the statistics as the pipeline does over N stats partitions (stage 3 partials, "
        "stage 4 merge; docs/partitioning.md): the same values, a check of the configuration (default 1)",
    )
    parser.add_argument(
        "--merge-partitions", type=_positive, default=1, metavar="M",
        help="with --stats-partitions, the partitions of the merge stage (default 1)",
    )
    parser.add_argument(
        "--jobs", type=int, choices=(1, 2), default=None, metavar="{1,2}",
        help="processes: 2 computes the statistics of --stats-out in a second process beside the "
        "actions, the same records on a second core (default: 2 where the machine has two cores or "
        "more and fork exists; 1 with --late-out or --stats-partitions)",
    )
    parser.add_argument("--quiet", action="store_true", help="no progress bar or summary")


def _stats_in_child(args: argparse.Namespace) -> bool:
    """Should the statistics run in a child (``--jobs``; see its help)?"""
    jobs = getattr(args, "jobs", None)
    if args.stats_out is None or jobs == 1 or not child_available():
        return False
    if getattr(args, "late_out", None) is not None or getattr(args, "stats_partitions", 1) > 1:
        return False  # stage 3's late records and the partitioned check run in this process
    return jobs == 2 or (os.cpu_count() or 1) >= 2


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number of at least 1, found {text!r}")
    return value


#: Output buffer: a replay writes hundreds of thousands of short lines.
_OUT_BUFFER = 1 << 20


def _open_out(path: Path | None) -> IO[bytes] | None:
    if path is None:
        return None
    path.parent.mkdir(parents=True, exist_ok=True)
    return path.open("wb", buffering=_OUT_BUFFER)


class LineSink:
    """A sink writing each record as one JSON line (``pipeline.records.jsonlines``), serialised once.

    ``write_all`` writes a whole batch in one loop: a replay writes hundreds of thousands of
    statistic records, and a Python call per record was a visible part of its time.
    """

    __slots__ = ("_write", "_encode")

    def __init__(self, fh: IO[bytes], encode: Callable[[dict], bytes] = encode_line) -> None:
        self._write, self._encode = fh.write, encode

    def __call__(self, record: dict) -> None:
        self._write(self._encode(record))

    def write_all(self, records: Iterable[dict]) -> int:
        """Write every record; returns how many."""
        write, encode = self._write, self._encode
        n = 0
        for record in records:
            write(encode(record))
            n += 1
        return n


class StatLineSink(LineSink):
    """A :class:`LineSink` of statistic records that also takes the engine's rows
    (``pipeline.stats.rows``) a list at a time, written without a record dict (``rows.encode_row``)."""

    __slots__ = ()

    def __init__(self, fh: IO[bytes]) -> None:
        super().__init__(fh, encode_stat_line)

    def write_batches(self, batches: Iterable[list[Row]]) -> int:
        """Write every row of every list as the line of its record; returns how many."""
        return write_lines(self._write, batches)


def _writer(fh: IO[bytes] | None, encode: Callable[[dict], bytes] = encode_line) -> Sink | None:
    """Each record serialised once, straight to bytes (statistic records by the writer for their
    known layout, ``jsonlines.encode_stat_line``)."""
    return None if fh is None else LineSink(fh, encode)


def run(args: argparse.Namespace) -> int:
    try:
        config = load_config(args.config)
    except (ConfigError, OSError) as exc:
        print(f"mediastat replay: {exc}", file=sys.stderr)
        return 2
    stats_partitions = getattr(args, "stats_partitions", 1)
    if stats_partitions > 1:
        try:
            check_mergeable(config)
        except ValueError as exc:
            print(f"mediastat replay: {exc}", file=sys.stderr)
            return 2
    if not args.events.is_file():
        print(f"mediastat replay: cannot read {args.events}: no such file", file=sys.stderr)
        return 2
    until_ms = None
    if args.until:
        try:
            until_ms = parse_time(args.until, "--until")
        except BadRecord as exc:
            print(f"mediastat replay: {exc.reason}", file=sys.stderr)
            return 2
    in_child = _stats_in_child(args)
    outs = [_open_out(p) for p in (args.actions_out, args.stats_out, args.dead_letters_out)]
    actions_fh, stats_fh, dead_fh = outs
    late_fh = _open_out(getattr(args, "late_out", None))
    outs.append(late_fh)
    dead_sink = _writer(dead_fh)
    first_bad: list[str] = []
    if dead_sink is None:

        def dead_sink(rec: dict) -> None:
            if len(first_bad) < 5:
                first_bad.append(f"  line {rec['SourceOffset']}: {rec['ErrorKind']}: {rec['Reason']}")

    bar = None
    if not args.quiet:
        from tqdm import tqdm

        bar = tqdm(
            total=args.events.stat().st_size,
            unit="B",
            unit_scale=True,
            desc="replay",
            file=sys.stderr,
            disable=None,
            leave=False,
        )
    try:
        summary = replay(
            iter_source(args.events),
            config,
            until_ms=until_ms,
            on_action=_writer(actions_fh),
            on_stat=StatLineSink(stats_fh) if stats_fh is not None and not in_child else None,
            on_dead_letter=dead_sink,
            source_name=str(args.events),
            progress=bar.update if bar is not None else None,
            future_tolerance_ms=args.future_tolerance,
            wall_ms=int(time.time() * 1000),
            on_late=_writer(late_fh),
            stats_partitions=stats_partitions,
            merge_partitions=getattr(args, "merge_partitions", 1),
            window_ms=getattr(args, "reorder_window", DEFAULT_WINDOW_MS),
            stats_file=stats_fh if in_child else None,
        )
    except OSError as exc:
        print(f"mediastat replay: cannot read {args.events}: {exc}", file=sys.stderr)
        return 2
    except BadRecord as exc:  # the file itself (an .avro that is not Avro, or cut short), not a line
        print(f"mediastat replay: {' '.join(exc.reason.split())}", file=sys.stderr)
        return 2
    except ChildFailed as exc:
        print(f"mediastat replay: {exc}", file=sys.stderr)
        return 1
    finally:
        if bar is not None:
            bar.close()
        for fh in outs:
            if fh is not None:
                fh.close()
    if not args.quiet:
        print(summary.render(), file=sys.stderr)
        if first_bad:
            print("first bad records (use --dead-letters-out to keep them all):", file=sys.stderr)
            print("\n".join(first_bad), file=sys.stderr)
    return 0
