"""The web side without Kafka: query API, server push, /metrics, static assets, port choice."""

from __future__ import annotations

import asyncio
import json
import socket
from collections import Counter

from aiohttp.test_utils import TestClient, TestServer
from prometheus_client.parser import text_string_to_metric_families

from pipeline import telemetry
from pipeline.web.metrics import build_registry
from pipeline.web.server import STATIC, free_port, make_app
from pipeline.web.store import StatStore


def _record(name: str, otype: str, oid: str, value: float, **extra) -> dict:
    return {
        "Statistic": name,
        "StatType": name,
        "Category": "TotalNumber",
        "ObjectType": otype,
        "ObjectID": oid,
        "TenantID": "t1",
        "TimeProfile": "Default",
        "IntervalStart": 1_772_409_600_000,
        "IntervalEnd": None,
        "Value": value,
        "State": None,
        "Unit": "count",
        "EmittedAt": 1_772_442_000_000,
        "Reason": "Changes",
        **extra,
    }


def _store() -> StatStore:
    store = StatStore([("Handled", "Handled", "TotalNumber", ["Agent", "Tenant"])])
    store.put(_record("Handled", "Agent", "a1", 3.0))
    return store


def _run(coro_fn, app):
    async def main():
        async with TestClient(TestServer(app)) as client:
            return await coro_fn(client)

    return asyncio.run(main())


def test_values_latest_record_and_404s():
    async def check(client):
        ok = await client.get(
            "/api/values", params={"statistic": "Handled", "object_type": "Agent", "object_id": "a1"}
        )
        assert ok.status == 200
        body = await ok.json()
        assert body["value"] == 3.0
        assert body["record"]["IntervalStart"] == "2026-03-02T00:00:00.000Z"  # rendered as replay writes
        unknown = await client.get(
            "/api/values", params={"statistic": "Handeld", "object_type": "Agent", "object_id": "a1"}
        )
        assert unknown.status == 404
        assert "unknown statistic 'Handeld'" in (await unknown.json())["error"]
        no_value = await client.get(
            "/api/values", params={"statistic": "Handled", "object_type": "Agent", "object_id": "zz"}
        )
        assert no_value.status == 404
        missing = await client.get("/api/values", params={"statistic": "Handled"})
        assert missing.status == 400
        listing = (await (await client.get("/api/statistics")).json())["statistics"]
        assert listing == [
            {
                "Statistic": "Handled",
                "StatType": "Handled",
                "Category": "TotalNumber",
                "ObjectTypes": ["Agent", "Tenant"],
                "Objects": [{"ObjectType": "Agent", "TenantID": "t1", "ObjectID": "a1"}],
            }
        ]

    _run(check, make_app(_store()))


def test_server_push_sends_snapshot_then_updates():
    store = _store()

    async def check(client):
        resp = await client.get("/api/stream", params={"statistic": "Handled"})
        assert resp.headers["Content-Type"].startswith("text/event-stream")

        async def next_event() -> tuple[str, list]:
            lines = []
            while True:
                line = (await asyncio.wait_for(resp.content.readline(), 5)).decode().rstrip("\n")
                if line == "" and lines:
                    break
                if line and not line.startswith(":"):
                    lines.append(line)
            kind = lines[0].split(": ", 1)[1]
            return kind, json.loads(lines[1].split(": ", 1)[1])

        kind, data = await next_event()
        assert kind == "snapshot" and [r["Value"] for r in data] == [3.0]
        store.put(_record("Other", "Agent", "a1", 9.0))  # not asked for: not sent
        store.put(_record("Handled", "Agent", "a1", 4.0))
        kind, data = await next_event()
        assert kind == "update" and [(r["Statistic"], r["Value"]) for r in data] == [("Handled", 4.0)]
        resp.close()

    _run(check, make_app(store))


