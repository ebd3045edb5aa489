"""How records are framed on Kafka: Avro single-object encoding, or Confluent Schema Registry framing.

Every command that writes or reads Kafka records does it through one :class:`Serialization`, chosen
from its options (``--serialization``, ``--schema-registry-url``) and carried by the worker's
``Settings``:

* :class:`SingleObject` (the default): the ``C3 01`` + 8-byte fingerprint encoding of
  :mod:`pipeline.records.codec`; any consumer holding our ``.avsc`` files decodes it, no registry.
* :class:`Registry`: Confluent's wire format (magic byte ``00``, 4-byte big-endian schema id, the
  Avro body), written and read by confluent-kafka's ``AvroSerializer``/``AvroDeserializer``, which is
  what kcat, ksqlDB, Kafka Connect, Kafka UI and most shops' consumers expect.

Decoding sniffs the framing from the first byte, so a worker reads either whatever it writes: a
pipeline can move from one framing to the other without emptying its topics. A registry-framed
message met without a registry, or whose schema id the registry does not know, is a
:class:`BadRecord` ``decode`` naming the id: stage 1 dead-letters it and carries on.

Subjects are named by topic (``TopicNameStrategy``: ``<topic>-value``). Each public topic carries
exactly one record type (events: ReportingEvent, actions: ActionRecord, dead-letters: DeadLetter,
``stat.X``: StatValue), which is the strategy's assumption; it is the default of Confluent's
serializers and of ksqlDB, Kafka Connect and Kafka UI, so those find the schema without
configuration, and the registry checks compatibility per topic, where consumers meet the records.
The internal ``agent-inputs``/``stats-inputs`` topics also carry JSON watermarks and bundles, so no
generic tool can read them anyway; stage 1 and 2 send the same action bytes (framed for the
``actions`` subject) to ``stats-inputs``.

Cost: the registry's serializer for a (record type, topic) pair is built once, and its schema
registered (or looked up) when it is built, so encoding a record is a dict lookup and fastavro's
write; no registry call happens per record. A deserializer per record type, and the record type
of each schema id, are likewise kept once known.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar, Protocol

from pipeline.records import codec
from pipeline.records.errors import BadRecord
from pipeline.records.schemas import RECORD_TYPES, load_schema
from pipeline.records.times import TIME_FIELDS, parse_time

log = logging.getLogger(__name__)

#: Pauses between questions to an unreachable registry (patient instances).
FIRST_PAUSE_S = 0.5
MAX_PAUSE_S = 10.0

#: The ``--serialization`` choices; the first is the default.
FRAMINGS: tuple[str, ...] = ("single-object", "registry")
#: Confluent's wire format starts with this byte, then the 4-byte big-endian schema id.
REGISTRY_MAGIC = 0
REGISTRY_HEADER_LEN = 5


class RegistryUnavailable(RuntimeError):
    """The schema registry could not answer (unreachable, refused, a server error).

    Not a :class:`BadRecord`: the record may be fine, so it must not be dead-lettered for it.
    """


class Serialization(Protocol):
    """Encodes records for a topic and decodes messages of any framing."""

    #: ``single-object`` or ``registry``: what :meth:`encode` writes.
    name: str

    def encode(self, record_type: str, record: dict[str, Any], topic: str) -> bytes:
        """``record`` (times as int ms) → the bytes of one Kafka message value on ``topic``."""
        ...

    def decode(self, data: bytes, topic: str, expected: str | None = None) -> tuple[str, dict[str, Any]]:
        """A message value → ``(record_type, record)``; :class:`BadRecord` ``decode`` when it cannot."""
        ...


def framing_of(data: bytes) -> str | None:
    """``single-object``, ``registry`` or None (neither: a JSON line, say) from the first bytes."""
    if data[:2] == codec.MARKER:
        return "single-object"
    if data[:1] == b"\x00":
        return "registry"
    return None


def registry_schema_id(data: bytes) -> int:
    """The schema id of a registry-framed message (its bytes 1–4, big-endian)."""
    if len(data) <= REGISTRY_HEADER_LEN:
        raise BadRecord(
            "decode", f"message too short for Schema Registry framing ({len(data)} bytes)"
        )
    return int.from_bytes(data[1:REGISTRY_HEADER_LEN], "big")


@dataclass(frozen=True)
class SingleObject:
    """Avro single-object encoding (:mod:`pipeline.records.codec`); no registry needed.

    Stateless, so any two are equal (``Settings`` built from the same options compare equal)."""

    name: ClassVar[str] = "single-object"

    def encode(self, record_type: str, record: dict[str, Any], topic: str = "") -> bytes:
        return codec.encode(record_type, record)

    def decode(self, data: bytes, topic: str = "", expected: str | None = None) -> tuple[str, dict[str, Any]]:
        raw = bytes(data or b"")
        if framing_of(raw) == "registry":
            raise BadRecord(
                "decode",
                f"Schema Registry framing (schema id {registry_schema_id(raw)}) but no schema registry "
                "is configured (--schema-registry-url)",
            )
        return codec.decode(raw, expected=expected)


#: One registry client per URL in a process: their caches are shared, and an in-memory ``mock://``
#: registry is the same one for every command and stage of the process (tests rely on it).
_CLIENTS: dict[str, Any] = {}
_CLIENTS_LOCK = threading.Lock()


def registry_client(url: str) -> Any:
    """The process's Schema Registry client for ``url`` (``http(s)://…``, or ``mock://…`` in memory)."""
    from confluent_kafka.schema_registry import SchemaRegistryClient

    with _CLIENTS_LOCK:
        client = _CLIENTS.get(url)
        if client is None:
            client = _CLIENTS[url] = SchemaRegistryClient.new_client({"url": url})
        return client


