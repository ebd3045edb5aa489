"""The expiry index of stage 1: rebuilt from table entries, kept in stopped_at order."""

from __future__ import annotations

import json

from pipeline.stream.expiry import FinishedIndex


def entry(key: str, stopped_at: int | None) -> tuple[bytes, bytes]:
    return key.encode(), json.dumps({"stopped_at": stopped_at, "_sources": ["e:0:1"]}).encode()


def test_rebuild_indexes_only_finished_states_oldest_first() -> None:
    index = FinishedIndex()
    assert not index.built(0)
    count = index.rebuild(0, [entry("t1/b", 300), entry("t1/open", None), entry("t1/a", 100)])
    assert count == 2 and index.built(0)
    assert list(index.queue(0)) == [(100, b"t1/a"), (300, b"t1/b")]


def test_an_interaction_stopping_out_of_order_is_placed_in_order() -> None:
    index = FinishedIndex()
    index.rebuild(0, [])
    for stopped_at, key in [(100, b"a"), (300, b"c"), (200, b"b")]:
        index.add(0, stopped_at, key)
    assert [k for _, k in index.queue(0)] == [b"a", b"b", b"c"]


def test_forget_all_makes_every_partition_rebuild() -> None:
    index = FinishedIndex()
    index.rebuild(0, [entry("t1/a", 1)])
    index.rebuild(2, [])
    index.forget_all()
    assert not index.built(0) and not index.built(2)
