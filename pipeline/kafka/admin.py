"""Topic names and idempotent topic creation (``mediastat topics``).

Names are ``<prefix>.events``, ``<prefix>.actions``, ``<prefix>.dead-letters``, ``<prefix>.late``
and ``<prefix>.stat.<StatType>``; the prefix (default ``mediastat``, env ``MEDIASTAT_TOPIC_PREFIX``)
lets several pipelines share one cluster. Statistic topics are compacted so a late consumer reads
the latest value of everything (records.md).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Iterable

from confluent_kafka import KafkaError, KafkaException
from confluent_kafka.admin import AdminClient, NewTopic

from pipeline.kafka.bootstrap import NoKafka, check_reachable, resolve_bootstrap
from pipeline.kafka.logs import client_logging

DEFAULT_PREFIX = "mediastat"
PREFIX_ENV = "MEDIASTAT_TOPIC_PREFIX"
CORE_TOPICS = ("events", "actions", "dead-letters", "late")
#: Topics between stages (not part of the product's interface, but created with the rest so that
#: their partition count matches the events topic's).
INTERNAL_TOPICS = ("agent-inputs", "stats-inputs")


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
    bootstrap: str,
    names: Iterable[str],
    *,
    partitions: int = 1,
    replication: int = 1,
    config: dict[str, str] | None = None,
    timeout: float = 30.0,
) -> list[str]:
    """Create the topics that do not exist yet; returns the ones created. Existing ones are fine."""
    names = list(dict.fromkeys(names))
    if not names:
        return []
    client = AdminClient(client_logging({"bootstrap.servers": bootstrap}))
    existing = set(client.list_topics(timeout=timeout).topics)
    wanted = [
        NewTopic(name, num_partitions=partitions, replication_factor=replication, config=dict(config or {}))
        for name in names
        if name not in existing
    ]
    if not wanted:
        return []
    created = []
    for name, future in client.create_topics(wanted, operation_timeout=timeout).items():
        try:
            future.result(timeout=timeout)
            created.append(name)
        except KafkaException as exc:
            if exc.args[0].code() != KafkaError.TOPIC_ALREADY_EXISTS:
                raise
    return created


def partition_counts(bootstrap: str, names: Iterable[str], timeout: float = 30.0) -> dict[str, int]:
    """Partitions of each existing topic among ``names``."""
    client = AdminClient(client_logging({"bootstrap.servers": bootstrap}))
    topics = client.list_topics(timeout=timeout).topics
    return {name: len(topics[name].partitions) for name in names if name in topics}


def ensure_pipeline_topics(
    bootstrap: str, prefix: str | None = None, stat_types: Iterable[str] = (), partitions: int = 1
) -> list[str]:
    """The four core topics, the internal ones, and one compacted topic per stat type."""
    names = core_topics(prefix) + [topic_name(kind, prefix) for kind in INTERNAL_TOPICS]
    created = ensure_topics(bootstrap, names, partitions=partitions)
    created += ensure_topics(
        bootstrap,
        [stat_topic(s, prefix) for s in stat_types],
        partitions=partitions,
        config={"cleanup.policy": "compact"},
    )
    return created


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--bootstrap", help="Kafka bootstrap servers (default: $KAFKA_BOOTSTRAP_SERVERS or local)"
    )
    parser.add_argument("--prefix", help=f"topic prefix (default: ${PREFIX_ENV} or {DEFAULT_PREFIX})")
    parser.add_argument("--partitions", type=int, default=1, help="partitions of new topics (default 1)")
    parser.add_argument(
        "--stat-type", action="append", default=[], metavar="NAME", help="also create <prefix>.stat.NAME"
    )
    parser.add_argument(
        "--config", help="also create <prefix>.stat.<StatType> for every stat type of this file "
        "(default: the shipped starter)"
    )


def run(args: argparse.Namespace) -> int:
    try:
        bootstrap = resolve_bootstrap(args.bootstrap)
        check_reachable({"bootstrap.servers": bootstrap})  # fail fast: one line, not a traceback
    except NoKafka as exc:
        print(f"mediastat topics: {exc}", file=sys.stderr)
        return 1
    from pipeline.stats.config import ConfigError, load_config

    try:
        stat_types = [*load_config(args.config).stat_types, *args.stat_type]
    except (ConfigError, OSError) as exc:
        print(f"mediastat topics: {exc}", file=sys.stderr)
        return 2
    created = ensure_pipeline_topics(bootstrap, args.prefix, stat_types, partitions=args.partitions)
    for name in created:
        print(f"created {name}")
    print(f"topics ready on {bootstrap} (prefix {topic_prefix(args.prefix)})", file=sys.stderr)
    return 0
