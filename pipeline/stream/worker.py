"""``mediastat worker``: run the Faust app (every registered stage) in the foreground until Ctrl-C."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from pipeline.kafka.bootstrap import NoKafka, check_reachable, resolve_bootstrap
from pipeline.records.future import DEFAULT_FUTURE_TOLERANCE_MS, tolerance_argument
from pipeline.stats.config import Config
from pipeline.stream.settings import Settings


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
    parser.add_argument(
        "--future-tolerance",
        type=tolerance_argument,
        default=DEFAULT_FUTURE_TOLERANCE_MS,
        metavar="DURATION",
        help="dead-letter events further ahead of the wall clock than this, on either --clock: "
        "1d (default), 36h, 90m, 600s, or off",
    )
    parser.add_argument("--loglevel", default="info", help="worker log level (default info)")
    parser.add_argument(
        "--web-port",
        type=int,
        default=8642,
        help="wallboard, query API and /metrics on 127.0.0.1:PORT, or the next free port "
        "(default 8642; 0: any free port; -1: no web server)",
    )


def settings_from(args: argparse.Namespace, bootstrap: str, config: Config) -> Settings:
    """The worker's options, resolved: prefix and data directory defaults, input partition counts."""
    from pipeline.kafka.admin import partition_counts, topic_name, topic_prefix

    prefix = topic_prefix(args.prefix)
    inputs = [topic_name(kind, prefix) for kind in ("events", "agent-inputs", "stats-inputs")]
    return Settings(
        bootstrap=bootstrap,
        config=config,
        prefix=prefix,
        app_id=args.app_id,
        data_dir=args.data_dir,
        clock=args.clock,
        partitions=partition_counts(bootstrap, inputs),
        future_tolerance_ms=getattr(args, "future_tolerance", DEFAULT_FUTURE_TOLERANCE_MS),
    )


def run(args: argparse.Namespace) -> int:
    import faust

    from pipeline.kafka.admin import ensure_pipeline_topics
    from pipeline.stats.config import ConfigError, load_config
    from pipeline.stream.app import create_app

    try:
        config = load_config(args.config)
    except (ConfigError, OSError) as exc:
        print(f"mediastat worker: {exc}", file=sys.stderr)
        return 2
    try:
        bootstrap = resolve_bootstrap(args.bootstrap)
        check_reachable({"bootstrap.servers": bootstrap})  # fail fast: one line, not a traceback
    except NoKafka as exc:
        print(f"mediastat worker: {exc}", file=sys.stderr)
        return 1
    ensure_pipeline_topics(bootstrap, args.prefix, config.stat_types)
    settings = settings_from(args, bootstrap, config)
    app, topics = create_app(settings)
    print(f"mediastat worker: {args.app_id} on {bootstrap}, events from {topics.events}", file=sys.stderr)
    if args.web_port >= 0:
        from pipeline.web.attach import attach

        attach(app, settings, topics, args.web_port)
    worker = faust.Worker(app, loglevel=args.loglevel)
    from pipeline.stream.outage import start_watch

    start_watch(app)  # one warning every 10 s while Kafka is away
    worker.execute_from_commandline()  # returns via SystemExit when the worker stops
    return 0
