"""``mediastat worker``: run the Faust app (every registered stage) in the foreground until Ctrl-C."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from pipeline.core.ordering import DEFAULT_WINDOW_MS, parse_window
from pipeline.kafka import client
from pipeline.kafka.bootstrap import NoKafka
from pipeline.kafka.client import KafkaClient, as_client
from pipeline.records import serialization as framing
from pipeline.records.durations import argument
from pipeline.records.future import DEFAULT_FUTURE_TOLERANCE_MS, tolerance_argument
from pipeline.stats.config import Config
from pipeline.stream.settings import Settings


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--bootstrap", help="Kafka bootstrap servers (default: $KAFKA_BOOTSTRAP_SERVERS or local)"
    )
    client.add_arguments(parser)
    parser.add_argument("--prefix", help="topic prefix (default: $MEDIASTAT_TOPIC_PREFIX or mediastat)")
    parser.add_argument(
        "--data-dir", type=Path, help="RocksDB state directory (default: $MEDIASTAT_HOME/state)"
    )
    parser.add_argument(
        "--app-id", default=None,
        help="Faust app id = consumer group and changelog topics' prefix (default: the topic prefix)",
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
    parser.add_argument(
        "--reorder-window",
        type=argument(parse_window),
        default=DEFAULT_WINDOW_MS,
        metavar="DURATION",
        help="stage 2 applies input out of EventTime order by up to this much in order, and every "
        "action waits this long for it: 2s (default), 500ms, 0 … 10m. Raw event → action latency "
        "is at least the window; give replay the same one to compare",
    )
    # --- topics (issue 12) ---------------------------------------------------------------------
    from pipeline.kafka.admin import add_plan_arguments

    add_plan_arguments(parser)
    parser.add_argument(
        "--no-create-topics", action="store_true",
        help="create no topic (they are managed elsewhere, e.g. with `mediastat topics`): check that "
        "they exist and stop with their names when some do not",
    )
    # --- end of topics ----------------------------------------------------------------------------
    # --- several workers -------------------------------------------------------------------------
    parser.add_argument(
        "--standbys",
        type=_standbys,
        default=0,
        metavar="N",
        help="standby replicas of each state table partition, kept warm on N other workers of the same "
        "--app-id so that a partition moved by a rebalance resumes without restoring its whole "
        "changelog (default 0: a single worker, as on the local one-broker setup, has no other worker "
        "to keep one on, and every standby replays changelogs continuously, costing CPU and broker "
        "reads; with several workers, 1)",
    )
    # --- end of several workers ------------------------------------------------------------------
    parser.add_argument("--loglevel", default="info", help="worker log level (default info)")
    parser.add_argument(
        "--web-port",
        type=int,
        default=8642,
        help="wallboard, query API and /metrics on --web-host:PORT, or the next free port "
        "(default 8642; 0: any free port; -1: no web server)",
    )
    parser.add_argument(
        "--web-host",
        default="127.0.0.1",
        help="address the web server listens on (default 127.0.0.1; 0.0.0.0 in a container, so that "
        "probes and a Prometheus scraper reach /health and /metrics)",
    )
    framing.add_arguments(parser)  # --serialization, --schema-registry-url


def _standbys(text: str) -> int:
    """``--standbys``: a count of replicas, 0 or more."""
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, not {value}")
    return value


def settings_from(args: argparse.Namespace, bootstrap: str | KafkaClient, config: Config) -> Settings:
    """The worker's options, resolved: prefix and data directory defaults, input partition counts."""
    from pipeline.kafka.admin import partition_counts, topic_name, topic_prefix

    prefix = topic_prefix(args.prefix)
    kinds = ("events", "agent-inputs", "stats-inputs", "stat-partials")
    inputs = [topic_name(kind, prefix) for kind in kinds]
    kafka = as_client(bootstrap)
    return Settings(
        bootstrap=kafka.bootstrap,
        kafka=kafka,
        config=config,
        prefix=prefix,
        app_id=args.app_id or prefix,
        data_dir=args.data_dir,
        clock=args.clock,
        partitions=partition_counts(kafka, inputs),
        future_tolerance_ms=getattr(args, "future_tolerance", DEFAULT_FUTURE_TOLERANCE_MS),
        reorder_window_ms=getattr(args, "reorder_window", DEFAULT_WINDOW_MS),
        replication_factor=getattr(args, "resolved_replication", 1),
        create_topics=not getattr(args, "no_create_topics", False),
        serialization=framing.from_arguments(args, patient=True),
        standbys=getattr(args, "standbys", 0),
    )


