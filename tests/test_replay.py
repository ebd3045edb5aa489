"""``mediastat replay`` end to end, as a user runs it: files in, files out, exit codes."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from pipeline.cli import main
from pipeline.records.times import parse_time
from tests.golden import OWN, assert_finals_match, read_jsonl, scenario
from tests.hashseed import OtherInterpreter

EXPECTED_FIELDS = (
    "EventTime",
    "ObjectType",
    "ObjectID",
    "Action",
    "Kind",
    "Phase",
    "InteractionID",
    "MediaTypeID",
    "DurationMs",
)


def project(row: dict) -> tuple:
    return tuple(parse_time(row[f]) if f == "EventTime" else row.get(f) for f in EXPECTED_FIELDS)


@pytest.mark.parametrize("name", ["routed-emails", "chat-offers-and-readiness", "conference-then-transfer"])
def test_replay_reproduces_the_scenario_actions(tmp_path: Path, name: str) -> None:
    out = tmp_path / "actions.jsonl"
    rc = main(["replay", str(scenario(f"{name}.events.jsonl")), "--actions-out", str(out), "--quiet"])
    assert rc == 0
    got = Counter(project(r) for r in read_jsonl(out) if r["ObjectType"] != "Place")
    expected = Counter(project(r) for r in read_jsonl(scenario(f"{name}.expected-actions.jsonl")))
    assert got == expected


@pytest.mark.parametrize("name", ["routed-emails", "chat-offers-and-readiness", "conference-then-transfer"])
def test_replay_statistics_match_the_scenario_finals(tmp_path: Path, name: str) -> None:
    stats = tmp_path / "stats.jsonl"
    rc = main(
        [
            "replay",
            str(scenario(f"{name}.events.jsonl")),
            "--quiet",
            "--config",
            str(scenario(f"{name}.stats.yaml")),
            "--stats-out",
            str(stats),
        ]
    )
    assert rc == 0
    records = read_jsonl(stats)
    assert_finals_match(records, OWN, name)
    assert all(r["EmittedAt"].endswith("Z") for r in records if r["Reason"] == "Final")


def test_bad_lines_go_to_the_dead_letter_file_and_the_rest_is_processed(tmp_path: Path) -> None:
    events = tmp_path / "events.jsonl"
    good = scenario("routed-emails.events.jsonl").read_text().splitlines()
    bad = [
        '{"Event": "EventNoSuchThing", "EventTime": "2026-03-02T09:00:00Z", "TenantID": "t1"}',
        "this is not json",
        '{"Event": "EventAgentLogin", "EventTime": "yesterday", "TenantID": "t1"}',
    ]
    events.write_text("\n".join(good[:1] + bad + good[1:]) + "\n")
    actions, dead = tmp_path / "a.jsonl", tmp_path / "dead.jsonl"
    rc = main(
        ["replay", str(events), "--actions-out", str(actions), "--dead-letters-out", str(dead), "--quiet"]
    )
    assert rc == 0
    letters = read_jsonl(dead)
    assert [d["ErrorKind"] for d in letters] == ["unknown-event", "decode", "bad-time"]
    assert [d["SourceOffset"] for d in letters] == [2, 3, 4]
    assert letters[1]["Payload"] == "this is not json"
    assert len(read_jsonl(actions)) == 88  # the scenario's 48 Agent/Queue actions + 40 Place mirrors


def test_dead_letter_file_is_created_even_when_empty(tmp_path: Path) -> None:
    dead = tmp_path / "dead.jsonl"
    assert (
        main(
            [
                "replay",
                str(scenario("routed-emails.events.jsonl")),
                "--dead-letters-out",
                str(dead),
                "--quiet",
            ]
        )
        == 0
    )
    assert dead.exists() and dead.read_text() == ""


def test_until_stops_reading_and_sets_the_final_time(tmp_path: Path) -> None:
    stats = tmp_path / "stats.jsonl"
    actions = tmp_path / "actions.jsonl"
    rc = main(
        [
            "replay",
            str(scenario("routed-emails.events.jsonl")),
            "--quiet",
            "--until",
            "2026-05-11T08:05:00Z",
            "--config",
            str(scenario("routed-emails.stats.yaml")),
            "--stats-out",
            str(stats),
            "--actions-out",
            str(actions),
        ]
    )
    assert rc == 0
    assert max(parse_time(a["EventTime"]) for a in read_jsonl(actions)) <= parse_time("2026-05-11T08:05:00Z")
    finals = {
        r["Statistic"]: r for r in read_jsonl(stats) if r["Reason"] == "Final" and r["ObjectType"] == "Agent"
    }
    assert finals["Handled"]["Value"] == 0
    assert finals["Agent_State"]["State"]["Status"] == "HandlingInbound"
    assert finals["Agent_State"]["EmittedAt"] == "2026-05-11T08:05:00.000Z"


def test_unreadable_input_or_config_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["replay", str(tmp_path / "missing.jsonl"), "--quiet"]) == 2
    assert "missing.jsonl" in capsys.readouterr().err
    bad = tmp_path / "bad.yaml"
    bad.write_text("stat_types:\n  X: {Category: NoSuchCategory, Objects: [Agent], MainMask: [Handling]}\n")
    assert (
        main(["replay", str(scenario("routed-emails.events.jsonl")), "--config", str(bad), "--quiet"]) == 2
    )
    assert "NoSuchCategory" in capsys.readouterr().err


def test_summary_names_counts(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["replay", str(scenario("chat-offers-and-readiness.events.jsonl"))]) == 0
    err = capsys.readouterr().err
    # 20 events; 57 Agent actions (the expected file) and their 57 Place mirrors
    assert "events read: 20" in err and "actions written: 114" in err and "events/s" in err


def test_avro_container_input_gives_the_same_actions(tmp_path: Path) -> None:
    from pipeline.records.codec import write_avro_file
    from pipeline.records.validation import validate_event

    events = [validate_event(e) for e in read_jsonl(scenario("chat-offers-and-readiness.events.jsonl"))]
    avro = tmp_path / "events.avro"
    write_avro_file(avro, "ReportingEvent", events)
    a1, a2 = tmp_path / "a1.jsonl", tmp_path / "a2.jsonl"
    assert (
        main(
            [
                "replay",
                str(scenario("chat-offers-and-readiness.events.jsonl")),
                "--actions-out",
                str(a1),
                "--quiet",
            ]
        )
        == 0
    )
    assert main(["replay", str(avro), "--actions-out", str(a2), "--quiet"]) == 0
    assert a1.read_text() == a2.read_text()


def test_replay_with_statistics_is_deterministic_across_hash_seeds(
    tmp_path: Path, other_interpreter: OtherInterpreter
) -> None:
    """Actions and statistic records, their order included, do not depend on PYTHONHASHSEED: one
    replay runs here, one in a child with another seed. The starter statistics with overlapping
    agent and place groups, so group fan-out (sets of members) is exercised."""
    from pipeline.simulate import Simulator
    from pipeline.stats.config import starter_text

    events = tmp_path / "day.jsonl"
    sim = Simulator(agents=6, hours=1.0, per_hour=90, seed=5, tenant="t1", start="2026-05-11T08:00:00Z")
    events.write_text("".join(json.dumps(e) + "\n" for e in sim.events()))
    config = tmp_path / "stats.yaml"
    config.write_text(
        starter_text()
        + "\ngroups:\n"
        + "  GroupAgents: {Odd: [a001, a003, a005], Low: [a001, a002, a003],\n"
        + "                All: [a001, a002, a003, a004, a005, a006]}\n"
        + "  GroupPlaces: {East: [p001, p002], West: [p002, p003, p004]}\n"
    )
    here = other_interpreter.assert_same_as_here("tests.determinism:replay_records", str(events), str(config))
    records = json.loads(here)
    assert len(records["actions"]) > 300 and len(records["stats"]) > 1000
    assert {"GroupAgents", "GroupPlaces"} <= {r["ObjectType"] for r in records["stats"]}


def test_the_statistics_file_is_the_reference_encoding_of_every_record(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The statistic lines are written by their own writer in batches (``LineSink``): the file holds
    ``codec.to_json`` of every record replay produces, in order, and the summary counts them all."""
    from pipeline.records.codec import to_json
    from pipeline.replay import iter_source, replay
    from pipeline.stats.config import load_config

    name = "chat-offers-and-readiness"
    config = scenario(f"{name}.stats.yaml")
    stats = tmp_path / "stats.jsonl"
    rc = main(["replay", str(scenario(f"{name}.events.jsonl")), "--config", str(config),
               "--stats-out", str(stats)])
    assert rc == 0
    records: list[dict] = []
    summary = replay(iter_source(scenario(f"{name}.events.jsonl")), load_config(config),
                     on_stat=records.append, wall_ms=None)
    assert summary.stats == len(records) > 0
    assert stats.read_bytes() == "".join(to_json(r) + "\n" for r in records).encode("utf-8")
    assert f"statistic records: {len(records)};" in capsys.readouterr().err


def test_replay_collects_cycles_less_often_and_restores_the_collector() -> None:
    """A replay raises the collector's thresholds while it runs (its older generations walk the
    whole statistics state) and leaves them as they were."""
    import gc

    from pipeline.collector import THRESHOLD as _GC_THRESHOLD
    from pipeline.replay import iter_source, replay
    from pipeline.stats.config import load_config

    name = "chat-offers-and-readiness"
    before = gc.get_threshold()
    seen: list[tuple[int, int, int]] = []
    replay(iter_source(scenario(f"{name}.events.jsonl")), load_config(scenario(f"{name}.stats.yaml")),
           on_stat=lambda rec: seen.append(gc.get_threshold()), wall_ms=None)
    assert seen and set(seen) == {_GC_THRESHOLD} != {before}
    assert gc.get_threshold() == before
