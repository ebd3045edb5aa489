"""How every client of the product reaches Kafka: one frozen :class:`KafkaClient`, built once per command.

Why one object: the product talks to Kafka through two client libraries — confluent-kafka (librdkafka)
in ``topics``, ``feed``, ``tail``, ``simulate --live`` and the worker's admin calls; aiokafka under
faust and the wallboard's reader — and a secured cluster must be reached by all of them with the same
settings. Users write those settings once, with **librdkafka's names** (``security.protocol``,
``sasl.mechanism``, ``sasl.username``, ``sasl.password``, ``ssl.ca.location``…), and this module hands
each library its own spelling: a property dict for confluent-kafka, an ``ssl.SSLContext`` and SASL
keyword arguments for aiokafka, ``broker_credentials`` for faust.

Where the settings come from, the first that gives a value wins:

1. the command's ``--bootstrap`` option (the bootstrap servers only);
2. the environment: ``KAFKA_BOOTSTRAP_SERVERS`` and the ``KAFKA_*`` variables of :data:`ENV_PROPERTIES`
   (``KAFKA_SASL_PASSWORD``…) — so a secret injected by the platform overrides a shared file;
3. the properties file: ``--kafka-config FILE`` or ``$MEDIASTAT_KAFKA_CONFIG`` (Java-properties syntax);
4. the running local broker's address (``mediastat broker start``; the bootstrap servers only).

Passwords never appear in ``repr``, in :meth:`KafkaClient.describe` or in error messages.
"""

from __future__ import annotations

import argparse
import os
import ssl
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

from pipeline.kafka.bootstrap import ENV_VAR, NoKafka, resolve_bootstrap

#: Environment variable → librdkafka property. An explicit list, not every ``KAFKA_*`` variable:
#: ``KAFKA_HOME``, ``KAFKA_OPTS``, ``KAFKA_HEAP_OPTS``… belong to Kafka's own scripts.
ENV_PROPERTIES: Mapping[str, str] = MappingProxyType(
    {
        "KAFKA_SECURITY_PROTOCOL": "security.protocol",
        "KAFKA_SASL_MECHANISM": "sasl.mechanism",
        "KAFKA_SASL_USERNAME": "sasl.username",
        "KAFKA_SASL_PASSWORD": "sasl.password",
        "KAFKA_SSL_CA_LOCATION": "ssl.ca.location",
        "KAFKA_SSL_CERTIFICATE_LOCATION": "ssl.certificate.location",
        "KAFKA_SSL_KEY_LOCATION": "ssl.key.location",
        "KAFKA_SSL_KEY_PASSWORD": "ssl.key.password",
        "KAFKA_SSL_ENDPOINT_IDENTIFICATION_ALGORITHM": "ssl.endpoint.identification.algorithm",
    }
)
#: The properties file when ``--kafka-config`` is not given (handy in containers).
CONFIG_ENV = "MEDIASTAT_KAFKA_CONFIG"

PROTOCOLS = ("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL")
#: SASL mechanisms both libraries speak with a user name and password.
MECHANISMS = ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512")
#: Security properties aiokafka (the worker's stream client) can honour; any other ``ssl.*``/``sasl.*``
#: property would silently be dropped there, so the worker refuses it instead.
AIOKAFKA_SECURITY = frozenset(
    {
        "security.protocol",
        "sasl.mechanism",
        "sasl.username",
        "sasl.password",
        "ssl.ca.location",
        "ssl.certificate.location",
        "ssl.key.location",
        "ssl.key.password",
        "ssl.endpoint.identification.algorithm",
        "enable.ssl.certificate.verification",
    }
)
#: Java client properties people copy from a ``client.properties``, and what librdkafka calls them.
JAVA_ONLY = MappingProxyType(
    {
        "sasl.jaas.config": "sasl.username and sasl.password",
        "ssl.truststore.location": "ssl.ca.location (the CA certificate as a PEM file)",
        "ssl.truststore.password": "ssl.ca.location (a PEM file needs no password)",
        "ssl.truststore.type": "ssl.ca.location (a PEM file)",
    }
)
MASK = "********"


class KafkaConfigError(NoKafka):
    """The client settings cannot work (unknown protocol, missing password, unreadable file…)."""


class KafkaRefused(NoKafka):
    """The broker answered but refused us: wrong credentials, or a TLS handshake that failed."""


class KafkaUnreachable(NoKafka):
    """No broker answered within the check's time limit."""


def is_secret(name: str) -> bool:
    """Whether a property holds a secret (never printed)."""
    return any(word in name for word in ("password", "secret", ".pem")) or name == "sasl.oauthbearer.config"


def masked(properties: Mapping[str, str]) -> dict[str, str]:
    return {k: (MASK if is_secret(k) else v) for k, v in properties.items()}


# ------------------------------------------------------------------------------ the object


