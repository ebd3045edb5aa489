"""``mediastat topics``: the plan (--print), replication factor, retention and compaction settings,
and existing topics left as they are (issue 12)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from confluent_kafka.admin import AdminClient, ConfigResource

from pipeline.kafka.admin import BROKER_DEFAULT_RF, ensure_topics, pipeline_plan

REPO = Path(__file__).resolve().parents[2]


def cli(*args: str, bootstrap: str | None = None) -> subprocess.CompletedProcess:
    drop = ("KAFKA_BOOTSTRAP_SERVERS", "MEDIASTAT_TOPIC_PREFIX")
    env = {k: v for k, v in os.environ.items() if k not in drop}
    if bootstrap:
        env["KAFKA_BOOTSTRAP_SERVERS"] = bootstrap
    return subprocess.run(
        [sys.executable, "-m", "pipeline.cli", "topics", *args],
        cwd=REPO, capture_output=True, text=True, timeout=120, env=env,
    )


def test_the_plan_has_every_topic_with_its_settings() -> None:
    plan = {s.name: s for s in pipeline_plan("p", ["Handled"], partitions=3, app_id="p")}
    assert list(plan) == [
        "p.events", "p.actions", "p.dead-letters", "p.late", "p.agent-inputs", "p.stats-inputs",
        "p.stat-partials", "p.stat.Handled", "p-interactions-changelog", "p-agents-changelog",
        "p-statistics-changelog", "p-merge-changelog", "p-__assignor-__leader",
    ]
    assert all(s.replication == BROKER_DEFAULT_RF for s in plan.values())  # the broker decides
    assert plan["p.events"].config == {"retention.ms": str(7 * 86_400_000)}
    assert plan["p.stat.Handled"].config == {
        "cleanup.policy": "compact", "segment.ms": "3600000", "min.cleanable.dirty.ratio": "0.1"
    }
    assert plan["p-agents-changelog"].partitions == 3 and plan["p-__assignor-__leader"].partitions == 1
    # No topic needs one partition: statistics too are partitioned (stage 3 partials, stage 4 merge).
    for name in ("p.stats-inputs", "p-statistics-changelog", "p.stat-partials", "p-merge-changelog"):
        assert plan[name].partitions == 3, name
    assert plan["p.stat-partials"].config == {"retention.ms": str(7 * 86_400_000)}  # not compacted
    assert plan["p-merge-changelog"].config == {"cleanup.policy": "compact"}


def test_print_shows_the_plan_and_never_contacts_the_cluster() -> None:
    """--print against an address where nothing listens: the plan at once, exit 0."""
    started = time.monotonic()
    done = cli("--print", "--prefix", "px", "--config", str(REPO / "examples/routed-email.stats.yaml"),
               "--replication-factor", "3", "--retention", "2d", "--segment", "10m", "--dirty-ratio", "0.2",
               bootstrap="127.0.0.1:9")
    assert done.returncode == 0, done.stderr
    assert time.monotonic() - started < 30  # librdkafka would retry an unreachable address for longer
    lines = {line.split("\t")[0]: line.split("\t")[1:] for line in done.stdout.splitlines()}
    assert lines["px.events"] == ["partitions=1", "replication=3", "retention.ms=172800000"]
    stat = [name for name in lines if name.startswith("px.stat.")]
    assert stat and lines[stat[0]] == [
        "partitions=1", "replication=3",
        "cleanup.policy=compact,min.cleanable.dirty.ratio=0.2,segment.ms=600000",
    ]
    assert lines["px-statistics-changelog"][2] == "cleanup.policy=compact"  # app id = the prefix
    assert lines["px-merge-changelog"][2] == "cleanup.policy=compact"
    assert lines["px.stat-partials"] == ["partitions=1", "replication=3", "retention.ms=172800000"]
    wide = cli("--print", "--prefix", "px", "--partitions", "4", bootstrap="127.0.0.1:9")
    counts = {line.split("\t")[0]: line.split("\t")[1] for line in wide.stdout.splitlines()}
    for name in ("px.stats-inputs", "px.stat-partials", "px-statistics-changelog", "px-merge-changelog"):
        assert counts[name] == "partitions=4", name
    default = cli("--print", "--prefix", "px", bootstrap="127.0.0.1:9")
    assert "replication=broker default" in default.stdout


def test_bad_option_values_are_usage_errors() -> None:
    assert cli("--print", "--retention", "soon").returncode == 2
    assert cli("--print", "--dirty-ratio", "2").returncode == 2


def _describe(bootstrap: str, names: list[str]) -> dict[str, dict[str, str]]:
    client = AdminClient({"bootstrap.servers": bootstrap})
    res = [ConfigResource(ConfigResource.Type.TOPIC, n) for n in names]
    described = client.describe_configs(res).items()
    return {r.name: {k: v.value for k, v in f.result(30).items()} for r, f in described}


@pytest.mark.integration
def test_topics_creates_the_plan_on_the_broker_and_leaves_existing_topics_alone(kafka_bootstrap: str) -> None:
    prefix = "tt" + uuid.uuid4().hex[:8]
    # Someone made the events topic already, another way: it is reported, not changed.
    ensure_topics(kafka_bootstrap, [f"{prefix}.events"], partitions=2, config={"retention.ms": "3600000"})
    config = str(REPO / "examples/routed-email.stats.yaml")
    options = ("--prefix", prefix, "--stat-type", "Handled", "--config", config,
               "--replication-factor", "1", "--retention", "3d", "--segment", "30m")
    done = cli(*options, bootstrap=kafka_bootstrap)
    assert done.returncode == 0, done.stderr
    created = {line.removeprefix("created ") for line in done.stdout.splitlines()}
    assert f"{prefix}.actions" in created and f"{prefix}.events" not in created
    assert f"{prefix}-statistics-changelog" in created  # the worker's, named after the app id = prefix
    assert f"{prefix}.events: has 2 partitions, the plan says 1" in done.stderr
    assert f"{prefix}.events: has retention.ms=3600000, the plan says 259200000" in done.stderr
    configs = _describe(kafka_bootstrap, [f"{prefix}.events", f"{prefix}.actions", f"{prefix}.stat.Handled"])
    assert configs[f"{prefix}.events"]["retention.ms"] == "3600000"  # not changed
    assert configs[f"{prefix}.actions"]["retention.ms"] == "259200000"
    stat = configs[f"{prefix}.stat.Handled"]
    assert (stat["cleanup.policy"], stat["segment.ms"], stat["min.cleanable.dirty.ratio"]) == (
        "compact", "1800000", "0.1"
    )
    metadata = AdminClient({"bootstrap.servers": kafka_bootstrap}).list_topics(timeout=30).topics
    assert len(metadata[f"{prefix}.actions"].partitions[0].replicas) == 1
    again = cli(*options, bootstrap=kafka_bootstrap)
    assert again.returncode == 0 and "created" not in again.stdout  # idempotent


@pytest.mark.integration
def test_a_replication_factor_the_cluster_cannot_give_is_refused_in_one_line(kafka_bootstrap: str) -> None:
    """The test broker is a single node: RF 3 is refused by the broker, which proves the option
    reaches it; the default (-1, the broker's default.replication.factor) works."""
    prefix = "tr" + uuid.uuid4().hex[:8]
    done = cli("--prefix", prefix, "--app-id", "none", "--replication-factor", "3", bootstrap=kafka_bootstrap)
    assert done.returncode == 1
    assert "replication" in done.stderr.lower() and "Traceback" not in done.stderr
    ok = cli("--prefix", prefix, "--app-id", "none", bootstrap=kafka_bootstrap)
    assert ok.returncode == 0, ok.stderr
    metadata = AdminClient({"bootstrap.servers": kafka_bootstrap}).list_topics(timeout=30).topics
    assert len(metadata[f"{prefix}.events"].partitions[0].replicas) == 1
