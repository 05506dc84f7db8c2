"""Structural checks of deploy/compose.yaml and the files it mounts.

No image is built or started here (CI has no Docker daemon). The compose file is parsed
with PyYAML; `docker compose config` runs when the Compose plugin is installed; the
Prometheus and Alertmanager configurations are checked with Debian's `promtool` and
`amtool` when present.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest
import yaml

from service import settings as settings_module
from service.settings import ServiceSettings, TokenSpec

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
COMPOSE = DEPLOY / "compose.yaml"

DISTILLWATCH_SERVICES = {"service", "worker", "sinks", "scorer"}
REQUIRED_SERVICES = DISTILLWATCH_SERVICES | {"redis", "prometheus", "alertmanager", "grafana"}
SECRET_FILES = {"distillwatch_api_tokens", "distillwatch_webhook_secret", "distillwatch_model_key"}


def settings_env_names() -> set[str]:
    """Every ``DISTILLWATCH_*`` variable the settings read: the ``ServiceSettings`` fields,
    plus the secrets-directory variable (read before the model is built)."""
    names = {f"DISTILLWATCH_{name.upper()}" for name in ServiceSettings.model_fields}
    secrets_env = getattr(settings_module, "SECRETS_DIR_ENV", None)
    if secrets_env:
        names.add(secrets_env)
    return names


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE.read_text())


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, Any]:
    return compose["services"]


def _env(svc: dict[str, Any]) -> dict[str, str]:
    env = svc.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env)
    return {k: str(v) for k, v in env.items()}


def _one_shot(svc: dict[str, Any]) -> bool:
    return svc.get("restart") == "no"


def test_compose_spec_shape(compose: dict[str, Any], services: dict[str, Any]) -> None:
    assert "version" not in compose, "the Compose specification has no version key"
    assert set(services) >= REQUIRED_SERVICES


def test_every_long_running_service_has_a_healthcheck(services: dict[str, Any]) -> None:
    for name, svc in services.items():
        check = svc.get("healthcheck") or {}
        if _one_shot(svc):
            continue
        assert check.get("test") and not check.get("disable"), f"{name} has no health check"
        assert svc.get("restart") in {"unless-stopped", "always", "on-failure"}, name


def test_one_shot_services_are_opt_in(services: dict[str, Any]) -> None:
    one_shots = [n for n, s in services.items() if _one_shot(s)]
    assert one_shots == ["replay"]
    replay = services["replay"]
    assert replay.get("profiles") == ["replay"]
    assert replay["command"][0] == "ingest"
    # the replayed file is mounted from the repository
    path = replay["command"][1]
    mounts = [m.split(":") for m in replay["volumes"]]
    host = next(h for h, c, *_ in mounts if path.startswith(c + "/"))
    assert (COMPOSE.parent / host / path.rsplit("/", 1)[1]).is_file()


def test_redis_persists_with_aof(services: dict[str, Any]) -> None:
    redis = services["redis"]
    cmd = redis["command"]
    cmd = cmd if isinstance(cmd, list) else cmd.split()
    assert cmd[cmd.index("--appendonly") + 1] == "yes"
    assert any(v.split(":")[1] == "/data" for v in redis["volumes"])
    assert redis["healthcheck"]["test"][-2:] == ["redis-cli", "ping"]


def test_distillwatch_processes_wait_for_healthy_redis(services: dict[str, Any]) -> None:
    for name in DISTILLWATCH_SERVICES | {"replay"}:
        deps = services[name]["depends_on"]
        assert deps["redis"]["condition"] == "service_healthy", name
        assert _env(services[name])["DISTILLWATCH_REDIS_URL"].startswith("redis://redis:")


def test_process_roles(services: dict[str, Any]) -> None:
    svc = services["service"]
    assert svc["command"] == ["serve"]
    assert _env(svc)["DISTILLWATCH_SINKS_IN_SERVICE"] == "false"
    assert _env(svc)["DISTILLWATCH_HOST"] == "0.0.0.0"
    worker = services["worker"]
    assert worker["command"] == ["worker"]
    assert worker["deploy"]["replicas"] == 2
    assert "container_name" not in worker  # replicas need generated names
    sinks = services["sinks"]
    assert sinks["command"] == ["sinks"]
    env = _env(sinks)
    assert env.get("DISTILLWATCH_ALERTMANAGER_URL") == "http://alertmanager:9093"
    assert sinks["depends_on"]["alertmanager"]["condition"] == "service_healthy"
    # the population job: one dedicated scorer, which verifies published models too
    scorer = services["scorer"]
    assert scorer["command"] == ["scorer"]
    assert scorer.get("deploy", {}).get("replicas", 1) == 1
    assert "distillwatch_model_key" in scorer["secrets"]
    assert "ports" not in scorer
    for name in ("worker", "sinks", "scorer"):
        env = _env(services[name])
        assert env["DISTILLWATCH_METRICS_HOST"] == "0.0.0.0"
        assert env["DISTILLWATCH_METRICS_PORT"] == "9100"
        probe = " ".join(services[name]["healthcheck"]["test"])
        assert "127.0.0.1:9100/healthz" in probe
    for name in DISTILLWATCH_SERVICES:
        assert _env(services[name])["DISTILLWATCH_LOG_FORMAT"] == "json"


def test_published_ports_bind_loopback_only(services: dict[str, Any]) -> None:
    published = 0
    for name, svc in services.items():
        for port in svc.get("ports", []):
            assert isinstance(port, str), f"{name}: use the HOST_IP:HOST:CONTAINER form"
            assert port.startswith("127.0.0.1:"), f"{name} publishes {port} on all interfaces"
            published += 1
    assert {p.split(":")[1] for s in services.values() for p in s.get("ports", [])} == {
        "8000",
        "9090",
        "9093",
        "3000",
    }
    assert published == 4


def test_every_distillwatch_env_var_is_a_real_setting(services: dict[str, Any]) -> None:
    known = settings_env_names()
    for name, svc in services.items():
        for key in _env(svc):
            if key.startswith("DISTILLWATCH_"):
                assert key in known, f"{name}: {key} is not a ServiceSettings field"


def test_secrets_follow_the_secrets_dir_contract(
    compose: dict[str, Any], services: dict[str, Any]
) -> None:
    declared = compose["secrets"]
    assert set(declared) == SECRET_FILES
    known = settings_env_names()
    for secret in declared:
        assert secret.upper() in known, f"secret {secret} names no setting"
    for name, svc in services.items():
        used = svc.get("secrets", [])
        env = _env(svc)
        if used:
            assert set(used) <= set(declared), name
            assert env.get("DISTILLWATCH_SECRETS_DIR") == "/run/secrets", name
        else:
            # a secrets dir that does not exist is an error: only set it where mounted
            assert "DISTILLWATCH_SECRETS_DIR" not in env, name
    assert "distillwatch_api_tokens" in services["service"]["secrets"]
    # workers verify published models with the key the service's retrain signs them with
    assert "distillwatch_model_key" in services["worker"]["secrets"]
    assert "distillwatch_model_key" in services["service"]["secrets"]


def test_secret_examples_exist_and_parse() -> None:
    for secret in SECRET_FILES:
        example = DEPLOY / "secrets" / f"{secret}.example"
        assert example.is_file(), example
    tokens = json.loads((DEPLOY / "secrets" / "distillwatch_api_tokens.example").read_text())
    specs = [TokenSpec(**t) for t in tokens]
    assert {s.role for s in specs} == {"gateway", "analyst", "admin"}
    # the real secret files are never committed
    ignore = (DEPLOY / "secrets" / ".gitignore").read_text().split()
    assert "*" in ignore and "!*.example" in ignore


def test_secret_examples_load_through_the_secrets_dir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if not hasattr(settings_module, "SECRETS_DIR_ENV"):
        pytest.skip("service.settings has no secrets directory support yet")
    for secret in SECRET_FILES:
        shutil.copy(DEPLOY / "secrets" / f"{secret}.example", tmp_path / secret)
    for name in ("API_TOKENS", "API_TOKENS_FILE", "WEBHOOK_SECRET"):
        monkeypatch.delenv(f"DISTILLWATCH_{name}", raising=False)
    monkeypatch.setenv(settings_module.SECRETS_DIR_ENV, str(tmp_path))
    loaded = settings_module.get_service_settings()
    assert [t.name for t in loaded.api_tokens] == ["gateway", "analyst", "ops"]
    assert loaded.webhook_secret == "change-me-to-a-long-random-string"


def test_every_referenced_file_exists(compose: dict[str, Any], services: dict[str, Any]) -> None:
    base = COMPOSE.parent
    for name, svc in services.items():
        build = svc.get("build")
        if build:
            context = (base / build["context"]).resolve()
            assert context.is_dir(), f"{name}: build context {context}"
            assert (context / build["dockerfile"]).is_file(), f"{name}: dockerfile"
        for volume in svc.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith((".", "/")):
                assert (base / source).exists(), f"{name}: bind mount {source} missing"
    for secret in compose["secrets"].values():
        path = base / secret["file"]
        # copied by the operator from the committed example (docs/deploy.md)
        assert path.exists() or path.with_name(path.name + ".example").is_file(), path


def _mounted_host_path(svc: dict[str, Any], container_path: str) -> Path:
    """Host path behind ``container_path`` through the service's bind mounts."""
    best: tuple[int, Path] | None = None
    for volume in svc.get("volumes", []):
        source, target = volume.split(":")[:2]
        if not source.startswith("."):
            continue
        if container_path == target or container_path.startswith(target.rstrip("/") + "/"):
            rest = container_path[len(target) :].lstrip("/")
            candidate = (COMPOSE.parent / source / rest) if rest else COMPOSE.parent / source
            if best is None or len(target) > best[0]:
                best = (len(target), candidate)
    assert best is not None, f"{container_path} is not bind-mounted"
    return best[1]


