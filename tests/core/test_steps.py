"""The step objects' own rules (pipeline/core/steps.py): what the adapters and the topology rely on."""

from __future__ import annotations

from types import SimpleNamespace

from pipeline.core.capacity import CapacityConfig
from pipeline.core.steps import (
    ACTIONS,
    AGENT_INPUTS,
    MARKS_KEY,
    STATS_INPUTS,
    AgentStep,
    DictTable,
    InteractionStep,
)
from pipeline.records.keys import action_key
from tests.core.builders import Day

HOUR = 3_600_000


def agent_inputs(step: InteractionStep, events: list[dict], first_offset: int = 0) -> list:
    out = []
    for n, e in enumerate(events):
        out += step.step(first_offset + n, e, committed=first_offset + n + 1)
    return [m for m in out if m.kind == AGENT_INPUTS]


def test_stage_two_waits_for_the_watermark_and_announces_one_after_the_batch() -> None:
    d = Day()
    stage1 = InteractionStep(0, DictTable())
    stage2 = AgentStep(0, DictTable(), CapacityConfig())
    events = [d.at(0).login("a1", "p1", media={"email": True}), d.at(10).dnd_on("a1")]
    login, dnd = agent_inputs(stage1, events)
    held = [stage2.step(n, m.value, now=0.0) for n, m in enumerate((login, dnd))]
    assert all(r.messages == [] and r.finished == [] for r in held)  # no watermark yet
    mark = stage1.end_batch()[0]  # stage 1 has finished 10 s: release up to 8 s
    released = stage2.step(2, mark.value, now=0.0)
    assert {m.value["Action"] for m in released.messages if m.kind == ACTIONS} >= {"Active", "Routable"}
    assert released.finished == [0]  # the DND (offset 1) waits, and the watermark behind it
    assert not [m for m in released.messages if m.kind == STATS_INPUTS]  # gathered until the batch's end
    bundle, mark = stage2.end_batch()  # the batch's actions for stage 3, then the watermark after them
    assert bundle.kind == STATS_INPUTS
    assert bundle.value["Actions"] == [m.value for m in released.messages if m.kind == ACTIONS]
    assert mark.value == {"Kind": "watermark", "From": 0, "Time": d.ms(8)}
    assert stage2.end_batch() == []  # announced once


def test_an_applied_input_that_comes_again_is_finished_at_once_and_not_late() -> None:
    d = Day()
    stage1 = InteractionStep(0, DictTable())
    table = DictTable()
    first = AgentStep(0, table, CapacityConfig())
    inputs = agent_inputs(stage1, [d.at(0).login("a1", "p1", media={"email": True}), d.at(60).dnd_on("a1")])
    for n, m in enumerate(inputs):
        first.step(n, m.value, now=0.0)
    assert first.step(2, stage1.end_batch()[0].value, now=0.0).finished == [0]
    # The partition moves with only offset 0 committed... and came back from 0: a new step, same table.
    again = AgentStep(0, table, CapacityConfig())
    replayed = [again.step(n, m.value, now=0.0) for n, m in enumerate(inputs)]
    assert [r.finished for r in replayed] == [[0], []]  # the login was applied: done; the DND waits
    assert all(r.messages == [] for r in replayed)
    assert again.counts["redelivered"] == 1 and again.counts["late"] == 0


def test_one_offset_delivered_twice_is_finished_twice() -> None:
    """faust can deliver an offset again in one process: each copy is finished once, in order."""
    d = Day()
    stage1 = InteractionStep(0, DictTable())
    step = AgentStep(0, DictTable(), CapacityConfig())
    login, _ = agent_inputs(stage1, [d.at(0).login("a1", "p1", media={"email": True}), d.at(10).dnd_on("a1")])
    mark = stage1.end_batch()[0]
    assert step.step(7, login.value, now=0.0).finished == []
    assert step.step(7, login.value, now=0.0).finished == []
    assert step.step(8, mark.value, now=0.0).finished == [7, 7, 8]
    assert step.counts["redelivered"] == 1  # the second copy is not applied again


