"""What a worker's stages are built from: one frozen object, passed explicitly.

The ``worker`` command builds :class:`Settings` from its options (and the environment variables a
user sets, such as ``KAFKA_BOOTSTRAP_SERVERS``), then hands it to ``create_app(settings)``, which
passes it to every stage's ``register(app, topics, settings)``. Nothing is read behind the stages'
backs: a test or another driver builds the same object and gets the same pipeline.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from pipeline.core.ordering import DEFAULT_WINDOW_MS
from pipeline.kafka.client import KafkaClient
from pipeline.records.future import DEFAULT_FUTURE_TOLERANCE_MS
from pipeline.records.serialization import Serialization, SingleObject
from pipeline.stats.config import Config

Clock = Literal["wall", "event"]


@dataclass(frozen=True)
class Settings:
    """One pipeline's settings, resolved once when the worker starts."""

    #: Kafka bootstrap servers, ``host:port[,host:port]``.
    bootstrap: str
    #: The statistics, groups and capacity rules (the shipped starter unless ``--config``).
    config: Config
    #: Topic prefix: ``<prefix>.events``, ``<prefix>.actions``…
    prefix: str = "mediastat"
    #: faust app id = consumer group and the changelog topics' prefix; one per independent pipeline
    #: on a cluster. None: the topic prefix, so two prefixes never share a group or changelogs.
    app_id: str | None = None
    #: RocksDB state directory (None: ``$MEDIASTAT_HOME/state``).
    data_dir: Path | None = None
    #: Statistics clock: wall time (live) or the event clock (backfill through Kafka, as replay).
    clock: Clock = "wall"
    #: Partitions of the stages' input topics as found at start: a faust table must have as many
    #: partitions as the topic that feeds it. A topic not listed takes faust's default.
    partitions: Mapping[str, int] = field(default_factory=dict)
    #: How far ahead of the wall clock stage 1 accepts an EventTime (None: no limit; ``future-time``).
    future_tolerance_ms: int | None = DEFAULT_FUTURE_TOLERANCE_MS
    #: Stage 2's reorder window in event time (``--reorder-window``): every action waits this long
    #: for input that may still come before it. Replay takes the same option and must get the same.
    reorder_window_ms: int = DEFAULT_WINDOW_MS
    #: How records are framed on Kafka (``--serialization``): single-object or Schema Registry;
    #: every stage encodes and decodes through it (pipeline.records.serialization).
    serialization: Serialization = field(default_factory=SingleObject)

    #: How every client of the worker reaches Kafka (security included): faust's app, the web
    #: reader, confluent clients (``settings.kafka.producer({...})``). Left out, a plain connection
    #: to ``bootstrap``; given, its bootstrap servers must be ``bootstrap``.
    kafka: KafkaClient | None = None

    # --- topics (issue 12) ---------------------------------------------------------------------
    #: Replication factor of the topics faust creates (table changelogs, the assignor's topic). The
    #: worker resolves "the broker's default" to a number: faust cannot ask the broker for -1.
    replication_factor: int = 1
    #: False (``--no-create-topics``): topics are managed elsewhere; faust declares nothing either.
    create_topics: bool = True

    # --- end of topics ----------------------------------------------------------------------------

    # --- several workers -------------------------------------------------------------------------
    #: Standby replicas of each table partition (``--standbys``, faust's ``table_standby_replicas``):
    #: other workers of the same app id keep a copy warm from the changelog, so a partition that
    #: moves resumes without restoring its whole changelog. 0 by default: a single worker has no
    #: other worker to keep one on, and each standby replays changelogs continuously.
    standbys: int = 0
    # --- end of several workers ------------------------------------------------------------------

    def __post_init__(self) -> None:
        if self.kafka is None:
            object.__setattr__(self, "kafka", KafkaClient(self.bootstrap))
        elif self.kafka.bootstrap != self.bootstrap:
            raise ValueError(f"Settings: bootstrap {self.bootstrap!r} but kafka {self.kafka.bootstrap!r}")
        if self.app_id is None:
            object.__setattr__(self, "app_id", self.prefix)

    def partitions_of(self, topic: str) -> int | None:
        """Partitions of an input topic as the worker found them (None: faust's default)."""
        return self.partitions.get(topic)
