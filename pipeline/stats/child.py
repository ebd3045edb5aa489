"""Replay's statistics in a child process: stage 3 on a second core beside stages 1 and 2.

A replay with statistics spends about three quarters of its time in the statistics engine and in
writing its records (34 per event on a busy day), and the rest making the actions; both are one
thread of Python. The engine needs nothing from the actions' side but the sequence of calls the
single process makes — push each action, release to each watermark, flush, finals — so the parent
sends exactly that sequence through a pipe, in messages of :data:`SEND_EVERY` calls, and the child
runs :class:`~pipeline.stats.ordered.OrderedStats` on it and writes the statistics file itself
(opened by the parent, inherited; the parent closes its copy at once, its buffer still empty).
The child sees the calls in the same order, so it writes the same file, byte for byte, as one
process does (``tests/stats/test_child.py``). A full pipe blocks the parent: the actions never run
more than a pipe's worth ahead of the statistics.

The child is forked (it inherits the configuration and the collector's settings, nothing is
pickled but the calls); where ``fork`` is not available, replay runs in one process.
"""

from __future__ import annotations

import multiprocessing
import os
import traceback
from collections.abc import Iterable
from functools import partial
from multiprocessing.connection import Connection
from typing import IO, Any

from pipeline.stats.config import Config
from pipeline.stats.ordered import OrderedStats
from pipeline.stats.rows import write_lines

__all__ = ["SEND_EVERY", "ChildFailed", "StatsInChild", "available"]

#: Calls gathered into one message to the child (a message costs a pickle and a write on each side).
SEND_EVERY = 512

_PUSH, _RELEASE, _FLUSH, _FINALS, _END = range(5)


def available() -> bool:
    """Can a child be forked here (Linux; not where ``fork`` is missing)?"""
    return "fork" in multiprocessing.get_all_start_methods()


class ChildFailed(RuntimeError):
    """The statistics process failed; the message carries its traceback or exit code."""


class StatsInChild:
    """The four calls replay makes to stage 3, forwarded to a child that writes to ``out``.

    Each call returns no records (the child writes them); :meth:`close` ends the child and returns
    how many records it wrote. Use as a context manager so that a failing parent stops the child.
    """

    def __init__(self, config: Config, window_ms: int, out: IO[bytes]) -> None:
        context = multiprocessing.get_context("fork")
        self._conn, child_end = context.Pipe(duplex=True)
        self._process = context.Process(
            target=_serve, args=(child_end, config, window_ms, out), name="mediastat-stats", daemon=True,
        )
        out.flush()  # nothing of the parent's may reach the file after the child's records
        self._process.start()
        child_end.close()
        out.close()  # the child's now
        self._calls: list[tuple[int, Any]] = []

    def __enter__(self) -> StatsInChild:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- the calls, as OrderedStats's iterators -------------------------------------------------

    def iter_push_batches(self, action: dict) -> Iterable[Any]:
        self._call(_PUSH, action)
        return ()

    def iter_release_to_batches(self, watermark: int) -> Iterable[Any]:
        self._call(_RELEASE, watermark)
        return ()

    def iter_flush_batches(self) -> Iterable[Any]:
        self._call(_FLUSH, None)
        return ()

    def iter_finals_batches(self, until: int) -> Iterable[Any]:
        self._call(_FINALS, until)
        return ()

    def _call(self, op: int, arg: Any) -> None:
        calls = self._calls
        calls.append((op, arg))
        if len(calls) >= SEND_EVERY:
            self._send()

    def _send(self) -> None:
        try:
            self._conn.send(self._calls)
        except (BrokenPipeError, ConnectionResetError):
            raise self._failure() from None
        self._calls = []

    # --- the end ------------------------------------------------------------------------------

    def close(self) -> int:
        """Send the last calls, wait for the child; the number of records it wrote."""
        self._calls.append((_END, None))
        self._send()
        try:
            kind, value = self._conn.recv()
        except EOFError:
            raise self._failure() from None
        self._process.join()
        if kind != "done":
            raise ChildFailed(f"the statistics process failed:\n{value}")
        return int(value)

    def stop(self) -> None:
        """Stop the child if it still runs (the parent failed), and release the pipe."""
        if self._process.is_alive():
            self._process.terminate()
        self._process.join()
        self._conn.close()

    def _failure(self) -> ChildFailed:
        """What to say when the child is gone without an answer (killed, out of memory)."""
        try:
            if self._conn.poll(0):
                kind, value = self._conn.recv()
                if kind == "error":
                    return ChildFailed(f"the statistics process failed:\n{value}")
        except (EOFError, OSError):
            pass
        self._process.join(5)
        code = self._process.exitcode
        return ChildFailed(f"the statistics process ended without a result (exit code {code})")


def _serve(conn: Connection, config: Config, window_ms: int, out: IO[bytes]) -> None:
    """The child: apply the calls in order, write their records, answer with the count."""
    try:
        stats = OrderedStats.once_each(config, window_ms)
        ops = (stats.iter_push_batches, stats.iter_release_to_batches,
               lambda _arg: stats.iter_flush_batches(), stats.iter_finals_batches)
        written = 0
        with out:
            write = partial(write_lines, out.write)
            ended = False
            while not ended:
                for op, arg in conn.recv():
                    if op == _END:
                        ended = True
                        break
                    written += write(ops[op](arg))
        conn.send(("done", written))
    except BaseException:  # everything reaches the parent, which says it and exits non-zero
        try:
            conn.send(("error", traceback.format_exc()))
        finally:
            os._exit(1)
    finally:
        conn.close()
