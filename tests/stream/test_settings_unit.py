"""The stages are built from the settings they are given, and from nothing else (no broker needed:
building a faust app declares agents, topics and tables without connecting)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from pipeline.stats.config import load_config, parse_config
from pipeline.stream.app import create_app
from pipeline.stream.settings import Settings


def test_two_apps_in_one_process_follow_their_own_settings(tmp_path: Path) -> None:
    """Two pipelines in one process with different configurations: each stage reads the settings
    object it was handed, not a process-wide cache or an environment variable."""
    before = dict(os.environ)
    starter = Settings(bootstrap="127.0.0.1:9", config=load_config(None), prefix="a", data_dir=tmp_path)
    no_statistics = Settings(
        bootstrap="127.0.0.1:9",
        config=parse_config({}, "empty.yaml"),
        prefix="b",
        app_id="other",
        data_dir=tmp_path,
        clock="event",
        partitions={"b.events": 3},
    )
    app_a, topics_a = create_app(starter)
    app_b, topics_b = create_app(no_statistics)
    assert dict(os.environ) == before, "building an app must not write the environment"
    assert (topics_a.events, topics_b.events) == ("a.events", "b.events")
    # No app id given: the prefix, so pipelines of different prefixes never share a consumer group
    # or changelog topics (issue 12).
    assert (app_a.conf.id, app_b.conf.id) == ("a", "other")
    assert app_a.tables["interactions"].changelog_topic.get_topic_name() == "a-interactions-changelog"
    assert "stage3-statistics" in app_a.agents  # the starter has statistics
    assert "stage3-statistics" not in app_b.agents  # this configuration has none
    assert app_b.tables["interactions"].partitions == 3  # as the worker found the events topic
    assert app_a.tables["interactions"].partitions is None  # not found: faust's default


def test_the_worker_builds_its_settings_from_its_options(monkeypatch, tmp_path: Path) -> None:
    """``mediastat worker`` options → Settings; the prefix comes from the environment when the user
    set it there, and the input partition counts from the broker (stubbed here)."""
    import pipeline.kafka.admin
    from pipeline.cli import build_parser
    from pipeline.stream.worker import settings_from

    asked: list[list[str]] = []

    def partition_counts(bootstrap: str, names) -> dict[str, int]:
        asked.append(list(names))
        return {"p.events": 4}

    monkeypatch.setattr(pipeline.kafka.admin, "partition_counts", partition_counts)
    monkeypatch.setenv("MEDIASTAT_TOPIC_PREFIX", "p")
    args = build_parser().parse_args(
        ["worker", "--app-id", "x", "--clock", "event", "--data-dir", str(tmp_path)]
    )
    config = load_config(None)
    settings = settings_from(args, "127.0.0.1:9", config)
    assert settings == Settings(
        bootstrap="127.0.0.1:9",
        config=config,
        prefix="p",
        app_id="x",
        data_dir=tmp_path,
        clock="event",
        partitions={"p.events": 4},
    )
    assert asked == [["p.events", "p.agent-inputs", "p.stats-inputs", "p.stat-partials"]]
    assert settings.partitions_of("p.events") == 4 and settings.partitions_of("p.actions") is None


def test_faust_topics_replicate_as_told_and_nothing_is_declared_without_create_topics(tmp_path: Path) -> None:
    """The worker resolves the replication factor (its option, else the broker's default) and faust
    creates changelogs and its leader topic with it; ``--no-create-topics`` stops faust declaring."""
    settings = Settings(
        bootstrap="127.0.0.1:9", config=load_config(None), prefix="rf", data_dir=tmp_path,
        replication_factor=3, create_topics=False,
    )
    app, _ = create_app(settings)
    assert app.conf.id == "rf"
    assert app.conf.topic_replication_factor == 3 and app.conf.topic_allow_declare is False
    default, _ = create_app(Settings(bootstrap="127.0.0.1:9", config=load_config(None), data_dir=tmp_path))
    assert default.conf.topic_allow_declare is True and default.conf.id == "mediastat"


@pytest.mark.parametrize("n", [0, 3])
def test_standbys_reach_faust(tmp_path: Path, n: int) -> None:
    """``--standbys N`` → Settings → faust's table_standby_replicas."""
    from pipeline.cli import build_parser

    args = build_parser().parse_args(["worker", "--standbys", str(n)])
    assert args.standbys == n
    settings = Settings(bootstrap="127.0.0.1:9", config=load_config(None), data_dir=tmp_path, standbys=n)
    app, _ = create_app(settings)
    assert app.conf.table_standby_replicas == n


def test_negative_standbys_are_refused() -> None:
    from pipeline.cli import build_parser

    with pytest.raises(SystemExit):
        build_parser().parse_args(["worker", "--standbys", "-1"])


def test_every_table_opens_rocksdb_with_the_project_s_options(tmp_path: Path) -> None:
    """faust's defaults (64 MB write buffers, up to three, a 2 GB block cache) are replaced for each
    table; one table taking its options out does not take them from the next."""
    from pipeline.stream.delivery import ROCKSDB_OPTIONS

    app, _ = create_app(Settings(bootstrap="127.0.0.1:9", config=load_config(None), data_dir=tmp_path))
    for name in ("interactions", "agents", "statistics"):
        options = app.tables[name].data.rocksdb_options
        assert (options.write_buffer_size, options.max_write_buffer_number, options.block_cache_size) == (
            ROCKSDB_OPTIONS["write_buffer_size"], ROCKSDB_OPTIONS["max_write_buffer_number"],
            ROCKSDB_OPTIONS["block_cache_size"],
        )
    assert ROCKSDB_OPTIONS["write_buffer_size"] < 64 * 1024 * 1024


def test_the_reorder_window_reaches_the_settings(monkeypatch, tmp_path: Path) -> None:
    """``--reorder-window`` → ``Settings.reorder_window_ms`` (stage 2 builds its steps with it); left
    out, the spec's 2 s; a window past 10 minutes is a usage error."""
    import pipeline.kafka.admin
    from pipeline.cli import build_parser
    from pipeline.stream.worker import settings_from

    monkeypatch.setattr(pipeline.kafka.admin, "partition_counts", lambda bootstrap, names: {})
    config = load_config(None)
    parser = build_parser()
    given = settings_from(parser.parse_args(["worker", "--reorder-window", "250ms"]), "127.0.0.1:9", config)
    default = settings_from(parser.parse_args(["worker"]), "127.0.0.1:9", config)
    assert (given.reorder_window_ms, default.reorder_window_ms) == (250, 2000)
    with pytest.raises(SystemExit) as exit_info:
        parser.parse_args(["worker", "--reorder-window", "1h"])
    assert exit_info.value.code == 2


@pytest.mark.parametrize("level", ["warning", "info", "error"])
def test_the_worker_logs_at_its_level_and_builds_no_record_below_it(tmp_path: Path, level: str) -> None:
    """faust's worker put the root logger at DEBUG for its spinner whenever the level was WARNING or
    above, so every library's ``log.debug`` built a record; ours keeps the root at the level."""
    import logging

    from pipeline.stream.worker import faust_worker

    app, _ = create_app(Settings(bootstrap="127.0.0.1:9", config=load_config(None), data_dir=tmp_path))
    root = logging.getLogger()
    saved = root.level, list(root.handlers)
    try:
        worker = faust_worker(app, level)
        worker._setup_logging()  # what the worker does first when it starts
        want = logging.getLevelName(level.upper())
        assert root.level == want
        assert not logging.getLogger("aiokafka.conn").isEnabledFor(logging.DEBUG)
        assert logging.getLogger("aiokafka.conn").isEnabledFor(want)
    finally:
        root.setLevel(saved[0])
        root.handlers[:] = saved[1]