def to_avro(record_type: str, record: dict[str, Any]) -> dict[str, Any]:
    """A record as the Avro schema holds it: a StatValue's ``State`` as its JSON string."""
    if record_type == "StatValue" and isinstance(record.get("State"), dict):
        state = codec.state_text(record["State"])
        return {**record, "State": state}
    return record


def from_avro(record_type: str, record: dict[str, Any]) -> dict[str, Any]:
    """A record as read by fastavro → in memory: times as int ms (the writer schema's
    ``timestamp-millis`` gives ``datetime``), a StatValue's ``State`` as a dict."""
    for key in TIME_FIELDS:
        value = record.get(key)
        if isinstance(value, datetime):
            record[key] = parse_time(value)
    if record_type == "LateRecord" and isinstance(record.get("Action"), dict):  # nested action record
        record["Action"] = from_avro("ActionRecord", record["Action"])
    if record_type == "StatValue" and isinstance(record.get("State"), str):
        try:
            record["State"] = codec.state_from_output(json.loads(record["State"]))
        except (ValueError, BadRecord):
            raise BadRecord("decode", "corrupt StatValue: State is not a JSON CurrentState") from None
    return record


class Registry:
    """Confluent Schema Registry framing through confluent-kafka's Avro serializer and deserializer.

    ``schemas`` maps record types to their Avro schema (JSON) to write and to read into; default the
    ``.avsc`` files. ``writes`` is ``registry`` (default) or ``single-object``: a worker given a
    registry URL but told to keep writing single-object messages still reads registry-framed input.

    Only the first message of each schema id asks the registry. If it cannot answer then, a
    ``patient`` instance (the worker's) asks again with a growing pause, blocking the stage the way
    an unreadable input must; otherwise :class:`RegistryUnavailable` is raised. A schema id the
    registry answers it does not know is a bad record, never a reason to wait.
    """

    def __init__(
        self,
        url: str,
        *,
        writes: str = "registry",
        schemas: Mapping[str, dict[str, Any]] | None = None,
        client: Any = None,
        patient: bool = False,
    ) -> None:
        if writes not in FRAMINGS:
            raise ValueError(f"unknown framing {writes!r}; expected one of {', '.join(FRAMINGS)}")
        self.url = url
        self.name = writes
        self.client = client if client is not None else registry_client(url)
        given = schemas or {}
        self._schemas = {name: dict(given.get(name) or load_schema(name).raw) for name in RECORD_TYPES}
        self._writers: dict[tuple[str, str], Callable[[dict[str, Any]], bytes]] = {}
        self._readers: dict[str, Callable[[bytes, str], Any]] = {}
        self._types: dict[tuple[int, str], str] = {}  # (schema id, topic) → our record type
        self._lock = threading.Lock()
        #: Wait for an unreachable registry rather than fail (a stage must neither dead-letter a
        #: good record nor skip it because the registry is briefly away); tools fail at once.
        self.patient = patient
        self._sleep: Callable[[float], None] = time.sleep

    # ------------------------------------------------------------------------------ writing

    def encode(self, record_type: str, record: dict[str, Any], topic: str) -> bytes:
        if self.name == "single-object":
            return codec.encode(record_type, record)
        writer = self._writers.get((record_type, topic)) or self.prepare(record_type, topic)
        try:
            return writer(to_avro(record_type, record))
        except RegistryUnavailable:
            raise
        except Exception as exc:  # fastavro's TypeError/ValueError/...: name the field, as codec does
            raise codec._explain_encode_failure(record_type, to_avro(record_type, record), exc) from None

    def prepare(self, record_type: str, topic: str) -> Callable[[dict[str, Any]], bytes]:
        """Build the serializer of ``record_type`` on ``topic`` and register its schema now.

        Commands call it at start for the topics they write, so an unreachable registry or a schema
        it refuses (incompatible with the subject's) stops them at once with the reason, and no
        registry call is left for the first record.
        """
        from confluent_kafka.schema_registry import Schema, topic_subject_name_strategy
        from confluent_kafka.schema_registry.avro import AvroSerializer
        from confluent_kafka.serialization import MessageField, SerializationContext

        with self._lock:
            found = self._writers.get((record_type, topic))
            if found is not None:
                return found
            ctx = SerializationContext(topic, MessageField.VALUE)
            schema_str = json.dumps(self._schemas[record_type])
            serializer = AvroSerializer(
                self.client, schema_str, conf={"subject.name.strategy": topic_subject_name_strategy}
            )
            try:  # the serializer's own registration then finds it in the client's cache
                self.client.register_schema_full_response(
                    topic_subject_name_strategy(ctx, record_type), Schema(schema_str, "AVRO")
                )
            except Exception as exc:
                raise RegistryUnavailable(
                    f"schema registry at {self.url}: cannot register {record_type} for {topic}: {exc}"
                ) from None

            def write(record: dict[str, Any]) -> bytes:
                return serializer(record, ctx)

            self._writers[(record_type, topic)] = write
            return write

    # ------------------------------------------------------------------------------ reading

    def decode(self, data: bytes, topic: str = "", expected: str | None = None) -> tuple[str, dict[str, Any]]:
        if expected is not None and expected not in RECORD_TYPES:
            raise KeyError(f"unknown record type {expected!r}")
        raw = bytes(data or b"")
        if framing_of(raw) != "registry":
            return codec.decode(raw, expected=expected)
        schema_id = registry_schema_id(raw)
        record_type = self.record_type_of(schema_id, topic)
        if expected is not None and record_type != expected:
            raise BadRecord("decode", f"expected a {expected} but schema id {schema_id} is a {record_type}")
        if len(raw) > codec.MAX_MESSAGE_BYTES:
            raise BadRecord("decode", f"message of {len(raw)} bytes exceeds {codec.MAX_MESSAGE_BYTES}")
        reader = self._readers.get(record_type) or self._reader(record_type)
        try:
            record = reader(raw, topic)
        except Exception as exc:  # fastavro/serde errors on a corrupt or truncated body
            raise BadRecord(
                "decode", f"corrupt {record_type} body (schema id {schema_id}; {type(exc).__name__}: {exc})"
            ) from None
        return record_type, from_avro(record_type, record)

    def record_type_of(self, schema_id: int, topic: str = "") -> str:
        """Which of our record types schema ``schema_id`` is, asked of the registry once per id and
        topic, exactly as the deserializer then asks for it: that question is answered from the
        client's cache, so a registry going away between the two cannot fail a good record."""
        known = self._types.get((schema_id, topic))
        if known is not None:
            return known
        from confluent_kafka.schema_registry import topic_subject_name_strategy
        from confluent_kafka.schema_registry.error import SchemaRegistryError
        from confluent_kafka.serialization import MessageField, SerializationContext

        subject = topic_subject_name_strategy(SerializationContext(topic, MessageField.VALUE), None)

        pause = FIRST_PAUSE_S
        while True:
            try:
                schema = self.client.get_schema(schema_id, subject, None)
                break
            except SchemaRegistryError as exc:
                if exc.http_status_code == 404:
                    why = f"unknown schema id {schema_id}: the schema registry at {self.url} does not have it"
                    raise BadRecord("decode", why) from None
                problem = RegistryUnavailable(f"schema registry at {self.url}, id {schema_id}: {exc}")
            except Exception as exc:  # connection refused, timeout, TLS…
                problem = RegistryUnavailable(f"schema registry at {self.url}, id {schema_id}: {exc}")
            if not self.patient:
                raise problem
            log.warning("%s; asking again in %.1f s", problem, pause)
            self._sleep(pause)
            pause = min(MAX_PAUSE_S, pause * 2)
        if (schema.schema_type or "AVRO") != "AVRO":
            raise BadRecord("decode", f"schema id {schema_id} is a {schema.schema_type} schema, not Avro")
        try:
            name = json.loads(schema.schema_str).get("name", "")
        except (ValueError, AttributeError):
            name = ""
        record_type = str(name).rsplit(".", 1)[-1]
        if record_type not in RECORD_TYPES:
            what = name or "not a named record"
            raise BadRecord("decode", f"schema id {schema_id} is {what}, not a mediastat record type")
        self._types[(schema_id, topic)] = record_type
        return record_type

    def _reader(self, record_type: str) -> Callable[[bytes, str], Any]:
        from confluent_kafka.schema_registry import topic_subject_name_strategy
        from confluent_kafka.schema_registry.avro import AvroDeserializer
        from confluent_kafka.serialization import MessageField, SerializationContext

        deserializer = AvroDeserializer(
            self.client,
            json.dumps(self._schemas[record_type]),  # our schema is the reader's: evolution resolves
            conf={"subject.name.strategy": topic_subject_name_strategy},
        )

        def read(data: bytes, topic: str) -> Any:
            return deserializer(data, SerializationContext(topic, MessageField.VALUE))

        self._readers[record_type] = read
        return read