@dataclass(frozen=True, repr=False)
class KafkaClient:
    """The bootstrap servers and the librdkafka-named properties every client of a command uses."""

    #: ``host:port[,host:port]``.
    bootstrap: str
    #: librdkafka properties other than ``bootstrap.servers`` (security, tuning), as the user wrote them.
    properties: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        props = {str(k).strip(): str(v).strip() for k, v in dict(self.properties).items()}
        props.pop("bootstrap.servers", None)
        if "sasl.mechanisms" in props:  # librdkafka's older spelling; one name from here on
            props.setdefault("sasl.mechanism", props.pop("sasl.mechanisms"))
        for name in ("security.protocol", "sasl.mechanism"):
            if name in props:
                props[name] = props[name].upper()
        object.__setattr__(self, "properties", MappingProxyType(props))
        _validate(self.bootstrap, props)

    def __repr__(self) -> str:
        return f"KafkaClient(bootstrap={self.bootstrap!r}, properties={masked(self.properties)!r})"

    # -- what it says ----------------------------------------------------------------------------

    @property
    def protocol(self) -> str:
        return self.properties.get("security.protocol", "PLAINTEXT")

    @property
    def uses_sasl(self) -> bool:
        return self.protocol.startswith("SASL_")

    @property
    def uses_tls(self) -> bool:
        return self.protocol in ("SSL", "SASL_SSL")

    @property
    def mechanism(self) -> str:
        return self.properties.get("sasl.mechanism", "PLAIN")

    def describe(self) -> str:
        """``127.0.0.1:9093 (SASL_SSL, SCRAM-SHA-256 as alice)`` — for log lines; no secrets."""
        if self.protocol == "PLAINTEXT":
            return self.bootstrap
        how = self.protocol
        if self.uses_sasl:
            how += f", {self.mechanism} as {self.properties.get('sasl.username', '?')}"
        return f"{self.bootstrap} ({how})"

    # -- confluent-kafka (librdkafka) ------------------------------------------------------------

    def confluent(self, extras: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """The configuration dict of a confluent-kafka client: the user's properties, then ``extras``.

        ``extras`` are what the calling tool needs to work at all (a fresh group id, idempotence…),
        so they win over a shared file's values.
        """
        from pipeline.kafka.logs import client_logging  # librdkafka's own lines through our logging

        return client_logging({"bootstrap.servers": self.bootstrap, **self.properties, **dict(extras or {})})

    def admin(self, extras: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """For ``AdminClient``."""
        return self.confluent(extras)

    def producer(self, extras: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """For ``Producer``."""
        return self.confluent(extras)

    def consumer(self, extras: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """For ``Consumer`` (``extras`` should carry ``group.id``)."""
        return self.confluent(extras)

    # -- aiokafka and faust ----------------------------------------------------------------------

    def ssl_context(self) -> ssl.SSLContext | None:
        """The TLS settings as Python's ``SSLContext`` (None without TLS), verifying as librdkafka does:
        the CA of ``ssl.ca.location`` (else the system's), the broker's host name unless
        ``ssl.endpoint.identification.algorithm=none``, a client certificate when one is given."""
        if not self.uses_tls:
            return None
        props = self.properties
        ca = props.get("ssl.ca.location")
        try:
            context = ssl.create_default_context(
                ssl.Purpose.SERVER_AUTH, cafile=ca if ca and ca != "probe" else None
            )
            if props.get("ssl.endpoint.identification.algorithm", "https").lower() == "none":
                context.check_hostname = False
            if props.get("enable.ssl.certificate.verification", "true").lower() == "false":
                context.check_hostname = False
                context.verify_mode = ssl.CERT_NONE
            if "ssl.certificate.location" in props:
                context.load_cert_chain(
                    props["ssl.certificate.location"],
                    props.get("ssl.key.location"),
                    props.get("ssl.key.password"),
                )
        except (ssl.SSLError, OSError) as exc:  # a file that is not PEM, a wrong key password…
            raise KafkaConfigError(f"TLS settings unusable ({ca or 'system CAs'}): {exc}") from None
        return context

    def aiokafka(self) -> dict[str, Any]:
        """Keyword arguments for ``AIOKafkaConsumer``/``AIOKafkaProducer``: servers and security."""
        unsupported = sorted(
            k for k in self.properties if k.startswith(("ssl.", "sasl.")) and k not in AIOKAFKA_SECURITY
        )
        if unsupported:
            raise KafkaConfigError(
                f"{', '.join(unsupported)}: not supported by the worker's stream client (aiokafka); "
                f"it understands {', '.join(sorted(AIOKAFKA_SECURITY))}"
            )
        options: dict[str, Any] = {
            "bootstrap_servers": [s.strip() for s in self.bootstrap.split(",") if s.strip()],
            "security_protocol": self.protocol,
        }
        context = self.ssl_context()
        if context is not None:
            options["ssl_context"] = context
        if self.uses_sasl:
            options["sasl_mechanism"] = self.mechanism
            options["sasl_plain_username"] = self.properties.get("sasl.username")
            options["sasl_plain_password"] = self.properties.get("sasl.password")
        return options

    def faust_credentials(self) -> Any:
        """faust's ``broker_credentials``: ``SASLCredentials`` (with the TLS context under SASL_SSL),
        ``SSLCredentials``, or None for PLAINTEXT."""
        from faust.auth import SASLCredentials, SSLCredentials

        options = self.aiokafka()  # the same checks as the reader's client
        if self.uses_sasl:
            return SASLCredentials(
                username=options["sasl_plain_username"],
                password=options["sasl_plain_password"],
                mechanism=self.mechanism,
                ssl_context=options.get("ssl_context"),
            )
        if self.uses_tls:
            return SSLCredentials(options["ssl_context"])
        return None

    def faust_options(self) -> dict[str, Any]:
        """``faust.App`` settings: ``broker`` (``kafka://host:port;…``) and ``broker_credentials``."""
        options: dict[str, Any] = {
            "broker": ";".join(f"kafka://{s.strip()}" for s in self.bootstrap.split(",") if s.strip())
        }
        credentials = self.faust_credentials()
        if credentials is not None:
            options["broker_credentials"] = credentials
        return options

    # -- the check every command makes first -----------------------------------------------------

    def verify(self, timeout: float = 10.0) -> None:
        """One metadata request with these settings; raises with one line saying what went wrong.

        Why before anything else: librdkafka and aiokafka retry a refused login or a failed TLS
        handshake forever, so a wrong password would otherwise show as a hang or as thousands of log
        lines, after a producer may already have queued records.
        """
        from confluent_kafka import KafkaError, KafkaException, Producer

        errors: list[KafkaError] = []
        # log_level 0: this probe's failures are reported by the exception below, not by librdkafka.
        try:
            probe = Producer(self.producer({"error_cb": errors.append, "log_level": 0}))
        except KafkaException as exc:  # librdkafka refused a property (unknown name, unreadable file…)
            raise KafkaConfigError(f"Kafka client settings: {_one_line(exc.args[0])}") from None
        from pipeline.kafka.bootstrap import CHECK_TIMEOUT_S, Unreachable, servers, tcp_reachable

        # A closed port or a host that does not answer: one line within a few seconds, before
        # librdkafka's own retries (which would take the whole timeout and log each attempt).
        cause = tcp_reachable(servers(self.bootstrap), min(timeout, CHECK_TIMEOUT_S))
        if cause is not None:
            raise Unreachable(self.bootstrap, cause)
        deadline = time.monotonic() + timeout
        while True:
            try:
                probe.list_topics(timeout=max(0.1, min(1.0, deadline - time.monotonic())))
                return
            except KafkaException as exc:
                errors.append(exc.args[0])
            probe.poll(0)
            for err in errors:
                if err.code() in (KafkaError._AUTHENTICATION, KafkaError.SASL_AUTHENTICATION_FAILED):
                    raise KafkaRefused(f"Kafka at {self.describe()} refused the login: {_one_line(err)}")
                if err.code() == KafkaError._SSL or "SSL handshake failed" in err.str():
                    raise KafkaRefused(f"TLS with Kafka at {self.describe()} failed: {_one_line(err)}")
            if time.monotonic() >= deadline:
                vague = (KafkaError._TIMED_OUT, KafkaError._ALL_BROKERS_DOWN)
                meaningful = [e for e in errors if e.code() not in vague]
                why = _one_line((meaningful or errors)[-1]) if errors else "no answer"
                raise KafkaUnreachable(f"cannot reach Kafka at {self.describe()}: {why}")


def _one_line(err: Any) -> str:
    text = err.str() if hasattr(err, "str") else str(err)
    return " ".join(text.split())


def as_client(kafka: str | KafkaClient) -> KafkaClient:
    """A bootstrap string (plain connection) or a client, as a client: lets helpers take either."""
    return kafka if isinstance(kafka, KafkaClient) else KafkaClient(kafka)


# ------------------------------------------------------------------------------ validation


def _validate(bootstrap: str, props: Mapping[str, str]) -> None:
    if not bootstrap.strip():
        raise KafkaConfigError("no bootstrap servers")
    for name, instead in JAVA_ONLY.items():
        if name in props:
            raise KafkaConfigError(
                f"{name} is a Java client property; mediastat takes librdkafka's names: use {instead}"
            )
    protocol = props.get("security.protocol", "PLAINTEXT")
    if protocol not in PROTOCOLS:
        raise KafkaConfigError(f"security.protocol={protocol}: expected one of {', '.join(PROTOCOLS)}")
    if protocol.startswith("SASL_"):
        mechanism = props.get("sasl.mechanism", "PLAIN")
        if mechanism not in MECHANISMS:
            raise KafkaConfigError(f"sasl.mechanism={mechanism}: expected one of {', '.join(MECHANISMS)}")
        missing = [n for n in ("sasl.username", "sasl.password") if not props.get(n)]
        if missing:
            raise KafkaConfigError(f"security.protocol={protocol} needs {' and '.join(missing)}")
    for name in ("ssl.ca.location", "ssl.certificate.location", "ssl.key.location"):
        location = props.get(name)
        if location and location != "probe" and not Path(location).is_file():
            raise KafkaConfigError(f"{name}={location}: no such file")


# ------------------------------------------------------------------------------ loading


def read_properties(path: Path | str) -> dict[str, str]:
    """A Java-properties file → dict: ``key=value``, ``key: value`` or ``key value``; ``#``/``!``
    comments; a trailing backslash continues a line; ``\\=``, ``\\:``, ``\\ ``, ``\\\\``, ``\\t``,
    ``\\n``, ``\\uXXXX`` escapes."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise KafkaConfigError(f"{path}: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise KafkaConfigError(f"{path}: not a text file (UTF-8)") from None
    out: dict[str, str] = {}
    logical = ""
    for raw in text.splitlines():
        line = raw.lstrip()
        if not logical and (not line or line[0] in "#!"):
            continue
        if _continues(line):
            logical += line[:-1]
            continue
        logical += line
        key, value = _split(logical)
        logical = ""
        if key:
            out[key] = value
    if logical:
        key, value = _split(logical)
        if key:
            out[key] = value
    return out


def _continues(line: str) -> bool:
    backslashes = len(line) - len(line.rstrip("\\"))
    return backslashes % 2 == 1


def _split(line: str) -> tuple[str, str]:
    i, n = 0, len(line)
    while i < n:
        c = line[i]
        if c == "\\":
            i += 2
            continue
        if c in "=: \t":
            break
        i += 1
    rest = line[i:].lstrip(" \t\f")
    if rest[:1] in ("=", ":"):
        rest = rest[1:].lstrip(" \t\f")
    return _unescape(line[:i]), _unescape(rest.rstrip())


def _unescape(text: str) -> str:
    out, i = [], 0
    while i < len(text):
        c = text[i]
        if c == "\\" and i + 1 < len(text):
            nxt = text[i + 1]
            if nxt == "u" and i + 6 <= len(text):
                try:
                    out.append(chr(int(text[i + 2 : i + 6], 16)))
                    i += 6
                    continue
                except ValueError:
                    pass
            out.append({"t": "\t", "n": "\n", "r": "\r", "f": "\f"}.get(nxt, nxt))
            i += 2
            continue
        out.append(c)
        i += 1
    return "".join(out)


def load_client(
    bootstrap: str | None = None,
    config_file: Path | str | None = None,
    environ: Mapping[str, str] | None = None,
    state_dir: Path | None = None,
) -> KafkaClient:
    """The client of one command: option > environment > file > local broker (see the module's doc)."""
    env = os.environ if environ is None else environ
    config_file = config_file or env.get(CONFIG_ENV, "").strip() or None
    props = read_properties(config_file) if config_file else {}
    for var, name in ENV_PROPERTIES.items():
        value = env.get(var, "").strip()
        if value:
            props[name] = value
    if "sasl.mechanisms" in props and "sasl.mechanism" in props:  # the environment's spelling wins
        del props["sasl.mechanisms"]
    chosen = bootstrap or env.get(ENV_VAR, "").strip() or props.pop("bootstrap.servers", "").strip()
    props.pop("bootstrap.servers", None)
    return KafkaClient(resolve_bootstrap(chosen or None, state_dir), props)


def client_from_args(args: argparse.Namespace) -> KafkaClient:
    """A command's client from its ``--bootstrap`` and ``--kafka-config`` options."""
    return load_client(getattr(args, "bootstrap", None), getattr(args, "kafka_config", None))


def connect(args: argparse.Namespace, timeout: float = 10.0) -> KafkaClient:
    """:func:`client_from_args`, then :meth:`KafkaClient.verify`: what a command does before any work.
    Raises :class:`NoKafka` (or a subclass) with one line to print."""
    kafka = client_from_args(args)
    kafka.verify(timeout)
    return kafka


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """``--kafka-config FILE`` for every command that talks to Kafka."""
    parser.add_argument(
        "--kafka-config",
        type=Path,
        metavar="FILE",
        help="Kafka client properties, librdkafka names (security.protocol, sasl.mechanism, "
        f"sasl.username, sasl.password, ssl.ca.location…); default ${CONFIG_ENV}. "
        "KAFKA_* environment variables override it",
    )
