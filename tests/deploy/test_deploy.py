"""The deployment files, checked without a Docker engine or a cluster (none exists here).

- ``deploy/k8s/*.yaml`` validate (strictly: no unknown field) with ``kubernetes-validate`` against
  its newest bundled Kubernetes version, and hold what a worker needs: a StatefulSet with a PVC for
  RocksDB, a headless Service, the ConfigMap's ``stats.yaml`` (a configuration the worker accepts),
  the SASL Secret, probes on ``/health``, resource requests, a non-root user;
- ``docker-compose.yml`` validates against the Compose specification's JSON schema (vendored in
  ``tests/deploy/compose-spec.json``, source in ``compose-spec.SOURCE``): apache/kafka in KRaft,
  the topics init, the worker and the simulator;
- every mediastat command in them parses with today's CLI (an option renamed breaks this test,
  not a deployment);
- ``deploy/Dockerfile`` runs as a non-root user with a ``/health`` healthcheck and installs
  ``deploy/requirements.txt``, whose pins are all exact and satisfy ``pyproject.toml``'s.
"""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path

import jsonschema
import kubernetes_validate
import pytest
import yaml
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from pipeline.cli import build_parser
from pipeline.stats.config import parse_config

REPO = Path(__file__).resolve().parents[2]
K8S = REPO / "deploy" / "k8s"
K8S_VERSION = "1.37.0"
SECRET_KEYS = {
    "KAFKA_SECURITY_PROTOCOL", "KAFKA_SASL_MECHANISM", "KAFKA_SASL_USERNAME", "KAFKA_SASL_PASSWORD"
}


def manifests() -> dict[str, dict]:
    """Every resource of deploy/k8s by kind."""
    out = {}
    for path in sorted(K8S.glob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text()):
            if doc:
                out[doc["kind"]] = doc
    return out


@pytest.mark.parametrize("path", sorted(K8S.glob("*.yaml")), ids=lambda p: p.name)
def test_every_manifest_is_a_valid_kubernetes_resource(path: Path) -> None:
    for doc in yaml.safe_load_all(path.read_text()):
        kubernetes_validate.validate(doc, K8S_VERSION, strict=True)


def test_the_validator_refuses_a_broken_manifest() -> None:
    """The check above can fail: a misspelt field and a wrong type are refused."""
    statefulset = manifests()["StatefulSet"]
    broken = json.loads(json.dumps(statefulset))
    broken["spec"]["replica"] = 1
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, K8S_VERSION, strict=True)
    broken = json.loads(json.dumps(statefulset))
    broken["spec"]["replicas"] = "one"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, K8S_VERSION, strict=True)


def _container(doc: dict) -> dict:
    (container,) = doc["spec"]["template"]["spec"]["containers"]
    return container


def test_the_manifests_hold_what_a_worker_needs() -> None:
    kinds = manifests()
    assert {"StatefulSet", "Service", "ConfigMap", "Secret", "Job"} <= set(kinds)
    sts, svc = kinds["StatefulSet"], kinds["Service"]
    assert svc["spec"]["clusterIP"] == "None" and sts["spec"]["serviceName"] == svc["metadata"]["name"]
    (claim,) = sts["spec"]["volumeClaimTemplates"]
    worker = _container(sts)
    mounts = {m["name"]: m["mountPath"] for m in worker["volumeMounts"]}
    assert mounts[claim["metadata"]["name"]] == "/var/lib/mediastat"  # RocksDB on the claim
    args = worker["args"]
    assert args[args.index("--data-dir") + 1].startswith(mounts[claim["metadata"]["name"]])
    for probe in ("livenessProbe", "readinessProbe"):
        assert worker[probe]["httpGet"]["path"] == "/health"
        port = worker[probe]["httpGet"]["port"]
        assert port in {p["name"] for p in worker["ports"]} | {p["containerPort"] for p in worker["ports"]}
    assert args[args.index("--web-host") + 1] == "0.0.0.0"  # reachable by the kubelet's probes
    assert worker["resources"]["requests"]["cpu"] and worker["resources"]["requests"]["memory"]
    pod = sts["spec"]["template"]["spec"]["securityContext"]
    assert pod["runAsNonRoot"] and pod["runAsUser"] != 0
    assert set(kinds["Secret"]["stringData"]) == SECRET_KEYS
    secrets = [e["secretRef"]["name"] for e in worker["envFrom"] if "secretRef" in e]
    assert secrets == [kinds["Secret"]["metadata"]["name"]]
    config = args[args.index("--config") + 1]
    assert Path(config).name in kinds["ConfigMap"]["data"]
    stats = parse_config(yaml.safe_load(kinds["ConfigMap"]["data"]["stats.yaml"]), "configmap stats.yaml")
    assert stats.statistics


def compose() -> dict:
    return yaml.safe_load((REPO / "docker-compose.yml").read_text())


def compose_validator() -> jsonschema.Draft7Validator:
    schema = json.loads((Path(__file__).parent / "compose-spec.json").read_text())
    return jsonschema.Draft7Validator(schema)


