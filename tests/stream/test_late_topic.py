"""``<prefix>.late`` on the broker: a wall-clock worker fed yesterday's email writes the actions
its statistics could not count (``interval-closed``), and an agent event older than what stage 2
already applied is written with ``reorder-window``; ``mediastat tail late`` prints them."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from pipeline.kafka.admin import ensure_pipeline_topics
from pipeline.records.times import to_iso
from tests.stream.harness import Pipeline, TopicReader

pytestmark = pytest.mark.integration

TENANT, AGENT, PLACE = "acme", "lena", "desk-l"
DAY = 86_400_000


def write_events(path: Path, events: list[dict]) -> Path:
    path.write_text("".join(json.dumps(e) + "\n" for e in events))
    return path


def yesterdays_email(t: int) -> list[dict]:
    """The agent logs in and handles one email, a day before now."""
    ixn = {"TenantID": TENANT, "InteractionID": "late-1", "MediaTypeID": "email"}
    party = {**ixn, "AgentID": AGENT, "PlaceID": PLACE, "PartyType": "Agent"}
    return [
        {"Event": "EventAgentLogin", "EventTime": to_iso(t), "TenantID": TENANT, "AgentID": AGENT,
         "PlaceID": PLACE, "MediaList": [{"MediaTypeID": "email", "Ready": True}]},
        {"Event": "EventInteractionSubmitted", "EventTime": to_iso(t + 1000), **ixn},
        {"Event": "EventAgentInvited", "EventTime": to_iso(t + 1100), **party},
        {"Event": "EventPartyAdded", "EventTime": to_iso(t + 1200), **party},
        {"Event": "EventPartyRemoved", "EventTime": to_iso(t + 60_000), **party},
        {"Event": "EventProcessingStopped", "EventTime": to_iso(t + 60_000), **ixn},
    ]


def test_late_contributions_go_to_the_late_topic_with_their_reason(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    config = tmp_path / "stats.yaml"
    config.write_text(
        "stat_types:\n"
        "  Handled: {Objects: [Agent, Tenant], Category: TotalNumber, Subject: DNAction,"
        " MainMask: [StoppedInbound, StoppedOutbound, StoppedInternal]}\n"
        "statistics:\n"
        "  - {stat_type: Handled, time_profile: Default}\n"
    )
    pipe = Pipeline(kafka_bootstrap, tmp_path, config=config, clock="wall")
    ensure_pipeline_topics(kafka_bootstrap, pipe.prefix, ["Handled"])
    reader = TopicReader(kafka_bootstrap, [pipe.topic("late")])
    t = int(time.time() * 1000) - DAY
    try:
        worker = pipe.start_worker()
        alive = lambda: worker.poll() is None  # noqa: E731

        def of(reason: str):
            return lambda rs: [r for _, r in rs if r["Reason"] == reason]

        # Yesterday's email on a wall-clock worker: Handled's interval (today) had closed for it.
        pipe.feed(write_events(tmp_path / "yesterday.jsonl", yesterdays_email(t)))
        assert reader.until(of("interval-closed"), timeout_s=120, alive=alive), pipe.logs()
        # Then an agent event older than what stage 2 has applied: applied out of order.
        late_login = {"Event": "EventAgentLogin", "EventTime": to_iso(t + 500), "TenantID": TENANT,
                      "AgentID": "other", "PlaceID": "desk-o", "EventID": "late-login-1",
                      "MediaList": [{"MediaTypeID": "chat", "Ready": True}]}
        pipe.feed(write_events(tmp_path / "late.jsonl", [late_login]))
        assert reader.until(of("reorder-window"), timeout_s=120, alive=alive), pipe.logs()
        tailed = pipe.cli("tail", "late", "--from-beginning", "--timeout", "5")
    finally:
        reader.close()
        pipe.stop_all()

    closed = of("interval-closed")(reader.records)
    handled = [r for r in closed if r["Action"]["Action"] == "StoppedInbound"]
    assert handled, closed
    assert handled[0]["Stage"] == "statistics" and handled[0]["Action"]["EventTime"] == t + 60_000
    assert handled[0]["LateID"] == "statistics/" + handled[0]["Action"]["ActionID"]
    assert handled[0]["LatenessMs"] > 0 and "not counted" in handled[0]["Detail"]
    (window,) = of("reorder-window")(reader.records)
    assert (window["Stage"], window["AgentID"]) == ("agents", "other")
    assert window["SourceEvent"] == "EventAgentLogin"
    assert window["EventTime"] == t + 500 and window["LatenessMs"] > 0
    assert json.loads(window["Input"])["EventID"] == "late-login-1"
    assert tailed.returncode == 0, tailed.stderr
    lines = [json.loads(line) for line in tailed.stdout.splitlines()]
    assert {line["Reason"] for line in lines} == {"interval-closed", "reorder-window"}
    assert all(isinstance(line["EventTime"], str) for line in lines)  # ISO times, as every tail line
