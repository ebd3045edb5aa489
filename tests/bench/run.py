"""``make bench``: every row in its own subprocess, one table printed and appended to the history.

    python -m tests.bench.run [--quick] [--only ROW[,ROW…]] [--history FILE] [--cache DIR]

Rows run one after another (the machine has two cores; rows side by side would measure each
other). A row that fails or outlasts its timeout shows as ``failed: <reason>`` and the rest still
run. Progress goes to stderr, one line as a row starts and one as it ends; the table to stdout.
What each row measures: ``docs/bench.md``.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from tests.bench.days import DEFAULT_CACHE
from tests.bench.measure import REPO, commit, machine
from tests.bench.report import append_history, format_table
from tests.bench.rows import BY_NAME, RESULT_MARK, ROWS, Row

DEFAULT_HISTORY = REPO / "bench" / "HISTORY.md"


def row_timeout(row: Row, quick: bool) -> float:
    return max(60.0, row.timeout_s / 3) if quick else row.timeout_s


def run_row(row: Row, *, quick: bool, cache: Path, timeout_s: float) -> list[dict]:
    """The row's figures, or one ``failed`` entry saying why (last line of its stderr, or timeout)."""
    args = [sys.executable, "-m", "tests.bench.rows", row.name, "--cache", str(cache)]
    if quick:
        args.append("--quick")
    cache.mkdir(parents=True, exist_ok=True)
    log_path = cache / f"{row.name}.log"
    try:
        with log_path.open("w") as log:
            done = subprocess.run(
                args, cwd=REPO, stdout=subprocess.PIPE, stderr=log, text=True, timeout=timeout_s
            )
    except subprocess.TimeoutExpired:
        return [{"row": row.name, "failed": f"timeout after {timeout_s:.0f} s (log: {log_path})"}]
    for line in reversed(done.stdout.splitlines()):
        if line.startswith(RESULT_MARK):
            return json.loads(line[len(RESULT_MARK) :])
    lines = [x for x in log_path.read_text(errors="replace").splitlines() if x.strip()]
    reason = lines[-1].strip() if lines else f"exit code {done.returncode}"
    return [{"row": row.name, "failed": f"{reason[:300]} (log: {log_path})"}]


def derived(figures: list[dict]) -> list[dict]:
    """Figures made of two rows of the same run: the worker's ratio to the bare faust agent."""
    values = {f["key"]: f["value"] for f in figures if "key" in f}
    worker, bare = values.get("worker.events_per_s"), values.get("faust-bare.events_per_s")
    if worker is None or not bare:
        return []
    return [
        {"key": "worker.vs_faust", "what": "worker / bare faust agent", "value": worker / bare, "unit": "×"}
    ]


def select(only: str | None) -> list[Row]:
    if not only:
        return list(ROWS)
    names = [n.strip() for n in only.split(",") if n.strip()]
    unknown = [n for n in names if n not in BY_NAME]
    if unknown:
        raise SystemExit(f"bench: unknown row(s) {', '.join(unknown)}; rows: {', '.join(BY_NAME)}")
    return [BY_NAME[n] for n in names]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="small sizes: a smoke run of every row")
    parser.add_argument("--only", metavar="ROWS", help=f"comma-separated rows of: {', '.join(BY_NAME)}")
    parser.add_argument("--history", type=Path, default=DEFAULT_HISTORY, help="append the table here")
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE, help="simulated days and row logs")
    args = parser.parse_args(argv)
    rows = select(args.only)
    when = datetime.now(UTC)
    figures: list[dict] = []
    started = time.monotonic()
    for n, row in enumerate(rows, 1):
        timeout_s = row_timeout(row, args.quick)
        print(
            f"bench [{n}/{len(rows)}] {row.name}: running (timeout {timeout_s:.0f} s)",
            file=sys.stderr,
            flush=True,
        )
        row_started = time.monotonic()
        got = run_row(row, quick=args.quick, cache=args.cache, timeout_s=timeout_s)
        state = got[0]["failed"] if got and "failed" in got[0] else "done"
        print(
            f"bench [{n}/{len(rows)}] {row.name}: {state} in {time.monotonic() - row_started:.0f} s",
            file=sys.stderr,
            flush=True,
        )
        figures += got
    figures += derived(figures)
    mode = ("quick" if args.quick else "full") + (f", rows {args.only}" if args.only else "")
    mode += f", {time.monotonic() - started:.0f} s"
    table = format_table(figures, when=when, commit=commit(), machine=machine(), mode=mode)
    print(table)
    append_history(args.history, table)
    print(f"bench: appended to {args.history}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
