"""The offset guard without a broker (pipeline/stream/guard.py): what passes, what is held back and
sought back, what an assignment resets, what counts as a silent partition; and the faust side
against a stub consumer and app."""

from __future__ import annotations

import asyncio
from collections import Counter
from types import SimpleNamespace

from faust.types import TP as FaustTP

from pipeline import telemetry
from pipeline.stream.guard import OffsetGuard, StageGuard, Verdict
from pipeline.web.metrics import build_registry, render

TP = ("t.agent-inputs", 0)


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def opened_guard(committed: int = 10) -> tuple[OffsetGuard, Clock]:
    clock = Clock()
    guard = OffsetGuard(clock=clock, reseek_after_s=1.0, silent_after_s=15.0)
    guard.assign([TP])
    assert guard.check(TP, committed) is Verdict.OPEN
    guard.opened(TP, committed, earliest=0)
    return guard, clock


def test_an_input_ahead_of_the_expected_offset_is_not_processed_and_a_seek_back_is_requested() -> None:
    guard, clock = opened_guard(10)
    assert guard.check(TP, 10) is Verdict.PASS
    assert guard.check(TP, 13) is Verdict.AHEAD  # 11 and 12 never came: a gap
    assert guard.seek_due(TP) == 11
    assert guard.check(TP, 14) is Verdict.AHEAD  # still ahead: not processed either
    assert guard.seek_due(TP) is None  # a seek is pending: not again at once
    clock.now += 1.5
    assert guard.seek_due(TP) == 11  # the seek did not take: made again
    assert guard.check(TP, 11) is Verdict.PASS  # the seek brought 11: on from there
    assert guard.seek_due(TP) is None
    assert [guard.check(TP, n) for n in (12, 13)] == [Verdict.PASS, Verdict.PASS]


def test_a_redelivery_below_the_expected_offset_passes_and_does_not_move_it() -> None:
    guard, _ = opened_guard(10)
    assert [guard.check(TP, n) for n in (10, 11, 12)] == [Verdict.PASS] * 3
    assert guard.check(TP, 11) is Verdict.REPEAT
    assert guard.check(TP, 3) is Verdict.REPEAT  # committed long ago
    assert guard.seek_due(TP) is None
    assert guard.check(TP, 13) is Verdict.PASS  # still expecting 13


def test_an_assignment_resets_the_expectation_to_the_committed_offset() -> None:
    guard, _ = opened_guard(10)
    for n in range(10, 20):
        assert guard.check(TP, n) is Verdict.PASS
    before = guard.epoch(TP)
    guard.assign([TP, ("t.agent-inputs", 1)])  # a rebalance gives the partition back
    assert guard.epoch(TP) != before  # events handed out before are stale now
    assert guard.check(TP, 20) is Verdict.OPEN  # nothing passes before the committed offset is known
    assert guard.opened(TP, committed=15, earliest=0) == 15
    assert guard.check(TP, 20) is Verdict.AHEAD  # 15..19 (held, never acknowledged) must come again
    assert guard.seek_due(TP) == 15
    assert guard.check(TP, 15) is Verdict.PASS


def test_nothing_committed_or_committed_offset_deleted_by_retention_opens_at_the_earliest() -> None:
    guard = OffsetGuard(clock=Clock())
    guard.assign([TP])
    assert guard.opened(TP, committed=None, earliest=0) == 0
    guard.assign([TP])
    assert guard.opened(TP, committed=5, earliest=40) == 40
    assert guard.check(TP, 40) is Verdict.PASS


def test_a_partition_taken_away_is_not_ours_and_its_old_events_are_stale() -> None:
    guard, _ = opened_guard(10)
    epoch = guard.epoch(TP)
    guard.assign([("t.agent-inputs", 1)])
    assert guard.check(TP, 10) is Verdict.NOT_OURS
    assert guard.epoch(TP) != epoch


def test_before_any_assignment_a_partition_opens_on_its_first_input() -> None:
    guard = OffsetGuard(clock=Clock())
    assert guard.check(TP, 7) is Verdict.OPEN
    guard.opened(TP, committed=7)
    assert guard.check(TP, 7) is Verdict.PASS


