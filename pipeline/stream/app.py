"""The Faust app factory: one place that decides how every stage talks to Kafka and stores state.

Choices, and why:

* ``kafka://`` transport (aiokafka). faust's ``confluent://`` transport cannot create topics.
  The stages' outputs do not go through it: they go through one librdkafka producer per worker,
  awaited once per batch (:mod:`pipeline.stream.producer`); faust's producer writes the tables'
  changelogs only.
* ``store="rocksdb://"``: tables live in RocksDB (through rocksdict) under the data directory and
  are backed by changelog topics, so a restarted worker recovers its state.
* raw key/value serializers: messages are Avro, single-object encoded by our own codec
  (:mod:`pipeline.records.codec`) or in Schema Registry framing, through the settings'
  serialization (:mod:`pipeline.records.serialization`), as the CLI tools read and write them.
* at-least-once processing: faust's exactly-once mode has known bugs; downstream consumers drop
  repeats by ``ActionID`` (records.md).
* no faust web server: several workers (and tests) on one machine would fight over its port. The
  worker's own web side (:mod:`pipeline.web`: wallboard, query API, ``/metrics``) takes the next
  free port instead.

Stages plug in through :data:`STAGE_MODULES`: each names a module exposing
``register(app: faust.App, topics: Topics, settings: Settings) -> None`` that declares its agents
and tables from the settings it is given (:mod:`pipeline.stream.settings`). Stage 1
(interaction tracker), stage 2 (agent/place media state) and stage 3 (statistics) are added there;
stage 4 (the merge of partial statistics) when the stats-inputs topic has several partitions.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from pathlib import Path

import faust

from pipeline.kafka.admin import stat_topic, topic_name
from pipeline.kafka.broker import mediastat_home
from pipeline.stream.settings import Settings

#: Modules whose ``register(app, topics, settings)`` declares one stage each, in data-flow order.
STAGE_MODULES: tuple[str, ...] = (
    "pipeline.stream.interactions",
    "pipeline.stream.agents",
    "pipeline.stream.statistics",
)
#: Stage 4, the merge of partial statistics (pipeline.stream.merge): registered when stats-inputs
#: has several partitions.
MERGE_MODULE = "pipeline.stream.merge"


@dataclass(frozen=True)
class Topics:
    """Topic names of one pipeline (one prefix); stages ask here rather than formatting names."""

    prefix: str

    @property
    def events(self) -> str:
        return topic_name("events", self.prefix)

    @property
    def actions(self) -> str:
        return topic_name("actions", self.prefix)

    @property
    def agent_inputs(self) -> str:
        """Internal: stage 1 → stage 2, re-keyed by agent (agent events + interaction actions)."""
        return topic_name("agent-inputs", self.prefix)

    @property
    def stats_inputs(self) -> str:
        """Internal: stages 1 and 2 → stage 3, the actions again plus stage 2's watermarks."""
        return topic_name("stats-inputs", self.prefix)

    @property
    def stat_partials(self) -> str:
        """Internal: stage 3 → stage 4, partial accumulators of group and tenant statistics plus
        stage 3's watermarks (used when stats-inputs has several partitions)."""
        return topic_name("stat-partials", self.prefix)

    @property
    def dead_letters(self) -> str:
        return topic_name("dead-letters", self.prefix)

    @property
    def late(self) -> str:
        return topic_name("late", self.prefix)

    def stat(self, stat_type: str) -> str:
        return stat_topic(stat_type, self.prefix)


def default_data_dir() -> Path:
    """Worker state (RocksDB tables) under ``$MEDIASTAT_HOME/state`` (one sub-directory per app id)."""
    return mediastat_home() / "state"


def broker_url(bootstrap: str) -> str:
    """``host1:9092,host2:9092`` → faust's ``kafka://host1:9092;kafka://host2:9092``."""
    return ";".join(f"kafka://{server.strip()}" for server in bootstrap.split(",") if server.strip())


def create_app(
    settings: Settings, *, stages: tuple[str, ...] | None = None, **overrides: object
) -> tuple[faust.App, Topics]:
    """A configured Faust app with the stages of ``stages`` (default :data:`STAGE_MODULES`) registered.

    ``overrides`` override faust settings (tests shorten intervals with them). The consumer group is
    ``settings.app_id``; give each independent pipeline on a cluster its own id and prefix.
    """
    topics = Topics(settings.prefix)
    app_dir = Path(settings.data_dir or default_data_dir()) / settings.app_id
    app_dir.mkdir(parents=True, exist_ok=True)  # faust creates only the last level
    options: dict[str, object] = {
        # broker URL and broker_credentials (SASL/TLS) from the one client configuration
        **settings.kafka.faust_options(),
        "store": "rocksdb://",
        # One directory per app id: faust lays tables out as <datadir>/v1/tables/<table>-<partition>.db,
        # so two apps sharing a directory would share (and corrupt) each other's tables.
        "datadir": str(app_dir),
        "key_serializer": "raw",
        "value_serializer": "raw",
        "topic_partitions": 1,
        # Changelogs and faust's own topics replicate as the worker was told (default: the broker's
        # default.replication.factor, resolved by the worker); nothing is declared when the
        # cluster's topics are managed elsewhere (--no-create-topics).
        "topic_replication_factor": settings.replication_factor,
        "topic_allow_declare": settings.create_topics,
        # Standbys of each table partition on other workers (--standbys; pipeline.stream.settings).
        "table_standby_replicas": settings.standbys,
        "consumer_auto_offset_reset": "earliest",
        "processing_guarantee": "at_least_once",
        "web_enabled": False,
        "stream_recovery_delay": 0.0,
        # Stages 2 and 3 hold inputs unacknowledged on purpose (reorder window, checkpoints); they
        # are redelivered and deduplicated after a stop, so shutdown must not wait for them.
        "stream_wait_empty": False,
        # A crashed worker's partitions move to the others after 10 s, not faust's default 60 s.
        "broker_session_timeout": 10.0,
        "broker_heartbeat_interval": 3.0,
    }
    options.update(overrides)
    app = faust.App(settings.app_id, **options)
    # While Kafka is away: client retries with backoff, quiet client logs, one warning per 10 s
    # (pipeline.stream.outage). Before the stages: declaring a topic fixes the app's transport.
    from pipeline.stream.outage import prepare

    prepare(app, settings)
    modules = STAGE_MODULES if stages is None else stages
    # --- partitioned statistics: stage 4 merges stage 3's partials when stats-inputs has several
    # partitions (with one, stage 3 computes every statistic whole) -------------------------------
    if stages is None and (settings.partitions_of(topics.stats_inputs) or 1) > 1:
        modules = (*modules, MERGE_MODULE)
    # --- end of partitioned statistics ------------------------------------------------------------
    for module_name in modules:
        importlib.import_module(module_name).register(app, topics, settings)
    return app, topics
