"""Late records (``<prefix>.late``): the schema, the stage-2 and stage-3 builders, and the
stage-3 watch that finds which actions the statistics engine counted late."""

from __future__ import annotations

import json

from pipeline.records.codec import decode, encode, to_json
from pipeline.records.late import INTERVAL_CLOSED, REORDER_WINDOW, stage2_late
from pipeline.records.schemas import load_schema, schema_dir
from pipeline.stats.config import parse_config
from pipeline.stats.late_watch import LateWatch
from pipeline.stats.ordered import OrderedStats

T0 = 1_772_442_000_000  # 2026-03-02T09:00:00.000Z
DAY = 86_400_000


def test_the_late_record_embeds_todays_action_record_schema() -> None:
    """Every .avsc is self-contained, so LateRecord carries a copy of ActionRecord: it must not drift."""
    raw = load_schema("LateRecord").raw
    (action,) = [f for f in raw["fields"] if f["name"] == "Action"]
    embedded = [t for t in action["type"] if t != "null"][0]
    assert embedded == json.loads((schema_dir() / "ActionRecord.avsc").read_text())


def test_a_stage2_late_input_becomes_a_record_with_its_actions_and_reason() -> None:
    bundle = {
        "TenantID": "t1", "AgentID": "a1", "PlaceID": "p1", "EventTime": T0, "InteractionID": "i1",
        "Seq": 3, "SourceEvent": "EventPartyAdded",
        "Actions": [{"Action": "HandlingInbound", "Phase": "Start", "EventTime": T0}],
    }
    record = stage2_late(bundle, T0 + 5_000, T0 + 6_000, "events/0/17/a1")
    assert record["Reason"] == REORDER_WINDOW and record["Stage"] == "agents"
    assert record["LatenessMs"] == 5_000 and record["Actions"] == ["HandlingInbound"]
    assert record["LateID"] == "agents/events/0/17/a1"  # the same input found late again: same id
    assert "5 s late" in record["Detail"] and "i1" in record["Detail"]
    assert json.loads(record["Input"])["Actions"][0]["Action"] == "HandlingInbound"
    kind, back = decode(encode("LateRecord", record))
    assert kind == "LateRecord" and back["Input"] == record["Input"] and back["EventTime"] == T0


CONFIG = {
    "stat_types": {
        "Handled": {"Objects": ["Agent"], "Category": "TotalNumber", "Subject": "DNAction",
                    "MainMask": ["StoppedInbound"]},
    },
    "statistics": [{"stat_type": "Handled", "time_profile": "Default"}],
}


def stopped(action_id: str, t: int) -> dict:
    return {
        "ActionID": action_id, "Action": "StoppedInbound", "Kind": "Retrospective", "ObjectType": "Agent",
        "ObjectID": "a1", "TenantID": "t1", "EventTime": t, "SourceEvent": "EventPartyRemoved",
        "AgentID": "a1", "MediaTypeID": "email", "InteractionID": "i-" + action_id,
    }


def test_the_watch_reports_exactly_the_actions_the_engine_counted_late() -> None:
    """On the wall clock (the engine advanced to a day later), yesterday's action is late: one
    record, with the action, the reason and how far before today's interval it was; an action of
    today is not; the engine's own late count agrees."""
    stats = OrderedStats(parse_config(CONFIG, "late.yaml"))
    watch = LateWatch(stats, wall_ms=lambda: T0 + DAY)
    stats.advance(T0 + DAY)  # the wall clock is a day later: today's interval started at midnight
    stats.push(stopped("today", T0 + DAY - 1_000))
    stats.push(stopped("yesterday", T0))
    stats.release_to(T0 + DAY)
    records = watch.take()
    assert stats.engine.late == 1
    assert [r["LateID"] for r in records] == ["statistics/yesterday"]
    (record,) = records
    assert record["Reason"] == INTERVAL_CLOSED and record["Action"]["ActionID"] == "yesterday"
    midnight = (T0 + DAY) // DAY * DAY
    assert record["LatenessMs"] == midnight - T0 and record["EmittedAt"] == T0 + DAY
    kind, back = decode(encode("LateRecord", record))
    assert kind == "LateRecord" and back["Action"]["EventTime"] == T0
    line = json.loads(to_json(back))
    assert line["Action"]["EventTime"] == "2026-03-02T09:00:00.000Z" and line["Reason"] == INTERVAL_CLOSED
    assert watch.take() == []


def test_the_watch_measures_only_actions_before_the_current_interval() -> None:
    """An action in the current interval never pays for the engine's O(accumulators) late count."""
    stats = OrderedStats(parse_config(CONFIG, "late.yaml"))
    watch = LateWatch(stats)
    calls = []
    engine_type = type(stats.engine)
    original = engine_type.late

    class Counting(engine_type):  # type: ignore[misc, valid-type]
        @property
        def late(self) -> int:
            calls.append(1)
            return original.fget(self)

    stats.engine.__class__ = Counting
    for n in range(20):
        stats.push(stopped(f"a{n}", T0 + n * 1000))
    stats.release_to(T0 + 20_000)
    assert calls == [] and watch.take() == []


def test_replay_writes_the_late_records_the_live_stages_would(tmp_path) -> None:
    """``mediastat replay --late-out``: an agent event older than the reorder window behind the
    newest input is written with its reason, as stage 2 writes it to ``<prefix>.late``."""
    from pipeline.cli import main

    events = tmp_path / "events.jsonl"
    media = [{"MediaTypeID": "email", "Ready": True}]
    login = {"Event": "EventAgentLogin", "TenantID": "t1", "MediaList": media}
    lines = [
        {**login, "EventTime": "2026-03-02T09:00:00Z", "AgentID": "a1", "PlaceID": "p1"},
        {**login, "EventTime": "2026-03-02T09:05:00Z", "AgentID": "a2", "PlaceID": "p2"},
        {**login, "EventTime": "2026-03-02T09:01:00Z", "AgentID": "a3", "PlaceID": "p3", "EventID": "late-1"},
        {**login, "EventTime": "2026-03-02T09:04:59Z", "AgentID": "a4", "PlaceID": "p4"},  # in the window
    ]
    events.write_text("".join(json.dumps(e) + "\n" for e in lines))
    out = tmp_path / "out" / "late.jsonl"
    assert main(["replay", str(events), "--late-out", str(out), "--quiet"]) == 0
    (record,) = [json.loads(line) for line in out.read_text().splitlines()]
    assert (record["LateID"], record["Reason"], record["AgentID"]) == ("agents/late-1", REORDER_WINDOW, "a3")
    assert record["LatenessMs"] == 238_000 and record["EmittedAt"] == "2026-03-02T09:05:00.000Z"
    assert json.loads(record["Input"])["EventTime"] == "2026-03-02T09:01:00.000Z"
