"""The deployment files checked against the services that exist: Dockerfiles, the compose
file, the Kubernetes manifests (against the Kubernetes API schemas), Prometheus and Grafana.

What a service is comes from the code: its directory, its settings (port) and its
migrations; so a service added, renamed or moved without its deployment fails here.
"""

import json
import re
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml
from prometheus_client import REGISTRY

from auth.config import AuthSettings
from catalog.config import CatalogSettings
from gateway.config import GatewaySettings
from library.config import LibrarySettings
from notifications.config import NotificationsSettings
from recommendations.config import RecommendationsSettings
from shared.config import PlatformSettings

# Importing the apps registers every metric the services expose.
import auth.app  # noqa: F401  isort: skip
import catalog.app  # noqa: F401  isort: skip
import library.app  # noqa: F401  isort: skip
import gateway.app  # noqa: F401  isort: skip
import notifications.app  # noqa: F401  isort: skip
import recommendations.app  # noqa: F401  isort: skip

from shared.services import SERVICES as SERVICE_REGISTRY
from shared.services import USER_DATA_HOLDERS

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
SETTINGS: dict[str, type[PlatformSettings]] = {
    "auth": AuthSettings,
    "catalog": CatalogSettings,
    "library": LibrarySettings,
    "gateway": GatewaySettings,
    "notifications": NotificationsSettings,
    "recommendations": RecommendationsSettings,
}
SERVICES = sorted(p.parent.name for p in (ROOT / "services").glob("*/pyproject.toml"))
WITH_DATABASE = {name for name in SERVICES if (ROOT / "services" / name / "alembic.ini").exists()}
INFRA = {"postgres", "redis", "redis-security", "rabbitmq"}


def _port(name: str) -> int:
    return int(SETTINGS[name].model_fields["port"].default)


def _yaml_documents(path: Path) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc]


def test_every_service_directory_is_known_here() -> None:
    assert set(SERVICES) == set(SETTINGS)


def test_the_service_registry_matches_the_services() -> None:
    """shared/services.py is the one description every tool derives from: it must be true."""
    assert {service.name for service in SERVICE_REGISTRY} == set(SERVICES)
    gateway_fields = GatewaySettings.model_fields
    for service in SERVICE_REGISTRY:
        assert service.port == _port(service.name), service.name
        assert service.database == (service.name in WITH_DATABASE), service.name
        has_catalog_url = (
            service.behind_gateway and "catalog_url" in SETTINGS[service.name].model_fields
        )
        assert service.catalog_client == has_catalog_url, service.name
        asked_by_auth = f"{service.name}_url" in AuthSettings.model_fields
        assert service.holds_user_data == asked_by_auth, service.name
        assert service.behind_gateway == (f"{service.name}_url" in gateway_fields), service.name
        assert service.package in (ROOT / "services" / service.name / "pyproject.toml").read_text()


# --- Dockerfiles ------------------------------------------------------------------------------
def _dockerfile(path: Path) -> str:
    return path.read_text().replace("\\\n", " ")


SERVICE_DOCKERFILE = DEPLOY / "docker" / "service.Dockerfile"


def test_one_multi_stage_non_root_dockerfile_builds_every_service() -> None:
    text = _dockerfile(SERVICE_DOCKERFILE)
    assert re.search(r"^ARG BASE_IMAGE=python:3\.11-slim$", text, re.M)
    assert re.findall(r"^FROM (\S+)", text, re.M) == ["${BASE_IMAGE}", "${BASE_IMAGE}"]
    assert 'uv sync --frozen --no-dev --no-editable --package "${SERVICE}-service"' in text
    user = re.findall(r"^USER (\S+)", text, re.M)
    assert user and user[-1] not in {"root", "0"}
    assert re.search(r"^EXPOSE \$\{PORT\}$", text, re.M)
    assert "APP=${SERVICE}.app:create_app PORT=${PORT}" in text
    assert re.search(r"^HEALTHCHECK .*/healthz", text, re.M)
    assert re.search(r'^ENTRYPOINT \["entrypoint"\]', text, re.M)
    assert 'cp -r "services/${SERVICE}/migrations" /app/migrations' in text
    assert "ghcr.io" not in text and "docker.io" not in text  # only the base image is pulled
    for source in re.findall(r"^COPY (?!--from)(\S+) ", text, re.M):
        assert (ROOT / source).exists(), f"the Dockerfile copies a missing {source}"
    assert not list((ROOT / "services").glob("*/Dockerfile")), "one Dockerfile, not one each"