def test_the_compose_file_follows_the_compose_specification() -> None:
    validator = compose_validator()
    errors = [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(compose())]
    assert errors == []
    broken = compose()
    broken["services"]["worker"]["restart"] = ["always"]
    broken["services"]["worker"]["depends_on"] = {"topics": {"condition": "sometimes"}}
    assert len(list(validator.iter_errors(broken))) >= 2  # the schema does refuse things


def test_the_compose_file_runs_kafka_in_kraft_with_topics_worker_and_simulator() -> None:
    services = compose()["services"]
    assert services["kafka"]["image"].startswith("apache/kafka:")
    assert "controller" in services["kafka"]["environment"]["KAFKA_PROCESS_ROLES"]
    assert services["topics"]["command"][0] == "topics"
    assert services["worker"]["depends_on"]["topics"]["condition"] == "service_completed_successfully"
    assert services["worker"]["command"][0] == "worker" and services["simulator"]["command"][:2] == [
        "simulate", "--live"
    ]


def commands() -> list[list[str]]:
    """Every mediastat command line in the compose file, the manifests and the Dockerfile's CMD."""
    out = [s["command"] for s in compose()["services"].values() if s.get("image", "").startswith("mediastat")]
    out += [_container(d)["args"] for d in manifests().values() if d["kind"] in ("StatefulSet", "Job")]
    cmd = re.search(r"^CMD (\[.*\])$", (REPO / "deploy/Dockerfile").read_text(), re.M)
    assert cmd
    out.append(json.loads(cmd.group(1)))
    return out


def test_every_deployed_command_parses_with_todays_cli(capsys) -> None:
    found = commands()
    assert len(found) == 6
    parser = build_parser()
    for argv in found:
        args = parser.parse_args(argv)
        assert args.command == argv[0]
    with pytest.raises(SystemExit):
        parser.parse_args(["worker", "--no-such-option"])


def dockerfile() -> str:
    return (REPO / "deploy/Dockerfile").read_text()


def test_the_image_runs_as_a_non_root_user_with_a_health_check() -> None:
    text = dockerfile()
    users = re.findall(r"^USER (\S+)", text, re.M)
    assert users and users[-1].split(":")[0] not in ("root", "0")
    (health,) = re.findall(r"^HEALTHCHECK .*?CMD (.*)$", text, re.M | re.S)
    assert "/health" in health and "8642" in health
    assert "--web-port\", \"8642\"" in text  # the port the check asks
    assert "pip install --no-cache-dir --no-deps -r requirements.txt" in text
    assert "COPY deploy/requirements.txt" in text


def locked() -> dict[str, tuple[str, Requirement]]:
    out = {}
    for line in (REPO / "deploy/requirements.txt").read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            req = Requirement(line)
            assert str(req.specifier).startswith("==") and len(req.specifier) == 1, line
            out[canonicalize_name(req.name)] = (str(req.specifier)[2:], req)
    return out


def test_the_images_pins_are_exact_and_satisfy_pyproject() -> None:
    pins = locked()
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    for text in project["dependencies"]:
        wanted = Requirement(text)
        name = canonicalize_name(wanted.name)
        assert name in pins, f"{wanted.name} is in pyproject.toml but not pinned in deploy/requirements.txt"
        version, req = pins[name]
        assert wanted.specifier.contains(version), f"{name}=={version} does not satisfy {wanted}"
        assert set(wanted.extras) <= set(req.extras), f"{name}: extras {wanted.extras} missing"


#: The image's platform: markers of the closure are evaluated for it, whatever runs the test.
IMAGE_ENV = {
    "python_version": "3.11",
    "python_full_version": "3.11.13",
    "sys_platform": "linux",
    "platform_system": "Linux",
    "os_name": "posix",
    "implementation_name": "cpython",
    "platform_python_implementation": "CPython",
    "platform_machine": "x86_64",
}


def installed_closure(requirements: list[str]) -> dict[str, set[str]]:
    """Every distribution ``requirements`` pull in (with the extras asked of it), read from the
    installed packages' metadata: what the image needs, as this environment resolved it."""
    from importlib.metadata import distribution

    seen: dict[str, set[str]] = {}
    todo = [Requirement(text) for text in requirements]
    while todo:
        req = todo.pop()
        name = canonicalize_name(req.name)
        if name in seen and set(req.extras) <= seen[name]:
            continue
        seen[name] = seen.get(name, set()) | set(req.extras)
        for text in distribution(req.name).requires or []:
            sub = Requirement(text)
            extras = [""] + sorted(seen[name])
            if sub.marker is None or any(sub.marker.evaluate({**IMAGE_ENV, "extra": e}) for e in extras):
                todo.append(sub)
    return seen


def test_the_images_pins_hold_the_whole_runtime_closure() -> None:
    """A dependency added to pyproject.toml (or an extra, which brings its own) must reach the image:
    with --no-deps, a package missing from the list is missing at run time."""
    pins = locked()
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    missing = sorted(set(installed_closure(project["dependencies"])) - set(pins))
    assert missing == [], f"not pinned in deploy/requirements.txt: {missing}"
