"""The web side of a real worker on a real broker: query API = replay, /metrics move, clocks check."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from pipeline.replay import iter_source, replay
from pipeline.stats.config import load_config
from tests.stream.harness import REPO, Pipeline

pytestmark = pytest.mark.integration

EVENTS = REPO / "examples" / "routed-email.events.jsonl"
CONFIG = REPO / "examples" / "routed-email.stats.yaml"


def get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=10) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode()


def metric_samples(base: str) -> dict[str, float]:
    out: dict[str, float] = {}
    for family in text_string_to_metric_families(get(base + "metrics")[1]):
        for sample in family.samples:
            labels = ",".join(f"{k}={v}" for k, v in sorted(sample.labels.items()))
            out[f"{sample.name}{{{labels}}}"] = sample.value
    return out


def latest_from_replay() -> dict[tuple, dict]:
    """Replay's last notification per statistic and object (what a compacted topic keeps)."""
    records: list[dict] = []
    replay(iter_source(EVENTS), load_config(CONFIG), on_stat=records.append)
    out = {}
    for r in records:
        if r["Reason"] != "Final":
            out[(r["Statistic"], r["ObjectType"], r["TenantID"], r["ObjectID"])] = r
    return out


def test_query_api_values_equal_replay_on_the_event_clock(kafka_bootstrap: str, tmp_path: Path):
    from pipeline.records.codec import to_json

    expected = {k: json.loads(to_json(r)) for k, r in latest_from_replay().items()}
    assert len(expected) >= 10
    pipe = Pipeline(kafka_bootstrap, tmp_path, config=CONFIG, clock="event")
    worker = pipe.start_worker(web_port=0)
    try:
        base = pipe.web_url(worker)
        before = metric_samples(base)
        pipe.feed(EVENTS)
        deadline = time.monotonic() + 120
        got: dict[tuple, dict] = {}

        def same(record: dict, want: dict) -> bool:
            fields = ("EmittedAt", "Value", "State")
            return all(record.get(f) == want.get(f) for f in fields)

        # Several notifications of one object may share an EmittedAt (actions in the same
        # millisecond): a key is done only when the API serves replay's last one, not an earlier.
        while time.monotonic() < deadline and not (
            got.keys() == expected.keys() and all(same(got[k], expected[k]) for k in expected)
        ):
            for key in expected:
                statistic, otype, tenant, oid = key
                query = urllib.parse.urlencode(
                    {"statistic": statistic, "object_type": otype, "object_id": oid, "tenant": tenant}
                )
                status, body = get(base + "api/values?" + query)
                if status == 200 and json.loads(body)["record"]["EmittedAt"] == expected[key]["EmittedAt"]:
                    got[key] = json.loads(body)["record"]
            time.sleep(1)
        assert got.keys() == expected.keys(), pipe.logs()
        for key, record in got.items():
            want = expected[key]
            assert (record["Value"], record.get("State")) == (want["Value"], want.get("State")), key
        status, body = get(base + "api/values?statistic=Nope&object_type=Agent&object_id=a1")
        assert status == 404 and "unknown statistic 'Nope'" in json.loads(body)["error"]
        listed = {s["Statistic"] for s in json.loads(get(base + "api/statistics")[1])["statistics"]}
        assert {k[0] for k in expected} <= listed

        after = metric_samples(base)
        assert before["mediastat_events_in_total{}"] == 0
        assert after["mediastat_events_in_total{}"] == 8
        assert after["mediastat_actions_out_total{stage=stage2}"] > 0
        assert after["mediastat_statistic_records_total{}"] > 0
        assert after["mediastat_processing_seconds_count{stage=stage1}"] == 8
        assert any(k.startswith("mediastat_consumer_lag{") for k in after)
        assert after["mediastat_clock_mismatch{}"] == 0  # the event clock: nothing is late
    finally:
        pipe.stop_all()


def test_wall_clock_says_once_that_old_events_count_as_late(kafka_bootstrap: str, tmp_path: Path):
    """A file of 2026-03-02 fed to a live worker: the log and /metrics point to --clock event."""
    pipe = Pipeline(kafka_bootstrap, tmp_path, config=CONFIG, clock="wall")
    worker = pipe.start_worker(web_port=0)
    try:
        base = pipe.web_url(worker)
        assert metric_samples(base)["mediastat_clock_mismatch{}"] == 0
        pipe.feed(EVENTS)
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and metric_samples(base)["mediastat_clock_mismatch{}"] != 1:
            time.sleep(1)
        samples = metric_samples(base)
        assert samples["mediastat_clock_mismatch{}"] == 1, pipe.logs()
        assert samples["mediastat_late_total{stage=stage3}"] > 0
        time.sleep(2)
        assert worker.log_path.read_text().count("--clock event") == 1
    finally:
        pipe.stop_all()
