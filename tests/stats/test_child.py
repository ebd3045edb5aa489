"""Replay's statistics in a child process (``pipeline.stats.child``, ``replay --jobs``)."""

from __future__ import annotations

import argparse
import json
import os
import signal
from pathlib import Path

import pytest

from pipeline import replay as replay_module
from pipeline.cli import main
from pipeline.simulate import Simulator
from pipeline.stats import child
from pipeline.stats.config import load_config, starter_text

pytestmark = pytest.mark.skipif(not child.available(), reason="no fork on this platform")


@pytest.fixture(scope="module")
def day(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A simulated hour of 6 agents (groups included) and the starter statistics."""
    folder = tmp_path_factory.mktemp("child")
    events = folder / "day.jsonl"
    sim = Simulator(agents=6, hours=1.0, per_hour=90, seed=11, tenant="t1", start="2026-05-11T08:00:00Z")
    events.write_text("".join(json.dumps(e) + "\n" for e in sim.events()))
    config = folder / "stats.yaml"
    config.write_text(starter_text() + "\ngroups:\n  GroupAgents: {Odd: [a001, a003, a005]}\n")
    return events, config


def run(events: Path, config: Path, out: Path, *extra: str) -> tuple[bytes, bytes]:
    rc = main(["replay", str(events), "--config", str(config), "--actions-out", str(out / "a.jsonl"),
               "--stats-out", str(out / "s.jsonl"), "--quiet", *extra])
    assert rc == 0
    return (out / "a.jsonl").read_bytes(), (out / "s.jsonl").read_bytes()


def test_a_child_writes_the_same_files_byte_for_byte(day: tuple[Path, Path], tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """The child gets the calls in the single process's order: the same records in the same order,
    with many messages through the pipe (a small SEND_EVERY) and one."""
    events, config = day
    (tmp_path / "one").mkdir()
    one = run(events, config, tmp_path / "one", "--jobs", "1")
    for every in (7, 100_000):
        monkeypatch.setattr(child, "SEND_EVERY", every)
        (tmp_path / str(every)).mkdir()
        assert run(events, config, tmp_path / str(every), "--jobs", "2") == one
    assert one[1].count(b"\n") > 1000


def test_the_summary_counts_the_child_s_records(day: tuple[Path, Path], tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    events, config = day
    assert main(["replay", str(events), "--config", str(config), "--stats-out", str(tmp_path / "s.jsonl"),
                 "--jobs", "2"]) == 0
    lines = (tmp_path / "s.jsonl").read_bytes().count(b"\n")
    assert f"statistic records: {lines}" in capsys.readouterr().err


def test_a_failure_in_the_child_is_reported_with_its_traceback(
    day: tuple[Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    class Broken(child.OrderedStats):
        def iter_push_batches(self, action: dict):
            raise RuntimeError("engine broke on " + action["Action"])

    monkeypatch.setattr(child, "OrderedStats", Broken)  # the forked child inherits the patch
    events, config = day
    rc = main(["replay", str(events), "--config", str(config), "--stats-out", str(tmp_path / "s.jsonl"),
               "--jobs", "2", "--quiet"])
    err = capsys.readouterr().err
    assert rc == 1
    assert "the statistics process failed" in err and "RuntimeError: engine broke on" in err


def test_a_child_killed_midway_fails_the_replay_with_its_exit_code(day: tuple[Path, Path],
                                                                    tmp_path: Path) -> None:
    events, config = day
    stats = child.StatsInChild(load_config(config), 2000, (tmp_path / "s.jsonl").open("wb"))
    with stats:
        os.kill(stats._process.pid, signal.SIGKILL)
        stats._process.join()
        with pytest.raises(child.ChildFailed, match=r"ended without a result \(exit code -9\)"):
            for n in range(child.SEND_EVERY + 1):
                stats.iter_release_to_batches(n)
            stats.close()


@pytest.mark.parametrize(
    ("given", "expected"),
    [({"jobs": 2}, True), ({"jobs": 1}, False), ({"jobs": 2, "stats_out": None}, False),
     ({"jobs": 2, "late_out": Path("late.jsonl")}, False), ({"jobs": 2, "stats_partitions": 3}, False),
     ({"jobs": None}, (os.cpu_count() or 1) >= 2)],
)
def test_when_the_statistics_run_in_a_child(given: dict, expected: bool) -> None:
    """Stage 3's late records and the partitioned check stay in the one process (--late-out,
    --stats-partitions); by default a child where there is a second core."""
    args = argparse.Namespace(**{"stats_out": Path("s.jsonl"), "late_out": None, "stats_partitions": 1,
                                 **given})
    assert replay_module._stats_in_child(args) is expected