def test_metrics_parse_and_counters_move():
    stage1, stage2 = Counter(), Counter()
    registry = build_registry({"stage1": stage1, "stage2": stage2}, lag=lambda: {("x.events", 0): 5})

    async def scrape(client) -> dict[str, float]:
        text = await (await client.get("/metrics")).text()
        out = {}
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                labels = ",".join(f"{k}={v}" for k, v in sorted(sample.labels.items()))
                out[f"{sample.name}{{{labels}}}"] = sample.value
        return out

    async def check(client):
        before = await scrape(client)
        stage1.update(
            {
                "events": 10,
                "actions": 4,
                "dead-letter:missing-field": 2,
                "duplicates": 1,
                "anomaly:no-open-offer": 1,
            }
        )
        stage2.update({"late": 3, "redelivered": 2, "actions": 7})
        telemetry.PROCESSING.labels("stage1").observe(0.002)
        after = await scrape(client)
        assert before["mediastat_events_in_total{}"] == 0
        assert after["mediastat_events_in_total{}"] == 10
        assert after["mediastat_actions_out_total{stage=stage2}"] == 7
        assert after["mediastat_dead_letters_total{reason=missing-field}"] == 2
        assert after["mediastat_duplicates_total{stage=stage1}"] == 1
        assert after["mediastat_anomalies_total{kind=no-open-offer}"] == 1
        assert after["mediastat_late_total{stage=stage2}"] == 3
        assert after["mediastat_redeliveries_total{stage=stage2}"] == 2
        assert after["mediastat_consumer_lag{partition=0,topic=x.events}"] == 5
        assert after["mediastat_processing_seconds_count{stage=stage1}"] >= 1
        assert "mediastat_clock_mismatch{}" in after
        health = await (await client.get("/health")).json()
        assert health["status"] == "ok"

    _run(check, make_app(_store(), registry))


def test_clock_watch_warns_once(caplog):
    watch = telemetry.ClockWatch()
    assert watch.observe(0, None, 1_772_442_000_000) is False
    with caplog.at_level("WARNING", logger="mediastat.clock"):
        assert watch.observe(3, 1_772_355_600_000, 1_772_442_000_000) is True
        assert watch.observe(5, 1_772_355_600_000, 1_772_442_000_000) is False
    assert watch.warned and watch.late == 5
    assert [r.getMessage().count("--clock event") for r in caplog.records] == [1]


def test_page_and_assets_ship_in_the_package_without_external_urls():
    async def check(client):
        page = await (await client.get("/")).text()
        assert "/static/wallboard.js" in page and "/static/wallboard.css" in page
        for name in ("wallboard.js", "wallboard.css"):
            resp = await client.get(f"/static/{name}")
            assert resp.status == 200
        assert (await client.get("/static/..%2Fserver.py")).status == 404

    _run(check, make_app(_store()))
    for name in ("wallboard.html", "wallboard.js", "wallboard.css"):
        text = (STATIC / name).read_text()
        assert "http://" not in text and "https://" not in text, name


def test_port_taken_gives_the_next_free_one():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        taken = sock.getsockname()[1]
        assert free_port(taken) > taken


def test_web_host_all_addresses_answers_on_the_loopback_and_the_default_is_loopback_only():
    """``--web-host 0.0.0.0`` (containers): reachable by probes; the default binds 127.0.0.1 only."""
    import urllib.request

    from pipeline.web.server import HOST, serve

    assert HOST == "127.0.0.1"

    async def check() -> None:
        runner, port = await serve(make_app(_store()), 0, "0.0.0.0")
        try:
            sockets = [s.getsockname()[0] for site in runner.sites for s in site._server.sockets]
            assert sockets == ["0.0.0.0"]
            body = await asyncio.to_thread(
                lambda: urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=5).read()
            )
            assert json.loads(body)["status"]
        finally:
            await runner.cleanup()
        runner, port = await serve(make_app(_store()), 0)
        try:
            sockets = [s.getsockname()[0] for site in runner.sites for s in site._server.sockets]
            assert sockets == ["127.0.0.1"]
        finally:
            await runner.cleanup()

    asyncio.run(check())
