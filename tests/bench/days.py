"""Simulated days for the bench, generated once with ``mediastat simulate`` and cached by parameters.

A day of 10,000 agents takes about a minute to simulate, longer than most rows take to measure, so
the files are kept under ``.bench/`` (git-ignored) with the parameters in their names: a later run,
or another row of the same run, reuses them.
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from tests.bench.measure import REPO

DEFAULT_CACHE = REPO / ".bench"


@dataclass(frozen=True)
class Day:
    agents: int
    hours: float
    per_hour: float
    seed: int = 7

    @property
    def stem(self) -> str:
        return f"day-a{self.agents}-h{self.hours:g}-p{self.per_hour:g}-s{self.seed}"

    def describe(self, events: int | None = None) -> str:
        counted = f", {events:,} events" if events is not None else ""
        return f"{self.agents:,} agents, {self.hours:g} h, {self.per_hour:,.0f} interactions/h{counted}"


def _simulate(args: list[str]) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "pipeline.cli", "simulate", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=900,
    )
    if done.returncode != 0:
        raise RuntimeError(f"mediastat simulate failed: {done.stderr.strip()[-500:]}")


def events_file(day: Day, cache: Path = DEFAULT_CACHE) -> Path:
    """The day's JSON Lines, simulated now unless the cache has them."""
    path = cache / f"{day.stem}.jsonl"
    if not path.exists():
        cache.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(f".{os.getpid()}.tmp")
        _simulate(
            [
                "--agents",
                str(day.agents),
                "--hours",
                f"{day.hours:g}",
                "--per-hour",
                f"{day.per_hour:g}",
                "--seed",
                str(day.seed),
                "-o",
                str(partial),
            ]
        )
        partial.replace(path)  # never a half-written file under the final name
    return path


def config_file(cache: Path = DEFAULT_CACHE) -> Path:
    """The shipped starter statistics as a file (what the issue's figures and targets use).

    Written from :func:`starter_text` rather than pointing into the package, so every row and the
    processes it starts read the same bytes whatever the package layout.
    """
    from pipeline.stats.config import starter_text

    path = cache / "starter.stats.yaml"
    text = starter_text()
    if not path.exists() or path.read_text(encoding="utf-8") != text:
        cache.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(f".{os.getpid()}.tmp")
        partial.write_text(text, encoding="utf-8")
        partial.replace(path)
    return path


def count_lines(path: Path) -> int:
    with path.open("rb") as fh:
        return sum(1 for line in fh if line.strip())
