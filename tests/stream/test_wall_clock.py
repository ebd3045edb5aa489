"""The worker's default clock, end to end on Kafka: events stamped "now", statistics on wall time.

Every other Kafka test runs stage 3 on the event clock (``--clock event``) to compare with replay;
live deployments run ``--clock wall`` (the default). Here, on the wall clock:
- a Time-notified statistic is re-sent every second while no event arrives at all (only the wall
  clock can move it), its value growing;
- Handled moves from 0 to 2 as two emails, stamped now, are handled;
- every interval of the Default profile (Growing, 00:00) starts at today's local midnight of the
  configuration's time zone, not at UTC midnight.
"""

from __future__ import annotations

import json
import time
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from pipeline.kafka.admin import ensure_pipeline_topics
from pipeline.records.times import parse_time, to_iso
from tests.stream.harness import Pipeline, TopicReader

pytestmark = pytest.mark.integration

#: Far apart (UTC+5:30, UTC-6/-5, UTC+14): at any moment at least two are an hour or more from
#: their midnight, so the test never straddles a reset.
ZONES = ("Asia/Kolkata", "America/Chicago", "Pacific/Kiritimati")
TENANT, AGENT, PLACE = "acme", "wally", "desk-w"


def zone_far_from_midnight(now: datetime) -> str:
    for zone in ZONES:
        local = now.astimezone(ZoneInfo(zone))
        since_midnight = local - local.replace(hour=0, minute=0, second=0, microsecond=0)
        if timedelta(hours=1) <= since_midnight <= timedelta(hours=23):
            return zone
    raise AssertionError("unreachable: the zones are far apart")


def local_midnight_ms(now: datetime, zone: str) -> int:
    local = now.astimezone(ZoneInfo(zone)).replace(hour=0, minute=0, second=0, microsecond=0)
    return int(local.timestamp() * 1000)


def as_ms(value: int | str | datetime) -> int:
    if isinstance(value, datetime):
        return int(value.timestamp() * 1000)
    return value if isinstance(value, int) else parse_time(value)


def write_events(path: Path, events: list[dict]) -> Path:
    path.write_text("".join(json.dumps(e) + "\n" for e in events))
    return path


def emails_stamped_now(count: int) -> list[dict]:
    """``count`` emails routed to the agent, accepted and finished, stamped in the last second."""
    t = int(time.time() * 1000) - 1_000
    out = []
    for n in range(count):
        iid = f"wall-{n}"
        ixn = {"TenantID": TENANT, "InteractionID": iid, "MediaTypeID": "email"}
        party = {**ixn, "AgentID": AGENT, "PlaceID": PLACE, "PartyType": "Agent"}
        out += [
            {"Event": "EventInteractionSubmitted", "EventTime": to_iso(t), **ixn},
            {"Event": "EventAgentInvited", "EventTime": to_iso(t + 100), **party},
            {"Event": "EventPartyAdded", "EventTime": to_iso(t + 200), **party},
            {"Event": "EventPartyRemoved", "EventTime": to_iso(t + 400), **party},
            {"Event": "EventProcessingStopped", "EventTime": to_iso(t + 400), **ixn},
        ]
        t += 500
    return out


def values(records: list[tuple[str, dict]], statistic: str, object_type: str = "Agent") -> list[dict]:
    return [r for _, r in records if r["Statistic"] == statistic and r["ObjectType"] == object_type]


def test_wall_clock_statistics_move_and_intervals_start_today(kafka_bootstrap: str, tmp_path: Path) -> None:
    started = datetime.now().astimezone()
    zone = zone_far_from_midnight(started)
    config = tmp_path / "stats.yaml"
    config.write_text(
        f"timezone: {zone}\n"
        "stat_types:\n"
        "  Handled: {Objects: [Agent, Tenant], Category: TotalNumber, Subject: DNAction,"
        " MainMask: [StoppedInbound, StoppedOutbound, StoppedInternal]}\n"
        "  Logged_In_Time: {Objects: [Agent], Category: CurrentTime, Subject: DNAction, MainMask: [Active]}\n"
        "statistics:\n"
        "  - {stat_type: Handled, time_profile: Default}\n"
        "  - {stat_type: Logged_In_Time, time_profile: Default, notification: {mode: Time, frequency: 1}}\n"
    )
    pipe = Pipeline(kafka_bootstrap, tmp_path, config=config, clock="wall")
    ensure_pipeline_topics(kafka_bootstrap, pipe.prefix, ["Handled", "Logged_In_Time"])
    reader = TopicReader(kafka_bootstrap, [pipe.topic("stat.Handled"), pipe.topic("stat.Logged_In_Time")])
    try:
        worker = pipe.start_worker()
        alive = lambda: worker.poll() is None  # noqa: E731
        login_at = int(time.time() * 1000)
        login = {"Event": "EventAgentLogin", "EventTime": to_iso(login_at), "TenantID": TENANT,
                 "AgentID": AGENT, "PlaceID": PLACE, "MediaList": [{"MediaTypeID": "email", "Ready": True}]}
        pipe.feed(write_events(tmp_path / "login.jsonl", [login]))

        # Phase 1: one event only. Handled is 0; Logged_In_Time keeps coming on the wall clock.
        def timers(records: list) -> list[dict]:
            return [r for r in values(records, "Logged_In_Time") if r["Reason"] == "Timer"]

        first = reader.until(lambda rs: len(timers(rs)) >= 3 and values(rs, "Handled"), alive=alive)
        assert first, pipe.logs()
        ticks = timers(reader.records)
        emitted = [as_ms(r["EmittedAt"]) for r in ticks]
        assert emitted == sorted(emitted) and len(set(emitted)) == len(emitted)
        assert emitted[-1] > login_at and emitted[-1] <= int(time.time() * 1000)
        growing = [r["Value"] for r in ticks]
        assert growing == sorted(growing) and growing[-1] > growing[0] > 0
        assert [r["Value"] for r in values(reader.records, "Handled")] == [0.0]

        # Phase 2: two emails stamped now are handled.
        pipe.feed(write_events(tmp_path / "emails.jsonl", emails_stamped_now(2)))
        assert reader.until(
            lambda rs: any(r["Value"] == 2.0 for r in values(rs, "Handled", "Tenant"))
            and any(r["Value"] == 2.0 for r in values(rs, "Handled")),
            alive=alive,
        ), pipe.logs()
    finally:
        reader.close()
        pipe.stop_all()

    handled = values(reader.records, "Handled")
    assert [r["Value"] for r in handled] == [0.0, 1.0, 2.0]
    midnight = local_midnight_ms(started, zone)
    assert midnight != local_midnight_ms(started, "UTC")
    starts = {as_ms(r["IntervalStart"]) for _, r in reader.records}
    assert starts == {midnight}, (zone, starts)
    assert all(r["IntervalEnd"] is None for _, r in reader.records)
