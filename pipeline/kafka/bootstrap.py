"""Which Kafka to talk to: ``KAFKA_BOOTSTRAP_SERVERS`` if set, else the running local broker.

Every CLI tool and the worker go through :func:`resolve_bootstrap`, so pointing the whole product
at an existing cluster is one environment variable, and the zero-configuration path is
``mediastat broker start``.

Then every command that talks to Kafka calls :func:`check_reachable` before building its clients.
Left to themselves, librdkafka and aiokafka retry an unreachable address for as long as their
timeouts allow (31 s to 150 s and more, printing thousands of lines), then fail with a traceback or
— for ``tail --timeout`` — quietly report "0 messages". The check answers within a few seconds
with one line that names the address and the cause, so a wrong address or a stopped broker is
obvious at once.
"""

from __future__ import annotations

import os
import re
import socket
import threading
import time
from collections.abc import Mapping
from pathlib import Path

ENV_VAR = "KAFKA_BOOTSTRAP_SERVERS"
#: Seconds :func:`check_reachable` may take by default: commands must give up within 10 s, and
#: Python's start-up and imports take one to four of them on a busy machine.
CHECK_TIMEOUT_S = 4.0
DEFAULT_PORT = 9092


class NoKafka(RuntimeError):
    """No Kafka to talk to; the message says why (and how to provide one)."""


class Unreachable(NoKafka):
    """The bootstrap address does not answer: ``cannot reach Kafka at ADDRESS: CAUSE``."""

    def __init__(self, address: str, cause: str) -> None:
        super().__init__(f"cannot reach Kafka at {address}: {cause}")
        self.address = address
        self.cause = cause


def resolve_bootstrap(explicit: str | None = None, state_dir: Path | None = None) -> str:
    """``explicit`` (a ``--bootstrap`` option), else the environment, else the local broker's address."""
    if explicit:
        return explicit
    from_env = os.environ.get(ENV_VAR, "").strip()
    if from_env:
        return from_env
    from pipeline.kafka.broker import running_state

    state = running_state(state_dir)
    if state is not None:
        return state.bootstrap
    raise NoKafka(
        f"no Kafka to talk to: set {ENV_VAR}=host:port, pass --bootstrap, "
        "or start the local broker with `mediastat broker start`"
    )


def servers(bootstrap: str) -> list[tuple[str, int]]:
    """``host:port[,host:port]`` (with an optional ``scheme://``, IPv6 in brackets) → (host, port) pairs."""
    out = []
    for item in bootstrap.split(","):
        item = item.strip()
        if "://" in item:
            item = item.split("://", 1)[1]
        if not item:
            continue
        if item.startswith("["):  # [::1]:9092
            host, _, rest = item[1:].partition("]")
            port = rest.lstrip(":")
        else:
            host, sep, port = item.rpartition(":")
            if not sep:
                host, port = item, ""
        try:
            out.append((host, int(port) if port else DEFAULT_PORT))
        except ValueError:
            raise Unreachable(bootstrap, f"{item!r} is not host:port") from None
    if not out:
        raise Unreachable(bootstrap or "''", "no host:port given")
    return out


def _connect_cause(exc: BaseException, timeout: float) -> str:
    """A socket error in the words a user expects (``connection refused``, ``no answer within 6 s``)."""
    if isinstance(exc, socket.gaierror):
        return f"cannot resolve the host name ({exc.strerror or exc})"
    if isinstance(exc, TimeoutError | socket.timeout):
        return f"no answer within {timeout:g} s"
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror[0].lower() + exc.strerror[1:]
    return str(exc) or type(exc).__name__


def tcp_reachable(targets: list[tuple[str, int]], timeout: float) -> str | None:
    """None when one of ``targets`` accepts a TCP connection within ``timeout``, else the first cause.

    The connections are tried side by side in daemon threads, so a host that does not answer (or a
    name server that does not) holds up neither the others nor the exit of the process.
    """
    causes: dict[int, str] = {}
    ok = threading.Event()
    finished = threading.Semaphore(0)

    def attempt(index: int, host: str, port: int) -> None:
        try:
            with socket.create_connection((host, port), timeout=timeout):
                ok.set()
        except BaseException as exc:  # noqa: BLE001 — every failure is a cause to report
            causes[index] = _connect_cause(exc, timeout)
        finally:
            finished.release()

    for index, (host, port) in enumerate(targets):
        threading.Thread(target=attempt, args=(index, host, port), daemon=True).start()
    deadline = time.monotonic() + timeout
    for _ in targets:
        if ok.is_set() or not finished.acquire(timeout=max(0.0, deadline - time.monotonic())):
            break
    if ok.is_set():
        return None
    return causes.get(0) or next(iter(causes.values()), f"no answer within {timeout:g} s")


def _metadata_cause(config: Mapping[str, object], timeout: float) -> str | None:
    """None when the cluster answers a metadata request with ``config`` (security included), else why.

    librdkafka's own log lines are kept out of the way (level 0, a silent logger); its error
    callback gives the cause, e.g. a failed TLS handshake or SASL authentication.
    """
    from confluent_kafka import KafkaError, KafkaException
    from confluent_kafka.admin import AdminClient

    from pipeline.kafka.logs import SILENT

    errors: list[KafkaError] = []
    client = AdminClient(
        {**config, "logger": SILENT, "log_level": 0, "error_cb": errors.append}
    )
    try:
        client.list_topics(timeout=max(timeout, 0.5))
    except KafkaException as exc:
        client.poll(0)  # serves the error callback
        useful = [e for e in errors if e.code() != KafkaError._ALL_BROKERS_DOWN]
        error = useful[-1] if useful else exc.args[0]
        if error.code() in (KafkaError._TIMED_OUT, KafkaError._TRANSPORT) and not useful:
            return f"no metadata answer within {timeout:.0f} s ({_plain(error.str())})"
        return _plain(error.str())
    return None


def _plain(text: str) -> str:
    """librdkafka's error text without its ``host:port/bootstrap:`` and ``(after 0ms in state X)``."""
    text = re.sub(r"^\S+/(bootstrap|\d+): ", "", text)
    return re.sub(r" \(after \d+ms in state \w+\)$", "", text)


def check_reachable(config: Mapping[str, object] | str, timeout: float = CHECK_TIMEOUT_S) -> None:
    """Raise :class:`Unreachable` unless the cluster of ``config`` answers within ``timeout`` seconds.

    ``config`` is a confluent-kafka client configuration (``bootstrap.servers`` and any security
    settings), or a bootstrap address alone. First a TCP connection to each bootstrap server (a
    closed port is refused at once, a host that does not answer takes the whole timeout); then one
    metadata request with the full configuration, which catches a port that is not Kafka, a TLS or
    SASL misconfiguration, and a broker that accepts connections but does not serve.
    """
    if isinstance(config, str):
        config = {"bootstrap.servers": config}
    address = str(config.get("bootstrap.servers", "")).strip()
    deadline = time.monotonic() + timeout
    cause = tcp_reachable(servers(address), timeout)
    if cause is None:
        cause = _metadata_cause(config, deadline - time.monotonic())
    if cause is not None:
        raise Unreachable(address, cause)
