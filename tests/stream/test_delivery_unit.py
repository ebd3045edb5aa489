"""Unit tests of the delivery mechanics the kill tests rely on (no broker)."""

from __future__ import annotations

from types import SimpleNamespace

from pipeline.stats.config import Config
from pipeline.stats.ordered import OrderedStats
from pipeline.stream.delivery import InOrderAcks, last_offset, remember, seen


def event(offset: int) -> SimpleNamespace:
    return SimpleNamespace(message=SimpleNamespace(offset=offset))


def test_acks_wait_for_every_earlier_message() -> None:
    acks = InOrderAcks()
    events = [event(o) for o in (10, 11, 12, 13)]
    for e in events:
        acks.received(e)
    assert acks.finished(events[2]) == []  # 10 and 11 still open: acking 12 would let faust skip them
    assert acks.finished(events[0]) == [events[0]]
    assert acks.finished(events[1]) == [events[1], events[2]]
    assert acks.finished(events[3]) == [events[3]]
    assert len(acks) == 0


def test_acks_tolerate_offset_gaps() -> None:
    acks = InOrderAcks()
    a, b = event(5), event(9)  # offsets 6-8 never arrive (e.g. compacted away)
    acks.received(a)
    acks.received(b)
    assert acks.finished(b) == []
    assert acks.finished(a) == [a, b]


def test_state_remembers_sources_boundedly() -> None:
    state: dict = {}
    for n in range(300):
        remember(state, f"t.events:0:{n}")
    assert seen(state, "t.events:0:299") and not seen(state, "t.events:0:0")
    assert len(state["_sources"]) == 256
    assert last_offset(state) == 299
    assert last_offset({}) == -1


def test_repeated_action_ids_count_once() -> None:
    stats = OrderedStats(Config(), window_ms=0)
    action = {
        "ActionID": "x",
        "Action": "Accepted",
        "Kind": "Retrospective",
        "ObjectType": "Agent",
        "ObjectID": "a1",
        "TenantID": "t1",
        "EventTime": 1000,
        "DurationMs": 5,
    }
    tags, _ = stats.push(action, "first")
    assert tags == []  # held until a watermark passes it
    tags, _ = stats.release_to(1000)
    assert tags == ["first"]
    tags, records = stats.push(dict(action), "again")
    assert tags == ["again"] and records == [] and stats.repeats == 1
    assert stats.applied_ids == {"x": 1000}
    stats.dedup_keep = 0
    stats.forget_oldest()
    assert stats.applied_ids == {}


def test_watermarks_release_up_to_the_slowest_active_partition() -> None:
    from pipeline.core.ordering import Watermarks

    marks = Watermarks(sources=2, window_ms=2000, idle_s=5.0, started=0.0)
    marks.update(0, 100_000, wall=1.0)
    assert marks.limit(wall=1.0, fallback=98_000) is None  # partition 1 has not spoken yet
    marks.update(1, 10_000, wall=1.5)
    assert marks.limit(wall=2.0, fallback=98_000) == 8_000  # the slow partition holds the fast one
    marks.update(1, 9_000, wall=2.0)  # never backwards
    assert marks.limit(wall=2.0, fallback=98_000) == 8_000
    assert marks.limit(wall=6.6, fallback=98_000) == 98_000  # both idle: the event clock decides
    marks.update(0, 120_000, wall=6.7)
    assert marks.limit(wall=6.8, fallback=98_000) == 118_000  # partition 1 idle: it no longer holds


def test_held_input_is_late_only_behind_what_was_released() -> None:
    from pipeline.core.ordering import ReorderBuffer

    buf = ReorderBuffer(window_ms=2000)
    assert buf.hold(50_000, (0,), "fast") == []
    assert buf.hold(1_000, (0,), "slow") == []  # far behind the clock, but nothing released yet
    assert buf.release_to(10_000) == ["slow"]
    assert buf.hold(5_000, (0,), "in time") == []  # after the newest released item: still ordered
    assert buf.hold(500, (0,), "late") == ["late"] and buf.late == 1


