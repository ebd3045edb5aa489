"""librdkafka's lines go through our logging, at warning level, one of a kind per 10 s."""

from __future__ import annotations

import logging
import socket
import time

import pytest
from confluent_kafka import Consumer

from pipeline.kafka.logs import CLIENT_LOGGER, RepeatFilter, client_logging


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _record(message: str, level: int = logging.ERROR, name: str = "aiokafka.client") -> logging.LogRecord:
    return logging.LogRecord(name, level, __file__, 1, message, None, None)


def test_one_record_of_a_kind_per_window_and_the_count_of_the_rest() -> None:
    clock = FakeClock()
    repeat = RepeatFilter(window=10.0, clock=clock)
    let_through = []
    for i in range(100):  # ten a second for ten seconds: the same error, other ports and ids
        port = 50000 + i
        record = _record(f"Unable connect to node with id {i % 3}: Connect call failed ('127.0.0.1', {port})")
        if repeat.filter(record):
            let_through.append(record.getMessage())
        clock.now += 0.1
    assert len(let_through) == 1
    last = _record("Unable connect to node with id 1: Connect call failed ('127.0.0.1', 50123)")
    assert repeat.filter(last)
    assert last.getMessage().endswith("(99 more like it in the last 10 s)")
    # Another kind, another logger or another level is not held back by the first.
    assert repeat.filter(_record("Failed fetch messages from 1: NodeNotReadyError"))
    assert repeat.filter(_record("Unable connect to node with id 1", name="aiokafka.conn"))
    assert repeat.filter(_record("Unable connect to node with id 1", level=logging.WARNING))


def test_records_below_the_minimum_level_always_pass() -> None:
    repeat = RepeatFilter(window=10.0, clock=FakeClock(), min_level=logging.WARNING)
    assert all(repeat.filter(_record("joined group", level=logging.INFO)) for _ in range(5))
    assert repeat.filter(_record("lost", level=logging.WARNING))
    assert not repeat.filter(_record("lost", level=logging.WARNING))


def test_client_logging_keeps_the_callers_settings() -> None:
    config = client_logging({"bootstrap.servers": "b:1", "log_level": 7})
    assert config["logger"] is CLIENT_LOGGER and config["log_level"] == 7
    assert config["bootstrap.servers"] == "b:1" and config["log.connection.close"] is False
    assert client_logging({})["log_level"] == 4


def test_librdkafka_lines_reach_our_logger_few_and_not_stderr(
    caplog: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str]
) -> None:
    """A consumer of a closed port for 3 s: librdkafka tries about 20 connections a second; we see
    its complaint once (not sixty times), through logging, and nothing on stderr."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    consumer = Consumer(
        client_logging({"bootstrap.servers": f"127.0.0.1:{port}", "group.id": "logs-test"})
    )
    caplog.set_level(logging.WARNING, logger=CLIENT_LOGGER.name)
    try:
        consumer.subscribe(["nothing"])
        deadline = time.monotonic() + 3.0
        while time.monotonic() < deadline:
            consumer.poll(0.2)
    finally:
        consumer.close()
    ours = [r for r in caplog.records if r.name == CLIENT_LOGGER.name]
    assert ours, "librdkafka's lines did not reach the mediastat.kafka.client logger"
    assert any("Connection refused" in r.getMessage() for r in ours)
    assert len(ours) <= 3, [r.getMessage() for r in ours]
    assert "Connection refused" not in capfd.readouterr().err