def _flag(command: list[str], flag: str) -> str:
    return next(c.split("=", 1)[1] for c in command if c.startswith(flag + "="))


def test_monitoring_configs_are_mounted(services: dict[str, Any]) -> None:
    prom = services["prometheus"]
    config = _mounted_host_path(prom, _flag(prom["command"], "--config.file"))
    assert config == (DEPLOY / "prometheus" / "prometheus.yml")
    am = services["alertmanager"]
    config = _mounted_host_path(am, _flag(am["command"], "--config.file"))
    assert config == (DEPLOY / "alertmanager" / "alertmanager.yml")
    graf = services["grafana"]
    prov = _mounted_host_path(graf, "/etc/grafana/provisioning")
    assert prov == DEPLOY / "grafana" / "provisioning"
    # the provider's folder holds the dashboard JSON mounted from deploy/grafana
    provider = yaml.safe_load((prov / "dashboards" / "distillwatch.yml").read_text())
    folder = provider["providers"][0]["options"]["path"]
    dashboard = _mounted_host_path(graf, folder + "/distillwatch.json")
    assert dashboard == DEPLOY / "grafana" / "distillwatch.json"
    datasource = yaml.safe_load((prov / "datasources" / "prometheus.yml").read_text())
    (ds,) = datasource["datasources"]
    assert (ds["name"], ds["uid"], ds["type"]) == ("Prometheus", "prometheus", "prometheus")
    assert ds["url"] == "http://prometheus:9090"


