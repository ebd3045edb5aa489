"""``mediastat feed FILE``: a file bridge from JSON Lines (or ``.avro``) events to ``<prefix>.events``.

Each line is parsed and validated exactly as the worker and ``replay`` would (``validation``), then
sent Avro-encoded as a ReportingEvent keyed by its InteractionID (agent events: AgentID), so one
interaction's events stay in order in one partition. A line that does not validate is sent as its
original bytes: the worker cannot decode it and dead-letters it with the reason, which keeps the
dead-letter topic the single place where bad input is reported — and makes the Kafka run match
``replay`` on the same file.

A line too large for the events topic (over the producer's 1,000,000-byte message maximum) cannot
take that route: ``feed`` builds its dead letter itself (the same builder as the worker and
``replay``; the payload cut to fit) and sends it to ``<prefix>.dead-letters``, with the line's
validation reason, or ``too-large`` for a valid event, the file as source and the line number as
offset. The rest of the file is fed as usual.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Iterator
from pathlib import Path

from confluent_kafka import KafkaError, KafkaException, Producer
from tqdm import tqdm

from pipeline.kafka.admin import topic_name
from pipeline.kafka.bootstrap import NoKafka, check_reachable, resolve_bootstrap
from pipeline.kafka.logs import client_logging
from pipeline.records.codec import encode, read_avro_file, to_json
from pipeline.records.deadletter import MAX_KEY_BYTES, build_dead_letter
from pipeline.records.errors import BadRecord
from pipeline.records.keys import event_key
from pipeline.records.validation import parse_json_line, validate_event


def _raw_key(raw: bytes) -> bytes | None:
    """Best-effort key for an invalid line, so its dead letter lands next to its interaction/agent."""
    try:
        obj = json.loads(raw)
    except ValueError:
        return None
    if isinstance(obj, dict):
        for field in ("InteractionID", "AgentID"):
            if isinstance(obj.get(field), str) and obj[field]:
                return obj[field].encode("utf-8")
    return None


def check_line(raw: bytes) -> tuple[bytes | None, bytes, BadRecord | None]:
    """One input line → ``(key, value, why invalid)``: Avro for a valid event, the line otherwise."""
    try:
        event = validate_event(parse_json_line(raw))
        return event_key(event).encode("utf-8"), encode("ReportingEvent", event), None
    except BadRecord as bad:
        return _raw_key(raw), raw, bad


def prepare_line(raw: bytes) -> tuple[bytes | None, bytes, bool]:
    """One input line → ``(key, value, valid)``: Avro for a valid event, the line itself otherwise."""
    key, value, bad = check_line(raw)
    return key, value, bad is None


def _lines(path: Path) -> Iterator[tuple[int, bytes]]:
    """(bytes consumed, line) for every non-blank line; the same framing as ``replay``."""
    with open(path, "rb") as fo:
        for line in fo:
            if line.strip():
                yield len(line), line.rstrip(b"\r\n")
            else:
                yield len(line), b""


def _avro_records(path: Path) -> Iterator[tuple[int, bytes | dict]]:
    for record in read_avro_file(path):
        yield 0, record


class Feeder:
    """Produces prepared events with confluent-kafka and counts what happened."""

    def __init__(self, bootstrap: str, topic: str, dead_letter_topic: str, source: str = "") -> None:
        self.topic = topic
        self.dead_letter_topic = dead_letter_topic
        self.source = source  # the file, as a dead letter's SourceTopic
        self.sent = self.invalid = self.failed = self.too_large = 0
        self.first_error: str | None = None
        # Idempotence keeps input order within a partition even if a batch is retried.
        self.producer = Producer(
            client_logging({"bootstrap.servers": bootstrap, "enable.idempotence": True, "linger.ms": 20})
        )

    def _delivered(self, err, _msg) -> None:
        if err is not None:
            self.failed += 1
            self.first_error = self.first_error or str(err)

    def _produce(self, topic: str, key: bytes | None, value: bytes) -> None:
        while True:
            try:
                self.producer.produce(topic, value=value, key=key, on_delivery=self._delivered)
                break
            except BufferError:  # local queue full: let deliveries drain, then retry
                self.producer.poll(0.1)
        self.producer.poll(0)

    def send(
        self,
        key: bytes | None,
        value: bytes,
        *,
        original: bytes | None = None,
        line: int | None = None,
        bad: BadRecord | None = None,
    ) -> bool:
        """Send one prepared event; one too large for a message is dead-lettered instead, with
        ``original`` (the input line) as payload and ``bad`` (its validation error) as reason.
        Returns whether it went to the events topic."""
        try:
            self._produce(self.topic, key, value)
        except KafkaException as exc:
            if exc.args[0].code() != KafkaError.MSG_SIZE_TOO_LARGE:
                raise
            payload = value if original is None else original
            why = bad or BadRecord(
                "too-large", f"an event of {len(payload):,} bytes is larger than a Kafka message may be"
            )
            letter = build_dead_letter(
                payload,
                why,
                source_topic=self.source,
                source_partition=None,
                source_offset=line,
                time_ms=int(time.time() * 1000),
            )
            key = None if key is None else key[:MAX_KEY_BYTES]
            self._produce(self.dead_letter_topic, key, encode("DeadLetter", letter))
            self.too_large += 1
            return False
        self.sent += 1
        return True

    def flush(self, timeout: float = 60.0) -> int:
        return self.producer.flush(timeout)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", type=Path, help="events: JSON Lines (one event per line) or an .avro file")
    parser.add_argument(
        "--bootstrap", help="Kafka bootstrap servers (default: $KAFKA_BOOTSTRAP_SERVERS or local)"
    )
    parser.add_argument("--topic", help="target topic (default: <prefix>.events)")
    parser.add_argument("--prefix", help="topic prefix (default: $MEDIASTAT_TOPIC_PREFIX or mediastat)")


def run(args: argparse.Namespace) -> int:
    try:
        bootstrap = resolve_bootstrap(args.bootstrap)
        check_reachable({"bootstrap.servers": bootstrap})  # fail fast: one line, not a minute of retries
    except NoKafka as exc:
        print(f"mediastat feed: {exc}", file=sys.stderr)
        return 1
    path: Path = args.file
    if not path.is_file():
        print(f"mediastat feed: {path}: no such file", file=sys.stderr)
        return 1
    topic = args.topic or topic_name("events", args.prefix)
    feeder = Feeder(bootstrap, topic, topic_name("dead-letters", args.prefix), source=str(path))
    is_avro = path.suffix == ".avro"
    started = time.monotonic()
    bar = tqdm(
        total=None if is_avro else path.stat().st_size,
        unit="B",
        unit_scale=True,
        file=sys.stderr,
        desc=f"feed → {topic}",
        disable=None,
    )
    try:
        items = _avro_records(path) if is_avro else _lines(path)
        for number, (size, item) in enumerate(items, start=1):
            bar.update(size)
            bad: BadRecord | None = None
            if isinstance(item, dict):
                original = None
                try:
                    event = validate_event(item)
                    key, value = event_key(event).encode(), encode("ReportingEvent", event)
                except BadRecord as exc:
                    key, value, bad = None, to_json(item).encode("utf-8"), exc
            elif item:
                original = item
                key, value, bad = check_line(item)
            else:
                continue
            if feeder.send(key, value, original=original, line=number, bad=bad):
                feeder.invalid += bad is not None
    except BadRecord as exc:
        print(f"mediastat feed: {path}: {exc.reason}", file=sys.stderr)
        return 1
    except KafkaException as exc:
        print(f"mediastat feed: Kafka error: {exc}", file=sys.stderr)
        return 1
    finally:
        bar.close()
    pending = feeder.flush()
    elapsed = time.monotonic() - started
    rate = feeder.sent / elapsed if elapsed > 0 else 0.0
    summary = f"fed {feeder.sent} events to {topic} in {elapsed:.2f}s ({rate:,.0f}/s)"
    if feeder.invalid:
        summary += f"; {feeder.invalid} invalid sent as-is for dead-lettering"
    if feeder.too_large:
        summary += (
            f"; {feeder.too_large} too large for a message, dead-lettered to {feeder.dead_letter_topic}"
        )
    print(summary, file=sys.stderr)
    if feeder.failed or pending:
        why = feeder.first_error or "flush timed out"
        print(f"mediastat feed: {feeder.failed + pending} not delivered: {why}", file=sys.stderr)
        return 1
    if feeder.invalid and feeder.invalid == feeder.sent:
        # Not one event: the wrong file (compressed, binary, CSV…) rather than a few bad records.
        # The lines are on the topic already (the worker dead-letters them); the exit code says it.
        print(
            f"mediastat feed: {path}: no line is a valid event ({feeder.invalid} invalid){_hint(path)}",
            file=sys.stderr,
        )
        return 1
    return 0


def _hint(path: Path) -> str:
    """Why a whole file may be invalid, when its first bytes tell."""
    with open(path, "rb") as fo:
        head = fo.read(4)
    if head[:2] == b"\x1f\x8b":
        return " — the file is gzip-compressed: decompress it first"
    if head == b"Obj\x01":
        return " — the file is an Avro container: name it .avro"
    return " — feed takes JSON Lines (one event per line) or an .avro file"
