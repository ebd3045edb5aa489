"""Topic names, the topic plan and idempotent topic creation (``mediastat topics``).

Names are ``<prefix>.events``, ``<prefix>.actions``, ``<prefix>.dead-letters``, ``<prefix>.late``
and ``<prefix>.stat.<StatType>``; the prefix (default ``mediastat``, env ``MEDIASTAT_TOPIC_PREFIX``)
lets several pipelines share one cluster. Statistic topics are compacted so a late consumer reads
the latest value of everything (records.md).

What gets created is one *plan* (:func:`pipeline_plan`): every topic with its partitions,
replication factor and configs, including the worker's own faust topics (table changelogs and the
assignor's leader topic, named after the app id). ``mediastat topics --print`` shows the plan
without touching the cluster; creating it never changes a topic that already exists (a cluster
whose topics differ was set up that way by someone: we say so and leave it).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field

from confluent_kafka import KafkaError, KafkaException
from confluent_kafka.admin import AdminClient, ConfigResource, NewTopic

from pipeline.kafka import client
from pipeline.kafka.bootstrap import NoKafka
from pipeline.kafka.client import KafkaClient, as_client
from pipeline.records.durations import parse_duration

DEFAULT_PREFIX = "mediastat"
PREFIX_ENV = "MEDIASTAT_TOPIC_PREFIX"
CORE_TOPICS = ("events", "actions", "dead-letters", "late")
#: Topics between stages (not part of the product's interface, but created with the rest so that
#: their partition count matches the events topic's): stage 1 → 2, stages 1 and 2 → 3, and stage 3's
#: partial accumulators of group and tenant statistics → stage 4 (the merge; not compacted: every
#: update is read once, in order, by the merge partition it is sent to).
INTERNAL_TOPICS = ("agent-inputs", "stats-inputs", "stat-partials")

# --- topic plan: replication, retention, compaction (issue 12) -----------------------------------
#: ``replication_factor=-1`` in CreateTopics (KIP-464, brokers ≥ 2.4): the broker's own
#: ``default.replication.factor`` decides, so a cluster that enforces a minimum gets it.
BROKER_DEFAULT_RF = -1
#: Events, actions and the other non-compacted topics: a week, as Kafka's own default, but explicit
#: so that a cluster whose default is hours does not drop a backlog a stopped worker still needs.
DEFAULT_RETENTION_MS = 7 * 86_400_000
#: Statistic topics: compaction only cleans closed segments, and Kafka's default segment is a week,
#: so without this a stat topic keeps every notification for days. An hour keeps them small.
DEFAULT_SEGMENT_MS = 3_600_000
#: Compact once a tenth of the log is superseded values (Kafka's default 0.5 lets half the log be
#: stale; statistic values are superseded constantly, so readers catch up faster with less).
DEFAULT_DIRTY_RATIO = 0.1
#: faust's RocksDB tables, one changelog each (``<app id>-<table>-changelog``), and the input topic
#: whose partition count the table takes (``merge``: stage 4's, used when stats-inputs has several).
TABLES = (
    ("interactions", "events"),
    ("agents", "agent-inputs"),
    ("statistics", "stats-inputs"),
    ("merge", "stat-partials"),
)


@dataclass(frozen=True)
class TopicSpec:
    """One topic as it should be created."""

    name: str
    partitions: int
    replication: int = BROKER_DEFAULT_RF
    config: dict[str, str] = field(default_factory=dict)

    def describe(self) -> str:
        """One line for ``topics --print``: name, partitions, RF, configs."""
        rf = "broker default" if self.replication == BROKER_DEFAULT_RF else str(self.replication)
        configs = ",".join(f"{k}={v}" for k, v in sorted(self.config.items())) or "-"
        return f"{self.name}\tpartitions={self.partitions}\treplication={rf}\t{configs}"


def pipeline_plan(
    prefix: str | None = None,
    stat_types: Iterable[str] = (),
    *,
    partitions: int = 1,
    replication: int = BROKER_DEFAULT_RF,
    retention_ms: int | None = DEFAULT_RETENTION_MS,
    segment_ms: int = DEFAULT_SEGMENT_MS,
    dirty_ratio: float = DEFAULT_DIRTY_RATIO,
    app_id: str | None = None,
) -> list[TopicSpec]:
    """Every topic of one pipeline: core and internal (deleted after ``retention_ms``; None: the
    broker's default), one compacted topic per stat type, and with ``app_id`` the worker's faust
    topics (compacted changelogs, the assignor's leader topic) named as faust names them."""
    deleting = {} if retention_ms is None else {"retention.ms": str(retention_ms)}
    compacted = {
        "cleanup.policy": "compact",
        "segment.ms": str(segment_ms),
        "min.cleanable.dirty.ratio": str(dirty_ratio),
    }
    plan = [
        TopicSpec(topic_name(kind, prefix), partitions, replication, dict(deleting))
        for kind in (*CORE_TOPICS, *INTERNAL_TOPICS)
    ]
    plan += [
        TopicSpec(stat_topic(s, prefix), partitions, replication, dict(compacted))
        for s in dict.fromkeys(stat_types)
    ]
    if app_id:
        plan += [
            TopicSpec(f"{app_id}-{table}-changelog", partitions, replication, {"cleanup.policy": "compact"})
            for table, _source in TABLES
        ]
        plan.append(TopicSpec(f"{app_id}-__assignor-__leader", 1, replication, {}))
    return plan


def create_plan(
    bootstrap: str | KafkaClient, plan: Iterable[TopicSpec], timeout: float = 30.0, compare: bool = True
) -> tuple[list[str], list[str]]:
    """Create the topics of ``plan`` that do not exist; returns (created, differences).

    Existing topics are never altered: each way one differs from the plan (partitions, replication
    factor, a config) is returned as a sentence, for the caller to show.
    """
    plan = list(plan)
    client = _admin(bootstrap)
    metadata = client.list_topics(timeout=timeout).topics
    wanted = [
        NewTopic(s.name, num_partitions=s.partitions, replication_factor=s.replication, config=dict(s.config))
        for s in dict((s.name, s) for s in plan).values()
        if s.name not in metadata
    ]
    created = _create(client, wanted, timeout) if wanted else []
    existing = [s for s in plan if s.name in metadata]
    return created, differences(client, existing, metadata, timeout) if compare else []


def differences(client: AdminClient, specs: list[TopicSpec], metadata, timeout: float = 30.0) -> list[str]:
    """How existing topics differ from their specs (partitions, RF when one was asked, configs)."""
    out = []
    configs: dict[str, dict[str, str]] = {}
    resources = [ConfigResource(ConfigResource.Type.TOPIC, s.name) for s in specs if s.config]
    if resources:
        for resource, future in client.describe_configs(resources, request_timeout=timeout).items():
            configs[resource.name] = {k: v.value for k, v in future.result(timeout=timeout).items()}
    for spec in specs:
        parts = metadata[spec.name].partitions
        if len(parts) != spec.partitions:
            out.append(f"{spec.name}: has {len(parts)} partitions, the plan says {spec.partitions}")
        replicas = min((len(p.replicas) for p in parts.values()), default=0)
        if spec.replication != BROKER_DEFAULT_RF and replicas != spec.replication:
            out.append(f"{spec.name}: has replication factor {replicas}, the plan says {spec.replication}")
        have = configs.get(spec.name, {})
        for key, value in sorted(spec.config.items()):
            if key in have and have[key] != value:
                out.append(f"{spec.name}: has {key}={have[key]}, the plan says {value}")
    return out


def missing_topics(bootstrap: str | KafkaClient, names: Iterable[str], timeout: float = 30.0) -> list[str]:
    """Which of ``names`` do not exist (the worker's check under ``--no-create-topics``)."""
    existing = set(_admin(bootstrap).list_topics(timeout=timeout).topics)
    return [n for n in names if n not in existing]


def broker_default_replication(bootstrap: str | KafkaClient, timeout: float = 30.0) -> int:
    """The broker's ``default.replication.factor`` (what RF -1 gives): faust's own topic creation
    cannot ask for -1, so the worker passes it this number instead."""
    client = _admin(bootstrap)
    broker = min(client.list_topics(timeout=timeout).brokers)
    resource = ConfigResource(ConfigResource.Type.BROKER, str(broker))
    future = client.describe_configs([resource], request_timeout=timeout)[resource]
    entry = future.result(timeout=timeout).get("default.replication.factor")
    return int(entry.value) if entry is not None and entry.value else 1


def _admin(bootstrap: str | KafkaClient) -> AdminClient:
    return AdminClient(as_client(bootstrap).admin())


def duration_ms(text: str) -> int | None:
    """``7d``, ``36h``, ``90m``, ``600s``, ``250ms`` → ms (``pipeline.records.durations``, a unit
    required: the Kafka settings they fill count milliseconds); ``broker`` → None."""
    if text.strip().lower() in ("broker", "default"):
        return None
    try:
        return parse_duration(text, "7d, 36h, 90m, 600s, 250ms or broker", unit_required=True)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _ratio(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not 0 < value <= 1:
        raise argparse.ArgumentTypeError(f"{text} is not in (0, 1]")
    return value


def add_plan_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of the topic plan, shared by ``topics`` and ``worker`` (which creates missing ones)."""
    parser.add_argument(
        "--replication-factor", type=int, default=None, metavar="N",
        help="replication factor of new topics and of the worker's changelogs (default: the broker's "
        "default.replication.factor; new topics are created with -1, which lets the broker decide)",
    )
    parser.add_argument(
        "--retention", type=duration_ms, default=DEFAULT_RETENTION_MS, metavar="DURATION",
        help="retention.ms of events, actions, dead-letters, late and the internal topics "
        "(default 7d; 'broker': the broker's)",
    )
    parser.add_argument(
        "--segment", type=duration_ms, default=DEFAULT_SEGMENT_MS, metavar="DURATION",
        help="segment.ms of the compacted stat topics: compaction cleans closed segments only (default 1h)",
    )
    parser.add_argument(
        "--dirty-ratio", type=_ratio, default=DEFAULT_DIRTY_RATIO, metavar="R",
        help=f"min.cleanable.dirty.ratio of the stat topics (default {DEFAULT_DIRTY_RATIO})",
    )


def plan_from(args: argparse.Namespace, stat_types: Iterable[str], app_id: str | None) -> list[TopicSpec]:
    """The plan that ``args`` (``add_plan_arguments`` and ``--prefix``/``--partitions``) describe."""
    rf = args.replication_factor
    return pipeline_plan(
        args.prefix, stat_types, partitions=getattr(args, "partitions", 1) or 1,
        replication=BROKER_DEFAULT_RF if rf is None else rf, retention_ms=args.retention,
        segment_ms=args.segment or DEFAULT_SEGMENT_MS, dirty_ratio=args.dirty_ratio, app_id=app_id,
    )
# --- end of the topic plan ------------------------------------------------------------------------


def topic_prefix(prefix: str | None = None) -> str:
    return prefix or os.environ.get(PREFIX_ENV, "").strip() or DEFAULT_PREFIX


def topic_name(kind: str, prefix: str | None = None) -> str:
    """``events`` → ``mediastat.events``; a name that already has the prefix is returned as is."""
    p = topic_prefix(prefix)
    return kind if kind.startswith(f"{p}.") else f"{p}.{kind}"


def stat_topic(stat_type: str, prefix: str | None = None) -> str:
    return f"{topic_prefix(prefix)}.stat.{stat_type}"


def core_topics(prefix: str | None = None) -> list[str]:
    return [topic_name(kind, prefix) for kind in CORE_TOPICS]


def ensure_topics(
    bootstrap: str | KafkaClient,
    names: Iterable[str],
    *,
    partitions: int = 1,
    replication: int = BROKER_DEFAULT_RF,
    config: dict[str, str] | None = None,
    timeout: float = 30.0,
) -> list[str]:
    """Create the topics that do not exist yet; returns the ones created. Existing ones are fine.

    ``replication`` -1 (the default) lets the broker apply its ``default.replication.factor``.
    """
    names = list(dict.fromkeys(names))
    if not names:
        return []
    client = _admin(bootstrap)
    existing = set(client.list_topics(timeout=timeout).topics)
    wanted = [
        NewTopic(name, num_partitions=partitions, replication_factor=replication, config=dict(config or {}))
        for name in names
        if name not in existing
    ]
    if not wanted:
        return []
    return _create(client, wanted, timeout)


def _create(client: AdminClient, wanted: list[NewTopic], timeout: float) -> list[str]:
    """Create ``wanted`` in one request; a topic someone created meanwhile is fine."""
    created = []
    for name, future in client.create_topics(wanted, operation_timeout=timeout).items():
        try:
            future.result(timeout=timeout)
            created.append(name)
        except KafkaException as exc:
            if exc.args[0].code() != KafkaError.TOPIC_ALREADY_EXISTS:
                raise
    return created


def partition_counts(
    bootstrap: str | KafkaClient, names: Iterable[str], timeout: float = 30.0
) -> dict[str, int]:
    """Partitions of each existing topic among ``names``."""
    topics = _admin(bootstrap).list_topics(timeout=timeout).topics
    return {name: len(topics[name].partitions) for name in names if name in topics}


def ensure_pipeline_topics(
    bootstrap: str | KafkaClient,
    prefix: str | None = None,
    stat_types: Iterable[str] = (),
    partitions: int = 1,
) -> list[str]:
    """The four core topics, the internal ones, and one compacted topic per stat type (the plan's
    defaults); :func:`create_plan` for the rest."""
    return create_plan(bootstrap, pipeline_plan(prefix, stat_types, partitions=partitions))[0]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--bootstrap", help="Kafka bootstrap servers (default: $KAFKA_BOOTSTRAP_SERVERS or local)"
    )
    client.add_arguments(parser)
    parser.add_argument("--prefix", help=f"topic prefix (default: ${PREFIX_ENV} or {DEFAULT_PREFIX})")
    parser.add_argument("--partitions", type=int, default=1, help="partitions of new topics (default 1)")
    parser.add_argument(
        "--stat-type", action="append", default=[], metavar="NAME", help="also create <prefix>.stat.NAME"
    )
    parser.add_argument(
        "--config", help="also create <prefix>.stat.<StatType> for every stat type of this file "
        "(default: the shipped starter)"
    )
    add_plan_arguments(parser)
    parser.add_argument(
        "--app-id", default=None,
        help="also create the worker's changelog and assignor topics for this app id (default: the "
        "prefix, the worker's default); 'none': leave them to the worker",
    )
    parser.add_argument(
        "--print", action="store_true", dest="print_only",
        help="print what would be created (name, partitions, replication, configs) and touch nothing",
    )


def run(args: argparse.Namespace) -> int:
    from pipeline.stats.config import ConfigError, load_config

    try:
        stat_types = [*load_config(args.config).stat_types, *args.stat_type]
    except (ConfigError, OSError) as exc:
        print(f"mediastat topics: {exc}", file=sys.stderr)
        return 2
    app_id = topic_prefix(args.prefix) if args.app_id is None else args.app_id
    plan = plan_from(args, stat_types, None if app_id == "none" else app_id)
    if args.print_only:
        for spec in plan:
            print(spec.describe())
        return 0
    try:
        kafka = client.connect(args)
    except NoKafka as exc:
        print(f"mediastat topics: {exc}", file=sys.stderr)
        return 1
    bootstrap = kafka.describe()
    try:
        created, differ = create_plan(kafka, plan)
    except KafkaException as exc:  # e.g. a replication factor above the number of brokers
        print(f"mediastat topics: cannot create topics on {bootstrap}: {exc.args[0].str()}", file=sys.stderr)
        return 1
    for name in created:
        print(f"created {name}")
    for line in differ:
        print(f"mediastat topics: exists, not changed: {line}", file=sys.stderr)
    print(f"topics ready on {bootstrap} (prefix {topic_prefix(args.prefix)})", file=sys.stderr)
    return 0
