"""``mediastat worker``: run the Faust app (every registered stage) in the foreground until Ctrl-C."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from pipeline.kafka.bootstrap import NoKafka, resolve_bootstrap


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--bootstrap", help="Kafka bootstrap servers (default: $KAFKA_BOOTSTRAP_SERVERS or local)"
    )
    parser.add_argument("--prefix", help="topic prefix (default: $MEDIASTAT_TOPIC_PREFIX or mediastat)")
    parser.add_argument(
        "--data-dir", type=Path, help="RocksDB state directory (default: $MEDIASTAT_HOME/state)"
    )
    parser.add_argument(
        "--app-id", default="mediastat", help="Faust app id = consumer group (default mediastat)"
    )
    parser.add_argument(
        "--config", type=Path, help="statistics/capacity/groups YAML (default: the shipped starter)"
    )
    parser.add_argument(
        "--clock",
        choices=("wall", "event"),
        default="wall",
        help="statistics clock: wall time (live, default) or the event clock (backfill, as replay)",
    )
    parser.add_argument("--loglevel", default="info", help="worker log level (default info)")


def run(args: argparse.Namespace) -> int:
    import faust

    from pipeline.config import ConfigError, load_config
    from pipeline.kafka.admin import ensure_pipeline_topics, partition_counts, topic_name
    from pipeline.stream.app import create_app
    from pipeline.stream.settings import CONFIG_ENV, PARTITIONS_ENV
    from pipeline.stream.statistics import CLOCK_ENV

    try:
        config = load_config(args.config)
    except (ConfigError, OSError) as exc:
        print(f"mediastat worker: {exc}", file=sys.stderr)
        return 2
    if args.config:
        os.environ[CONFIG_ENV] = str(args.config.resolve())
    os.environ[CLOCK_ENV] = args.clock
    try:
        bootstrap = resolve_bootstrap(args.bootstrap)
    except NoKafka as exc:
        print(f"mediastat worker: {exc}", file=sys.stderr)
        return 1
    ensure_pipeline_topics(bootstrap, args.prefix, config.stat_types)
    inputs = [topic_name(kind, args.prefix) for kind in ("events", "agent-inputs", "stats-inputs")]
    os.environ[PARTITIONS_ENV] = json.dumps(partition_counts(bootstrap, inputs))
    app, topics = create_app(
        bootstrap=bootstrap, data_dir=args.data_dir, prefix=args.prefix, app_id=args.app_id
    )
    print(f"mediastat worker: {args.app_id} on {bootstrap}, events from {topics.events}", file=sys.stderr)
    worker = faust.Worker(app, loglevel=args.loglevel)
    worker.execute_from_commandline()  # returns via SystemExit when the worker stops
    return 0
