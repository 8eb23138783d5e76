"""Every deadline shorter than the one above it, from the ingress down (issue 17; the chain is
in deploy/README.md, "Deadlines"): nginx > gateway's forward > intake's upload (plus the
record after it, cut at RECORD_BOUND before its commit) > one scan; and clamd's ReadTimeout
matching the scan's deadline.

Read where production reads them: the rendered Ingress, each Deployment's environment (its
ConfigMap and its own `env`), else the settings' defaults."""

from __future__ import annotations

from typing import Any

import pytest

from gateway.settings import GatewaySettings
from intake_service.documents.deadline import RECORD_BOUND
from intake_service.settings import IntakeSettings
from tests.deploy.processes import DEPLOY
from tests.deploy.rendering import Obj, app_container, of_kind, one

CLAMD_CONF = DEPLOY / "k8s" / "clamav" / "clamd.conf"


def _environment(objects: tuple[Obj, ...], deployment: str) -> dict[str, str]:
    """The plain values a Deployment's app container gets: ConfigMaps, then its own `env`."""
    config_maps = of_kind(objects, "ConfigMap")
    container = app_container(one(objects, "Deployment", deployment))
    env: dict[str, str] = {}
    for source in container.get("envFrom", []):
        if "configMapRef" in source:
            env.update(config_maps[source["configMapRef"]["name"]].get("data", {}))
    env.update({v["name"]: v["value"] for v in container.get("env", []) if "value" in v})
    return env


def _seconds(env: dict[str, str], settings: type[Any], field: str) -> float:
    """The deadline a process runs with: its environment's value, else the default."""
    value = env.get(field.upper())
    default: float = settings.model_fields[field].default
    return float(value) if value is not None else default


def _clamd_read_timeout() -> int:
    settings = dict(
        line.split(None, 1) for line in CLAMD_CONF.read_text().splitlines()
        if line.strip() and not line.startswith("#")
    )  # fmt: skip
    return int(settings["ReadTimeout"])


@pytest.mark.parametrize("annotation", ["proxy-read-timeout", "proxy-send-timeout"])
def test_every_deadline_is_shorter_than_the_one_above_it(
    objects: tuple[Obj, ...], annotation: str
) -> None:
    ingress = one(objects, "Ingress", "gateway")["metadata"]["annotations"]
    nginx = float(ingress[f"nginx.ingress.kubernetes.io/{annotation}"])
    gateway = _seconds(_environment(objects, "gateway"), GatewaySettings, "upstream_timeout")
    intake_env = _environment(objects, "intake")
    upload = _seconds(intake_env, IntakeSettings, "upload_timeout")
    scan = _seconds(intake_env, IntakeSettings, "clamd_timeout")
    assert nginx > gateway, f"nginx {annotation} {nginx} s, gateway UPSTREAM_TIMEOUT {gateway} s"
    assert gateway > upload + RECORD_BOUND, (
        f"gateway {gateway} s, intake UPLOAD_TIMEOUT {upload} s + record {RECORD_BOUND} s"
    )
    assert upload > scan, f"UPLOAD_TIMEOUT {upload} s, CLAMD_TIMEOUT {scan} s"


def test_clamd_gives_up_on_a_silent_client_when_intake_does(objects: tuple[Obj, ...]) -> None:
    scan = _seconds(_environment(objects, "intake"), IntakeSettings, "clamd_timeout")
    assert _clamd_read_timeout() == scan
