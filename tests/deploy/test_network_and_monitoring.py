"""The NetworkPolicies allow only the intended flows; Prometheus objects and alerts are sound."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping

import promql_parser

from tests.deploy.processes import (
    BY_NAME,
    DEPLOY,
    HTTP_PROCESSES,
    ROOT,
    WORKERS,
    Role,
)
from tests.deploy.rendering import (
    ALERTED_METRICS,
    HTTPS_CLIENTS,
    INGRESS_CONTROLLER_NAMESPACE,
    METRICS,
    MONITORING_NAMESPACE,
    PRIVATE_RANGES,
    Obj,
    of_kind,
    pod_labels,
    selects,
    workloads,
)

# --- who reaches what ------------------------------------------------------------------


def test_services_only_for_http_processes(objects: tuple[Obj, ...]) -> None:
    services = of_kind(objects, "Service")
    deployments = of_kind(objects, "Deployment")
    assert sorted(services) == sorted(HTTP_PROCESSES), "Services only for the HTTP processes"
    for name, service in services.items():
        assert service["spec"].get("type", "ClusterIP") == "ClusterIP", f"Service/{name}"
        ports = service["spec"]["ports"]
        assert [(p["name"], p["port"]) for p in ports] == [("http", 8000)], f"Service/{name}"
        assert ports[0]["targetPort"] in ("http", 8000), f"Service/{name}: targetPort"
        selector = {"matchLabels": service["spec"]["selector"]}
        matched = [d for d, dep in deployments.items() if selects(selector, pod_labels(dep))]
        assert matched == [name], f"Service/{name} selects the pods of {matched}"


def test_ingress_reaches_only_the_gateway(overlay: str, objects: tuple[Obj, ...]) -> None:
    ingresses = of_kind(objects, "Ingress")
    assert list(ingresses) == ["gateway"], "one Ingress, for the gateway"
    spec = ingresses["gateway"]["spec"]
    hosts = {rule["host"] for rule in spec["rules"]}
    tls_hosts = {host for tls in spec.get("tls", []) for host in tls["hosts"]}
    assert hosts, "the Ingress needs a host"
    assert hosts <= tls_hosts, "every host is served over TLS"
    assert not any(h.endswith(".invalid") for h in hosts), f"{overlay}: set the real host"
    if overlay == "prod":
        assert hosts == {"api.tawasul.gov.sa"}
    (config,) = of_kind(objects, "ConfigMap").values()
    callback = config["data"]["SMS_CALLBACK_BASE_URL"]
    assert callback in {f"https://{host}" for host in hosts}, (
        f"SMS_CALLBACK_BASE_URL {callback} must be the public host (providers' receipts)"
    )
    for rule in spec["rules"]:
        for path in rule["http"]["paths"]:
            backend = path["backend"]["service"]
            assert backend["name"] == "gateway", f"Ingress path {path['path']} -> {backend}"
            assert backend["port"] in ({"name": "http"}, {"number": 8000})
            for internal in ("/metrics", "/healthz", "/readyz"):
                exposed = path["pathType"] == "Prefix" and internal.startswith(
                    path["path"].rstrip("/") + "/"
                )
                assert not exposed, f"Ingress path {path['path']} exposes {internal}"
                assert path["path"] != internal, f"Ingress path {path['path']} is internal"


# --- NetworkPolicies -----------------------------------------------------------------------


def policies_for(objects: tuple[Obj, ...], labels: Mapping[str, str], kind: str) -> list[Obj]:
    return [
        p
        for p in of_kind(objects, "NetworkPolicy").values()
        if kind in p["spec"].get("policyTypes", [])
        and (p["spec"]["podSelector"] == {} or selects(p["spec"]["podSelector"], labels))
    ]


def peer_name(peer: Obj) -> str:
    """A short name for a NetworkPolicy peer: ns:<name>, pod:<name>, cidr:<block>."""
    if "ipBlock" in peer:
        return f"cidr:{peer['ipBlock']['cidr']}"
    if "namespaceSelector" in peer:
        labels = peer["namespaceSelector"].get("matchLabels", {})
        return f"ns:{labels.get('kubernetes.io/metadata.name', '?')}"
    labels = peer["podSelector"].get("matchLabels", {})
    return f"pod:{labels.get('app.kubernetes.io/name', '?')}"


def allowed_ingress(objects: tuple[Obj, ...], labels: Mapping[str, str]) -> set[str]:
    return {
        peer_name(peer)
        for policy in policies_for(objects, labels, "Ingress")
        for rule in policy["spec"].get("ingress", [])
        for peer in rule.get("from", [{"ipBlock": {"cidr": "0.0.0.0/0"}}])
    }


def allowed_egress_ports(objects: tuple[Obj, ...], labels: Mapping[str, str]) -> set[int]:
    return {
        port["port"]
        for policy in policies_for(objects, labels, "Egress")
        for rule in policy["spec"].get("egress", [])
        for port in rule.get("ports", [])
    }


def test_default_deny_network_policy(objects: tuple[Obj, ...]) -> None:
    deny = [
        p
        for p in of_kind(objects, "NetworkPolicy").values()
        if p["spec"]["podSelector"] == {}
        and set(p["spec"].get("policyTypes", [])) == {"Ingress", "Egress"}
        and not p["spec"].get("ingress")
        and not p["spec"].get("egress")
    ]
    assert deny, "a default-deny NetworkPolicy for all ingress and egress"


def test_network_policy_ingress(objects: tuple[Obj, ...]) -> None:
    monitoring = f"ns:{MONITORING_NAMESPACE}"
    for workload in workloads(objects):
        name = workload["metadata"]["name"]
        allowed = allowed_ingress(objects, pod_labels(workload))
        expected = {
            "gateway": {f"ns:{INGRESS_CONTROLLER_NAMESPACE}", monitoring},
            "intake": {"pod:gateway", monitoring},
            "routing": {"pod:gateway", monitoring},
            "notify": {"pod:gateway", monitoring},
        }.get(name, {monitoring} if name in WORKERS else set())
        assert allowed == expected, f"{name}: ingress allowed from {sorted(allowed)}"


SCANNERS = {"intake", "rescan"}
"""What talks to clamd (namespace clamav, port 3310)."""


def test_network_policy_egress(objects: tuple[Obj, ...]) -> None:
    policies = of_kind(objects, "NetworkPolicy")
    for workload in workloads(objects):
        name = workload["metadata"]["name"]
        ports = allowed_egress_ports(objects, pod_labels(workload))
        assert {53, 5432} <= ports, f"{name}: DNS and Postgres egress"
        queue_user = BY_NAME[name].role in (Role.api, Role.worker)
        assert (6379 in ports) == queue_user, f"{name}: Redis egress"
        assert (3310 in ports) == (name in SCANNERS), f"{name}: clamd egress"
        assert (443 in ports) == (name in HTTPS_CLIENTS), f"{name}: HTTPS egress"
        assert (8000 in ports) == (name == "gateway"), f"{name}: egress to the services"
    dns = policies["dns-egress"]["spec"]["egress"][0]
    assert {(p["protocol"], p["port"]) for p in dns["ports"]} == {("UDP", 53), ("TCP", 53)}
    (https_rule,) = policies["https-egress"]["spec"]["egress"]
    (block,) = https_rule["to"]
    assert block["ipBlock"]["cidr"] == "0.0.0.0/0"
    excluded = [ipaddress.IPv4Network(c) for c in block["ipBlock"]["except"]]
    for private in PRIVATE_RANGES:
        network = ipaddress.IPv4Network(private)
        assert any(network.subnet_of(e) for e in excluded), f"443 egress reaches {private}"
    gateway_egress = policies["gateway-to-services-egress"]["spec"]["egress"][0]["to"][0]
    reached = [
        d
        for d, dep in of_kind(objects, "Deployment").items()
        if selects(gateway_egress["podSelector"], pod_labels(dep))
    ]
    assert sorted(reached) == sorted(set(HTTP_PROCESSES) - {"gateway"})


# --- monitoring ----------------------------------------------------------------------------


def test_service_monitor_scrapes_the_http_services(objects: tuple[Obj, ...]) -> None:
    (monitor,) = of_kind(objects, "ServiceMonitor").values()
    services = of_kind(objects, "Service")
    matched = [
        n
        for n, s in services.items()
        if selects(monitor["spec"]["selector"], s["metadata"]["labels"])
    ]
    assert sorted(matched) == sorted(HTTP_PROCESSES), f"ServiceMonitor selects {matched}"
    for endpoint in monitor["spec"]["endpoints"]:
        assert endpoint["port"] == "http"
        assert endpoint["path"] == "/metrics"


def test_pod_monitor_scrapes_the_workers(objects: tuple[Obj, ...]) -> None:
    (monitor,) = of_kind(objects, "PodMonitor").values()
    deployments = of_kind(objects, "Deployment")
    matched = [
        n for n, d in deployments.items() if selects(monitor["spec"]["selector"], pod_labels(d))
    ]
    assert sorted(matched) == sorted(WORKERS), f"PodMonitor selects {matched}"
    for endpoint in monitor["spec"]["podMetricsEndpoints"]:
        assert endpoint["port"] == "metrics"
        assert endpoint["path"] == "/metrics"


def metric_names(expr: str) -> set[str]:
    names: set[str] = set()

    def visit(node: promql_parser.Expr) -> None:
        if isinstance(node, promql_parser.VectorSelector) and node.name:
            names.add(node.name)

    promql_parser.walk(promql_parser.parse(expr), visit)
    return names


def readme_anchors() -> set[str]:
    """GitHub-style anchors of deploy/README.md's headings."""
    anchors = set()
    for line in (DEPLOY / "README.md").read_text().splitlines():
        if line.startswith("#"):
            title = line.lstrip("#").strip().lower()
            anchors.add(re.sub(r"[^\w\- ]", "", title).replace(" ", "-"))
    return anchors


