"""Sliding buckets that hold only a split time (:class:`~pipeline.stats.accumulator.SplitTime`) are
the plain buckets they stand for.

``_split`` gives the earlier steps of a completion's duration a bucket of that time only, and every
other write to a window turns it into a full :class:`Bucket` first. This checks a window built that
way against the plain definition — every bucket a full ``Bucket`` — over random completions (late
ones included, so that a later completion writes its count into a step that held only a split time),
prunes, state export and merges.
"""

from __future__ import annotations

import copy

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.stats import accumulator as acc_ops
from pipeline.stats.accumulator import Bucket, SplitTime
from tests.stats.engine_builders import at, sliding, stat

STEP_S, LENGTH_S = 60, 600  # ten buckets of a minute
PLAN = acc_ops.compile_plan(
    stat("TotalTime", ["Done"], ["Other"], objects=["Agent"], profile=sliding(LENGTH_S, STEP_S),
         time_range=(0, 90))
)


def _plain_split_bucket(acc: acc_ops.Accumulator, start: int, time_main: int, time_rel: int,
                        whole: bool = False) -> Bucket:
    """The plain definition: a split time goes to a full bucket, as any other write does."""
    bucket = acc_ops._sliding_bucket(acc, start, None)
    bucket.time_main += time_main
    bucket.time_rel += time_rel
    return bucket


def _observed(acc: acc_ops.Accumulator) -> tuple:
    buckets = {s: b.to_json() for s, b in acc.buckets.items()}
    return buckets, list(acc.buckets), acc.oldest, acc.total.to_json(), acc.late


def _run(steps: list[tuple[int, int, bool, bool, int]]) -> tuple[acc_ops.Accumulator, list]:
    acc = acc_ops.new_accumulator(PLAN, "Agent", "t1", "a1", at(0), at(0))
    seen = []
    for end_s, dur_s, in_m, in_r, prune_s in steps:
        now = at(max(end_s, prune_s))
        acc_ops.complete(acc, PLAN, at(end_s), dur_s * 1000, at(end_s - dur_s), in_m, in_r, now)
        seen.append((acc_ops.prune(acc, PLAN, now), _observed(acc)))
    return acc, seen


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 3000), st.integers(0, 400), st.booleans(), st.booleans(),
                          st.integers(0, 3000)), min_size=1, max_size=20))
def test_split_time_buckets_are_the_plain_buckets(steps: list[tuple[int, int, bool, bool, int]]) -> None:
    got, seen = _run(steps)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(acc_ops, "_split_bucket", _plain_split_bucket)
        want, want_seen = _run(steps)
    assert seen == want_seen  # prune's count of buckets that held something, and every field, each step
    assert got == want and want == got
    assert got.to_json(PLAN) == want.to_json(PLAN)
    restored = acc_ops.Accumulator.from_json(PLAN, got.to_json(PLAN))
    assert _observed(restored) == _observed(want)
    copied = copy.deepcopy(got)
    assert _observed(copied) == _observed(got)
    assert _observed(acc_ops.merge(PLAN, got, copied)) == _observed(acc_ops.merge(PLAN, want, want))


def test_a_long_completion_leaves_its_earlier_steps_as_split_time_until_a_count_comes() -> None:
    acc, _ = _run([(290, 240, True, True, 290)])  # from 50 s to 290 s: five steps
    kinds = {s: b.__class__ for s, b in acc.buckets.items()}
    whole = acc_ops._WholeStep  # a SplitTime shared by every accumulator with that whole step
    assert kinds == {at(0): SplitTime, at(60): whole, at(120): whole, at(180): whole, at(240): Bucket}
    assert acc.buckets[at(60)].time_main == 60_000 and acc.buckets[at(0)].time_rel == 10_000
    # one int object for a bucket's two times, and the plan's step for every whole step
    assert acc.buckets[at(0)].time_main is acc.buckets[at(0)].time_rel
    assert acc.buckets[at(60)].time_main == acc.buckets[at(120)].time_rel == PLAN.step
    assert acc.buckets[at(60)].time_main is acc.buckets[at(60)].time_rel  # one shared instance
    assert acc.total.time_main == 240_000 and acc.total.number_main == 1
    with pytest.raises(AttributeError):
        acc.buckets[at(0)].number_main = 1  # no slot: any other write goes through _sliding_bucket
    with pytest.raises(TypeError):
        acc.buckets[at(60)].time_main = 1  # shared: read-only
    acc_ops.complete(acc, PLAN, at(70), 5_000, at(65), True, False, at(290))  # late, into 60 s
    assert acc.buckets[at(60)].__class__ is Bucket
    assert acc.buckets[at(60)].time_main == 65_000 and acc.buckets[at(60)].number_main == 1
    assert list(acc.buckets) == [at(240), at(0), at(60), at(120), at(180)]  # the order they came in
    assert acc.total.number_main == 2 and acc.total.time_main == 245_000


def test_whole_steps_are_shared_and_an_addition_to_one_leaves_the_others() -> None:
    """Two agents logged in over the same whole steps hold one instance for each step; a later
    split time added to one agent's step gives that agent a split time of its own."""
    one, _ = _run([(290, 240, True, False, 290)])
    two, _ = _run([(290, 240, True, False, 290)])
    assert one.buckets[at(60)] is two.buckets[at(60)]
    assert one.buckets[at(120)] is two.buckets[at(120)]
    acc_ops.complete(one, PLAN, at(295), 200_000, at(95), True, False, at(295))  # 95 s → 295 s again
    assert one.buckets[at(120)].__class__ is SplitTime and one.buckets[at(120)].time_main == 120_000
    assert two.buckets[at(120)].time_main == 60_000 and two.buckets[at(120)].__class__ is acc_ops._WholeStep
    assert one.total.time_main == 240_000 + 200_000 and two.total.time_main == 240_000
    assert copy.deepcopy(two).buckets[at(120)] is two.buckets[at(120)]
