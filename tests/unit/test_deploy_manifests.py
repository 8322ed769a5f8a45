"""The deployment files: the Dockerfile, deploy/compose/compose.yaml and the Kubernetes manifests in
deploy/k8s/. None of them is run here (no Docker engine, no cluster): they are checked offline against the
compose-spec JSON schema, the Kubernetes API schemas (``kubernetes-validate``), the operators' CRD schemas
kept in deploy/schemas/, hadolint, and the rules of the operations issue (non-root, read-only root file
system, probes, keys as secrets, only real settings). A missing tool or schema fails the run under
``LEDGER_REQUIRE_SERVICES=1`` (skips otherwise)."""

from __future__ import annotations

import functools
import re
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import fields
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml
from conftest import REPO, services_required

from ledger.config import Settings

DOCKERFILE = REPO / "Dockerfile"
DOCKERIGNORE = REPO / ".dockerignore"
COMPOSE = REPO / "deploy" / "compose" / "compose.yaml"
COMPOSE_PROMETHEUS = REPO / "deploy" / "compose" / "prometheus.yml"
SCHEMAS = REPO / "deploy" / "schemas"
COMPOSE_SCHEMA = SCHEMAS / "compose-spec.json"
CRDS = SCHEMAS / "crds"
K8S = REPO / "deploy" / "k8s"
OVERLAY = K8S / "overlays" / "example"
# The Kubernetes version whose API schemas (bundled in kubernetes-validate) the manifests must satisfy.
KUBERNETES_VERSION = "1.33.0"
# The kustomize the test renders with (scripts/test.sh builds it into .cache/tools from the Go proxy).
KUSTOMIZE_CACHED = REPO / ".cache" / "tools" / "kustomize"
LEDGER_COMMANDS = {"consume", "project", "serve"}
# Environment variables the manifests may set that are not ledger settings: libpq's password file and
# Python's switch for a read-only root file system.
NOT_SETTINGS = {"PGPASSFILE", "PYTHONDONTWRITEBYTECODE"}
SETTING_NAMES = {f.metadata["env"] for f in fields(Settings)}


def _missing(what: str) -> None:
    message = f"{what} is missing (scripts/setup.sh and scripts/test.sh install it)"
    if services_required():
        pytest.fail(message)
    pytest.skip(message)


def _tool(name: str, cached: Path | None = None) -> str:
    found = shutil.which(name) or shutil.which(name, path=str(REPO / ".venv" / "bin"))
    if found is None and cached is not None and cached.is_file():
        found = str(cached)
    if found is None:
        _missing(name)
    assert found is not None
    return found


# -- Dockerfile ---------------------------------------------------------------------------------------


def _stages() -> list[list[tuple[str, str]]]:
    """The Dockerfile's stages, each a list of (instruction, arguments), continuation lines joined."""
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text())
    stages: list[list[tuple[str, str]]] = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        word, _, rest = line.partition(" ")
        if word.upper() == "FROM":
            stages.append([])
        if stages:
            stages[-1].append((word.upper(), rest.strip()))
    return stages


