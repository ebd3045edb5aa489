"""The table ``make bench`` prints and appends to ``bench/HISTORY.md``, with issue 9's targets.

A row's subprocess hands back *figures*: ``{"key", "what", "value", "unit"}`` (and optionally a
``note``, and ``partial`` when the row stopped at its cap before the end of its input, so a target
is not called met); a row that failed is one ``{"row", "failed"}``. Targets are looked up by key, so a figure
gets its target and verdict (met / missed) wherever it was measured.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path


@dataclass(frozen=True)
class Target:
    compare: Callable[[float, float], bool]
    bound: float
    text: str

    def met(self, value: float) -> bool:
        return not math.isnan(value) and self.compare(value, self.bound)


def at_least(bound: float, text: str) -> Target:
    return Target(operator.ge, bound, f"≥ {text}")


def at_most(bound: float, text: str) -> Target:
    return Target(operator.le, bound, f"≤ {text}")


#: Issue 9's targets, by figure key.
TARGETS: dict[str, Target] = {
    "replay-200.stats": at_least(3000, "3,000 events/s"),
    "replay-200.ratio": at_least(0.3, "0.3"),
    "worker.events_per_s": at_least(1500, "1,500 events/s"),
    "worker.vs_faust": at_least(0.5, "0.5"),
    "latency.stat_p99": at_most(1000, "1,000 ms"),
    "rss-replay-10000.peak": at_most(600, "600 MB"),
    "rss-worker-10000.peak": at_most(600, "600 MB"),
}


def format_value(value: float | None, unit: str) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    if math.isinf(value):
        return "never (output missing)"
    if unit == "×":
        return f"{value:.2f}"
    if unit == "s":
        return f"{value:,.2f} s"
    if unit == "events/s" and value < 100:
        return f"{value:,.1f} events/s"
    return f"{value:,.0f} {unit}"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def format_table(figures: Iterable[dict], *, when: datetime, commit: str, machine: str, mode: str) -> str:
    """A Markdown section: a heading with date, commit, machine and mode, then one line a figure."""
    lines = [
        f"## {when.astimezone(UTC):%Y-%m-%d %H:%M} UTC · {commit} · {mode}",
        "",
        f"Machine: {machine}",
        "",
        "| row | what | figure | target | |",
        "|---|---|---|---|---|",
    ]
    for fig in figures:
        if "failed" in fig:
            lines.append(f"| {fig['row']} | | failed: {_cell(fig['failed'])} | | |")
            continue
        key = fig["key"]
        row = key.split(".", 1)[0]
        target = TARGETS.get(key)
        value = fig.get("value")
        verdict = ""
        if target is not None:
            verdict = "—" if value is None else ("met" if target.met(float(value)) else "missed")
            if fig.get("partial"):  # stopped before the end: a bound it might still break
                verdict = "partial run"
        what = fig["what"] + (f" ({fig['note']})" if fig.get("note") else "")
        lines.append(
            f"| {row} | {_cell(what)} | {format_value(value, fig['unit'])} | "
            f"{target.text if target else ''} | {verdict} |"
        )
    return "\n".join(lines) + "\n"


HISTORY_HEADER = (
    "# `make bench` history\n\n"
    "Each run of `make bench` appends its table here (newest last). Figures from shared or busy "
    "machines are noisy; compare ratios measured in the same run. What each row measures: "
    "`docs/bench.md`.\n"
)


def append_history(path: Path, table: str) -> None:
    """Append ``table`` to the history file, creating it (with its header) if needed."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists() or not path.read_text(encoding="utf-8").strip():
        path.write_text(HISTORY_HEADER, encoding="utf-8")
    with path.open("a", encoding="utf-8") as fh:
        fh.write("\n" + table)