def test_the_entrypoint_migrates_then_serves() -> None:
    entrypoint = (DEPLOY / "docker" / "entrypoint.sh").read_text()
    assert "python -m shared.migrations /app" in entrypoint
    assert 'exec python -m shared.serve "$SERVICE" --host 0.0.0.0 --port "$PORT"' in entrypoint
    # The sandbox's image has no `shared` package: it is served by plain uvicorn.
    assert 'if [ "$SERVICE" = "sandbox" ]' in entrypoint and 'exec uvicorn "$APP"' in entrypoint
    sandbox = (ROOT / "tools" / "tmdb_sandbox" / "Dockerfile").read_text()
    assert "SERVICE=sandbox APP=tmdb_sandbox.app:create_app" in sandbox
    assert (DEPLOY / "docker" / "entrypoint.sh").stat().st_mode & 0o111


# --- docker compose ---------------------------------------------------------------------------
@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return yaml.safe_load((DEPLOY / "docker-compose.yml").read_text())


def test_compose_runs_every_service_and_the_infrastructure(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert set(services) == {*SERVICES, *INFRA, "tmdb-sandbox", "prometheus", "grafana"}
    assert services["tmdb-sandbox"]["profiles"] == ["sandbox"]
    assert "management" in services["rabbitmq"]["image"]
    for service in SERVICE_REGISTRY:
        build = services[service.name]["build"]
        assert (DEPLOY / build["context"] / build["dockerfile"]).resolve() == SERVICE_DOCKERFILE
        assert build["args"]["SERVICE"] == service.name
        assert build["args"]["PORT"] == str(service.port)
        assert build["args"]["BASE_IMAGE"] == "${BASE_IMAGE:-python:3.11-slim}"
        assert services[service.name]["image"] == f"movie-discovery/{service.name}"
    for name in INFRA | {"prometheus", "grafana"}:
        assert "healthcheck" in services[name], f"{name} has no healthcheck"


def test_compose_starts_in_order(compose: dict[str, Any]) -> None:
    services = compose["services"]
    for name in SERVICES:
        depends = services[name]["depends_on"]
        assert all(dep["condition"] == "service_healthy" for dep in depends.values())
        needs = {"redis", "redis-security"} if name == "gateway" else INFRA
        assert needs <= set(depends), f"{name} may start before {needs - set(depends)}"
    assert set(SERVICES) - {"gateway"} <= set(services["gateway"]["depends_on"])
    assert "tmdb-sandbox" not in services["catalog"]["depends_on"]  # optional: no hard wait


def test_compose_keeps_security_state_where_nothing_evicts_it(compose: dict[str, Any]) -> None:
    services = compose["services"]
    security = " ".join(services["redis-security"]["command"])
    assert "--maxmemory-policy noeviction" in security
    assert "allkeys" in " ".join(services["redis"]["command"])  # caches may be evicted
    env = services["auth"]["environment"]
    assert env["SECURITY_REDIS_URL"].startswith("redis://redis-security:")
    assert env["REDIS_URL"].startswith("redis://redis:")


def test_compose_wires_the_services_to_each_other(compose: dict[str, Any]) -> None:
    services = compose["services"]
    gateway_env = services["gateway"]["environment"]
    for name in set(SERVICES) - {"gateway"}:
        assert gateway_env[f"GATEWAY_{name.upper()}_URL"] == f"http://{name}:{_port(name)}"
    shared_env = services["auth"]["environment"]
    for name in WITH_DATABASE:
        assert shared_env[f"{name.upper()}_DATABASE_URL"].endswith(f"@postgres:5432/movies_{name}")
    for name in ("library", "recommendations", "notifications"):
        assert shared_env[f"{name.upper()}_CATALOG_URL"] == f"http://catalog:{_port('catalog')}"
    for name in USER_DATA_HOLDERS:
        assert shared_env[f"AUTH_{name.upper()}_URL"] == f"http://{name}:{_port(name)}"
    assert shared_env["ENVIRONMENT"] == "production"
    assert services["gateway"]["ports"] == ["127.0.0.1:${GATEWAY_HOST_PORT:-8000}:8000"]
    for service in services.values():  # only ever published on loopback
        assert all(str(port).startswith("127.0.0.1:") for port in service.get("ports", []))


def test_env_example_names_only_settings_that_exist() -> None:
    known = {"RABBITMQ_USER", "RABBITMQ_PASSWORD", "POSTGRES_PASSWORD", "GRAFANA_ADMIN_PASSWORD"}
    known |= {"FORWARDED_ALLOW_IPS", "COMPOSE_PROJECT_NAME"}  # shared.serve's, compose's own
    compose_text = (DEPLOY / "docker-compose.yml").read_text()
    known |= set(re.findall(r"\$\{([A-Z_]+)[:?}-]", compose_text))  # compose's variables
    for name, settings in SETTINGS.items():
        for field_name, field in settings.model_fields.items():
            known.add(f"{name.upper()}_{field_name.upper()}")
            alias = field.validation_alias
            known |= {str(choice) for choice in getattr(alias, "choices", [])}
    from tmdb_sandbox.config import SandboxSettings

    known |= {f"SANDBOX_{name.upper()}" for name in SandboxSettings.model_fields}
    text = (DEPLOY / ".env.example").read_text()
    names = re.findall(r"^#? ?([A-Z][A-Z0-9_]+)=", text, re.M)
    assert names and set(names) <= known, set(names) - known
    for secret in ("JWT_SECRET", "INTERNAL_SECRET", "POSTGRES_PASSWORD", "RABBITMQ_PASSWORD"):
        assert re.search(rf"^{secret}=$", text, re.M), f"{secret} must be left for the operator"


# --- Kubernetes -------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def manifests() -> list[dict[str, Any]]:
    kustomization = yaml.safe_load((DEPLOY / "k8s" / "kustomization.yaml").read_text())
    listed = kustomization["resources"]
    on_disk = {p.name for p in (DEPLOY / "k8s").glob("*.yaml")} - {"kustomization.yaml"}
    assert set(listed) == on_disk, "every manifest is listed, and every listed one exists"
    return [doc for name in listed for doc in _yaml_documents(DEPLOY / "k8s" / name)]


def _by_kind(manifests: list[dict[str, Any]], kind: str) -> dict[str, dict[str, Any]]:
    return {m["metadata"]["name"]: m for m in manifests if m["kind"] == kind}


def test_manifests_match_the_kubernetes_schemas(manifests: list[dict[str, Any]]) -> None:
    version = kubernetes_validate.latest_version()
    for manifest in manifests:
        kubernetes_validate.validate(manifest, version, strict=True)


def test_each_service_has_a_deployment_and_a_service(manifests: list[dict[str, Any]]) -> None:
    deployments, services = _by_kind(manifests, "Deployment"), _by_kind(manifests, "Service")
    assert set(deployments) == set(services) == set(SERVICES)
    for name in SERVICES:
        pod = deployments[name]["spec"]["template"]
        assert pod["metadata"]["labels"]["app.kubernetes.io/name"] == name
        assert deployments[name]["spec"]["selector"]["matchLabels"] == {
            "app.kubernetes.io/name": name
        }
        assert services[name]["spec"]["selector"] == {"app.kubernetes.io/name": name}
        assert services[name]["spec"]["ports"][0]["port"] == _port(name)
        (container,) = pod["spec"]["containers"]
        assert container["image"].startswith(f"movie-discovery/{name}:")
        assert container["ports"] == [{"name": "http", "containerPort": _port(name)}]
        for probe in ("readinessProbe", "livenessProbe"):
            assert container[probe]["httpGet"]["port"] == "http"
        assert {"cpu", "memory"} <= set(container["resources"]["requests"])
        assert {"cpu", "memory"} <= set(container["resources"]["limits"])
        assert pod["spec"]["securityContext"]["runAsNonRoot"] is True
        migrates = [c["args"] for c in pod["spec"].get("initContainers", [])]
        assert (migrates == [["migrate"]]) == (name in WITH_DATABASE)


def test_settings_come_from_a_configmap_and_a_secret(manifests: list[dict[str, Any]]) -> None:
    configmaps, secrets = _by_kind(manifests, "ConfigMap"), _by_kind(manifests, "Secret")
    for deployment in _by_kind(manifests, "Deployment").values():
        (container,) = deployment["spec"]["template"]["spec"]["containers"]
        refs = container["envFrom"]
        assert {r["configMapRef"]["name"] for r in refs if "configMapRef" in r} <= set(configmaps)
        assert {r["secretRef"]["name"] for r in refs if "secretRef" in r} <= set(secrets)
    config = next(iter(configmaps.values()))["data"]
    for name in set(SERVICES) - {"gateway"}:
        assert config[f"GATEWAY_{name.upper()}_URL"] == f"http://{name}:{_port(name)}"
    for name in USER_DATA_HOLDERS:
        assert config[f"AUTH_{name.upper()}_URL"] == f"http://{name}:{_port(name)}"
    secret = next(iter(secrets.values()))["stringData"]
    assert secret["JWT_SECRET"] == "" and secret["INTERNAL_SECRET"] == ""  # never shipped
    assert {f"{name.upper()}_DATABASE_URL" for name in WITH_DATABASE} <= set(secret)
    # Security state on its own server: an eviction policy cannot be set per database.
    cache_host = secret["REDIS_URL"].split("@")[1].split("/")[0]
    assert secret["SECURITY_REDIS_URL"].split("@")[1].split("/")[0] != cache_host


def test_autoscalers_and_disruption_budgets_point_at_deployments(
    manifests: list[dict[str, Any]],
) -> None:
    deployments = _by_kind(manifests, "Deployment")
    autoscalers = _by_kind(manifests, "HorizontalPodAutoscaler")
    assert set(autoscalers) == {"gateway", "catalog", "recommendations"}
    for hpa in autoscalers.values():
        assert hpa["spec"]["scaleTargetRef"]["name"] in deployments
        assert hpa["spec"]["minReplicas"] >= 2
    budgets = _by_kind(manifests, "PodDisruptionBudget")
    assert set(budgets) == set(SERVICES)
    for name, budget in budgets.items():
        labels = deployments[name]["spec"]["template"]["metadata"]["labels"]
        assert budget["spec"]["selector"]["matchLabels"].items() <= labels.items()
        assert budget["spec"]["minAvailable"] < deployments[name]["spec"]["replicas"]


# --- Prometheus and Grafana -------------------------------------------------------------------
def _metric_names() -> set[str]:
    """Every metric family registered (counters without their `_total`)."""
    return {family.name for family in REGISTRY.collect()}


def _referenced_metrics(expression: str) -> set[str]:
    """Our metric names in a PromQL expression (RabbitMQ's and Prometheus's own left out)."""
    suffixes = r"(?:_total|_seconds|_events|_state)(?:_bucket|_count)?"
    words = set(re.findall(rf"\b([a-z_]+{suffixes})\b", expression))
    return {re.sub(r"_(bucket|count)$", "", w).removesuffix("_total") for w in words}


def _known(metric: str, exposed: set[str]) -> bool:
    return metric in exposed or metric.removesuffix("_total") in exposed


def test_prometheus_scrapes_every_service() -> None:
    config = yaml.safe_load((DEPLOY / "prometheus" / "prometheus.yml").read_text())
    (services,) = [job for job in config["scrape_configs"] if job["job_name"] == "services"]
    targets = {group["labels"]["service"]: group["targets"] for group in services["static_configs"]}
    assert targets == {name: [f"{name}:{_port(name)}"] for name in SERVICES}


def test_alerts_and_dashboard_use_metrics_the_services_expose() -> None:
    exposed = _metric_names()
    assert {
        "http_request_duration_seconds",
        "tmdb_requests",
        "cache_requests",
        "tmdb_circuit_state",
        "events_published",
        "events_consumed",
        "events_dead_lettered",
        "events_consumer_lag_seconds",
        "outbox_pending_events",
    } <= exposed
    alerts = yaml.safe_load((DEPLOY / "prometheus" / "alerts.yml").read_text())
    expressions = [rule["expr"] for group in alerts["groups"] for rule in group["rules"]]
    dashboard = json.loads((DEPLOY / "grafana" / "dashboards" / "movie-discovery.json").read_text())
    expressions += [t["expr"] for panel in dashboard["panels"] for t in panel["targets"]]
    used = set().union(*(_referenced_metrics(e) for e in expressions))
    assert used, "no metric found in the expressions"
    for metric in used:
        assert _known(metric, exposed), f"{metric} is not exposed by any service"
    titles = " ".join(panel["title"].lower() for panel in dashboard["panels"])
    for topic in (
        "requests",
        "latency",
        "hit ratio",
        "tmdb",
        "outbox",
        "queue depth",
        "consumers",
        "dead-lettered",
    ):
        assert topic in titles, f"the dashboard has no {topic} panel"


def test_the_runbook_covers_what_operators_need() -> None:
    runbook = (ROOT / "docs" / "runbook.md").read_text()
    for section in ("Dead letters", "Cache flush", "TMDb key rotation", "Scaling", "Alerts"):
        assert f"## {section}" in runbook
    alerts = yaml.safe_load((DEPLOY / "prometheus" / "alerts.yml").read_text())
    for group in alerts["groups"]:
        for rule in group["rules"]:
            assert f"`{rule['alert']}`" in runbook, f"the runbook does not explain {rule['alert']}"
