"""A local single-node Kafka 3.9 (KRaft) for development and tests: ``mediastat broker start|stop|status``.

Why not Docker or a tarball: the target machines have Java 17 and Maven but not necessarily a Docker
engine or a route to the Apache download mirrors. Maven Central has every Kafka jar, so
``deploy/kafka/pom.xml`` describes the broker's classpath and Maven resolves it once into a cache
(``$MEDIASTAT_HOME/kafka-<version>/libs``, default ``~/.cache/mediastat``). A completion marker
holding the pom's hash makes later starts skip Maven entirely.

The broker is one JVM acting as broker and controller on 127.0.0.1 with free ports, formatted
with a fresh cluster id on first start and kept (with its topics) across stop/start. It runs
detached; its pid and bootstrap address are recorded in ``<state dir>/broker.json`` so that
``status``, ``stop`` and :func:`pipeline.kafka.bootstrap.resolve_bootstrap` can find it.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import fcntl
import hashlib
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path

KAFKA_VERSION = "3.9.2"
DEPLOY_DIR = Path(__file__).resolve().parent.parent.parent / "deploy" / "kafka"
STATE_FILE = "broker.json"
LOG_FILE = "broker.log"
PROPS_FILE = "server.properties"

Log = Callable[[str], None]


class BrokerError(RuntimeError):
    """The local broker could not be prepared, started or stopped; the message says why."""


def _say(message: str) -> None:
    print(f"mediastat broker: {message}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------------- locations


def mediastat_home() -> Path:
    """``$MEDIASTAT_HOME``, default ``~/.cache/mediastat``: jar cache, broker state, worker state."""
    return Path(os.environ.get("MEDIASTAT_HOME") or Path.home() / ".cache" / "mediastat").expanduser()


def default_state_dir() -> Path:
    """Where the default local broker keeps its data, log, properties and state file."""
    return mediastat_home() / "broker"


def default_cache_dir() -> Path:
    """Where the resolved Kafka jars are kept (shared by every state dir, e.g. the tests')."""
    return mediastat_home() / f"kafka-{KAFKA_VERSION}"


def _pom() -> Path:
    pom = DEPLOY_DIR / "pom.xml"
    if not pom.is_file():
        raise BrokerError(
            f"{pom} not found: the local broker needs a checkout of the mediastat repository "
            "(or point KAFKA_BOOTSTRAP_SERVERS at an existing Kafka)"
        )
    return pom


# ------------------------------------------------------------------------------------- jars


def ensure_jars(cache_dir: Path | None = None, log: Log = _say) -> Path:
    """The directory of Kafka jars, resolving them with Maven only if not already cached.

    The marker file name carries a hash of the pom, so editing the pom (e.g. a new Kafka version)
    re-resolves. Resolution goes to a temporary directory that is renamed into place, under a file
    lock, so an interrupted or concurrent start never leaves a half-filled ``libs``.
    """
    cache_dir = cache_dir or default_cache_dir()
    pom = _pom()
    digest = hashlib.sha256(pom.read_bytes()).hexdigest()[:16]
    libs, marker = cache_dir / "libs", cache_dir / f".complete-{digest}"
    if marker.is_file() and libs.is_dir():
        return libs
    cache_dir.mkdir(parents=True, exist_ok=True)
    with open(cache_dir / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if marker.is_file() and libs.is_dir():  # someone else finished while we waited
            return libs
        mvn = os.environ.get("MEDIASTAT_MVN") or shutil.which("mvn")
        if not mvn:
            raise BrokerError("Maven (mvn) not found on PATH; it is needed once to fetch the Kafka jars")
        staging = cache_dir / "libs.partial"
        shutil.rmtree(staging, ignore_errors=True)
        log(f"resolving Kafka {KAFKA_VERSION} jars with Maven into {libs} (first start only, ~46 MB)...")
        started = time.monotonic()
        cmd = [
            mvn,
            "-q",
            "-B",
            "-f",
            str(pom),
            "dependency:copy-dependencies",
            f"-DoutputDirectory={staging}",
        ]
        result = subprocess.run(cmd, capture_output=True, text=True)
        if result.returncode != 0 or not any(staging.glob("kafka_2.13-*.jar")):
            output = (result.stdout + result.stderr).strip()[-3000:]
            raise BrokerError(f"Maven could not resolve the Kafka jars ({' '.join(cmd)}):\n{output}")
        for old in cache_dir.glob(".complete-*"):
            old.unlink()
        shutil.rmtree(libs, ignore_errors=True)
        staging.rename(libs)
        marker.write_text(f"{KAFKA_VERSION}\n")
        count = len(list(libs.glob("*.jar")))
        log(f"resolved {count} jars in {time.monotonic() - started:.1f}s")
        return libs


# ------------------------------------------------------------------------------------ state


@dataclass
class BrokerState:
    """What ``broker.json`` records about a started broker."""

    pid: int
    bootstrap: str
    broker_port: int
    controller_port: int
    cluster_id: str
    state_dir: str
    log_file: str
    started_at: float
    #: Extra listeners of a secured private broker (:class:`SecureListeners`): protocol → host:port.
    listeners: dict[str, str] = field(default_factory=dict)

    def save(self) -> None:
        path = Path(self.state_dir) / STATE_FILE
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(asdict(self), indent=2) + "\n")
        tmp.replace(path)

    @classmethod
    def load(cls, state_dir: Path) -> BrokerState | None:
        try:
            return cls(**json.loads((state_dir / STATE_FILE).read_text()))
        except (FileNotFoundError, ValueError, TypeError):
            return None


def _alive(pid: int, props: Path | None = None) -> bool:
    """Whether ``pid`` is a live (non-zombie) process — and, where /proc exists, our broker."""
    with contextlib.suppress(ChildProcessError, OSError):
        os.waitpid(pid, os.WNOHANG)  # reap it if it is our own dead child
    proc = Path(f"/proc/{pid}")
    if Path("/proc/self").exists():
        try:
            stat = (proc / "stat").read_text()
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            return False
        if stat.rsplit(")", 1)[-1].split()[0] == "Z":
            return False
        return "kafka.Kafka" in cmdline and (props is None or str(props) in cmdline)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def running_state(state_dir: Path | None = None) -> BrokerState | None:
    """The state of the broker of ``state_dir`` if it is running, else None."""
    state_dir = Path(state_dir or default_state_dir()).resolve()
    state = BrokerState.load(state_dir)
    if state and _alive(state.pid, state_dir / PROPS_FILE):
        return state
    return None


# ------------------------------------------------------------------------------------ start


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _port_free(port: int) -> bool:
    """Whether the broker could listen on ``port``: connections of its previous run still in
    TIME_WAIT do not stop it (Java listens with SO_REUSEADDR), so they must not stop this check,
    or a restarted broker would move to new ports and its clients would never find it again."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def new_cluster_id() -> str:
    """16 random bytes, base64url without padding — Kafka's Uuid text form.

    A leading ``-`` would be read as an option by the storage tool's argument parser, so we draw again.
    """
    while True:
        cid = base64.urlsafe_b64encode(secrets.token_bytes(16)).decode("ascii").rstrip("=")
        if not cid.startswith("-"):
            return cid


@dataclass(frozen=True)
class SecureListeners:
    """Secured listeners a private broker opens besides PLAINTEXT (the tests of SASL and TLS use them).

    ``scram_users`` (name → password) get SCRAM-SHA-256 and SCRAM-SHA-512 credentials when the storage
    is formatted (KRaft keeps them in its metadata log, so they are added only to new storage) and
    open a ``SASL_PLAINTEXT`` listener; a PKCS12 ``keystore`` with the broker's key and certificate
    opens an ``SSL`` listener, and ``SASL_SSL`` when there are users too. The inter-broker and
    controller listeners stay PLAINTEXT: one node, nothing to secure between itself.
    """

    scram_users: Mapping[str, str] = field(default_factory=dict)
    keystore: Path | None = None
    keystore_password: str = ""

    def protocols(self) -> list[str]:
        out = ["SASL_PLAINTEXT"] if self.scram_users else []
        if self.keystore is not None:
            out += ["SSL", "SASL_SSL"] if self.scram_users else ["SSL"]
        return out

    def scram_arguments(self) -> list[str]:
        """``--add-scram`` arguments of ``kafka-storage format`` for every user and mechanism."""
        return [
            arg
            for name, password in self.scram_users.items()
            for mechanism in SCRAM_MECHANISMS
            for arg in ("--add-scram", f"{mechanism}=[name={name},password={password}]")
        ]

    def properties(self) -> list[str]:
        lines: list[str] = []
        if self.scram_users:
            lines.append(f"sasl.enabled.mechanisms={','.join(SCRAM_MECHANISMS)}")
            for listener in (p for p in self.protocols() if p.startswith("SASL_")):
                for mechanism in SCRAM_MECHANISMS:
                    lines.append(
                        f"listener.name.{listener.lower()}.{mechanism.lower()}.sasl.jaas.config="
                        "org.apache.kafka.common.security.scram.ScramLoginModule required;"
                    )
        if self.keystore is not None:
            lines += [
                "ssl.keystore.type=PKCS12",
                f"ssl.keystore.location={self.keystore}",
                f"ssl.keystore.password={self.keystore_password}",
                f"ssl.key.password={self.keystore_password}",
                "ssl.client.auth=none",
            ]
        return lines


SCRAM_MECHANISMS = ("SCRAM-SHA-256", "SCRAM-SHA-512")


def server_properties(
    data_dir: Path,
    broker_port: int,
    controller_port: int,
    secure: SecureListeners | None = None,
    secure_ports: Mapping[str, int] | None = None,
) -> str:
    """A combined broker+controller config sized for one developer machine (1 partition, RF 1).

    ``secure``/``secure_ports`` (protocol → port) add the listeners of :class:`SecureListeners`.
    """
    extra = dict(secure_ports or {})
    listeners = [f"PLAINTEXT://127.0.0.1:{broker_port}"]
    listeners += [f"{protocol}://127.0.0.1:{port}" for protocol, port in extra.items()]
    protocol_map = ["CONTROLLER:PLAINTEXT", "PLAINTEXT:PLAINTEXT"] + [f"{p}:{p}" for p in extra]
    return "\n".join(
        [
            "# Written by `mediastat broker start`; rewritten on every start (ports may change).",
            "process.roles=broker,controller",
            "node.id=1",
            f"controller.quorum.voters=1@127.0.0.1:{controller_port}",
            f"listeners={','.join(listeners)},CONTROLLER://127.0.0.1:{controller_port}",
            f"advertised.listeners={','.join(listeners)}",
            "controller.listener.names=CONTROLLER",
            "inter.broker.listener.name=PLAINTEXT",
            f"listener.security.protocol.map={','.join(protocol_map)}",
            *(secure.properties() if secure is not None else []),
            f"log.dirs={data_dir}",
            "num.partitions=1",
            "default.replication.factor=1",
            "min.insync.replicas=1",
            "offsets.topic.replication.factor=1",
            "offsets.topic.num.partitions=1",
            "transaction.state.log.replication.factor=1",
            "transaction.state.log.min.isr=1",
            "transaction.state.log.num.partitions=1",
            "group.initial.rebalance.delay.ms=0",
            "auto.create.topics.enable=true",
            "delete.topic.enable=true",
            "log.retention.hours=168",
            "",
        ]
    )


def _java() -> str:
    java_home = os.environ.get("JAVA_HOME")
    if java_home and (Path(java_home) / "bin" / "java").is_file():
        return str(Path(java_home) / "bin" / "java")
    java = shutil.which("java")
    if not java:
        raise BrokerError("java not found (JAVA_HOME or PATH); the local broker needs Java 17+")
    return java


def _log_tail(path: Path, lines: int = 40) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no broker log)"


def _metadata_ok(bootstrap: str, timeout: float) -> bool:
    """One metadata request through confluent-kafka; True when the broker answers it."""
    from confluent_kafka import KafkaException
    from confluent_kafka.admin import AdminClient

    client = AdminClient({"bootstrap.servers": bootstrap, "log_level": 0})
    try:
        client.list_topics(timeout=timeout)
    except KafkaException:
        return False
    return True


def _port_open(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def start(
    state_dir: Path | None = None,
    cache_dir: Path | None = None,
    *,
    timeout: float = 90.0,
    heap: str = "1g",
    log: Log = _say,
    secure: SecureListeners | None = None,
) -> BrokerState:
    """Start the broker of ``state_dir`` (or return the running one) and wait until it serves metadata.

    ``secure`` adds SASL/TLS listeners (their addresses are in ``BrokerState.listeners``).
    """
    state_dir = Path(state_dir or default_state_dir()).resolve()
    state_dir.mkdir(parents=True, exist_ok=True)
    running = running_state(state_dir)
    if running:
        log(f"already running: pid {running.pid}, bootstrap {running.bootstrap}")
        return running
    t0 = time.monotonic()
    libs = ensure_jars(cache_dir, log=log)
    java = _java()

    previous = BrokerState.load(state_dir)
    if previous and _port_free(previous.broker_port) and _port_free(previous.controller_port):
        broker_port, controller_port = previous.broker_port, previous.controller_port
    else:
        broker_port, controller_port = _free_port(), _free_port()
        while controller_port == broker_port:
            controller_port = _free_port()
    secure_ports: dict[str, int] = {}
    for protocol in secure.protocols() if secure is not None else []:
        port = _free_port()
        while port in (broker_port, controller_port, *secure_ports.values()):
            port = _free_port()
        secure_ports[protocol] = port
    data_dir, props = state_dir / "data", state_dir / PROPS_FILE
    props.write_text(server_properties(data_dir, broker_port, controller_port, secure, secure_ports))
    classpath = f"{libs}/*"
    log4j = DEPLOY_DIR / "log4j.properties"
    jvm = [java, "-Djava.awt.headless=true", f"-Dlog4j.configuration=file:{log4j}"]

    cluster_id = previous.cluster_id if previous and (data_dir / "meta.properties").is_file() else None
    if cluster_id is None:
        shutil.rmtree(data_dir, ignore_errors=True)
        cluster_id = new_cluster_id()
        fmt = [
            *jvm,
            "-cp",
            classpath,
            "kafka.tools.StorageTool",
            "format",
            "-t",
            cluster_id,
            "-c",
            str(props),
            *(secure.scram_arguments() if secure is not None else []),
        ]
        result = subprocess.run(fmt, capture_output=True, text=True)
        if result.returncode != 0:
            raise BrokerError(f"formatting KRaft storage failed:\n{(result.stdout + result.stderr)[-3000:]}")

    log_file = state_dir / LOG_FILE
    cmd = [*jvm, f"-Xmx{heap}", f"-Xms{heap}", "-XX:+UseG1GC", "-cp", classpath, "kafka.Kafka", str(props)]
    with open(log_file, "w") as out:
        proc = subprocess.Popen(
            cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    bootstrap = f"127.0.0.1:{broker_port}"
    state = BrokerState(
        pid=proc.pid,
        bootstrap=bootstrap,
        broker_port=broker_port,
        controller_port=controller_port,
        cluster_id=cluster_id,
        state_dir=str(state_dir),
        log_file=str(log_file),
        started_at=time.time(),
        listeners={p: f"127.0.0.1:{port}" for p, port in secure_ports.items()},
    )
    state.save()
    log(f"starting Kafka {KAFKA_VERSION} (pid {proc.pid}) on {bootstrap}; log: {log_file}")

    deadline = time.monotonic() + timeout
    while True:
        if proc.poll() is not None:
            raise BrokerError(
                f"the broker JVM exited with code {proc.returncode} during start-up; "
                f"last lines of {log_file}:\n{_log_tail(log_file)}"
            )
        if _port_open(broker_port) and _metadata_ok(bootstrap, timeout=2.0):
            break
        if time.monotonic() > deadline:
            _terminate(proc.pid, props, grace=10.0)
            raise BrokerError(
                f"the broker did not answer a metadata request within {timeout:.0f}s; "
                f"last lines of {log_file}:\n{_log_tail(log_file)}"
            )
        time.sleep(0.2)
    log(f"up in {time.monotonic() - t0:.1f}s: bootstrap {bootstrap}")
    return state


# ------------------------------------------------------------------------------------- stop


def _terminate(pid: int, props: Path, grace: float) -> None:
    """SIGTERM (Kafka shuts down cleanly), then SIGKILL after ``grace`` seconds."""
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        if not _alive(pid, props):
            return
        time.sleep(0.1)
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)
    for _ in range(50):
        if not _alive(pid, props):
            return
        time.sleep(0.1)


def stop(state_dir: Path | None = None, *, timeout: float = 30.0, log: Log = _say) -> bool:
    """Stop the broker of ``state_dir``; True if one was running. Data and topics are kept."""
    state_dir = Path(state_dir or default_state_dir()).resolve()
    state = running_state(state_dir)
    if state is None:
        log("not running")
        return False
    log(f"stopping pid {state.pid}...")
    started = time.monotonic()
    _terminate(state.pid, state_dir / PROPS_FILE, grace=timeout)
    log(f"stopped in {time.monotonic() - started:.1f}s")
    return True


# -------------------------------------------------------------------------------------- CLI


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("action", choices=("start", "stop", "status"), help="what to do")
    parser.add_argument(
        "--state-dir",
        type=Path,
        default=None,
        help="broker data/log/state directory (default: $MEDIASTAT_HOME/broker)",
    )
    parser.add_argument("--timeout", type=float, default=90.0, help="seconds to wait for start/stop")


def run(args: argparse.Namespace) -> int:
    try:
        if args.action == "start":
            start(args.state_dir, timeout=args.timeout)
            return 0
        if args.action == "stop":
            stop(args.state_dir, timeout=min(args.timeout, 30.0))
            return 0
    except BrokerError as exc:
        _say(f"error: {exc}")
        return 1
    state = running_state(args.state_dir)
    if state is None:
        print("not running")
        return 1
    print(
        f"running  pid {state.pid}  bootstrap {state.bootstrap}  "
        f"controller 127.0.0.1:{state.controller_port}  log {state.log_file}"
    )
    return 0