def test_a_partition_silent_with_lag_is_reported_once_and_cleared_when_it_receives() -> None:
    guard, clock = opened_guard(10)
    assert guard.check(TP, 10) is Verdict.PASS
    clock.now += 1
    assert guard.quiet(after_s=2.0) == []
    clock.now += 2
    assert guard.quiet(after_s=2.0) == [TP]
    assert not guard.silent(TP, end_offset=11, position=11)  # no lag: quiet, not silent
    assert not guard.silent(TP, end_offset=12, position=11)  # lag just seen: a message a moment old
    clock.now += 14
    assert not guard.silent(TP, end_offset=12, position=11)  # lag for 14 s
    clock.now += 2
    assert guard.silent(TP, end_offset=12, position=11)  # 16 s of lag, nothing received
    assert not guard.silent(TP, end_offset=50, position=11)  # reported once
    assert guard.silent_partitions() == [TP]
    assert guard.check(TP, 11) is Verdict.PASS
    assert guard.silent_partitions() == []
    assert not guard.silent(TP, end_offset=50, position=12)  # its lag clock starts again
    guard.hold_quiet()  # a rebalance: time paused for recovery is not silence
    clock.now += 20
    assert not guard.silent(TP, end_offset=50, position=12)


# --- the faust side, against stubs -------------------------------------------------------------


class StubConsumer:
    def __init__(self, committed: dict, earliest: int = 0) -> None:
        self.committed_offsets = committed
        self.earliest = earliest
        self.seeks: list[tuple[tuple[str, int], int]] = []
        self._gap = {TP: "a gap"}
        self._thread = SimpleNamespace(call_thread=self._call, _ensure_consumer=lambda: self)

    async def _call(self, fun, *args):
        return await fun(*args)

    async def committed(self, tp):
        return self.committed_offsets.get(tuple(tp))

    async def earliest_offsets(self, *tps):
        return {tp: self.earliest for tp in tps}

    async def seek_wait(self, partitions):
        self.seeks += [(tuple(tp), offset) for tp, offset in partitions.items()]

    async def highwaters(self, *tps):
        return {tp: 100 for tp in tps}


class StubSignal:
    def __init__(self) -> None:
        self.receivers: list = []

    def connect(self, fun):
        self.receivers.append(fun)
        return fun

    async def send(self, assigned) -> None:
        for fun in self.receivers:
            await fun(None, assigned=assigned)


class Event:
    """A faust event's shape (weakly referable, hashed by identity)."""

    def __init__(self, offset: int, tp: tuple[str, int]) -> None:
        self.message = SimpleNamespace(topic=tp[0], partition=tp[1], offset=offset)


def event(offset: int, tp: tuple[str, int] = TP) -> Event:
    return Event(offset, tp)


def stub_app(consumer: StubConsumer):
    return SimpleNamespace(consumer=consumer, on_partitions_assigned=StubSignal(), rebalancing=False)


def test_stage_guard_drops_the_stage_memory_seeks_to_the_committed_offset_and_counts() -> None:
    consumer = StubConsumer({TP: 5})
    app = stub_app(consumer)
    held = {0: "reorder window of partition 0"}
    opened: list[str] = []
    telemetry.STAGES["stage2"] = Counter()
    guard = StageGuard(app, "stage2", TP[0], on_open=opened.append, forget=[held])

    async def run() -> tuple[list, list, list]:
        await app.on_partitions_assigned.send({FaustTP(TP[0], 0)})
        first = [event(8), event(9)]  # prefetched before the rebalance: above the committed 5
        admitted_first = await guard.admit(first)
        second = [event(5), event(6), event(6), event(7)]
        admitted_second = await guard.admit(second)
        return first, admitted_first, admitted_second

    first, admitted_first, admitted_second = asyncio.run(run())
    assert held == {} and opened == [[0]]  # the stage's memory of the partition is gone
    assert admitted_first == []  # neither processed
    assert consumer.seeks == [(TP, 5)]  # one explicit seek back to the committed offset
    assert TP not in consumer._gap  # faust's gap (offsets it took as acknowledged) cleared
    assert [e.message.offset for e in admitted_second] == [5, 6, 6, 7]  # the repeat passes
    counts = telemetry.STAGES["stage2"]
    assert (counts["guard:ahead"], counts["guard:repeat"], counts["guard:seeks"]) == (2, 1, 1)
    assert all(guard.current(e) for e in admitted_second)

    asyncio.run(app.on_partitions_assigned.send({FaustTP(TP[0], 0)}))
    assert not any(guard.current(e) for e in admitted_second)  # opened afresh: not to be acked

    text = render(build_registry(telemetry.STAGES)).decode()
    assert 'mediastat_offset_ahead_total{stage="stage2"} 2.0' in text
    assert 'mediastat_offset_repeats_total{stage="stage2"} 1.0' in text
    assert 'mediastat_offset_seeks_total{stage="stage2"} 1.0' in text


