"""deploy/k8s/clamav: the ClamAV service intake requires in production (checklist #37).

The manifests render, validate and run restricted; the Service is where CLAMD_ADDRESS points;
only intake and rescan reach clamd; and the clamd.conf the pods mount works with a real clamd:
it finds EICAR, refuses a stream over its limit, and answers the probes' PING.
"""

from __future__ import annotations

import asyncio
import shutil
import subprocess
from pathlib import Path

import kubernetes_validate.utils as kv  # type: ignore[import-untyped]
import pytest

from devstack.clamd import Clamd
from intake_service.documents.errors import ScannerUnavailable
from intake_service.documents.scanner import ClamdScanner
from intake_service.settings import IntakeSettings
from tests.deploy.processes import DEPLOY
from tests.deploy.rendering import (
    KUBERNETES_VERSION,
    NAMESPACES,
    PRIVATE_RANGES,
    Obj,
    of_kind,
    one,
    pod_labels,
    pod_spec,
    render,
    render_directory,
    selects,
    workloads,
)
from tests.support import files

CLAMAV = DEPLOY / "k8s" / "clamav"
NAMESPACE = "clamav"
PORT = 3310
CONFIG_DIR = "/etc/clamav"
SCANNING_CLIENTS = {"intake", "rescan"}


def rendered() -> tuple[Obj, ...]:
    """deploy/k8s/clamav as `kubectl kustomize` renders it (cached; do not mutate)."""
    return render_directory(CLAMAV)


def deployment() -> Obj:
    return one(rendered(), "Deployment", "clamav")


def containers(*, init: bool = True) -> list[Obj]:
    spec = pod_spec(deployment())
    return [*(spec.get("initContainers", []) if init else []), *spec["containers"]]


def clamd_container() -> Obj:
    found = [c for c in containers(init=False) if c["name"] == "clamd"]
    assert len(found) == 1, "one container named clamd"
    return found[0]


# --- the manifests ---------------------------------------------------------------------


