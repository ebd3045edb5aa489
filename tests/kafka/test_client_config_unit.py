"""Client configuration in one place (``pipeline.kafka.client``), without a broker: where settings come
from, what each client library is given, what is refused, and that passwords are never shown."""

from __future__ import annotations

import asyncio
import ssl
from pathlib import Path

import certifi
import pytest

from pipeline.kafka.client import (
    CONFIG_ENV,
    KafkaClient,
    KafkaConfigError,
    load_client,
    read_properties,
)
from pipeline.stats.config import load_config
from pipeline.stream.settings import Settings

CA = certifi.where()  # any PEM bundle will do where a CA file must exist
SCRAM = {
    "security.protocol": "SASL_SSL",
    "sasl.mechanism": "SCRAM-SHA-512",
    "sasl.username": "alice",
    "sasl.password": "alice-secret",
    "ssl.ca.location": CA,
}


def test_a_properties_file_is_read_with_java_properties_syntax(tmp_path: Path) -> None:
    path = tmp_path / "client.properties"
    path.write_text(
        "# a comment\n"
        "! another\n"
        "\n"
        "bootstrap.servers = kafka-1:9093,kafka-2:9093\n"
        "security.protocol:SASL_SSL\n"
        "sasl.mechanism SCRAM-SHA-256\n"
        "sasl.username=svc\\u002Dmediastat\n"
        "sasl.password=p\\=ss\\:w\\\\rd  \n"
        "ssl.ca.location=/etc/kafka/\\\n"
        "    ca.pem\n"
    )
    assert read_properties(path) == {
        "bootstrap.servers": "kafka-1:9093,kafka-2:9093",
        "security.protocol": "SASL_SSL",
        "sasl.mechanism": "SCRAM-SHA-256",
        "sasl.username": "svc-mediastat",
        "sasl.password": "p=ss:w\\rd",
        "ssl.ca.location": "/etc/kafka/ca.pem",
    }


def test_option_beats_environment_beats_file(tmp_path: Path) -> None:
    path = tmp_path / "client.properties"
    path.write_text(
        "bootstrap.servers=from-file:9093\nsecurity.protocol=SASL_PLAINTEXT\n"
        "sasl.mechanism=SCRAM-SHA-256\nsasl.username=file-user\nsasl.password=file-secret\nlinger.ms=7\n"
    )
    env = {"KAFKA_SASL_PASSWORD": "env-secret", "KAFKA_HOME": "/opt/kafka", "KAFKA_OPTS": "-Dx=y"}
    from_file = load_client(None, path, env)
    assert from_file.bootstrap == "from-file:9093"
    assert dict(from_file.properties) == {
        "security.protocol": "SASL_PLAINTEXT",
        "sasl.mechanism": "SCRAM-SHA-256",
        "sasl.username": "file-user",
        "sasl.password": "env-secret",  # the environment overrides the file
        "linger.ms": "7",  # any librdkafka property passes through to the confluent clients
    }  # KAFKA_HOME / KAFKA_OPTS are Kafka's scripts' variables, not client properties
    with_env = load_client(None, path, {**env, "KAFKA_BOOTSTRAP_SERVERS": "from-env:9093"})
    assert with_env.bootstrap == "from-env:9093"
    assert load_client("option:9093", path, {"KAFKA_BOOTSTRAP_SERVERS": "from-env:9093"}).bootstrap == (
        "option:9093"
    )
    # the file may also be named by the environment (containers), and the environment alone suffices
    assert load_client(None, None, {CONFIG_ENV: str(path)}).properties["sasl.username"] == "file-user"
    only_env = load_client(
        None,
        None,
        {
            "KAFKA_BOOTSTRAP_SERVERS": "k:9093",
            "KAFKA_SECURITY_PROTOCOL": "sasl_ssl",
            "KAFKA_SASL_MECHANISM": "scram-sha-256",
            "KAFKA_SASL_USERNAME": "u",
            "KAFKA_SASL_PASSWORD": "p",
            "KAFKA_SSL_CA_LOCATION": CA,
        },
    )
    assert (only_env.protocol, only_env.mechanism) == ("SASL_SSL", "SCRAM-SHA-256")


