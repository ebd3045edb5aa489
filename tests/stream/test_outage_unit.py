"""The worker's outage behaviour without a broker: the watch's warnings, the filter, the backoff."""

from __future__ import annotations

import asyncio
import logging

import aiokafka
import pytest

from pipeline.kafka.backoff import RETRY_BACKOFF_MS, slow_retries
from pipeline.stats.config import load_config
from pipeline.stream.outage import AwayFilter, OutageWatch, Transport
from pipeline.stream.settings import Settings


class Scripted:
    """A probe whose answers a test sets, and a clock it moves."""

    def __init__(self) -> None:
        self.now = 0.0
        self.cause: str | None = None

    def probe(self) -> str | None:
        return self.cause

    def clock(self) -> float:
        return self.now


def _watch_messages(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "mediastat.kafka.outage"]


def test_one_warning_every_10_s_while_away_and_one_line_when_back(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    script = Scripted()
    watch = OutageWatch("127.0.0.1:50021", probe=script.probe, clock=script.clock)
    for _ in range(5):  # up: nothing said
        watch.check()
        script.now += 1
    assert _watch_messages(caplog) == []

    script.cause = "connection refused"
    for _ in range(25):  # 25 probes, one a second
        watch.check()
        script.now += 1
    assert watch.away
    said = _watch_messages(caplog)
    assert said == [
        "Kafka at 127.0.0.1:50021 unreachable (connection refused); retrying, with a warning every 10 s "
        "until it is back",
        "Kafka at 127.0.0.1:50021 unreachable for 10 s (connection refused); still retrying",
        "Kafka at 127.0.0.1:50021 unreachable for 20 s (connection refused); still retrying",
    ]
    away_filter = AwayFilter(watch)
    noise = logging.LogRecord(
        "aiokafka.client", logging.ERROR, __file__, 1, "Unable connect to node 1", None, None
    )
    assert not any(away_filter.filter(noise) for _ in range(1000))

    script.cause = None
    watch.check()
    back = _watch_messages(caplog)[-1]
    assert back.startswith("Kafka at 127.0.0.1:50021 reachable again after 25 s")
    assert "1000 client log lines about the outage left out" in back
    assert not watch.away and away_filter.filter(noise)
    watch.check()
    assert len(_watch_messages(caplog)) == 4


def test_the_worker_app_uses_the_backoff_transport(tmp_path) -> None:
    from pipeline.stream.app import create_app

    settings = Settings(bootstrap="127.0.0.1:9", config=load_config(None), data_dir=tmp_path)
    app, _ = create_app(settings, stages=())
    assert isinstance(app.transport, Transport) and isinstance(app.producer_transport, Transport)
    producer = app.producer_transport.create_producer()
    assert producer._settings_default()["retry_backoff_ms"] == RETRY_BACKOFF_MS


def test_slow_retries_reaches_the_consumers_client_fetcher_and_coordinator() -> None:
    """The private attributes slow_retries sets are the ones aiokafka reads (an upgrade that renames
    them fails here rather than silently bringing back the 100 ms retries)."""

    async def build() -> aiokafka.AIOKafkaConsumer:
        consumer = aiokafka.AIOKafkaConsumer(bootstrap_servers="127.0.0.1:9", group_id="g")
        slow_retries(consumer, 750)
        return consumer

    consumer = asyncio.run(build())
    assert consumer._client._retry_backoff == 0.75
    assert consumer._retry_backoff_ms == 750


def test_failed_metadata_refreshes_wait_longer_each_time_up_to_2_s(monkeypatch: pytest.MonkeyPatch) -> None:
    """The loop that asked for metadata again as soon as a refresh failed now waits 0.5, 1, 2, 2 s;
    a success resets the wait."""
    from pipeline.kafka import backoff

    answers = iter([False, False, False, False, True, False])
    waits: list[float] = []

    class Client:
        async def _metadata_update(self, cluster_metadata: object, topics: object) -> bool:
            return next(answers)

    async def sleep(seconds: float) -> None:
        waits.append(seconds)

    monkeypatch.setattr(backoff.asyncio, "sleep", sleep)
    client = Client()
    backoff.metadata_backoff(client)  # type: ignore[arg-type]

    async def refresh_six_times() -> list[bool]:
        return [await client._metadata_update(None, set()) for _ in range(6)]

    assert asyncio.run(refresh_six_times()) == [False, False, False, False, True, False]
    assert waits == [0.5, 1.0, 2.0, 2.0, 0.5]
