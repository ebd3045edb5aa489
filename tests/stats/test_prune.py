"""Sliding ``prune`` drops exactly the buckets that left the window, whatever the clock's jump.

``prune`` walks the steps from the oldest bucket to the window's start and looks for the new oldest
from there (the usual one-step move costs O(1)); this checks it against the plain definition —
every bucket before the window's start goes, its sums leave the running totals, the oldest is the
smallest start left — over sparse windows, late buckets and long jumps.
"""

from __future__ import annotations

import copy

from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.stats import accumulator as acc_ops
from tests.stats.engine_builders import at, sliding, stat

STEP_S, LENGTH_S = 60, 600  # ten buckets of a minute
PLAN = acc_ops.compile_plan(
    stat("TotalNumber", ["Done"], objects=["Agent"], profile=sliding(LENGTH_S, STEP_S))
)


def _reference_prune(acc: acc_ops.Accumulator, now: int) -> int:
    """The definition: drop every bucket before the window's start, subtract what they held."""
    first = PLAN.window_start(now)
    held = 0
    for start in [s for s in acc.buckets if s < first]:
        gone = acc.buckets.pop(start)
        if gone.holds_something():
            acc.total.subtract(gone)
            held += 1
    acc.oldest = min(acc.buckets, default=None)
    return held


def _observed(acc: acc_ops.Accumulator) -> tuple:
    return sorted(acc.buckets), acc.oldest, acc.total.number_main, acc.total.adjusted_main


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.tuples(st.integers(0, 3000), st.integers(0, 120)), min_size=1, max_size=25),
    st.lists(st.integers(0, 4000), min_size=1, max_size=6),
)
def test_prune_drops_what_left_the_window(completions: list[tuple[int, int]], clocks: list[int]) -> None:
    acc = acc_ops.new_accumulator(PLAN, "Agent", "t1", "a1", at(0), at(0))
    for end_s, dur_s in completions:  # in any order: late ones fill older (or create sparse) buckets
        acc_ops.complete(acc, PLAN, at(end_s), dur_s * 1000, at(end_s - dur_s), True, False, at(end_s))
    for now_s in sorted(clocks):
        expected = copy.deepcopy(acc)
        held = _reference_prune(expected, at(now_s))
        assert acc_ops.prune(acc, PLAN, at(now_s)) == held
        assert _observed(acc) == _observed(expected)