def test_stage_guard_reports_a_silent_partition_in_the_log_and_the_metrics(caplog) -> None:
    import threading

    consumer = StubConsumer({TP: 5})
    consumer._active_partitions, consumer._paused_partitions = set(), {FaustTP(TP[0], 0)}
    app = stub_app(consumer)
    done = threading.Event()
    done.set()
    app.in_recovery, app.tables = False, SimpleNamespace(recovery=SimpleNamespace(completed=done))
    clock = Clock()
    telemetry.STAGES["stage1"] = Counter()
    guard = StageGuard(app, "stage1", TP[0], guard=OffsetGuard(clock=clock, silent_after_s=15.0))

    async def run() -> None:
        await app.on_partitions_assigned.send({FaustTP(TP[0], 0)})
        await guard.admit([event(5)])
        clock.now += 20
        await guard._watch_once()  # lag seen: its clock starts
        clock.now += 16
        await guard._watch_once()
        await guard._watch_once()  # once only

    try:
        with caplog.at_level("WARNING"):
            asyncio.run(run())
        assert sum("and received none" in r.getMessage() for r in caplog.records) == 1
        line = next(r.getMessage() for r in caplog.records if "and received none" in r.getMessage())
        assert consumer.seeks == [(TP, 6)]  # sought once to the offset it should deliver next
        assert line.endswith("seeking it to 6")
        assert "faust active no, paused yes, buffer-full ?" in line  # what the stub consumer holds
        assert "in recovery False, recovery completed yes" in line
        assert telemetry.SILENT_PARTITIONS == {("stage1", TP[0], 0): 94}  # end 100, expected 6
        text = render(build_registry(telemetry.STAGES)).decode()
        labels = 'partition="0",stage="stage1",topic="t.agent-inputs"'
        assert f"mediastat_silent_partition_lag{{{labels}}} 94.0" in text
        assert 'mediastat_silent_partition_reports_total{stage="stage1"} 1.0' in text
        asyncio.run(guard.admit([event(6)]))
        asyncio.run(guard._watch_once())
        assert telemetry.SILENT_PARTITIONS == {}  # it delivers again
    finally:
        telemetry.SILENT_PARTITIONS.clear()


def test_inputs_judged_before_a_rebalance_in_the_middle_of_a_batch_are_not_handed_out() -> None:
    """The batch waits for the broker (the committed offset of a partition opening) while a new
    assignment comes: what the batch judged against the old opening is stale, not processed."""
    other = ("t.agent-inputs", 1)
    consumer = StubConsumer({TP: 5, other: 0})
    app = stub_app(consumer)
    telemetry.STAGES["stage2"] = Counter()
    guard = StageGuard(app, "stage2", TP[0])
    assignment = {FaustTP(TP[0], 0), FaustTP(TP[0], 1)}

    async def run() -> list:
        await app.on_partitions_assigned.send(assignment)
        await guard.admit([event(5)])  # partition 0 opened at 5

        async def committed_during_rebalance(tp):
            await app.on_partitions_assigned.send(assignment)  # partition 0 opens afresh too
            return 0

        consumer._thread.call_thread = lambda fun, tp: committed_during_rebalance(tp)
        return await guard.admit([event(6), event(0, other)])

    admitted = asyncio.run(run())
    assert admitted == []  # 6 was judged against the old opening; partition 1 opens on a later input
    assert guard.guard.check(TP, 6) is Verdict.OPEN


def test_end_offsets_are_asked_through_the_stage_s_own_client_when_it_has_one() -> None:
    """Stage 1 asks for end offsets in its batch loop: through its own client (pipeline.stream.offsets),
    never through faust's consumer, whose request waits behind its long-poll fetch. What the client
    answers is what :meth:`StageGuard.unread` counts from."""
    consumer = StubConsumer({TP: 5})
    consumer.highwater = lambda tp: None  # the consumer's last fetch knows nothing of the end
    consumer.highwaters = None  # would fail if called: not the consumer's to ask
    app = stub_app(consumer)
    asked: list[list] = []

    async def end_offsets(tps):
        asked.append(list(tps))
        return {TP: 42}

    telemetry.STAGES["stage1"] = Counter()
    guard = StageGuard(app, "stage1", TP[0], end_offsets=end_offsets)

    async def run() -> None:
        await app.on_partitions_assigned.send({FaustTP(TP[0], 0)})
        await guard.admit([event(5)])
        await guard.refresh_ends()
        await guard.refresh_ends()  # within the second: not asked again

    asyncio.run(run())
    assert asked == [[TP]]
    assert guard.unread() == {0: 42 - 6}  # offset 5 admitted: 6 is the next one expected
