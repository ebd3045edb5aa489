"""Shared fixtures. ``kafka_bootstrap`` gives integration tests a real Kafka, whatever the machine has.

Order of preference: ``KAFKA_BOOTSTRAP_SERVERS`` (an existing cluster) → the project's own local
broker (Java found; jars from the shared cache under ``$MEDIASTAT_HOME``, state in a temp dir, stopped
at session end) → a testcontainers cp-kafka 7.9 in KRaft mode (a Docker engine answers) → skip, or
fail under ``CI=true`` so a CI run can never go green by skipping every integration test.

Tests marked ``spec`` check the specification's own worked scenarios; they run only with
``--spec-check`` (``make spec-check``), which runs nothing else and refuses to start without the
specification folder. Without it they are deselected (counted in pytest's summary), never skipped.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from tests.hashseed import OtherInterpreter

CP_KAFKA_IMAGE = "confluentinc/cp-kafka:7.9.2"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--spec-check",
        action="store_true",
        help="run only the checks against the specification's scenarios (MEDIASTAT_SPEC_DIR)",
    )


def pytest_configure(config: pytest.Config) -> None:
    if config.getoption("--spec-check"):
        from tests.spec_paths import missing_spec

        why = missing_spec()
        if why:
            raise pytest.UsageError(why)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """``--spec-check`` keeps only ``spec`` tests; otherwise they are left out. ``soak`` tests are
    left out unless ``-m`` names them (deselected and counted, never skipped)."""
    want_spec = config.getoption("--spec-check")
    # ``soak`` tests (a broker test looped several times) run only when ``-m`` names them.
    want_soak = "soak" in (config.getoption("-m") or "")
    keep, drop = [], []
    for item in items:
        spec_ok = (item.get_closest_marker("spec") is not None) == want_spec
        soak_ok = want_soak or item.get_closest_marker("soak") is None
        (keep if spec_ok and soak_ok else drop).append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep


def _on_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in ("1", "true", "yes")


def no_kafka(reason: str) -> None:
    """Skip (developer machine) or fail (CI) with a message saying how to get a Kafka."""
    message = (
        f"no Kafka for integration tests: {reason}. Install Java 17 + Maven (the local broker), "
        "start a Docker engine, or set KAFKA_BOOTSTRAP_SERVERS=host:port"
    )
    if _on_ci():
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


def local_broker_unavailable() -> str | None:
    """Why the project's own broker cannot run here, or None if it can."""
    from pipeline.kafka.broker import default_cache_dir

    if not (os.environ.get("JAVA_HOME") or shutil.which("java")):
        return "java not found"
    if not shutil.which("mvn") and not (default_cache_dir() / "libs").is_dir():
        return "mvn not found and no cached Kafka jars"
    return None


def _docker_answers() -> bool:
    try:
        import docker

        docker.from_env(timeout=3).ping()
    except Exception:
        return False
    return True


def _testcontainers_kafka() -> type:
    try:  # testcontainers 4.x moved the module; accept both spellings
        from testcontainers.community.kafka import KafkaContainer
    except ImportError:
        from testcontainers.kafka import KafkaContainer
    return KafkaContainer


@pytest.fixture(scope="session")
def kafka_bootstrap(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A bootstrap address of a running Kafka for the whole session."""
    from_env = os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "").strip()
    if from_env:
        yield from_env
        return

    reasons = []
    why_not_local = local_broker_unavailable()
    if why_not_local is None:
        from pipeline.kafka import broker

        state_dir = tmp_path_factory.mktemp("kafka-broker")
        try:
            state = broker.start(state_dir, timeout=120)
        except broker.BrokerError as exc:
            reasons.append(f"local broker failed: {exc}")
        else:
            try:
                yield state.bootstrap
            finally:
                broker.stop(state_dir)
            return
    else:
        reasons.append(f"local broker: {why_not_local}")

    if _docker_answers():
        container = _testcontainers_kafka()(CP_KAFKA_IMAGE).with_kraft()
        with container:
            yield container.get_bootstrap_server()
        return
    reasons.append("no Docker engine answers")
    no_kafka("; ".join(reasons))


@pytest.fixture(scope="session")
def other_interpreter() -> Iterator[OtherInterpreter]:
    """Child interpreters with other ``PYTHONHASHSEED``s, for the determinism checks."""
    from tests.hashseed import OtherInterpreter, probe_hash

    children = OtherInterpreter()
    try:
        probes = children.call_texts("tests.hashseed:probe_hash")
        assert len({str(probe_hash()), *probes.values()}) == len(probes) + 1, "hash seeds not all different"
        yield children
    finally:
        children.close()
