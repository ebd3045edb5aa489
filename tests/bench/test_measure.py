"""Measuring helpers: the percentile and the peak RSS of a child (no broker, nothing timed)."""

from __future__ import annotations

import math
import subprocess
import sys

import pytest

from tests.bench.measure import PeakRss, commit, cpu_seconds, machine, percentile

MiB = 2**20


def test_percentile_is_a_nearest_rank_value() -> None:
    values = [float(v) for v in range(100, 0, -1)]  # 1..100, unsorted
    assert percentile(values, 50) == 50
    assert percentile(values, 99) == 99
    assert percentile(values, 100) == 100
    assert percentile(values, 0) == 1
    assert percentile([5.0], 99) == 5


def test_a_missing_output_shows_in_the_tail_only() -> None:
    values = [10.0] * 98 + [math.inf] * 2
    assert percentile(values, 50) == 10
    assert percentile(values, 99) == math.inf


def test_percentile_refuses_nonsense() -> None:
    with pytest.raises(ValueError):
        percentile([], 50)
    with pytest.raises(ValueError):
        percentile([1.0], 101)


def test_peak_rss_of_a_child_that_allocates_a_known_amount() -> None:
    size = 200 * MiB
    child = subprocess.Popen(
        [sys.executable, "-c", f"import time; b = b'x' * {size}; time.sleep(0.3); del b; time.sleep(0.3)"]
    )
    ended = PeakRss(child).wait(60)
    assert ended.returncode == 0 and not ended.timed_out
    # The bytes object plus the interpreter (~10-30 MB); freed before the end, still counted.
    assert size <= ended.peak_rss <= size + 150 * MiB


def test_peak_rss_adds_up_a_child_and_the_process_it_forks() -> None:
    """Two processes of 150 MB each at once (replay with its statistics process): 300 MB and more,
    where the largest of them alone would say 150."""
    size = 150 * MiB
    code = (
        "import os, time\n"
        "pid = os.fork()\n"
        f"b = b'x' * {size}\n"
        "time.sleep(1.5)\n"
        "os._exit(0) if pid == 0 else os.waitpid(pid, 0)\n"
    )
    ended = PeakRss(subprocess.Popen([sys.executable, "-c", code])).wait(60)
    assert ended.returncode == 0
    assert 2 * size <= ended.peak_rss <= 2 * size + 200 * MiB


def test_a_child_outliving_the_timeout_is_killed_and_said_so() -> None:
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    ended = PeakRss(child).wait(0.5)
    assert ended.timed_out
    assert ended.returncode != 0
    assert child.poll() is not None


def test_machine_and_commit_lines() -> None:
    assert "cores" in machine() and "Python 3." in machine()
    assert commit() != "unknown commit"


def test_cpu_seconds_count_a_childs_work_not_its_waiting() -> None:
    """A child that computes, then sleeps: its CPU time grows while it computes, not while it sleeps."""
    code = ("import time, sys\nend = time.process_time() + 0.6\nwhile time.process_time() < end: pass\n"
            "print('done', flush=True)\ntime.sleep(30)\n")
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "done"
        worked = cpu_seconds(proc.pid)
        assert worked >= 0.5
        assert cpu_seconds(proc.pid) - worked < 0.2  # sleeping
    finally:
        proc.kill()
        proc.wait()
    assert cpu_seconds(proc.pid) == 0.0  # gone


def test_replay_once_gives_the_commands_cpu_time_beside_its_time(tmp_path) -> None:
    """The worker row sets the worker's CPU per event beside this figure of replay in one process."""
    from tests.bench.days import Day, config_file, events_file
    from tests.bench.rows import replay_once

    events, config = events_file(Day(10, 0.1, 100), tmp_path), config_file(tmp_path)
    one = replay_once(events, config, statistics=True, jobs=1)
    assert one.cpu_s > 0
    # one process: its CPU time cannot exceed the time the command ran (plus a clock tick)
    assert one.cpu_s <= one.seconds + 0.02
    assert one.peak_rss > 10 * MiB


def test_rss_now_of_a_live_process_and_of_one_gone() -> None:
    from tests.bench.measure import rss_bytes

    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    gone = child.pid
    assert rss_bytes(gone) == 0
    me = __import__("os").getpid()
    before = rss_bytes(me)
    block = b"x" * (64 * MiB)  # written: resident
    assert rss_bytes(me) >= before + 60 * MiB
    del block