def test_alert_rules(objects: tuple[Obj, ...]) -> None:
    (rule_set,) = of_kind(objects, "PrometheusRule").values()
    anchors = readme_anchors()
    used: set[str] = set()
    for group in rule_set["spec"]["groups"]:
        for rule in group["rules"]:
            alert = rule["alert"]
            assert re.fullmatch(r"Tawasul[A-Z]\w+", alert), alert
            names = metric_names(rule["expr"])
            assert names <= METRICS | {"up"}, f"{alert} uses unknown metrics {names - METRICS}"
            used |= names
            assert rule["labels"]["severity"] in ("critical", "warning"), alert
            for key in ("summary", "description", "runbook"):
                assert rule["annotations"].get(key), f"{alert}: annotation {key}"
            anchor = rule["annotations"]["runbook"].partition("#")[2]
            assert anchor in anchors, f"{alert}: deploy/README.md has no heading #{anchor}"
    missing = ALERTED_METRICS - used
    assert not missing, f"no alert on {sorted(missing)}"


def test_alert_metrics_are_the_ones_the_services_export() -> None:
    """The contract with shared/metrics.py: histograms there are named without `_bucket`."""
    source = (ROOT / "shared" / "metrics.py").read_text()
    for name in METRICS:
        base = name.removesuffix("_bucket")
        assert f'"{base}"' in source, f"shared/metrics.py does not define {base}"
