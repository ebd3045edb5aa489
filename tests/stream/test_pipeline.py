"""The Kafka pipeline against replay: same events in, the same action records and statistics out.

records.md: "The Kafka pipeline fed the same events (one partition, same order) yields the same
action records and the same final statistic values." The worker runs as a real process on the real
broker with the event clock, so both sides see the same time.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from pipeline.config import load_config
from pipeline.replay import iter_source, replay
from pipeline.simulate import Simulator
from tests.golden import OWN, scenario_names
from tests.stream.harness import Pipeline, read_topics

pytestmark = pytest.mark.integration


def canonical(record: dict) -> str:
    """Avro gives absent optional fields as null; JSON output omits them."""
    return json.dumps({k: v for k, v in record.items() if v is not None}, sort_keys=True)


def day_file(path: Path, *, agents: int = 6, hours: float = 1.0, per_hour: float = 90) -> Path:
    """The golden scenarios (tests/scenarios) and simulated hours of another tenant, in time order."""
    rows: list[tuple[str, str]] = []
    for name in scenario_names(OWN):
        for line in (OWN / f"{name}.events.jsonl").read_text().splitlines():
            if line.strip():
                rows.append((json.loads(line)["EventTime"], line))
    sim = Simulator(
        agents=agents, hours=hours, per_hour=per_hour, seed=11, tenant="t2", start="2026-05-11T08:00:00Z"
    )
    for event in sim.events():
        rows.append((event["EventTime"], json.dumps(event)))
    rows.sort(key=lambda r: r[0])  # ISO strings of one format sort in time order; sort is stable
    path.write_text("\n".join(line for _, line in rows) + "\n")
    return path


def run_replay(events: Path, config_path: Path) -> tuple[list[dict], list[dict]]:
    actions: list[dict] = []
    stats: list[dict] = []
    replay(iter_source(events), load_config(config_path), on_action=actions.append, on_stat=stats.append)
    return actions, stats


def last_per_key(records: list[dict]) -> dict[tuple, dict]:
    out: dict[tuple, dict] = {}
    for r in records:
        out[(r["Statistic"], r["ObjectType"], r["TenantID"], r["ObjectID"])] = r
    return out


def statistics_differences(got_stats: list[tuple[str, dict]], want_stats: list[dict]) -> dict:
    """Latest live value per statistic and object vs replay's latest notification (not Final)."""
    live = last_per_key([r for _, r in got_stats])
    offline = last_per_key([r for r in want_stats if r["Reason"] != "Final"])
    wrong: dict = {"/".join(k): ("missing", None) for k in offline.keys() - live.keys()}
    wrong.update({"/".join(k): ("unexpected", None) for k in live.keys() - offline.keys()})
    for key in offline.keys() & live.keys():
        have, want = live[key], offline[key]
        if have["IntervalStart"] != want["IntervalStart"] or have["State"] != want["State"]:
            wrong["/".join(key)] = (have["IntervalStart"], want["IntervalStart"])
        elif want["State"] is None and have["Value"] != pytest.approx(want["Value"], abs=1e-6):
            wrong["/".join(key)] = (have["Value"], want["Value"])
    return wrong


def test_pipeline_gives_the_same_actions_and_statistics_as_replay(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    config = OWN / "routed-emails.stats.yaml"
    events = day_file(tmp_path / "events.jsonl")
    want_actions, want_stats = run_replay(events, config)
    assert len(want_actions) > 1000

    pipe = Pipeline(kafka_bootstrap, tmp_path, config=config, clock="event")
    try:
        pipe.feed(events)
        worker = pipe.start_worker()
        got, got_stats = pipe.collect(worker, len(want_actions), idle_s=5, timeout_s=150)
    finally:
        pipe.stop_all()
    logs = pipe.logs()
    got_actions = [r for _, r in got]
    assert Counter(map(canonical, got_actions)) == Counter(map(canonical, want_actions)), logs

    wrong = statistics_differences(got_stats, want_stats)
    assert not wrong, (dict(list(wrong.items())[:10]), logs)


def test_bad_input_goes_to_the_dead_letter_topic(kafka_bootstrap: str, tmp_path: Path) -> None:
    events = tmp_path / "events.jsonl"
    good = (OWN / "routed-emails.events.jsonl").read_text().splitlines()
    events.write_text(
        "\n".join(
            [
                good[0],
                "not json at all",
                '{"Event": "EventNope", "TenantID": "t1", "EventTime": "2026-03-02T09:00:00Z"}',
                *good[1:],
            ]
        )
        + "\n"
    )
    pipe = Pipeline(kafka_bootstrap, tmp_path, config=OWN / "routed-emails.stats.yaml")
    try:
        pipe.feed(events)
        worker = pipe.start_worker()
        letters = read_topics(
            kafka_bootstrap,
            [pipe.topic("dead-letters")],
            want=2,
            idle_s=3,
            timeout_s=90,
            alive=lambda: worker.poll() is None,
        )
        actions = read_topics(kafka_bootstrap, [pipe.topic("actions")], want=88, idle_s=3, timeout_s=60)
    finally:
        pipe.stop_all()
    kinds = sorted(r["ErrorKind"] for _, r in letters)
    assert kinds == ["decode", "unknown-event"], pipe.logs()
    assert {r["Payload"] for _, r in letters if r["ErrorKind"] == "decode"} == {b"not json at all"}
    assert len(actions) == 88, pipe.logs()  # 48 Agent/Queue actions + 40 Place mirrors


def test_partitions_do_not_change_the_result(kafka_bootstrap: str, tmp_path: Path) -> None:
    """README "Order": three partitions for events and agent inputs; stage 1 partitions run hours of
    event time apart on a backlog, and the watermarks still give replay's action records and
    statistics (Queue statistics: see the known problem below)."""
    from pipeline.kafka.admin import ensure_topics

    config = OWN / "routed-emails.stats.yaml"
    events = day_file(tmp_path / "events.jsonl", agents=8, hours=1.0, per_hour=120)
    want_actions, want_stats = run_replay(events, config)
    pipe = Pipeline(kafka_bootstrap, tmp_path, config=config, clock="event")
    ensure_topics(kafka_bootstrap, [pipe.topic("events"), pipe.topic("agent-inputs")], partitions=3)
    try:
        pipe.feed(events)
        worker = pipe.start_worker("w1")
        got, got_stats = pipe.collect(worker, len(want_actions))
    finally:
        pipe.stop_all()
    logs = pipe.logs()
    by_id = {r["ActionID"]: canonical(r) for _, r in got}
    assert by_id == {a["ActionID"]: canonical(a) for a in want_actions}, logs
    wrong = statistics_differences(got_stats, want_stats)
    # Known problem (README): stage 1 sends Queue actions straight to the actions topic, so with
    # several event partitions on a backlog a queue's actions reach stage 3 out of event-time order
    # (stage 2's watermarks order only agent inputs). Totals agree, but which intermediate value a
    # Changes notification sends can differ: the last one may be off by less than the insensitivity
    # (1, the default). Everything else must equal replay exactly.
    queue_off = {k: v for k, v in wrong.items() if k.split("/")[1] == "Queue"}
    assert all(
        isinstance(have, float) and have == pytest.approx(want, abs=1.0) for have, want in queue_off.values()
    ), (queue_off, logs)
    wrong = {k: v for k, v in wrong.items() if k not in queue_off}
    assert not wrong, (dict(list(wrong.items())[:10]), logs)
