"""Giving the C heap's free memory back to the system (the worker, every few seconds).

Much of what a worker allocates goes through glibc's ``malloc``, not Python's own allocator:
every object over 512 bytes (bundles of actions, checkpoint buckets, large lists and dicts),
librdkafka's copies of the records queued (made on the stage's thread, freed on librdkafka's), and
RocksDB's buffers. glibc keeps freed memory in its heaps for reuse and gives back to the system
only the free memory at the top of a heap, so after a burst — the release of a whole instant at a
shift's end, 148,000 actions and 700,000 records at 10,000 agents — the pages it used stay
resident. A worker on the bench's 10,000-agent day ended with 801 MB resident, of which 183 MB
were free memory inside glibc's heaps (``mallinfo2`` sampled every 2 s; 65 MB of them in use).

``malloc_trim(0)`` returns every whole free page of every heap (``madvise``), leaving the heaps as
they are: the next allocations reuse the same addresses and fault the pages in again. Elsewhere
than glibc (musl, macOS) there is nothing to call and :func:`trim` does nothing.

The worker trims from a thread of its own (:func:`start_trimming`), not from its event loop: the
burst that leaves the most free memory is one synchronous stretch of stage 3 (the release of the
shift's end is tens of seconds of the engine's work), during which no timer of the loop runs. A
ctypes call lets go of the GIL, and glibc locks each heap while it trims it.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import threading
import time
from functools import cache

#: Seconds between two trims of a worker's heaps (each is a walk of the heaps' free lists).
TRIM_EVERY_S = 2.0


@cache
def _malloc_trim():
    """glibc's ``malloc_trim``, or None where the C library has none."""
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name or "libc.so.6")
        function = libc.malloc_trim
    except (OSError, AttributeError):
        return None
    function.argtypes = [ctypes.c_size_t]
    function.restype = ctypes.c_int
    return function


def trim() -> float | None:
    """Give the heaps' free pages back to the system; the seconds it took, or None when the C
    library cannot (not glibc)."""
    function = _malloc_trim()
    if function is None:
        return None
    started = time.perf_counter()
    function(0)
    return time.perf_counter() - started


def start_trimming(every_s: float = TRIM_EVERY_S,
                   stop: threading.Event | None = None) -> threading.Thread | None:
    """A daemon thread that trims every ``every_s`` until ``stop`` is set (or the process ends);
    None where the C library cannot trim."""
    if _malloc_trim() is None:
        return None
    stopped = stop if stop is not None else threading.Event()

    def loop() -> None:
        while not stopped.wait(every_s):
            trim()

    thread = threading.Thread(target=loop, name="mediastat-heap-trim", daemon=True)
    thread.start()
    return thread