def test_finished_interactions_are_deleted_after_retention_once_committed() -> None:
    d = Day()
    table = DictTable()
    step = InteractionStep(0, table, retention_ms=HOUR)
    events = [d.at(0).submitted("i1", queue="q1"), d.at(10).stopped("i1")]
    events.append(d.at(4000).submitted("i2", queue="q1"))
    for n, e in enumerate(events[:2]):
        step.step(n, e, committed=0)
    step.step(2, events[2], committed=1)  # i1's stop (offset 1) is not committed yet
    assert len(table.data) == 2
    step.step(3, d.at(4001).stopped("i2"), committed=2)
    assert len(table.data) == 1  # now it is: i1 is gone, i2 stays for its own retention
    # A new step (after a move) rebuilds its index from the table.
    assert [key for _, key in InteractionStep(0, table).finished] == [b"t1/i2"]


def test_stage_one_gathers_a_batch_s_actions_for_stage_three_into_one_bundle() -> None:
    """Stage 3 reads one message per batch of stage 1 (faust's cost is per message), not one per
    input: each action goes to the public topic alone at once, and to stage 3 at the batch's end."""
    d = Day()
    step = InteractionStep(0, DictTable())
    out: list = []
    for n, iid in enumerate(("i1", "i2", "i3")):
        out += step.step(n, d.at(n).submitted(iid, queue="q1"), committed=n + 1)
    actions = [m.value for m in out if m.kind == ACTIONS]
    assert len(actions) >= 3 and not [m for m in out if m.kind == STATS_INPUTS]
    end = step.end_batch()
    assert [m.kind for m in end] == [STATS_INPUTS, AGENT_INPUTS]  # the bundle before the watermark
    assert end[0].value == {"Kind": "actions", "Actions": actions}
    assert step.end_batch(force=True) == []  # taken once


def test_stage_one_s_bundles_and_watermark_come_apart_for_a_stage_that_announces_after_the_ack() -> None:
    """The worker sends a batch's bundles with its outputs and its watermark only once they are
    acknowledged: :meth:`take_bundles` then :meth:`announce` give what :meth:`end_batch` gives, and
    no watermark comes while bundles are still gathering."""
    d = Day()
    whole, apart = InteractionStep(0, DictTable()), InteractionStep(0, DictTable())
    for step in (whole, apart):
        step.step(0, d.at(0).submitted("i1", queue="q1"), committed=1)
    assert apart.announce() == [] and apart.announce(force=True) == []  # bundles still gathering
    bundles = apart.take_bundles()
    assert [m.kind for m in bundles] == [STATS_INPUTS]
    mark = apart.announce()
    assert [m.kind for m in mark] == [AGENT_INPUTS] and mark[0].value["Time"] == d.ms(0)
    assert bundles + mark == whole.end_batch()
    assert apart.announce() == [] and apart.announce(force=True) == []  # announced once


def test_a_timer_in_the_middle_of_a_batch_neither_takes_its_bundles_nor_passes_them() -> None:
    """Stage 1's progress timer can run while the stage awaits mid-batch (a dead letter): it must not
    send the batch's bundles (the batch awaits only its own outputs before writing its states), nor a
    watermark ahead of them."""
    d = Day()
    step = InteractionStep(0, DictTable())
    step.step(0, d.at(0).submitted("i1", queue="q1"), committed=1)
    assert step.end_batch(force=True) == []
    assert [m.kind for m in step.end_batch()] == [STATS_INPUTS, AGENT_INPUTS]
    step.step(1, d.at(5).submitted("i2", queue="q1"), committed=2)
    step.end_batch()
    assert step.end_batch(force=True) == []  # nothing new