def test_prometheus_scrapes_the_contract_jobs(services: dict[str, Any]) -> None:
    config = yaml.safe_load((DEPLOY / "prometheus" / "prometheus.yml").read_text())
    assert config["rule_files"] == ["alerts.yml"]
    am_targets = config["alerting"]["alertmanagers"][0]["static_configs"][0]["targets"]
    assert am_targets == ["alertmanager:9093"]
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    expected = {
        "distillwatch-service": ("service", 8000),
        "distillwatch-worker": ("worker", 9100),
        "distillwatch-sinks": ("sinks", 9100),
        "distillwatch-scorer": ("scorer", 9100),
    }
    for job_name, (host, port) in expected.items():
        job = jobs[job_name]
        assert job.get("metrics_path", "/metrics") == "/metrics"
        targets = [t for sc in job.get("static_configs", []) for t in sc["targets"]]
        dns = [(n, sd["port"]) for sd in job.get("dns_sd_configs", []) for n in sd["names"]]
        assert targets == [f"{host}:{port}"] or dns == [(host, port)], job_name
        assert host in services


def _run(cmd: list[str], cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=60, check=False)


def test_promtool_accepts_prometheus_config() -> None:
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.skip("promtool not installed (Debian package prometheus; CI installs it)")
    if not (DEPLOY / "prometheus" / "alerts.yml").is_file():
        pytest.skip("deploy/prometheus/alerts.yml does not exist yet (rule_files would fail)")
    proc = _run([promtool, "check", "config", "prometheus.yml"], cwd=DEPLOY / "prometheus")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "SUCCESS" in proc.stdout