def written_records(settings: Settings) -> list[tuple[str, str]]:
    """The (record type, topic) pairs the stages write, whose schemas a registry gets at start."""
    from pipeline.kafka.admin import stat_topic, topic_name

    prefix = settings.prefix
    return [
        ("ActionRecord", topic_name("actions", prefix)),
        ("DeadLetter", topic_name("dead-letters", prefix)),
        ("LateRecord", topic_name("late", prefix)),
        *(("StatValue", stat_topic(name, prefix)) for name in settings.config.stat_types),
    ]


def run(args: argparse.Namespace) -> int:
    from pipeline.stats.config import ConfigError, load_config
    from pipeline.stream.app import create_app

    try:
        config = load_config(args.config)
    except (ConfigError, OSError) as exc:
        print(f"mediastat worker: {exc}", file=sys.stderr)
        return 2
    try:
        kafka = client.connect(args)  # settings, then one metadata request: a wrong password stops here
        kafka.aiokafka()  # properties the stream client cannot honour are refused now, not ignored
    except NoKafka as exc:
        print(f"mediastat worker: {exc}", file=sys.stderr)
        return 1
    if not prepare_topics(args, kafka, config):
        return 1
    try:
        settings = settings_from(args, kafka, config)
        framing.prepare(settings.serialization, written_records(settings))
    except (ValueError, framing.RegistryUnavailable) as exc:
        print(f"mediastat worker: {exc}", file=sys.stderr)
        return 2 if isinstance(exc, ValueError) else 1
    # --- partitioned statistics: a statistic that cannot be merged from partials is refused ------
    from pipeline.stream.app import Topics
    from pipeline.stream.merge import refusal

    problem = refusal(settings, Topics(settings.prefix))
    if problem:
        print(f"mediastat worker: {problem}", file=sys.stderr)
        return 1
    # --- end of partitioned statistics ------------------------------------------------------------
    app, topics = create_app(settings)
    print(
        f"mediastat worker: {settings.app_id} on {kafka.describe()}, events from {topics.events}",
        file=sys.stderr,
    )
    if args.web_port >= 0:
        from pipeline.web.attach import attach

        attach(app, settings, topics, args.web_port, args.web_host)
    worker = faust_worker(app, args.loglevel)
    from pipeline.stream.outage import start_watch

    start_watch(app)  # one warning every 10 s while Kafka is away
    from pipeline import collector, heap

    heap.start_trimming()  # the C heaps' free pages back to the system, bursts included

    collector.tune_long_running()  # the start-up's objects frozen, rare collections after
    worker.execute_from_commandline()  # returns via SystemExit when the worker stops
    return 0


def faust_worker(app, loglevel: str | int):
    """faust's ``Worker`` for ``app``, logging at ``loglevel`` and nothing below it.

    faust's worker shows a start-up spinner at WARNING and above, and to turn it for every log line
    it sets the *root* logger to DEBUG: every ``log.debug`` of aiokafka, faust and mode (several per
    message consumed or sent) then builds a record and runs the handlers' filters, 3.5 % of the
    worker's time at ``--loglevel warning`` (py-spy, the bench's latency row). Without the spinner
    the root logger stays at ``loglevel``.
    """
    import faust

    worker = faust.Worker(app, loglevel=loglevel)
    worker.spinner = None
    return worker


def prepare_topics(args: argparse.Namespace, bootstrap: str | KafkaClient, config: Config) -> bool:
    """Create the missing topics of the plan, or with ``--no-create-topics`` check they all exist
    (faust's changelogs too: it declares nothing then). Resolves the replication factor faust uses
    (``args.resolved_replication``). False: topics are missing, and the worker said which."""
    from pipeline.kafka import admin

    where = as_client(bootstrap).describe()
    prefix = admin.topic_prefix(args.prefix)
    app_id = args.app_id or prefix
    if args.no_create_topics:
        plan = admin.plan_from(args, config.stat_types, app_id)
        missing = admin.missing_topics(bootstrap, [spec.name for spec in plan])
        if missing:
            print(
                f"mediastat worker: --no-create-topics, and these topics do not exist on {where}: "
                f"{', '.join(missing)} (create them, e.g. `mediastat topics --app-id {app_id}`)",
                file=sys.stderr,
            )
            return False
    else:
        # Not faust's topics: faust creates its changelogs with the partitions of their tables.
        admin.create_plan(bootstrap, admin.plan_from(args, config.stat_types, None), compare=False)
    rf = args.replication_factor
    if rf is None:
        try:
            rf = admin.broker_default_replication(bootstrap)
        except Exception as exc:  # e.g. no DescribeConfigs permission on a secured cluster
            print(
                f"mediastat worker: cannot read the broker's default.replication.factor on {where} "
                f"({exc}); pass --replication-factor N",
                file=sys.stderr,
            )
            return False
    args.resolved_replication = rf
    return True
