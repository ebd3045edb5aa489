"""Giving glibc's free heap memory back to the system (pipeline/heap.py), as the worker does every
few seconds."""

from __future__ import annotations

from pipeline import heap


def resident_kb() -> int:
    for line in open("/proc/self/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS in /proc/self/status")


def test_a_trim_gives_back_the_free_pages_inside_the_heap() -> None:
    """Memory freed below a block still in use stays resident (glibc gives back only a heap's top)
    until a trim returns its pages."""
    if heap._malloc_trim() is None:  # not glibc: nothing to call, and nothing done
        assert heap.trim() is None
        return
    heap.trim()
    blocks = [b"x" * 5000 for _ in range(20_000)]  # about 100 MB written, in malloc's heap
    pin = b"y" * 5000  # in use above them: the heap's top cannot shrink past it
    before = resident_kb()  # with the blocks
    del blocks
    took = heap.trim()
    after = resident_kb()
    assert took is not None and took >= 0
    assert before - after > 50_000, (before, after)  # most of the 100 MB left the process
    assert pin[:1] == b"y"


def test_the_trimming_thread_runs_on_its_own_until_stopped() -> None:
    import threading
    import time

    stop = threading.Event()
    if heap._malloc_trim() is None:
        assert heap.start_trimming(0.01, stop) is None
        return
    blocks = [b"x" * 5000 for _ in range(20_000)]  # about 100 MB written, in malloc's heap
    pin = b"y" * 5000
    before = resident_kb()  # with the blocks
    thread = heap.start_trimming(0.01, stop)
    try:
        assert thread is not None and thread.daemon
        del blocks
        deadline = time.monotonic() + 5
        while before - resident_kb() < 50_000 and time.monotonic() < deadline:
            time.sleep(0.05)  # no trim called here: the thread's
        assert before - resident_kb() >= 50_000
        assert pin[:1] == b"y"
    finally:
        stop.set()
    thread.join(1)
    assert not thread.is_alive()
