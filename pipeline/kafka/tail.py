"""``mediastat tail TOPIC``: print a topic's records as JSON Lines.

Messages are decoded from the Avro single-object encoding whatever their record type (the
fingerprint says which). A message that does not decode — e.g. an invalid line ``feed`` passed
through for dead-lettering — is printed as ``{"Undecodable": <reason>, "Topic", "Partition",
"Offset", "Payload"}`` and tailing goes on: a diagnostic tool must never die on the data it is
meant to diagnose.
"""

from __future__ import annotations

import argparse
import base64
import json
import sys
import time
import uuid

from confluent_kafka import Consumer, KafkaError

from pipeline.kafka.admin import CORE_TOPICS, topic_name
from pipeline.kafka.bootstrap import NoKafka, check_reachable, resolve_bootstrap
from pipeline.kafka.logs import client_logging
from pipeline.records.codec import decode, to_json
from pipeline.records.errors import BadRecord


def resolve_topic(name: str, prefix: str | None = None) -> str:
    """``events``/``actions``/``dead-letters``/``late``/``stat.X`` get the prefix; full names are kept."""
    if name in CORE_TOPICS or name.startswith("stat."):
        return topic_name(name, prefix)
    return name


def render(value: bytes | None, topic: str, partition: int, offset: int) -> str:
    """One message → one JSON line (a decoded record, or the undecodable marker)."""
    try:
        _, record = decode(value or b"")
        return to_json(record)
    except BadRecord as exc:
        raw = value or b""
        try:
            payload, encoding = raw.decode("utf-8"), None
        except UnicodeDecodeError:
            payload, encoding = base64.b64encode(raw).decode("ascii"), "base64"
        marker = {"Undecodable": exc.reason, "Topic": topic, "Partition": partition, "Offset": offset}
        marker["Payload"] = payload
        if encoding:
            marker["PayloadEncoding"] = encoding
        return json.dumps(marker, ensure_ascii=False, separators=(",", ":"))


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("topic", help="topic name, or events|actions|dead-letters|late|stat.<StatType>")
    parser.add_argument(
        "--bootstrap", help="Kafka bootstrap servers (default: $KAFKA_BOOTSTRAP_SERVERS or local)"
    )
    parser.add_argument("--prefix", help="topic prefix for short names (default: mediastat)")
    parser.add_argument("--from-beginning", action="store_true", help="start at the oldest message")
    parser.add_argument("--max", type=int, default=None, metavar="N", help="stop after N messages")
    parser.add_argument(
        "--timeout", type=float, default=None, metavar="S", help="stop after S seconds without a message"
    )
    parser.add_argument("--keys", action="store_true", help="prefix each line with the key and a tab")


def run(args: argparse.Namespace) -> int:
    try:
        bootstrap = resolve_bootstrap(args.bootstrap)
        check_reachable({"bootstrap.servers": bootstrap})  # fail fast: not "0 messages", nor a hang
    except NoKafka as exc:
        print(f"mediastat tail: {exc}", file=sys.stderr)
        return 1
    topic = resolve_topic(args.topic, args.prefix)
    lost: list[KafkaError] = []  # client errors since the last message
    consumer = Consumer(
        client_logging(
            {
                "bootstrap.servers": bootstrap,
                "group.id": f"mediastat-tail-{uuid.uuid4().hex[:12]}",
                "auto.offset.reset": "earliest" if args.from_beginning else "latest",
                "enable.auto.commit": False,
                # librdkafka says "all brokers down" here; the loop then checks before it reports.
                "error_cb": lost.append,
            }
        )
    )
    consumer.subscribe([topic])
    count = 0
    last = time.monotonic()
    try:
        while args.max is None or count < args.max:
            msg = consumer.poll(0.5)
            if msg is None:
                if args.timeout is not None and time.monotonic() - last >= args.timeout:
                    break
                continue
            lost.clear()  # a message (or a message's error) came: the broker is there
            if msg.error():
                if msg.error().code() in (KafkaError._PARTITION_EOF, KafkaError.UNKNOWN_TOPIC_OR_PART):
                    continue
                print(f"mediastat tail: {msg.error()}", file=sys.stderr)
                continue
            last = time.monotonic()
            line = render(msg.value(), msg.topic(), msg.partition(), msg.offset())
            if args.keys:
                key = msg.key()
                line = f"{key.decode('utf-8', 'replace') if key else ''}\t{line}"
            print(line, flush=True)
            count += 1
    except KeyboardInterrupt:
        pass
    finally:
        consumer.close()
    if any(err.code() == KafkaError._ALL_BROKERS_DOWN for err in lost):
        # The broker went away during the tail: "N messages" and exit 0 would say the topic was
        # quiet, when in fact nothing could be read.
        try:
            check_reachable({"bootstrap.servers": bootstrap})
        except NoKafka as exc:
            print(f"mediastat tail: {count} messages from {topic}, then {exc}", file=sys.stderr)
            return 1
    print(f"mediastat tail: {count} messages from {topic}", file=sys.stderr)
    return 0
