"""The collector settings replay and the worker run with (``pipeline.collector``)."""

from __future__ import annotations

import gc

from pipeline import collector


def test_tuned_sets_the_threshold_for_the_block_only() -> None:
    before = gc.get_threshold()
    with collector.tuned():
        assert gc.get_threshold() == collector.THRESHOLD != before
    assert gc.get_threshold() == before


def test_a_long_running_process_freezes_its_start_up_and_collects_rarely() -> None:
    before = gc.get_threshold()
    made_before = [object() for _ in range(3)], {"a": []}  # containers: tracked by the collector
    try:
        collector.tune_long_running()
        assert gc.get_threshold() == collector.THRESHOLD
        assert gc.get_freeze_count() >= 2  # at least what this test made before the call
        assert gc.is_tracked(made_before[1])
    finally:
        gc.unfreeze()
        gc.set_threshold(*before)