def test_stage3_watermarks_wait_for_every_stage2_partition() -> None:
    from pipeline.core.ordering import Watermarks

    marks = Watermarks(sources=2, window_ms=0, idle_s=float("inf"))
    assert marks.lowest() is None and marks.highest() is None
    marks.update(1, 50_000, wall=0.0)
    assert marks.lowest() is None and marks.highest() == 50_000  # partition 0 has not spoken
    marks.update(0, 20_000, wall=0.0)
    assert marks.lowest() == 20_000 and marks.marks() == {0: 20_000, 1: 50_000}
    assert not marks.idle(wall=1e9)  # on the event clock a silent source is never skipped


def test_watermarks_idle_only_when_every_source_is_quiet() -> None:
    from pipeline.core.ordering import Watermarks

    marks = Watermarks(sources=2, window_ms=2000, idle_s=2.0, started=0.0)
    assert not marks.idle(wall=1.0)  # start-up grace
    marks.update(0, 10_000, wall=1.0)
    marks.update(1, 12_000, wall=3.0)
    assert not marks.idle(wall=4.0)  # partition 1 spoke 1 s ago
    assert marks.idle(wall=5.0) and marks.highest() == 12_000


def test_a_quiet_source_with_unread_input_holds_the_others_again() -> None:
    """A partition quiet past the idle limit stops holding the others back; once stage 1 says it
    has input unread (a hold), the others' marks release nothing until it announces its own."""
    from pipeline.core.ordering import Watermarks

    marks = Watermarks(sources=2, window_ms=2000, idle_s=30.0, started=0.0)
    marks.update(0, 100_000, wall=31.0)  # partition 1 never spoke: after the grace it is ignored
    assert marks.limit(wall=31.0, fallback=None) == 98_000
    marks.hold(1, wall=32.0)  # a backlog reached partition 1 too
    assert marks.limit(wall=32.0, fallback=None) is None and not marks.idle(wall=32.0)
    marks.update(0, 1_000_000, wall=33.0)
    assert marks.limit(wall=33.0, fallback=None) is None  # partition 0 runs ahead: still held
    marks.update(1, 200_000, wall=34.0)
    assert marks.limit(wall=34.0, fallback=None) == 198_000  # the slow partition decides again
    marks.hold(1, wall=70.0)  # quiet since 34 s, but with input unread: active with its old mark
    marks.update(0, 1_100_000, wall=70.0)
    assert marks.limit(wall=70.0, fallback=None) == 198_000
    marks.update(0, 1_200_000, wall=100.0)
    assert marks.limit(wall=101.0, fallback=None) == 1_198_000  # no hold for the idle limit: idle


def test_stage2_step_holds_its_window_for_a_source_with_unread_input() -> None:
    from pipeline.core.capacity import CapacityConfig
    from pipeline.core.steps import AgentStep, DictTable

    step = AgentStep(0, DictTable(), CapacityConfig(), sources=2, now=0.0)
    login = {"Event": "EventAgentLogin", "TenantID": "t", "AgentID": "a", "EventTime": 50_000}
    step.step(0, {"Kind": "watermark", "From": 0, "Time": 10_000}, now=40.0)
    step.step(1, {"Kind": "hold", "From": 1}, now=40.0)
    step.step(2, {"Kind": "item", "Source": "e:0:0", "Item": login}, now=40.0)
    out = step.step(3, {"Kind": "watermark", "From": 0, "Time": 90_000}, now=41.0)
    assert 2 not in out.finished and len(step.buffer) == 1  # source 1 has spoken of input: held
    out = step.step(4, {"Kind": "watermark", "From": 1, "Time": 90_000}, now=42.0)
    assert len(step.buffer) == 0 and 2 in out.finished  # released once source 1 announced