def test_amtool_accepts_alertmanager_config() -> None:
    amtool = shutil.which("amtool")
    if amtool is None:
        pytest.skip("amtool not installed (Debian package prometheus-alertmanager)")
    proc = _run([amtool, "check-config", str(DEPLOY / "alertmanager" / "alertmanager.yml")])
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "SUCCESS" in proc.stdout


def test_alertmanager_routes_pages_and_detection_alerts() -> None:
    amtool = shutil.which("amtool")
    if amtool is None:
        pytest.skip("amtool not installed (Debian package prometheus-alertmanager)")
    config = str(DEPLOY / "alertmanager" / "alertmanager.yml")
    cases = {
        ("alertname=DistillwatchRedisDown", "severity=critical"): "oncall-page",
        ("alertname=DistillwatchIngestLagHigh", "severity=warning"): "ops-ticket",
        ("alertname=DistillationSuspected", "severity=critical"): "null",
        ("alertname=SomethingElse", "severity=critical"): "null",
    }
    for labels, receiver in cases.items():
        proc = _run([amtool, "config", "routes", "test", f"--config.file={config}", *labels])
        assert proc.returncode == 0, proc.stdout + proc.stderr
        assert proc.stdout.strip() == receiver, (labels, proc.stdout)


def _docker_compose_available() -> bool:
    docker = shutil.which("docker")
    if docker is None:
        return False
    try:
        return _run([docker, "compose", "version"]).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def test_docker_compose_config(tmp_path: Path) -> None:
    if not _docker_compose_available():
        pytest.skip("`docker compose` (Compose v2 plugin) not available on this machine")
    # a copy of the repository layout with the secrets copied from their examples, the
    # way docs/deploy.md tells an operator to
    work = tmp_path / "repo"
    work.mkdir()
    for entry in ROOT.iterdir():
        if entry.name != "deploy":
            (work / entry.name).symlink_to(entry)
    shutil.copytree(DEPLOY, work / "deploy", symlinks=True)
    for example in (work / "deploy" / "secrets").glob("*.example"):
        shutil.copy(example, example.with_suffix(""))
    proc = _run(["docker", "compose", "-f", str(work / "deploy" / "compose.yaml"), "config", "-q"])
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_compose_comments_explain_the_population_job() -> None:
    text = COMPOSE.read_text()
    assert re.search(r"population job.*issue 13", text, flags=re.S | re.I)
    assert "no separate one yet" not in text  # the scorer service is that job now


# -- the compose processes, run by hand -----------------------------------------------------


def _healthcheck_script(svc: dict[str, Any]) -> str:
    test = svc["healthcheck"]["test"]
    assert test[:3] == ["CMD", "python", "-c"], test
    return test[3]


def _wait_healthy(script: str, proc: subprocess.Popen[bytes], deadline: float) -> None:
    """Run a compose health check script until it exits 0 (the process must stay up)."""
    while True:
        assert proc.poll() is None, f"process exited with {proc.returncode}"
        rc = subprocess.run([sys.executable, "-c", script], capture_output=True, timeout=10)
        if rc.returncode == 0:
            return
        assert time.monotonic() < deadline, f"health check never passed: {rc.stderr[-500:]!r}"
        time.sleep(0.5)


