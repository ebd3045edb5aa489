"""``mediastat tail TOPIC``: print a topic's records as JSON Lines.

Messages are decoded from the Avro single-object encoding whatever their record type (the
fingerprint says which), or, given ``--schema-registry-url``, from Confluent Schema Registry framing
(the schema id says which; :mod:`pipeline.records.serialization`). A message that does not decode —
e.g. an invalid line ``feed`` passed through for dead-lettering, or a registry-framed one without a
registry — is printed as ``{"Undecodable": <reason>, "Topic", "Partition", "Offset", "Payload"}``
and tailing goes on: a diagnostic tool must never die on the data it is meant to diagnose.
"""

from __future__ import annotations

import argparse
import base64
import json
import sys
import time
import uuid

from confluent_kafka import Consumer, KafkaError

from pipeline.kafka import client
from pipeline.kafka.admin import CORE_TOPICS, topic_name
from pipeline.kafka.bootstrap import NoKafka
from pipeline.records import serialization as framing
from pipeline.records.codec import to_json
from pipeline.records.errors import BadRecord
from pipeline.records.serialization import Serialization, SingleObject


def resolve_topic(name: str, prefix: str | None = None) -> str:
    """``events``/``actions``/``dead-letters``/``late``/``stat.X`` get the prefix; full names are kept."""
    if name in CORE_TOPICS or name.startswith("stat."):
        return topic_name(name, prefix)
    return name


def render(
    value: bytes | None, topic: str, partition: int, offset: int, serialization: Serialization | None = None
) -> str:
    """One message → one JSON line (a decoded record, or the undecodable marker).

    Either framing is decoded; Schema Registry framing needs a ``serialization`` with a registry."""
    try:
        _, record = (serialization or SingleObject()).decode(value or b"", topic)
        return to_json(record)
    except (BadRecord, framing.RegistryUnavailable) as exc:
        raw = value or b""
        try:
            payload, encoding = raw.decode("utf-8"), None
        except UnicodeDecodeError:
            payload, encoding = base64.b64encode(raw).decode("ascii"), "base64"
        reason = exc.reason if isinstance(exc, BadRecord) else str(exc)
        marker = {"Undecodable": reason, "Topic": topic, "Partition": partition, "Offset": offset}
        marker["Payload"] = payload
        if encoding:
            marker["PayloadEncoding"] = encoding
        return json.dumps(marker, ensure_ascii=False, separators=(",", ":"))


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("topic", help="topic name, or events|actions|dead-letters|late|stat.<StatType>")
    parser.add_argument(
        "--bootstrap", help="Kafka bootstrap servers (default: $KAFKA_BOOTSTRAP_SERVERS or local)"
    )
    client.add_arguments(parser)
    parser.add_argument("--prefix", help="topic prefix for short names (default: mediastat)")
    parser.add_argument("--from-beginning", action="store_true", help="start at the oldest message")
    parser.add_argument("--max", type=int, default=None, metavar="N", help="stop after N messages")
    parser.add_argument(
        "--timeout", type=float, default=None, metavar="S", help="stop after S seconds without a message"
    )
    parser.add_argument("--keys", action="store_true", help="prefix each line with the key and a tab")
    framing.add_arguments(parser, writes=False)  # --schema-registry-url: read registry framing too


def run(args: argparse.Namespace) -> int:
    try:
        kafka = client.connect(args)
    except NoKafka as exc:
        print(f"mediastat tail: {exc}", file=sys.stderr)
        return 1
    topic = resolve_topic(args.topic, args.prefix)
    serialization = framing.from_arguments(args)
    lost: list[KafkaError] = []  # client errors since the last message
    consumer = Consumer(
        kafka.consumer(
            {
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
    quiet = False  # stopped by --timeout: nothing came for that long
    try:
        while args.max is None or count < args.max:
            msg = consumer.poll(0.5)
            if msg is None:
                if args.timeout is not None and time.monotonic() - last >= args.timeout:
                    quiet = True
                    break
                continue
            lost.clear()  # a message (or a message's error) came: the broker is there
            if msg.error():
                if msg.error().code() in (KafkaError._PARTITION_EOF, KafkaError.UNKNOWN_TOPIC_OR_PART):
                    continue
                print(f"mediastat tail: {msg.error()}", file=sys.stderr)
                continue
            last = time.monotonic()
            line = render(msg.value(), msg.topic(), msg.partition(), msg.offset(), serialization)
            if args.keys:
                key = msg.key()
                line = f"{key.decode('utf-8', 'replace') if key else ''}\t{line}"
            print(line, flush=True)
            count += 1
    except KeyboardInterrupt:
        pass
    finally:
        consumer.close()
    if quiet or any(err.code() == KafkaError._ALL_BROKERS_DOWN for err in lost):
        # Silence may mean the broker went away during the tail: "N messages" and exit 0 would say
        # the topic was quiet, when in fact nothing could be read. One check tells them apart
        # (librdkafka's "all brokers down" report may come after the timeout, or not at all).
        try:
            kafka.verify(timeout=5.0)
        except NoKafka as exc:
            print(f"mediastat tail: {count} messages from {topic}, then {exc}", file=sys.stderr)
            return 1
    print(f"mediastat tail: {count} messages from {topic}", file=sys.stderr)
    return 0