def test_hadolint_accepts_the_dockerfile():
    done = subprocess.run(
        [_tool("hadolint"), str(DOCKERFILE)], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_image_is_built_in_stages_and_runs_as_a_numeric_non_root_user():
    stages = _stages()
    assert len(stages) >= 2, "the Dockerfile must build in one stage and run in another"
    final = stages[-1]
    users = [args for word, args in final if word == "USER"]
    assert users, "the final stage sets no USER"
    uid = users[-1].split(":")[0]
    assert uid.isdigit() and int(uid) != 0, f"USER {users[-1]} must be a numeric, non-root uid"


def test_the_final_image_holds_no_build_tools_and_installs_nothing_from_a_package_index():
    final = _stages()[-1]
    runs = " ".join(args for word, args in final if word == "RUN")
    for tool in ("apt-get", "apk ", "gcc", "build-essential", "make ", "pip install", "python -m build"):
        assert tool not in runs, f"the final stage runs {tool.strip()}"
    copies = [args for word, args in final if word == "COPY"]
    assert copies and all(args.startswith("--from=") for args in copies), (
        "the final stage copies only from the build stage (the installed wheel), never the source tree"
    )


def test_the_image_installs_the_wheel_that_carries_schemas_and_calendars():
    build = " ".join(args for word, args in _stages()[0] if word == "RUN")
    assert "python -m build --wheel" in build and ".whl" in build
    copied = " ".join(args for word, args in _stages()[0] if word == "COPY")
    # The wheel's package data: schemas/ (calendars included) through the links in ledger/_data.
    for source in ("schemas/", "tools/", "ledger/", "projections/", "consumers/", "pyproject.toml"):
        assert source in copied, f"the build stage does not copy {source}"
    assert (REPO / "schemas" / "calendars").is_dir()


def test_the_build_context_admits_what_the_dockerfile_copies():
    lines = [
        line.strip() for line in DOCKERIGNORE.read_text().splitlines() if line.strip() and line[0] != "#"
    ]
    assert lines[0] == "*", ".dockerignore starts by leaving everything out"
    admitted = {line[1:].rstrip("/") for line in lines if line.startswith("!")}
    for word, args in _stages()[0]:
        if word == "COPY" and not args.startswith("--from="):
            for source in args.split()[:-1]:
                assert source.rstrip("/") in admitted, f"{source} is copied but .dockerignore leaves it out"


def test_the_image_has_a_health_check_on_the_ops_port_and_writable_paths_only_under_volumes():
    final = dict(_stages()[-1])
    assert "/healthz" in final["HEALTHCHECK"]
    env = " ".join(args for word, args in _stages()[-1] if word == "ENV")
    for setting in ("PYTHONDONTWRITEBYTECODE=1", "LEDGER_METRICS_HOST=0.0.0.0", "LEDGER_VAR_DIR="):
        assert setting in env
    names = set(re.findall(r"\b([A-Z][A-Z0-9_]+)=", env)) - {"PATH", "PYTHONUNBUFFERED"}
    assert names - NOT_SETTINGS <= SETTING_NAMES, names - NOT_SETTINGS - SETTING_NAMES


# -- compose -------------------------------------------------------------------------------------------


@functools.cache
def _compose() -> dict[str, Any]:
    doc = yaml.safe_load(COMPOSE.read_text())
    assert isinstance(doc, dict)
    return doc


def _command(service: dict[str, Any]) -> str | None:
    command = service.get("command")
    if isinstance(command, list) and command:
        return str(command[0])
    return None


def test_the_compose_file_validates_against_the_compose_spec_schema():
    if not COMPOSE_SCHEMA.is_file():
        _missing(str(COMPOSE_SCHEMA))
    done = subprocess.run(
        [_tool("check-jsonschema"), "--schemafile", str(COMPOSE_SCHEMA), str(COMPOSE)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_compose_runs_kraft_kafka_postgres_two_consumers_project_serve_prometheus_and_grafana():
    services = _compose()["services"]
    kafka = services["kafka"]
    assert kafka["image"].startswith("apache/kafka:")
    assert "controller" in kafka["environment"]["KAFKA_PROCESS_ROLES"]
    assert not any(name.startswith("KAFKA_ZOOKEEPER") for name in kafka["environment"])
    assert services["postgres"]["image"].startswith("postgres:")
    by_command: dict[str, int] = {}
    for service in services.values():
        command = _command(service)
        if command in LEDGER_COMMANDS:
            by_command[command] = by_command.get(command, 0) + service.get("deploy", {}).get("replicas", 1)
    assert by_command == {"consume": 2, "project": 1, "serve": 1}
    assert services["prometheus"]["image"].startswith("prom/prometheus:")
    assert services["grafana"]["image"].startswith("grafana/grafana:")


def _ledger_services() -> dict[str, dict[str, Any]]:
    return {name: s for name, s in _compose()["services"].items() if _command(s) in LEDGER_COMMANDS}


def test_compose_gives_the_keys_as_secrets_never_as_environment_values():
    doc = _compose()
    for name, service in _ledger_services().items():
        env = service["environment"]
        targets = {s["source"]: s["target"] for s in service["secrets"]}
        assert env["LEDGER_MASTER_KEY_FILE"] == targets["master_key"], name
        assert env["LEDGER_SIGNING_KEY_FILE"] == targets["signing_key"], name
        assert env["PGPASSFILE"] == targets["pgpass"], name
        assert urlsplit(env["LEDGER_DATABASE_URL"]).password is None, f"{name}: a password in the URL"
    for name, service in doc["services"].items():
        for key, value in (service.get("environment") or {}).items():
            assert not re.search(r"PASSWORD$|_KEY$|SECRET", key) or key.endswith("_FILE"), (name, key)
            assert "PRIVATE+KEY" not in str(value), (name, key)
    assert all("file" in secret for secret in doc["secrets"].values())


def test_compose_publishes_only_the_api_prometheus_and_grafana_and_only_on_loopback():
    published = {}
    for name, service in _compose()["services"].items():
        for port in service.get("ports", []):
            assert isinstance(port, dict), f"{name}: use the long port syntax (host_ip stated)"
            assert port.get("host_ip") == "127.0.0.1", f"{name} publishes {port} beyond the loopback"
            published[name] = port["target"]
    assert published == {"serve": 8000, "prometheus": 9090, "grafana": 3000}


def test_compose_runs_the_ledger_read_only_as_non_root_with_the_witness_on_a_shared_volume():
    for name, service in _ledger_services().items():
        assert service["read_only"] is True, name
        assert service["user"].split(":")[0] not in {"0", "root"}, name
        assert service["cap_drop"] == ["ALL"], name
        env = service["environment"]
        assert env["LEDGER_METRICS_HOST"] == "0.0.0.0", name
        witness = env["LEDGER_CHECKPOINT_WITNESS_DIR"]
        mounts = {v.split(":")[1]: v.split(":")[0] for v in service["volumes"]}
        assert any(witness.startswith(target) and mounts[target] == "witness" for target in mounts), name


def test_compose_sets_only_real_ledger_settings():
    for name, service in _ledger_services().items():
        names = set(service["environment"])
        assert names - NOT_SETTINGS <= SETTING_NAMES, (name, names - NOT_SETTINGS - SETTING_NAMES)


def test_compose_provisions_the_ledger_rules_and_dashboard_and_promtool_accepts_its_scrape_config(
    tmp_path: Path,
):
    services = _compose()["services"]
    base = COMPOSE.parent
    for name in ("prometheus", "grafana"):
        for volume in services[name]["volumes"]:
            source = volume.split(":")[0]
            if source.startswith("."):
                assert (base / source).exists(), f"{name} mounts {source}, which does not exist"
    mounted = " ".join(services["prometheus"]["volumes"] + services["grafana"]["volumes"])
    assert "../prometheus/ledger-rules.yml" in mounted and "../grafana/ledger.json" in mounted
    shutil.copy(COMPOSE_PROMETHEUS, tmp_path / "prometheus.yml")
    shutil.copy(REPO / "deploy" / "prometheus" / "ledger-rules.yml", tmp_path / "ledger-rules.yml")
    done = subprocess.run(
        [_tool("promtool"), "check", "config", "prometheus.yml"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    jobs = {job["job_name"] for job in yaml.safe_load(COMPOSE_PROMETHEUS.read_text())["scrape_configs"]}
    assert jobs == {"ledger-consume", "ledger-project", "ledger-serve"}


# -- Kubernetes ------------------------------------------------------------------------------------------


@functools.cache
def _rendered() -> tuple[dict[str, Any], ...]:
    kustomize = _tool("kustomize", KUSTOMIZE_CACHED)
    done = subprocess.run(
        [kustomize, "build", str(OVERLAY)], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    return tuple(doc for doc in yaml.safe_load_all(done.stdout) if doc)


def _objects(kind: str) -> list[dict[str, Any]]:
    return [doc for doc in _rendered() if doc["kind"] == kind]


def _deployments() -> dict[str, dict[str, Any]]:
    return {d["spec"]["template"]["spec"]["containers"][0]["args"][0]: d for d in _objects("Deployment")}


def _containers(deployment: dict[str, Any]) -> Iterator[dict[str, Any]]:
    spec = deployment["spec"]["template"]["spec"]
    yield from spec.get("initContainers", [])
    yield from spec["containers"]


def test_every_kubernetes_object_validates_against_the_pinned_kubernetes_schemas():
    try:
        import kubernetes_validate  # type: ignore[import-untyped]
    except ImportError:
        _missing("kubernetes-validate")
    custom = {"kafka.strimzi.io/v1", "postgresql.cnpg.io/v1"}
    checked = 0
    for doc in _rendered():
        if doc["apiVersion"] in custom:
            continue
        try:
            kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)
        except kubernetes_validate.ValidationError as exc:
            pytest.fail(f"{doc['kind']} {doc['metadata']['name']}: {exc.message} at {list(exc.path)}")
        checked += 1
    assert checked >= 10


def _crd_schemas() -> dict[tuple[str, str], dict[str, Any]]:
    schemas = {}
    files = sorted(CRDS.glob("*.yaml"))
    if not files:
        _missing(f"the operators' CRDs in {CRDS}")
    for path in files:
        crd = yaml.safe_load(path.read_text())
        group, kind = crd["spec"]["group"], crd["spec"]["names"]["kind"]
        for version in crd["spec"]["versions"]:
            schemas[(f"{group}/{version['name']}", kind)] = version["schema"]["openAPIV3Schema"]
    return schemas


def _crd_errors(doc: dict[str, Any], schema: dict[str, Any]) -> list[str]:
    import jsonschema

    # A CRD's openAPIV3Schema is OpenAPI 3.0 with Kubernetes extensions (x-kubernetes-*), which JSON
    # Schema's draft 4 vocabulary reads as it is meant; unknown fields are refused as the API server's
    # pruning would drop them (structural schemas: no additionalProperties means none allowed).
    def closed(node: Any) -> Any:
        if isinstance(node, dict):
            node = {k: closed(v) for k, v in node.items()}
            if (
                node.get("type") == "object"
                and "properties" in node
                and "additionalProperties" not in node
                and not node.get("x-kubernetes-preserve-unknown-fields")
            ):
                node["additionalProperties"] = False
            return node
        if isinstance(node, list):
            return [closed(v) for v in node]
        return node

    strict = closed(schema)
    strict["properties"]["metadata"] = {"type": "object"}
    validator = jsonschema.Draft4Validator(strict)
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(doc)]


def test_strimzi_kafka_and_topics_and_the_cloudnative_pg_cluster_validate_against_their_crds():
    schemas = _crd_schemas()
    kinds = set()
    for doc in _rendered():
        key = (doc["apiVersion"], doc["kind"])
        if doc["apiVersion"].split("/")[0] in {"kafka.strimzi.io", "postgresql.cnpg.io"}:
            assert key in schemas, f"no CRD schema kept for {key}"
            errors = _crd_errors(doc, schemas[key])
            assert not errors, f"{doc['kind']} {doc['metadata']['name']}: {errors}"
            kinds.add(doc["kind"])
    assert {"Kafka", "KafkaNodePool", "KafkaTopic", "Cluster"} <= kinds
    kafka = _objects("Kafka")[0]
    assert "zookeeper" not in kafka["spec"]
    topics = {t["spec"]["topicName"] for t in _objects("KafkaTopic")}
    assert {"privacy.events.v1", "privacy.events.dlq"} <= topics


def test_consume_project_and_serve_deployments_probe_healthz_and_readyz_and_request_resources():
    deployments = _deployments()
    assert set(deployments) == LEDGER_COMMANDS
    assert deployments["consume"]["spec"]["replicas"] == 2
    for command, deployment in deployments.items():
        main = deployment["spec"]["template"]["spec"]["containers"][0]
        assert main["livenessProbe"]["httpGet"]["path"] == "/healthz", command
        assert main["readinessProbe"]["httpGet"]["path"] == "/readyz", command
        ports = {p["name"]: p["containerPort"] for p in main["ports"]}
        assert main["livenessProbe"]["httpGet"]["port"] in ports, command
        for container in _containers(deployment):
            requests = container["resources"]["requests"]
            assert requests.get("cpu") and requests.get("memory"), (command, container["name"])


def test_ledger_pods_run_non_root_on_a_read_only_root_without_privilege_escalation_or_capabilities():
    for command, deployment in _deployments().items():
        pod = deployment["spec"]["template"]["spec"]
        assert pod["securityContext"].get("runAsNonRoot") is True, command
        assert pod.get("automountServiceAccountToken") is False, command
        for container in _containers(deployment):
            context = container["securityContext"]
            where = (command, container["name"])
            assert context.get("runAsNonRoot") is True, where
            assert context.get("readOnlyRootFilesystem") is True, where
            assert context.get("allowPrivilegeEscalation") is False, where
            assert context.get("capabilities", {}).get("drop") == ["ALL"], where


def test_every_deployment_has_a_pod_disruption_budget():
    budgets = [b["spec"]["selector"]["matchLabels"] for b in _objects("PodDisruptionBudget")]
    for command, deployment in _deployments().items():
        labels = deployment["spec"]["template"]["metadata"]["labels"]
        assert any(budget.items() <= labels.items() for budget in budgets), f"no PDB selects {command}"


def test_network_policies_deny_by_default_and_admit_only_the_api_and_the_ops_port_to_the_ledger():
    policies = _objects("NetworkPolicy")
    deny = [
        p
        for p in policies
        if p["spec"]["podSelector"] == {}
        and set(p["spec"]["policyTypes"]) == {"Ingress", "Egress"}
        and "ingress" not in p["spec"]
        and "egress" not in p["spec"]
    ]
    assert deny, "no default-deny NetworkPolicy"
    admitted: set[int] = set()
    for policy in policies:
        selector = policy["spec"]["podSelector"].get("matchLabels", {})
        if selector.get("app.kubernetes.io/name") == "privacy-ledger":
            for rule in policy["spec"].get("ingress", []):
                admitted |= {port["port"] for port in rule["ports"]}
    assert admitted == {8000, 9464}


def test_the_master_and_signing_keys_come_from_secrets_and_reach_the_ledger_as_private_files():
    secrets = {s["metadata"]["name"] for s in _objects("Secret")}
    assert {"ledger-master-key", "ledger-signing-key"} <= secrets
    for command, deployment in _deployments().items():
        pod = deployment["spec"]["template"]["spec"]
        sources = [
            source["secret"]["name"]
            for volume in pod["volumes"]
            if "projected" in volume
            for source in volume["projected"]["sources"]
        ]
        assert {"ledger-master-key", "ledger-signing-key"} <= set(sources), command
        env = _environment(deployment)
        assert env["LEDGER_MASTER_KEY_FILE"].startswith("/run/ledger-keys/"), command
        assert env["LEDGER_SIGNING_KEY_FILE"].startswith("/run/ledger-keys/"), command
        init = " ".join(pod["initContainers"][0]["command"])
        assert "-m 0400" in init and "master.key" in init and "signing.key" in init, command
        for container in _containers(deployment):
            for item in container.get("env", []):
                assert "value" not in item or "PRIVATE+KEY" not in item["value"], command


def _environment(deployment: dict[str, Any]) -> dict[str, str]:
    """The environment of a Deployment's ledger container: its ConfigMaps, then its own env."""
    config_maps = {c["metadata"]["name"]: c["data"] for c in _objects("ConfigMap")}
    main = deployment["spec"]["template"]["spec"]["containers"][0]
    env: dict[str, str] = {}
    for source in main.get("envFrom", []):
        env.update(config_maps[source["configMapRef"]["name"]])
    env.update({item["name"]: item.get("value", "") for item in main.get("env", [])})
    return env


def test_the_kubernetes_manifests_set_only_real_ledger_settings_and_listen_beyond_loopback():
    for command, deployment in _deployments().items():
        env = _environment(deployment)
        unknown = set(env) - NOT_SETTINGS - SETTING_NAMES
        assert not unknown, (command, unknown)
        assert env["LEDGER_METRICS_HOST"] == "0.0.0.0", command
        if command == "serve":
            assert env["LEDGER_WEB_HOST"] == "0.0.0.0"
            assert env["LEDGER_WEB_FORWARDED_ALLOW_IPS"] == "10.42.0.0/16", "the overlay's proxy addresses"


def test_every_signer_keeps_the_witness_copy_on_the_one_persistent_volume():
    claims = {c["metadata"]["name"]: c for c in _objects("PersistentVolumeClaim")}
    for command, deployment in _deployments().items():
        pod = deployment["spec"]["template"]["spec"]
        env = _environment(deployment)
        volumes = {v["name"]: v for v in pod["volumes"]}
        mounts = {m["mountPath"]: m["name"] for m in pod["containers"][0]["volumeMounts"]}
        witness = _volume_holding(env["LEDGER_CHECKPOINT_WITNESS_DIR"], mounts)
        assert witness, f"{command}: the witness folder is on the read-only root"
        claim = volumes[witness].get("persistentVolumeClaim", {}).get("claimName")
        assert claim in claims, f"{command}: the witness folder is not on a persistent volume"
        assert "ReadWriteMany" in claims[claim]["spec"]["accessModes"], command
        assert _volume_holding(env["LEDGER_VAR_DIR"], mounts), command
        assert "/tmp" in mounts, command


def _volume_holding(path: str, mounts: dict[str, str]) -> str | None:
    """The volume mounted deepest above ``path`` (``mounts``: mount path -> volume), or None."""
    above = [p for p in mounts if path == p or path.startswith(p.rstrip("/") + "/")]
    return mounts[max(above, key=len)] if above else None