def test_each_confluent_client_gets_the_properties_and_its_own_needs() -> None:
    kafka = KafkaClient("k:9093", {**SCRAM, "sasl.mechanisms": "SCRAM-SHA-512", "group.id": "shared"})
    consumer = kafka.consumer({"group.id": "tail-1", "enable.auto.commit": False})
    assert consumer.pop("logger").name == "mediastat.kafka.client"  # librdkafka's lines through ours
    for routing in ("log_level", "log.connection.close"):
        consumer.pop(routing)
    assert consumer == {
        "bootstrap.servers": "k:9093",
        **{k: v for k, v in SCRAM.items()},
        "group.id": "tail-1",  # the tool's own needs win over a shared file
        "enable.auto.commit": False,
    }
    assert "sasl.mechanisms" not in kafka.producer()  # one spelling only
    assert kafka.admin()["security.protocol"] == "SASL_SSL"


def test_aiokafka_and_faust_get_the_same_settings_in_their_own_terms() -> None:
    kafka = KafkaClient("k1:9093, k2:9093", SCRAM)
    options = kafka.aiokafka()
    context = options.pop("ssl_context")
    assert options == {
        "bootstrap_servers": ["k1:9093", "k2:9093"],
        "security_protocol": "SASL_SSL",
        "sasl_mechanism": "SCRAM-SHA-512",
        "sasl_plain_username": "alice",
        "sasl_plain_password": "alice-secret",
    }
    assert isinstance(context, ssl.SSLContext)
    assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname  # as librdkafka verifies

    from faust.auth import SASLCredentials, SSLCredentials
    from faust.types.auth import AuthProtocol, SASLMechanism

    faust_options = kafka.faust_options()
    creds = faust_options["broker_credentials"]
    assert faust_options["broker"] == "kafka://k1:9093;kafka://k2:9093"
    assert isinstance(creds, SASLCredentials)
    assert (creds.protocol, creds.mechanism) == (AuthProtocol.SASL_SSL, SASLMechanism.SCRAM_SHA_512)
    assert (creds.username, creds.password) == ("alice", "alice-secret")

    tls_only = KafkaClient(
        "k:9093",
        {"security.protocol": "SSL", "ssl.ca.location": CA, "ssl.endpoint.identification.algorithm": "none"},
    )
    creds = tls_only.faust_credentials()
    assert isinstance(creds, SSLCredentials) and creds.protocol == AuthProtocol.SSL
    assert not creds.context.check_hostname and creds.context.verify_mode == ssl.CERT_REQUIRED
    sasl_plaintext = KafkaClient("k:9092", {**SCRAM, "security.protocol": "SASL_PLAINTEXT"})
    assert sasl_plaintext.faust_credentials().protocol == AuthProtocol.SASL_PLAINTEXT
    assert "ssl_context" not in sasl_plaintext.aiokafka()
    assert KafkaClient("k:9092").faust_options() == {"broker": "kafka://k:9092"}


def test_passwords_are_never_shown(tmp_path: Path) -> None:
    kafka = KafkaClient("k:9093", {**SCRAM, "ssl.key.password": "key-secret"})
    settings = Settings(bootstrap="k:9093", config=load_config(None), kafka=kafka, data_dir=tmp_path)
    credentials = kafka.faust_credentials()
    shown = " ".join([repr(kafka), str(kafka), kafka.describe(), repr(settings), repr(credentials)])
    assert "alice-secret" not in shown and "key-secret" not in shown
    assert "alice" in kafka.describe() and "SASL_SSL" in kafka.describe()
    with pytest.raises(KafkaConfigError) as refused:
        KafkaClient("k:9093", {**SCRAM, "sasl.username": ""})
    assert "alice-secret" not in str(refused.value)