@pytest.mark.redis
def test_compose_processes_start_with_their_compose_settings(
    services: dict[str, Any], tmp_path: Path
) -> None:
    """serve, worker, sinks and scorer run with the environment compose gives them (addresses
    moved to loopback and free ports); their compose health checks pass, the service
    reads its API tokens from the secrets directory and logs JSON."""
    from service.stream import local_redis

    if not hasattr(settings_module, "SECRETS_DIR_ENV"):
        pytest.skip("service.settings has no secrets directory support yet")
    (tmp_path / "redis").mkdir()
    server = local_redis.RedisServer(tmp_path / "redis", aof=True)
    try:
        server.start()
    except local_redis.RedisNotInstalled:
        pytest.skip("redis-server is not on PATH")
    secrets = tmp_path / "secrets"
    secrets.mkdir()
    for secret in SECRET_FILES:
        shutil.copy(DEPLOY / "secrets" / f"{secret}.example", secrets / secret)
    exe = Path(sys.executable).with_name("distillwatch")
    ports = {name: local_redis.free_port() for name in DISTILLWATCH_SERVICES}
    procs: dict[str, subprocess.Popen[bytes]] = {}
    logs: dict[str, Path] = {}
    base_env = {k: v for k, v in os.environ.items() if not k.startswith("DISTILLWATCH_")}
    try:
        for name in sorted(DISTILLWATCH_SERVICES):
            svc = services[name]
            env = dict(base_env, **_env(svc))
            env["DISTILLWATCH_REDIS_URL"] = server.url
            for key in ("DISTILLWATCH_HOST", "DISTILLWATCH_METRICS_HOST"):
                env[key] = "127.0.0.1"  # tests bind loopback only
            if name == "service":
                env["DISTILLWATCH_PORT"] = str(ports[name])
            else:
                env["DISTILLWATCH_METRICS_PORT"] = str(ports[name])
            if "DISTILLWATCH_SECRETS_DIR" in env:
                env["DISTILLWATCH_SECRETS_DIR"] = str(secrets)
            if "DISTILLWATCH_ALERTMANAGER_URL" in env:
                # nobody listens there: deliveries would be retried, startup is what counts
                env["DISTILLWATCH_ALERTMANAGER_URL"] = f"http://127.0.0.1:{local_redis.free_port()}"
            logs[name] = tmp_path / f"{name}.log"
            with logs[name].open("wb") as out:
                procs[name] = subprocess.Popen(
                    [str(exe), *svc["command"]], env=env, stdout=out, stderr=subprocess.STDOUT
                )
        deadline = time.monotonic() + 90
        for name, proc in procs.items():
            compose_port = "8000" if name == "service" else "9100"
            script = _healthcheck_script(services[name]).replace(
                f"127.0.0.1:{compose_port}/", f"127.0.0.1:{ports[name]}/"
            )
            _wait_healthy(script, proc, deadline)
        for name in ("worker", "sinks", "scorer"):
            url = f"http://127.0.0.1:{ports[name]}"
            with urllib.request.urlopen(f"{url}/readyz", timeout=5) as resp:
                assert resp.status == 200, name
            with urllib.request.urlopen(f"{url}/metrics", timeout=5) as resp:
                assert b"distillwatch_redis_up 1.0" in resp.read(), name
        service_url = f"http://127.0.0.1:{ports['service']}"
        with pytest.raises(urllib.error.HTTPError) as denied:
            urllib.request.urlopen(f"{service_url}/v1/alerts", timeout=5)
        assert denied.value.code == 401
        tokens = json.loads((secrets / "distillwatch_api_tokens").read_text())
        analyst = next(t["token"] for t in tokens if t["role"] == "analyst")
        request = urllib.request.Request(
            f"{service_url}/v1/alerts", headers={"Authorization": f"Bearer {analyst}"}
        )
        with urllib.request.urlopen(request, timeout=5) as resp:
            assert resp.status == 200
    finally:
        for proc in procs.values():
            local_redis.stop_process(proc)
        server.stop()
    # DISTILLWATCH_LOG_FORMAT=json: every process wrote JSON log lines
    for name, path in logs.items():
        lines = [ln for ln in path.read_text().splitlines() if ln.startswith("{")]
        assert lines, f"{name} wrote no JSON log line: {path.read_text()[-500:]}"
        record = json.loads(lines[0])
        assert {"ts", "level", "logger", "msg"} <= set(record), name