def test_every_object_validates_and_lives_in_namespace_clamav() -> None:
    for obj in rendered():
        kv.validate(obj, KUBERNETES_VERSION, strict=True)
        if obj["kind"] != "Namespace":
            assert obj["metadata"]["namespace"] == NAMESPACE, obj["metadata"]["name"]
    namespace = one(rendered(), "Namespace", NAMESPACE)
    assert namespace["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"


def test_every_container_runs_restricted_with_memory_bounded() -> None:
    pod = pod_spec(deployment())
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["seccompProfile"]["type"] == "RuntimeDefault"
    assert pod["automountServiceAccountToken"] is False
    for container in containers():
        where = container["name"]
        context = container["securityContext"]
        assert context["allowPrivilegeEscalation"] is False, where
        assert context["readOnlyRootFilesystem"] is True, where
        assert context["capabilities"]["drop"] == ["ALL"], where
        assert context.get("privileged", False) is False, where
        assert container["resources"]["limits"]["memory"], where
        assert container["resources"]["requests"]["cpu"], where
        assert container["image"].startswith("clamav/clamav:1."), where


def test_the_service_is_where_intake_looks_for_clamd() -> None:
    service = one(rendered(), "Service", "clamav")
    (port,) = service["spec"]["ports"]
    assert port["port"] == PORT
    container_ports = {p["name"]: p["containerPort"] for p in clamd_container()["ports"]}
    assert container_ports[port["targetPort"]] == PORT
    assert selects({"matchLabels": service["spec"]["selector"]}, pod_labels(deployment()))
    address = f"{service['metadata']['name']}.{NAMESPACE}.svc.cluster.local:{PORT}"
    for overlay in NAMESPACES:
        (config,) = of_kind(render(overlay), "ConfigMap").values()
        assert config["data"]["CLAMD_ADDRESS"] == address, overlay


def test_clamd_is_probed_by_ping_through_the_mounted_config() -> None:
    clamd = clamd_container()
    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        command = clamd[probe]["exec"]["command"]
        assert command[0] == "clamdscan", probe
        assert f"--config-file={CONFIG_DIR}/clamd.conf" in command, probe
        assert "--ping" in command, probe
    mounts = {m["mountPath"]: m["name"] for m in clamd["volumeMounts"]}
    volumes = {v["name"]: v for v in pod_spec(deployment())["volumes"]}
    config_map = volumes[mounts[CONFIG_DIR]]["configMap"]["name"]
    data = one(rendered(), "ConfigMap", config_map)["data"]
    assert data == {
        "clamd.conf": (CLAMAV / "clamd.conf").read_text(),
        "freshclam.conf": (CLAMAV / "freshclam.conf").read_text(),
    }
    # Whatever clamd and freshclam write is on a volume: the root filesystem is read-only.
    writes = {"/var/lib/clamav", "/tmp"}  # noqa: S108 - paths in the pod, not here
    for container in containers(init=False):
        assert writes <= {m["mountPath"] for m in container["volumeMounts"]}, container["name"]


def test_a_drain_keeps_one_scanner() -> None:
    budget = one(rendered(), "PodDisruptionBudget", "clamav")
    assert budget["spec"]["minAvailable"] == 1
    assert selects(budget["spec"]["selector"], pod_labels(deployment()))
    assert deployment()["spec"]["replicas"] >= 2


def _admitted(namespace: str, labels: dict[str, str]) -> bool:
    """Whether the clamav namespace's policies let a pod with these labels reach clamd."""
    policies = of_kind(rendered(), "NetworkPolicy")
    assert "Ingress" in policies["default-deny-all"]["spec"]["policyTypes"]
    clamd = pod_labels(deployment())
    namespace_labels = {"kubernetes.io/metadata.name": namespace}
    for policy in policies.values():
        spec = policy["spec"]
        if not selects(spec["podSelector"], clamd) and spec["podSelector"] != {}:
            continue
        for rule in spec.get("ingress", []):
            ports = {(p["protocol"], p["port"]) for p in rule.get("ports", [])}
            for peer in rule.get("from", []):
                if (
                    ("TCP", PORT) in ports
                    and selects(peer["namespaceSelector"], namespace_labels)
                    and selects(peer["podSelector"], labels)
                ):
                    return True
    return False


@pytest.mark.parametrize("overlay", sorted(NAMESPACES))
def test_only_intake_and_rescan_reach_clamd(overlay: str) -> None:
    namespace = NAMESPACES[overlay]
    objects = render(overlay)
    names = set()
    for workload in workloads(objects):
        labels = pod_labels(workload)
        name = labels["app.kubernetes.io/name"]
        names.add(name)
        assert _admitted(namespace, labels) == (name in SCANNING_CLIENTS), name
    assert names >= SCANNING_CLIENTS
    assert not _admitted("default", pod_labels(one(objects, "Deployment", "intake")))
    # The other side: Tawasul's own egress policy lets its scanners out to this namespace.
    egress = of_kind(objects, "NetworkPolicy")["intake-to-clamav-egress"]["spec"]["egress"]
    clamav_namespace = one(rendered(), "Namespace", NAMESPACE)["metadata"]
    namespace_labels = {"kubernetes.io/metadata.name": clamav_namespace["name"]}
    assert any(selects(peer["namespaceSelector"], namespace_labels) for peer in egress[0]["to"])


def test_freshclam_gets_dns_and_https_outside_our_network_only() -> None:
    policy = of_kind(rendered(), "NetworkPolicy")["freshclam-egress"]
    assert selects(policy["spec"]["podSelector"], pod_labels(deployment()))
    ports = set()
    for rule in policy["spec"]["egress"]:
        rule_ports = {(p["protocol"], p["port"]) for p in rule["ports"]}
        ports |= rule_ports
        for peer in rule["to"]:
            if "ipBlock" in peer:
                assert rule_ports == {("TCP", 443)}
                assert set(PRIVATE_RANGES) <= set(peer["ipBlock"]["except"])
    assert ports == {("UDP", 53), ("TCP", 53), ("TCP", 443)}


# --- the config files, on a real clamd -------------------------------------------------


def test_clamconf_reads_both_files_without_an_error(tmp_path: Path) -> None:
    clamconf = shutil.which("clamconf")
    if clamconf is None:
        pytest.fail("clamconf is missing: scripts/clamav.sh installs it (make test runs it)")
    for name in ("clamd.conf", "freshclam.conf"):
        shutil.copy(CLAMAV / name, tmp_path / name)
    result = subprocess.run(
        [clamconf, "-c", str(tmp_path)], capture_output=True, text=True, timeout=60, check=True
    )
    output = result.stdout + result.stderr
    assert "ERROR" not in output, output
    assert 'StreamMaxLength = "16777216"' in output
    assert "AlertExceedsMax = " in output
    assert "AlertExceedsMax disabled" not in output
    # The bait: clamconf does report a setting clamd does not know.
    (tmp_path / "clamd.conf").write_text("NoSuchSetting yes\n")
    bad = subprocess.run(
        [clamconf, "-c", str(tmp_path)], capture_output=True, text=True, timeout=60, check=True
    )
    assert "Unknown option NoSuchSetting" in bad.stdout + bad.stderr


def test_the_shipped_clamd_conf_covers_intakes_largest_upload() -> None:
    settings = dict(
        line.split(None, 1) for line in (CLAMAV / "clamd.conf").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    )  # fmt: skip
    assert settings["StreamMaxLength"] == "16M"
    largest = IntakeSettings.model_fields["max_document_bytes"].default
    assert largest < 16 * 1024 * 1024
    assert int(settings["ReadTimeout"]) >= IntakeSettings.model_fields["clamd_timeout"].default


def test_a_real_clamd_on_the_shipped_config_scans_refuses_and_answers_probes() -> None:
    with Clamd(config=CLAMAV / "clamd.conf") as clamd:
        scanner = ClamdScanner(clamd.address, timeout=30)
        assert asyncio.run(scanner.scan(files.PDF)).clean
        infected = asyncio.run(scanner.scan(files.EICAR_PDF))
        assert not infected.clean
        assert infected.signature is not None
        with pytest.raises(ScannerUnavailable):
            asyncio.run(scanner.scan(b"%PDF-1.4\n" + b"a" * (17 * 1024 * 1024)))
        probe = [
            f"--config-file={clamd.config_file}" if part.startswith("--config-file=") else part
            for part in clamd_container()["readinessProbe"]["exec"]["command"]
        ]
        clamdscan = shutil.which(probe[0])
        if clamdscan is None:
            pytest.fail("clamdscan is missing: scripts/clamav.sh installs it")
        answered = subprocess.run(
            [clamdscan, *probe[1:]], capture_output=True, text=True, timeout=30, check=False
        )
        assert answered.returncode == 0, answered.stdout + answered.stderr
        clamd.kill()
        silent = subprocess.run(
            [clamdscan, *probe[1:]], capture_output=True, text=True, timeout=30, check=False
        )
        assert silent.returncode != 0
