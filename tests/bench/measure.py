"""Measuring helpers of ``make bench``: percentiles, a child's peak RSS, the machine and the commit.

Kept free of Kafka and of the pipeline so the tests can check them on their own and every row can
use them without importing more than it measures.
"""

from __future__ import annotations

import math
import os
import platform
import signal
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (0..100) by the nearest-rank method: always one of the values.

    Nearest rank rather than interpolation so a p99 is a latency some event really had; an infinite
    value (an event whose output never came) therefore shows as infinite once it is in the tail.
    """
    if not values:
        raise ValueError("percentile of no values")
    if not 0 <= q <= 100:
        raise ValueError(f"percentile {q} is not within 0..100")
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


def _vm_hwm_bytes(pid: int) -> int:
    """The process's high-water mark of resident memory (``VmHWM``), or 0 once it is gone."""
    return _status_bytes(pid, "VmHWM:")


def _status_bytes(pid: int, field: str) -> int:
    """One ``/proc/<pid>/status`` field in kB, as bytes (``VmHWM:``, ``VmRSS:``); 0 once it is gone."""
    return _proc_kb(f"/proc/{pid}/status", field)


def _proc_kb(path: str, field: str) -> int:
    try:
        with open(path) as fh:
            for line in fh:
                if line.startswith(field):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError):
        pass
    return 0


def rss_bytes(pid: int) -> int:
    """The process's resident memory now (``VmRSS``), or 0 once it is gone."""
    return _status_bytes(pid, "VmRSS:")


def descendants(pid: int) -> list[int]:
    """The process's children, their children, … (``/proc/<pid>/task/*/children``), now."""
    found, todo = [], [pid]
    while todo:
        parent = todo.pop()
        for task in Path(f"/proc/{parent}/task").glob("*"):
            try:
                kids = [int(k) for k in (task / "children").read_text().split()]
            except (OSError, ValueError):
                continue
            found += kids
            todo += kids
    return found


def _pss_bytes(pid: int) -> int:
    """The process's proportional share of resident memory (``Pss``: a page shared by n processes
    counts 1/n in each), or 0 once it is gone."""
    return _proc_kb(f"/proc/{pid}/smaps_rollup", "Pss:")


def tree_rss_bytes(pid: int) -> int:
    """Resident memory of the process and all its descendants together, now: replay with ``--jobs
    2`` holds its state in two processes, and their memory adds up. With descendants, the sum of
    their ``Pss``: a forked child shares its parent's pages until either writes them, and adding
    up ``VmRSS`` would count those twice. Alone, its ``VmRSS``."""
    children = descendants(pid)
    if not children:
        return rss_bytes(pid)
    return sum(_pss_bytes(p) for p in [pid, *children])


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system) the process has used so far, from ``/proc/<pid>/stat``; 0.0 once it
    is gone. Differences of it measure work, not waiting: steadier than rates on a shared machine."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            fields = fh.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime, stime
    except (OSError, ValueError, IndexError):
        return 0.0


@dataclass
class Finished:
    """How a measured child ended."""

    returncode: int
    peak_rss: int  # bytes
    timed_out: bool


class PeakRss:
    """Follows one child started with :class:`subprocess.Popen` and reports its peak RSS.

    While the child runs, ``VmHWM`` is sampled from ``/proc`` (so a row can read the peak of a
    worker it is about to stop), and so is the resident memory of the child and its own children
    together (replay's statistics process: ``wait4`` reports the largest one, not their sum); when
    it ends, ``wait4`` gives the kernel's ``ru_maxrss`` of that child. The largest is kept.
    Reap the child through :meth:`wait` only: ``Popen.wait`` would take the rusage away.
    """

    def __init__(self, proc: subprocess.Popen) -> None:
        self.proc = proc
        self.peak = 0

    def sample(self) -> int:
        self.peak = max(self.peak, _vm_hwm_bytes(self.proc.pid), tree_rss_bytes(self.proc.pid))
        return self.peak

    def wait(self, timeout_s: float, *, every_s: float = 0.2) -> Finished:
        """Wait up to ``timeout_s`` for the child, sampling; a child still running is killed."""
        deadline = time.monotonic() + timeout_s
        timed_out = False
        while True:
            self.sample()
            try:
                pid, status, usage = os.wait4(self.proc.pid, os.WNOHANG)
            except ChildProcessError:  # already reaped (``Popen.poll``): its exit code is known
                return Finished(self.proc.returncode, self.peak, False)
            if pid:
                break
            if time.monotonic() >= deadline:
                timed_out = True
                self.proc.send_signal(signal.SIGKILL)
                pid, status, usage = os.wait4(self.proc.pid, 0)
                break
            time.sleep(every_s)
        self.proc.returncode = os.waitstatus_to_exitcode(status)
        self.peak = max(self.peak, usage.ru_maxrss * 1024)  # Linux: KiB
        return Finished(self.proc.returncode, self.peak, timed_out)


def machine() -> str:
    """CPU model, cores, RAM and Python, as one line for the table's heading."""
    model = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = " ".join(line.split(":", 1)[1].split())
                break
    except OSError:
        pass
    ram = ""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                ram = f", {int(line.split()[1]) / 2**20:.1f} GiB RAM"
                break
    except (OSError, ValueError):
        pass
    return f"{model}, {os.cpu_count()} cores{ram}, Python {platform.python_version()}"


def commit(repo: Path = REPO) -> str:
    """The short commit, with ``(dirty)`` when tracked files differ from it."""

    def git(*args: str) -> str:
        return subprocess.run(
            ["git", *args], cwd=repo, capture_output=True, text=True, timeout=30, check=True
        ).stdout.strip()

    try:
        head = git("rev-parse", "--short", "HEAD")
        dirty = git("status", "--porcelain", "--untracked-files=no")
    except (OSError, subprocess.SubprocessError):
        return "unknown commit"
    return f"{head} (dirty)" if dirty else head
