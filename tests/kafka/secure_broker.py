"""A private Kafka with SASL/SCRAM and TLS listeners for the security tests, and the CA they trust.

The certificates are made with ``keytool``, which ships with the Java the local broker needs anyway:
a throw-away CA, and a broker certificate it signs for ``127.0.0.1``/``localhost`` (so clients verify
the host name, as librdkafka does by default). The broker gets a PKCS12 keystore; clients get the
CA as a PEM file (``ssl.ca.location``).
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

USERS = {"alice": "alice-secret", "bob": "bob-secret"}
STORE_PASSWORD = "broker-store-secret"


class NoKeytool(RuntimeError):
    pass


def _keytool(*args: str) -> None:
    keytool = shutil.which("keytool")
    if keytool is None:
        raise NoKeytool("keytool not found (it comes with Java 17)")
    done = subprocess.run([keytool, *args], capture_output=True, text=True, timeout=120)
    if done.returncode != 0:
        raise RuntimeError(f"keytool {' '.join(args[:1])} failed: {done.stdout}{done.stderr}")


def make_certificates(directory: Path) -> tuple[Path, Path]:
    """(the CA certificate as PEM, the broker's PKCS12 keystore protected by :data:`STORE_PASSWORD`)."""
    directory.mkdir(parents=True, exist_ok=True)
    ca_store, ca_pem = directory / "ca.p12", directory / "ca.pem"
    broker_store, csr, signed = directory / "broker.p12", directory / "broker.csr", directory / "broker.pem"
    common = ["-storetype", "PKCS12", "-storepass", STORE_PASSWORD, "-keypass", STORE_PASSWORD]
    _keytool(
        "-genkeypair", "-alias", "ca", "-keyalg", "RSA", "-keysize", "2048", "-validity", "3",
        "-dname", "CN=mediastat test CA", "-ext", "bc:c", "-keystore", str(ca_store), *common,
    )  # fmt: skip
    _keytool("-exportcert", "-rfc", "-alias", "ca", "-file", str(ca_pem), "-keystore", str(ca_store), *common)
    _keytool(
        "-genkeypair", "-alias", "broker", "-keyalg", "RSA", "-keysize", "2048", "-validity", "3",
        "-dname", "CN=localhost", "-keystore", str(broker_store), *common,
    )  # fmt: skip
    _keytool("-certreq", "-alias", "broker", "-file", str(csr), "-keystore", str(broker_store), *common)
    _keytool(
        "-gencert", "-rfc", "-alias", "ca", "-infile", str(csr), "-outfile", str(signed), "-validity", "3",
        "-ext", "SAN=ip:127.0.0.1,dns:localhost", "-keystore", str(ca_store), *common,
    )  # fmt: skip
    _keytool(
        "-importcert", "-noprompt", "-alias", "ca", "-file", str(ca_pem), "-keystore", str(broker_store),
        *common,
    )  # fmt: skip
    _keytool("-importcert", "-alias", "broker", "-file", str(signed), "-keystore", str(broker_store), *common)
    return ca_pem, broker_store


@dataclass(frozen=True)
class SecureKafka:
    """The addresses of one private broker's listeners, and what a client needs to use them."""

    plaintext: str
    sasl_plaintext: str
    ssl: str
    sasl_ssl: str
    ca: Path
    workdir: Path

    def properties_file(self, name: str, lines: dict[str, str]) -> Path:
        """A client properties file (``key=value`` lines) in the work directory."""
        path = self.workdir / name
        path.write_text("".join(f"{k}={v}\n" for k, v in lines.items()))
        return path


def start_secure_kafka(workdir: Path):
    """Certificates, then a private broker with SASL_PLAINTEXT, SSL and SASL_SSL listeners (and
    PLAINTEXT, which the tests use to look at topics behind the clients' backs). Returns the
    :class:`SecureKafka` and the broker's state directory (for :func:`pipeline.kafka.broker.stop`)."""
    from pipeline.kafka import broker

    ca, keystore = make_certificates(workdir / "certs")
    state_dir = workdir / "broker"
    secure = broker.SecureListeners(scram_users=USERS, keystore=keystore, keystore_password=STORE_PASSWORD)
    state = broker.start(state_dir, timeout=120, heap="512m", secure=secure)
    listeners = state.listeners
    kafka = SecureKafka(
        plaintext=state.bootstrap,
        sasl_plaintext=listeners["SASL_PLAINTEXT"],
        ssl=listeners["SSL"],
        sasl_ssl=listeners["SASL_SSL"],
        ca=ca,
        workdir=workdir,
    )
    return kafka, state_dir
