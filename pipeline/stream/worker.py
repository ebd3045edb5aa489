"""``mediastat worker``: run the Faust app (every registered stage) in the foreground until Ctrl-C."""

from __future__ import annotations

import argparse
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
    parser.add_argument("--loglevel", default="info", help="worker log level (default info)")


def run(args: argparse.Namespace) -> int:
    import faust

    from pipeline.stream.app import create_app

    try:
        bootstrap = resolve_bootstrap(args.bootstrap)
    except NoKafka as exc:
        print(f"mediastat worker: {exc}", file=sys.stderr)
        return 1
    app, topics = create_app(
        bootstrap=bootstrap, data_dir=args.data_dir, prefix=args.prefix, app_id=args.app_id
    )
    print(f"mediastat worker: {args.app_id} on {bootstrap}, events from {topics.events}", file=sys.stderr)
    worker = faust.Worker(app, loglevel=args.loglevel)
    worker.execute_from_commandline()  # returns via SystemExit when the worker stops
    return 0