# -------------------------------------------------------------------------------- options


def add_arguments(parser: argparse.ArgumentParser, *, writes: bool = True) -> None:
    """``--serialization`` (commands that write records) and ``--schema-registry-url``."""
    if writes:
        parser.add_argument(
            "--serialization",
            choices=FRAMINGS,
            default=os.environ.get("MEDIASTAT_SERIALIZATION") or FRAMINGS[0],
            help="how records are framed on Kafka: Avro single-object encoding (default) or Confluent "
            "Schema Registry framing (needs --schema-registry-url; $MEDIASTAT_SERIALIZATION)",
        )
    parser.add_argument(
        "--schema-registry-url",
        default=os.environ.get("MEDIASTAT_SCHEMA_REGISTRY_URL") or None,
        metavar="URL",
        help="Confluent Schema Registry (http(s)://host:port; mock://NAME in memory, for tests); "
        "registry-framed records are then read too ($MEDIASTAT_SCHEMA_REGISTRY_URL)",
    )


def from_arguments(args: argparse.Namespace, *, patient: bool = False) -> Serialization:
    """The serialization the options ask for; ValueError with the reason when they contradict.

    ``patient``: wait for an unreachable registry when reading (the worker) instead of failing."""
    framing = getattr(args, "serialization", FRAMINGS[0])
    url = getattr(args, "schema_registry_url", None)
    if framing not in FRAMINGS:  # from $MEDIASTAT_SERIALIZATION, which argparse does not check
        raise ValueError(f"unknown serialization {framing!r}; expected one of {', '.join(FRAMINGS)}")
    if framing == "registry" and not url:
        raise ValueError("--serialization registry needs --schema-registry-url")
    if url:
        return Registry(url, writes=framing, patient=patient)
    return SingleObject()


def prepare(serialization: Serialization, writes: Mapping[str, str] | list[tuple[str, str]]) -> None:
    """Register up front the schemas of the (record type, topic) pairs a command writes.

    Does nothing for single-object framing; raises :class:`RegistryUnavailable` with the reason when
    the registry cannot be reached or refuses a schema.
    """
    if isinstance(serialization, Registry) and serialization.name == "registry":
        pairs = writes.items() if isinstance(writes, Mapping) else writes
        for record_type, topic in pairs:
            serialization.prepare(record_type, topic)
