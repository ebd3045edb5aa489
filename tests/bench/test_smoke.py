"""``make bench`` smoke runs: every row in a subprocess, the table, the history file."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.bench.rows import BY_NAME
from tests.bench.run import run_row, select

REPO = Path(__file__).resolve().parents[2]


def _bench(tmp_path: Path, only: str, env: dict[str, str] | None = None, timeout: float = 600) -> str:
    history = tmp_path / "HISTORY.md"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "tests.bench.run",
            "--quick",
            "--only",
            only,
            "--history",
            str(history),
            "--cache",
            str(tmp_path / "cache"),
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
    )
    assert done.returncode == 0, done.stderr
    for row in only.split(","):
        assert "bench [" in done.stderr and f"] {row}: done in" in done.stderr, done.stderr
    text = history.read_text()
    assert done.stdout.strip() in text  # the printed table is the appended one
    assert "failed" not in text, text
    return text


def test_quick_broker_free_row_prints_and_appends_its_table(tmp_path: Path) -> None:
    text = _bench(tmp_path, "replay-200")
    lines = [x for x in text.splitlines() if x.startswith("| replay-200 |")]
    assert len(lines) == 3
    assert "events/s" in lines[0] and "events/s" in lines[1]
    assert "≥ 3,000 events/s" in lines[1] and "≥ 0.3" in lines[2]
    assert list((tmp_path / "cache").glob("day-a20-*.jsonl"))  # the simulated day is cached


def test_a_row_outlasting_its_timeout_fails_alone(tmp_path: Path) -> None:
    got = run_row(BY_NAME["replay-200"], quick=True, cache=tmp_path, timeout_s=0.2)
    assert got == [{"row": "replay-200", "failed": got[0]["failed"]}]
    assert got[0]["failed"].startswith("timeout after 0 s")


def test_unknown_rows_are_refused_with_the_list() -> None:
    with pytest.raises(SystemExit, match="replay-200"):
        select("replay-200,nope")
    assert [r.name for r in select("latency,worker")] == ["latency", "worker"]


@pytest.mark.integration
@pytest.mark.slow
@pytest.mark.soak  # a minute of bench rows: `pytest -m soak` (and every `make bench --quick`)
def test_quick_broker_rows(tmp_path: Path, kafka_bootstrap: str) -> None:
    text = _bench(
        tmp_path,
        "faust-bare,kafka-loop,worker,latency",
        env={"KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap},
        timeout=900,
    )
    for key in ("| faust-bare |", "| kafka-loop |", "| worker |", "| latency |"):
        assert key in text
    assert "worker / bare faust agent" in text
    assert "worker / the same day computed alone" in text
    assert text.count("p99") == 2