@pytest.mark.parametrize(
    ("properties", "says"),
    [
        ({"security.protocol": "TLS"}, "security.protocol=TLS: expected one of"),
        ({"security.protocol": "SASL_PLAINTEXT", "sasl.username": "u"}, "needs sasl.password"),
        ({**SCRAM, "sasl.mechanism": "GSSAPI"}, "sasl.mechanism=GSSAPI: expected one of"),
        ({"ssl.ca.location": "/nonexistent/ca.pem"}, "ssl.ca.location=/nonexistent/ca.pem: no such file"),
        ({"sasl.jaas.config": "...ScramLoginModule required;"}, "use sasl.username and sasl.password"),
        ({"ssl.truststore.location": "/x.jks"}, "use ssl.ca.location"),
    ],
)
def test_settings_that_cannot_work_are_refused_with_the_reason(properties: dict, says: str) -> None:
    with pytest.raises(KafkaConfigError) as refused:
        KafkaClient("k:9093", properties)
    assert says in str(refused.value)


def test_a_security_property_aiokafka_cannot_honour_stops_the_worker_side() -> None:
    kafka = KafkaClient("k:9093", {**SCRAM, "ssl.keystore.location": "/client.p12"})
    assert kafka.producer()["ssl.keystore.location"] == "/client.p12"  # librdkafka has it
    with pytest.raises(KafkaConfigError, match="ssl.keystore.location: not supported by the worker"):
        kafka.faust_options()


def test_a_ca_file_that_is_not_a_certificate_is_a_configuration_error(tmp_path: Path) -> None:
    ca = tmp_path / "ca.pem"
    ca.write_text("not a certificate\n")
    kafka = KafkaClient("k:9093", {"security.protocol": "SSL", "ssl.ca.location": str(ca)})
    with pytest.raises(KafkaConfigError, match="TLS settings unusable"):
        kafka.aiokafka()
    with pytest.raises(KafkaConfigError, match="ssl.ca.location"):
        kafka.verify(timeout=1)  # librdkafka's refusal, as one line rather than a traceback
    with pytest.raises(KafkaConfigError, match="No such configuration property: \"no.such.property\""):
        KafkaClient("k:9093", {"no.such.property": "1"}).verify(timeout=1)


def test_every_kafka_command_takes_kafka_config(tmp_path: Path) -> None:
    from pipeline.cli import build_parser

    parser = build_parser()
    for argv in (["topics"], ["feed", "x.jsonl"], ["tail", "events"], ["worker"], ["simulate", "--live"]):
        args = parser.parse_args([*argv, "--kafka-config", str(tmp_path / "c.properties")])
        assert str(args.kafka_config) == str(tmp_path / "c.properties"), argv


def test_the_worker_app_and_its_web_reader_use_the_settings_client(tmp_path: Path, monkeypatch) -> None:
    from faust.auth import SASLCredentials

    import pipeline.web.reader as reader
    from pipeline.stream.app import create_app

    kafka = KafkaClient("k:9093", SCRAM)
    settings = Settings(bootstrap="k:9093", config=load_config(None), kafka=kafka, data_dir=tmp_path)
    app, _ = create_app(settings, stages=())
    assert isinstance(app.conf.broker_credentials, SASLCredentials)
    assert app.conf.broker_credentials.username == "alice"
    assert [str(url) for url in app.conf.broker] == ["kafka://k:9093"]
    assert Settings(bootstrap="k:9092", config=settings.config).kafka == KafkaClient("k:9092")
    with pytest.raises(ValueError, match="bootstrap"):
        Settings(bootstrap="other:9092", config=settings.config, kafka=kafka)

    seen: dict = {}

    class Consumer:
        def __init__(self, **kwargs) -> None:
            seen.update(kwargs)
            raise RuntimeError("stop here")

    monkeypatch.setattr(reader, "AIOKafkaConsumer", Consumer)
    with pytest.raises(RuntimeError, match="stop here"):
        asyncio.run(reader.follow(kafka, ["t"], None, asyncio.Event()))  # type: ignore[arg-type]
    assert seen["security_protocol"] == "SASL_SSL" and seen["sasl_plain_username"] == "alice"
    assert seen["group_id"] is None