def test_several_stats_partitions_get_one_bundle_per_object_keyed_by_it() -> None:
    """With several stage-3 partitions each object's actions of a batch are one bundle keyed by the
    object, placed by the producer's partitioner as each action was: an object's statistics stay in
    their partition."""
    d = Day()
    step = InteractionStep(0, DictTable(), stats_partitions=4)
    out: list = []
    for n in range(6):
        out += step.step(n, d.at(n).submitted(f"i{n}", queue=f"q{n % 3}"), committed=n + 1)
    actions = [m.value for m in out if m.kind == ACTIONS]
    bundles = [m for m in step.end_batch() if m.kind == STATS_INPUTS]
    assert [m.key for m in bundles] == [b"Queue/t1/q0", b"Queue/t1/q1", b"Queue/t1/q2"]
    for bundle in bundles:
        assert bundle.partition is None
        assert bundle.value["Actions"] == [a for a in actions if action_key(a) == bundle.key]


def test_a_full_bundle_leaves_at_once_and_the_rest_at_the_batch_s_end(monkeypatch) -> None:
    """A release of a whole instant (every agent logging out) leaves in bundles of BUNDLE_ACTIONS as it is
    applied, never as one message of everything."""
    from pipeline.core import steps

    monkeypatch.setattr(steps, "BUNDLE_ACTIONS", 2)
    d = Day()
    step = InteractionStep(0, DictTable())
    out: list = []
    for n in range(3):
        out += step.step(n, d.at(n).submitted(f"i{n}", queue="q1"), committed=n + 1)
    actions = [m.value for m in out if m.kind == ACTIONS]
    early = [m.value["Actions"] for m in out if m.kind == STATS_INPUTS]
    late = [m.value["Actions"] for m in step.end_batch() if m.kind == STATS_INPUTS]
    assert all(len(bundle) == 2 for bundle in early) and len(early) == len(actions) // 2
    assert [a for bundle in early + late for a in bundle] == actions


def test_replay_s_driver_makes_no_bundles_for_stage_three() -> None:
    """Replay applies the actions itself (``stats_partitions=0``): nothing is gathered, however long
    the file, since its driver never ends a batch."""
    from pipeline.core.driver import CoreDriver

    d = Day()
    driver = CoreDriver()
    driver.push(d.at(0).login("a1", "p1", media={"email": True}))
    driver.push(d.at(1).submitted("i1", queue="q1"))
    driver.push(d.at(30).dnd_on("a1"))
    assert driver.flush()  # the actions were made
    assert driver.stage1.bundles.pending == {} and driver.stage2.bundles.pending == {}
    assert not [m for m in driver.stage2.end_batch() if m.kind == STATS_INPUTS]


def test_adapter_keeps_every_copy_of_an_offset() -> None:
    """Stage 2's adapter maps finished offsets back to faust events, also an offset that came twice
    (it once kept one event per offset, and the second finish raised KeyError)."""
    from pipeline.stream.agents import _Partition

    part = _Partition(step=None)  # type: ignore[arg-type]
    a, b = (SimpleNamespace(message=SimpleNamespace(offset=5)) for _ in range(2))
    part.received(a)
    part.received(b)
    assert part.finished(5) is a and part.finished(5) is b and part.events == {}


def test_a_partition_opened_afresh_restores_its_upstream_watermarks() -> None:
    """After a restart or a move, the watermark messages below the committed offset never come again:
    the step keeps the marks in its table and a new step starts from them."""
    d = Day()
    stage1 = InteractionStep(0, DictTable())
    table = DictTable()
    events = [d.at(0).login("a1", "p1", media={"email": True}), d.at(10).dnd_on("a1")]
    login, _ = agent_inputs(stage1, events)
    AgentStep(0, table, CapacityConfig()).step(0, stage1.end_batch()[0].value, now=0.0)  # 10 s, committed
    again = AgentStep(0, table, CapacityConfig(), now=100.0)
    out = again.step(1, login.value, now=100.0)
    assert out.finished == [1] and any(m.kind == ACTIONS for m in out.messages)  # released up to 8 s


