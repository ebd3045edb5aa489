"""Stage 3's records do not depend on how the actions of stages 1 and 2 interleave on arrival.

On Kafka, stage 1 sends Queue actions at once while stage 2 holds agent actions in its window, and
either may run far ahead of the other. :class:`OrderedStats` holds every action until a watermark
says nothing at or before its time is still to come, so any interleaving with valid watermarks
gives replay's records — in the same order, Sliding and clock-moved values included.
"""

from __future__ import annotations

from pipeline.core.driver import CoreDriver
from pipeline.records.validation import validate_event
from pipeline.replay import replay
from pipeline.simulate import Simulator
from pipeline.stats.config import load_config
from pipeline.stats.ordered import OrderedStats


def _events() -> list[dict]:
    sim = Simulator(agents=4, hours=2.0, per_hour=60, seed=3)
    return [validate_event(e) for e in sim.events()]


def _replay_records(events: list[dict]) -> list[dict]:
    out: list[dict] = []
    replay(((n, e) for n, e in enumerate(events, start=1)), load_config(None), on_stat=out.append)
    return out


def _actions(events: list[dict]) -> tuple[list[dict], list[dict]]:
    """Stage 1's Queue actions and stage 2's agent and place actions, each in production order."""
    actions = CoreDriver(load_config(None).capacity).push_all(events)
    queue = [a for a in actions if a["ObjectType"] == "Queue"]
    agents = [a for a in actions if a["ObjectType"] != "Queue"]
    return queue, agents


def _finish(stats: OrderedStats, out: list[dict], until: int) -> list[dict]:
    out += stats.flush()[1]
    out += stats.finals(until)
    return out


def test_stage1_far_ahead_of_stage2_gives_replays_records() -> None:
    events = _events()
    want = _replay_records(events)
    queue, agents = _actions(events)
    stats = OrderedStats(load_config(None))
    out: list[dict] = []
    for action in queue:  # stage 1 has run to the end before stage 2 releases anything
        out += stats.push(action)[1]
    assert out == []  # nothing applied without a watermark
    for action in agents:  # stage 2's watermark: everything before this action's time is sent
        out += stats.push(action)[1]
        out += stats.release_to(action["EventTime"] - 1)[1]
    got = _finish(stats, out, max(e["EventTime"] for e in events))
    assert any(r["Statistic"].endswith("_Last_Hour") for r in want)
    assert got == want


def test_stage2_ahead_of_stage1_gives_replays_records() -> None:
    events = _events()
    want = _replay_records(events)
    queue, agents = _actions(events)
    stats = OrderedStats(load_config(None))
    out: list[dict] = []
    for action in agents + queue:  # released only at the end of the input
        out += stats.push(action)[1]
    got = _finish(stats, out, max(e["EventTime"] for e in events))
    assert got == want


def test_records_one_action_at_a_time_are_the_released_records() -> None:
    """``iter_release_to`` gives ``release_to``'s records, applying an action only as it is read
    (a release of every agent's logout at once is not one list of records)."""
    queue, agents = _actions(_events())
    actions = sorted(queue + agents, key=lambda a: a["EventTime"])
    listed, streamed = OrderedStats(load_config(None)), OrderedStats(load_config(None))
    expected: list[dict] = []
    for action in actions:
        expected += listed.push(action)[1]
        assert list(streamed.iter_push(action)) == []  # held until a watermark passes it
    watermark = actions[-1]["EventTime"]
    expected += listed.release_to(watermark)[1]
    records = streamed.iter_release_to(watermark)
    first = next(records)
    assert len(streamed.applied_ids) < len(listed.applied_ids)  # the rest is applied as it is read
    assert [first, *records] == expected
    assert streamed.applied_ids == listed.applied_ids
    assert list(streamed.iter_flush()) == listed.flush()[1]


def test_a_release_read_list_by_list_gives_its_tags_as_it_applies() -> None:
    """Stage 3 on Kafka publishes a release's records list by list (``iter_release_rows``): the
    same rows and tags as ``release_to_rows``, each tag given as its action is applied."""
    queue, agents = _actions(_events())
    actions = sorted(queue + agents, key=lambda a: a["EventTime"])
    listed, streamed = OrderedStats(load_config(None)), OrderedStats(load_config(None))
    for n, action in enumerate(actions):
        listed.push_rows(action, n)
        streamed.push_rows(action, n)
    watermark = actions[-1]["EventTime"]
    tags, rows = listed.release_to_rows(watermark)
    given: list = []
    batches = streamed.iter_release_rows(watermark, given)
    # the clock's move and the first action's records, then the second's move: the first is applied
    first = next(batches) + next(batches) + next(batches)
    assert given == tags[:1]
    streamed_rows = first + [row for batch in batches for row in batch]
    assert given == tags and len(tags) > 100
    assert [r[2:] for r in streamed_rows] == [r[2:] for r in rows] and len(rows) > 100
