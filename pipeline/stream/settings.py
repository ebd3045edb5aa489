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
    #: faust app id = consumer group; one per independent pipeline on a cluster.
    app_id: str = "mediastat"
    #: RocksDB state directory (None: ``$MEDIASTAT_HOME/state``).
    data_dir: Path | None = None
    #: Statistics clock: wall time (live) or the event clock (backfill through Kafka, as replay).
    clock: Clock = "wall"
    #: Partitions of the stages' input topics as found at start: a faust table must have as many
    #: partitions as the topic that feeds it. A topic not listed takes faust's default.
    partitions: Mapping[str, int] = field(default_factory=dict)
    #: How far ahead of the wall clock stage 1 accepts an EventTime (None: no limit; ``future-time``).
    future_tolerance_ms: int | None = DEFAULT_FUTURE_TOLERANCE_MS
    #: How records are framed on Kafka (``--serialization``): single-object or Schema Registry;
    #: every stage encodes and decodes through it (pipeline.records.serialization).
    serialization: Serialization = field(default_factory=SingleObject)

    def partitions_of(self, topic: str) -> int | None:
        """Partitions of an input topic as the worker found them (None: faust's default)."""
        return self.partitions.get(topic)
