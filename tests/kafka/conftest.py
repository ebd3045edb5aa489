"""Fixtures of the Kafka client tests: a private broker with secured listeners."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.conftest import local_broker_unavailable, no_kafka
from tests.kafka.secure_broker import NoKeytool, SecureKafka, start_secure_kafka


@pytest.fixture(scope="session")
def secure_kafka(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SecureKafka]:
    """A private broker with SASL/SCRAM and TLS listeners, whatever ``KAFKA_BOOTSTRAP_SERVERS`` says:
    a shared or existing cluster cannot be reconfigured for the test, so this one is always our own."""
    from pipeline.kafka import broker

    why = local_broker_unavailable()
    if why:
        no_kafka(f"the SASL/TLS tests need the local broker: {why}")
    workdir = tmp_path_factory.mktemp("secure-kafka")
    try:
        kafka, state_dir = start_secure_kafka(workdir)  # a broker that fails to start fails the tests
    except NoKeytool as exc:
        no_kafka(f"the SASL/TLS tests need keytool: {exc}")
    try:
        yield kafka
    finally:
        broker.stop(state_dir)
