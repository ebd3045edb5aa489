"""The bench table and its history file (no broker, nothing timed)."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from pathlib import Path

from tests.bench.report import HISTORY_HEADER, append_history, format_table, format_value

WHEN = datetime(2026, 11, 29, 2, 30, tzinfo=UTC)


def _table(figures: list[dict]) -> str:
    return format_table(
        figures, when=WHEN, commit="abc1234 (dirty)", machine="Some CPU, 2 cores", mode="quick"
    )


def test_table_shows_each_figure_with_its_target_and_verdict() -> None:
    table = _table(
        [
            {
                "key": "replay-200.actions",
                "what": "replay, actions only (200 agents)",
                "value": 9381.2,
                "unit": "events/s",
            },
            {
                "key": "replay-200.stats",
                "what": "replay, starter statistics",
                "value": 3500.0,
                "unit": "events/s",
            },
            {"key": "replay-200.ratio", "what": "statistics / actions only", "value": 0.18, "unit": "×"},
            {
                "key": "latency.stat_p99",
                "what": "raw event → statistic, p99",
                "value": math.inf,
                "unit": "ms",
                "note": "3 of 900 never seen",
            },
            {"row": "worker", "failed": "no answer to the probe within 180 s"},
            {
                "key": "rss-worker-10000.peak",
                "what": "peak RSS of one worker",
                "value": 434.0,
                "unit": "MB",
                "partial": True,
            },
        ]
    )
    lines = table.splitlines()
    assert lines[0] == "## 2026-11-29 02:30 UTC · abc1234 (dirty) · quick"
    assert "Machine: Some CPU, 2 cores" in lines
    assert "| replay-200 | replay, actions only (200 agents) | 9,381 events/s |  |  |" in lines
    assert "| replay-200 | replay, starter statistics | 3,500 events/s | ≥ 3,000 events/s | met |" in lines
    assert "| replay-200 | statistics / actions only | 0.18 | ≥ 0.3 | missed |" in lines
    assert (
        "| latency | raw event → statistic, p99 (3 of 900 never seen) | never (output missing) "
        "| ≤ 1,000 ms | missed |" in lines
    )
    assert "| worker | | failed: no answer to the probe within 180 s | | |" in lines
    # under its bound but stopped before the end of its day: not called met
    assert "| rss-worker-10000 | peak RSS of one worker | 434 MB | ≤ 600 MB | partial run |" in lines


def test_pipes_in_text_do_not_break_the_table() -> None:
    table = _table([{"row": "latency", "failed": "ValueError: a|b"}])
    assert "failed: ValueError: a\\|b" in table


def test_small_rates_keep_a_decimal() -> None:
    assert format_value(4.46, "events/s") == "4.5 events/s"
    assert format_value(1234.6, "MB") == "1,235 MB"
    assert format_value(None, "ms") == "—"


def test_history_is_created_with_a_header_then_appended_to(tmp_path: Path) -> None:
    history = tmp_path / "bench" / "HISTORY.md"
    first = _table([{"row": "worker", "failed": "first"}])
    second = _table([{"row": "worker", "failed": "second"}])
    append_history(history, first)
    append_history(history, second)
    text = history.read_text()
    assert text.startswith(HISTORY_HEADER)
    assert text.count(HISTORY_HEADER) == 1
    assert text.index("failed: first") < text.index("failed: second")
    assert text.endswith(second)
