"""Structural checks of the Kubernetes manifests in deploy/k8s.

There is no cluster in CI: the manifests are parsed with PyYAML and checked for what the
deployment relies on (probes on declared ports, non-root read-only containers, settings
that exist, the Secret keys the pods read). `kubectl kustomize` renders the kustomization
when kubectl is installed.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from service import settings as settings_module
from service.settings import ServiceSettings, TokenSpec

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "deploy" / "k8s"
NAMESPACE = "distillwatch"
SCRAPE_JOBS = {
    "distillwatch-service",
    "distillwatch-worker",
    "distillwatch-sinks",
    "distillwatch-scorer",
}


def settings_env_names() -> set[str]:
    """Every ``DISTILLWATCH_*`` variable the settings read (fields + secrets dir)."""
    names = {f"DISTILLWATCH_{name.upper()}" for name in ServiceSettings.model_fields}
    secrets_env = getattr(settings_module, "SECRETS_DIR_ENV", None)
    if secrets_env:
        names.add(secrets_env)
    return names


def _load(path: Path) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc]


@pytest.fixture(scope="module")
def kustomization() -> dict[str, Any]:
    return yaml.safe_load((K8S / "kustomization.yaml").read_text())


@pytest.fixture(scope="module")
def objects(kustomization: dict[str, Any]) -> list[dict[str, Any]]:
    docs: list[dict[str, Any]] = []
    for name in kustomization["resources"]:
        docs.extend(_load(K8S / name))
    return docs


def _by_kind(objects: list[dict[str, Any]], kind: str) -> dict[str, dict[str, Any]]:
    return {o["metadata"]["name"]: o for o in objects if o["kind"] == kind}


@pytest.fixture(scope="module")
def deployments(objects: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return _by_kind(objects, "Deployment")


@pytest.fixture(scope="module")
def secret(objects: list[dict[str, Any]]) -> dict[str, Any]:
    (only,) = _by_kind(objects, "Secret").values()
    return only


def _containers(dep: dict[str, Any]) -> list[dict[str, Any]]:
    return dep["spec"]["template"]["spec"]["containers"]


def test_kustomization_lists_every_manifest(kustomization: dict[str, Any]) -> None:
    listed = kustomization["resources"]
    on_disk = sorted(p.name for p in K8S.glob("*.yaml") if p.name != "kustomization.yaml")
    assert sorted(listed) == on_disk
    assert kustomization["namespace"] == NAMESPACE


def test_expected_objects(objects: list[dict[str, Any]]) -> None:
    kinds = sorted(o["kind"] for o in objects)
    assert kinds == [
        "ConfigMap",
        "Deployment",
        "Deployment",
        "Deployment",
        "Deployment",
        "Namespace",
        "Secret",
        "Service",
    ]
    for o in objects:
        if o["kind"] != "Namespace":
            assert o["metadata"]["namespace"] == NAMESPACE, o["metadata"]["name"]
    assert not [o for o in objects if o["kind"] == "StatefulSet"]  # Redis is external


def test_replicas(deployments: dict[str, dict[str, Any]]) -> None:
    # one service replica: dashboard sessions are in process memory (issue 13)
    assert deployments["distillwatch-service"]["spec"]["replicas"] == 1
    assert deployments["distillwatch-worker"]["spec"]["replicas"] == 2
    assert deployments["distillwatch-sinks"]["spec"]["replicas"] == 1
    # the population job: one dedicated scorer (workers take over its lease if it is gone)
    assert deployments["distillwatch-scorer"]["spec"]["replicas"] == 1
    text = (K8S / "service-deployment.yaml").read_text()
    assert "issue 13" in text and "sessions" in text


def test_commands(deployments: dict[str, dict[str, Any]]) -> None:
    roles = (("service", "serve"), ("worker", "worker"), ("sinks", "sinks"), ("scorer", "scorer"))
    for name, role in roles:
        (container,) = _containers(deployments[f"distillwatch-{name}"])
        assert container["args"] == [role]


def test_selectors_match_pod_labels(
    objects: list[dict[str, Any]], deployments: dict[str, dict[str, Any]]
) -> None:
    for name, dep in deployments.items():
        selector = dep["spec"]["selector"]["matchLabels"]
        labels = dep["spec"]["template"]["metadata"]["labels"]
        assert selector.items() <= labels.items(), name
    (svc,) = _by_kind(objects, "Service").values()
    service_pods = deployments["distillwatch-service"]["spec"]["template"]["metadata"]["labels"]
    assert svc["spec"]["selector"].items() <= service_pods.items()
    for other in ("distillwatch-worker", "distillwatch-sinks", "distillwatch-scorer"):
        pods = deployments[other]["spec"]["template"]["metadata"]["labels"]
        assert not svc["spec"]["selector"].items() <= pods.items(), other
    (container,) = _containers(deployments["distillwatch-service"])
    port_names = {p["name"] for p in container["ports"]}
    for port in svc["spec"]["ports"]:
        assert port["targetPort"] in port_names | {p["containerPort"] for p in container["ports"]}


def _declared_port(container: dict[str, Any], port: str | int) -> int:
    for p in container.get("ports", []):
        if port in (p.get("name"), p["containerPort"]):
            return int(p["containerPort"])
    raise AssertionError(f"probe port {port} is not a declared containerPort")


def test_probes_hit_health_endpoints_on_declared_ports(
    deployments: dict[str, dict[str, Any]],
) -> None:
    expected_port = {
        "distillwatch-service": 8000,
        "distillwatch-worker": 9100,
        "distillwatch-sinks": 9100,
        "distillwatch-scorer": 9100,
    }
    for name, dep in deployments.items():
        (container,) = _containers(dep)
        ready = container["readinessProbe"]["httpGet"]
        live = container["livenessProbe"]["httpGet"]
        assert ready["path"] == "/readyz", name
        assert live["path"] == "/healthz", name
        assert _declared_port(container, ready["port"]) == expected_port[name]
        assert _declared_port(container, live["port"]) == expected_port[name]


def test_security_context(deployments: dict[str, dict[str, Any]]) -> None:
    for name, dep in deployments.items():
        pod = dep["spec"]["template"]["spec"]
        psc = pod["securityContext"]
        assert psc["runAsNonRoot"] is True, name
        assert psc["runAsUser"] == 10001  # the image's user
        assert psc["seccompProfile"]["type"] == "RuntimeDefault"
        assert pod.get("automountServiceAccountToken") is False
        mounted_tmp = {v["name"] for v in pod["volumes"] if "emptyDir" in v}
        for container in pod["containers"]:
            csc = container["securityContext"]
            assert csc["runAsNonRoot"] is True
            assert csc["readOnlyRootFilesystem"] is True
            assert csc["allowPrivilegeEscalation"] is False
            assert csc["capabilities"]["drop"] == ["ALL"]
            # a read-only root still needs a writable /tmp (joblib, numba, matplotlib)
            tmp = [m for m in container["volumeMounts"] if m["mountPath"] == "/tmp"]
            assert tmp and tmp[0]["name"] in mounted_tmp, name


def test_resources(deployments: dict[str, dict[str, Any]]) -> None:
    for name, dep in deployments.items():
        (container,) = _containers(dep)
        res = container["resources"]
        assert res["requests"]["cpu"] and res["requests"]["memory"], name
        assert res["limits"]["memory"], name


def test_every_distillwatch_env_var_is_a_real_setting(
    objects: list[dict[str, Any]], deployments: dict[str, dict[str, Any]]
) -> None:
    known = settings_env_names()
    (config,) = _by_kind(objects, "ConfigMap").values()
    names = list(config["data"])
    for dep in deployments.values():
        for container in _containers(dep):
            names.extend(e["name"] for e in container.get("env", []))
    assert names
    for name in names:
        assert name.startswith("DISTILLWATCH_"), name
        assert name in known, f"{name} is not a ServiceSettings field"
    data = config["data"]
    assert data["DISTILLWATCH_SINKS_IN_SERVICE"] == "false"
    assert data["DISTILLWATCH_METRICS_PORT"] == "9100"
    assert data["DISTILLWATCH_LOG_FORMAT"] == "json"
    assert all(isinstance(v, str) for v in data.values())  # ConfigMap values are strings


def test_secret_keys_follow_the_contract(secret: dict[str, Any]) -> None:
    data = secret["stringData"]
    known = settings_env_names()
    for key in data:
        assert key.upper() in known, f"secret key {key} names no setting"
    assert data["distillwatch_redis_url"].startswith(("redis://", "rediss://"))
    specs = [TokenSpec(**t) for t in json.loads(data["distillwatch_api_tokens"])]
    assert {s.role for s in specs} == {"gateway", "analyst", "admin"}


def test_pods_read_existing_secret_keys(
    deployments: dict[str, dict[str, Any]], secret: dict[str, Any]
) -> None:
    keys = set(secret["stringData"])
    secret_name = secret["metadata"]["name"]
    for name, dep in deployments.items():
        pod = dep["spec"]["template"]["spec"]
        (container,) = pod["containers"]
        env = {e["name"]: e for e in container.get("env", [])}
        ref = env["DISTILLWATCH_REDIS_URL"]["valueFrom"]["secretKeyRef"]
        assert (ref["name"], ref["key"]) == (secret_name, "distillwatch_redis_url"), name
        volumes = {v["name"]: v for v in pod["volumes"]}
        secrets_dir = env.get("DISTILLWATCH_SECRETS_DIR", {}).get("value")
        mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
        if secrets_dir:
            # a secrets dir that does not exist is an error: it must be mounted
            volume = volumes[mounts[secrets_dir]]
            assert volume["secret"]["secretName"] == secret_name
            for item in volume["secret"].get("items", []):
                assert item["key"] in keys
                assert item["path"] == item["key"]  # file name = lower-case env var
    service_pod = deployments["distillwatch-service"]["spec"]["template"]["spec"]
    items = [
        i["key"] for v in service_pod["volumes"] if "secret" in v for i in v["secret"]["items"]
    ]
    assert "distillwatch_api_tokens" in items


def test_prometheus_scrape_annotations(deployments: dict[str, dict[str, Any]]) -> None:
    jobs = set()
    for name, dep in deployments.items():
        meta = dep["spec"]["template"]["metadata"]["annotations"]
        assert meta["prometheus.io/scrape"] == "true"
        assert meta["prometheus.io/path"] == "/metrics"
        (container,) = _containers(dep)
        assert _declared_port(container, int(meta["prometheus.io/port"]))
        jobs.add(meta["distillwatch.io/scrape-job"])
        assert meta["distillwatch.io/scrape-job"] == name, name
    assert jobs == SCRAPE_JOBS


def test_kubectl_kustomize_renders(tmp_path: Path) -> None:
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.skip("kubectl not installed: structural checks only")
    proc = subprocess.run(
        [kubectl, "kustomize", str(K8S)], capture_output=True, text=True, timeout=60, check=False
    )
    assert proc.returncode == 0, proc.stderr
    rendered = [d for d in yaml.safe_load_all(proc.stdout) if d]
    assert len(rendered) == 8
    images = {
        c["image"]
        for d in rendered
        if d["kind"] == "Deployment"
        for c in d["spec"]["template"]["spec"]["containers"]
    }
    assert len(images) == 1  # one image for every process


def test_scorer_runs_the_population_job(deployments: dict[str, dict[str, Any]]) -> None:
    text = (K8S / "scorer-deployment.yaml").read_text()
    assert "population job" in text and "issue 13" in text
    assert "no separate" not in (K8S / "worker-deployment.yaml").read_text()
    dep = deployments["distillwatch-scorer"]
    # one holder at a time: the old pod releases the lease before the new one starts
    assert dep["spec"]["strategy"]["type"] == "Recreate"
    pod = dep["spec"]["template"]["spec"]
    items = [i["key"] for v in pod["volumes"] if "secret" in v for i in v["secret"]["items"]]
    assert items == ["distillwatch_model_key"]  # verifies published models, nothing else