def test_stage_two_flushes_one_input_at_a_time_as_its_messages_are_read() -> None:
    d = Day()
    events = [d.at(0).login(f"a{n}", f"p{n}", media={"email": True}) for n in range(4)]
    events += [d.at(60).dnd_on(f"a{n}") for n in range(4)]  # one instant, held until the flush

    def stage_two() -> AgentStep:
        stage1 = InteractionStep(0, DictTable())
        stage2 = AgentStep(0, DictTable(), CapacityConfig())
        for n, m in enumerate(agent_inputs(stage1, events)):
            stage2.step(n, m.value, now=0.0)
        return stage2

    whole = stage_two().flush()
    lazy = stage_two()
    messages = lazy.iter_flush()
    first = next(messages)
    # One input applied (the first login): no other agent has a state yet, no DND is applied.
    states = [state for _key, state in lazy.table.items()]
    assert len(states) == 1 and len(states[0]["_sources"]) == 1
    assert len(lazy.buffer) == 0  # released from the window, applied as read
    assert [first, *messages] == whole and len(whole) > 4
    assert sum(1 for _ in lazy.table.items()) == 4


def test_stage_two_applies_a_watermark_s_release_as_its_messages_are_read() -> None:
    """On Kafka a watermark can release a whole instant (the shift's end): ``iter_step`` gives
    ``step``'s messages and finished offsets, each input applied only as its messages are read."""
    d = Day()
    events = [d.at(0).login(f"a{n}", f"p{n}", media={"email": True}) for n in range(4)]
    events += [d.at(60).dnd_on(f"a{n}") for n in range(4)]
    events.append(d.at(120).login("b", "pb", media={"email": True}))  # the watermark passes 60 s

    def stage_two() -> tuple[AgentStep, dict]:
        stage1 = InteractionStep(0, DictTable())
        stage2 = AgentStep(0, DictTable(), CapacityConfig())
        for n, m in enumerate(agent_inputs(stage1, events)):
            assert stage2.step(n, m.value, now=0.0).messages == []  # held: no watermark yet
        return stage2, stage1.end_batch()[0].value

    def agents(step: AgentStep) -> int:
        return sum(1 for key, _ in step.table.items() if key != MARKS_KEY)

    listed, mark = stage_two()
    whole = listed.step(100, mark, now=0.0)
    lazy, mark = stage_two()
    out = lazy.iter_step(100, mark, now=0.0)
    assert out.finished == whole.finished and len(out.finished) >= 8  # known at once
    assert agents(lazy) == 0  # nothing applied before it is read
    messages = iter(out.messages)
    first = next(messages)
    assert agents(lazy) == 1
    assert [first, *messages] == whole.messages and len(whole.messages) > 8
    assert agents(lazy) == 4


def test_stage_one_announces_live_progress_in_steps_short_beside_the_reorder_window() -> None:
    """Stage 2 releases its window only as stage 1's watermarks come, so live the step between two
    is added to every action's wait: a batch a fifth of a second of event time after the last
    announcement announces again, one a tenth of a second after does not (until more input, a
    timer's forced announcement, or 200 messages)."""
    from pipeline.core.ordering import DEFAULT_WINDOW_MS
    from pipeline.core.steps import WATERMARK_STEP_MS

    assert WATERMARK_STEP_MS <= DEFAULT_WINDOW_MS // 10
    d = Day()
    step = InteractionStep(0, DictTable())
    times = []
    for offset, seconds in enumerate([0, 0.1, 0.2, 0.25, 0.3, 0.5]):
        step.step(offset, d.at(seconds).submitted(f"i{offset}", queue="q1"), committed=offset + 1)
        step.take_bundles()
        times += [m.value["Time"] for m in step.announce()]
    assert times == [d.ms(0), d.ms(0.2), d.ms(0.5)]
