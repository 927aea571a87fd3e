"""Monitoring: the Prometheus alert rules and their unit tests pass promtool, every alert has a firing
and a quiet test case and a runbook, the Grafana dashboard is provisioned consistently, and every
metric the rules and the dashboard query is one that a live API and worker really export."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import time
from pathlib import Path

import httpx
import pytest
import servers
import yaml
from celery import signals
from hdrtv.worker.control.task_names import CPU_QUEUE
from hdrtv.worker.jobs import tasks
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families
from video_factory import write_clip

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
RULES = DEPLOY / "prometheus" / "rules" / "hdrtv.yml"
RULE_TESTS = DEPLOY / "prometheus" / "tests" / "hdrtv_test.yml"
CONFIG = DEPLOY / "prometheus" / "prometheus.yml"
DASHBOARD = DEPLOY / "grafana" / "dashboards" / "hdrtv.json"
DATASOURCES = DEPLOY / "grafana" / "provisioning" / "datasources" / "prometheus.yml"
DASHBOARD_PROVIDERS = DEPLOY / "grafana" / "provisioning" / "dashboards" / "hdrtv.yml"

PANELS = {
    "Jobs by status",
    "Queue depth per queue",
    "Frames converted per second",
    "Megapixels converted per second",
    "Job duration quantiles",
    "Chunk duration quantiles",
    "Errors by kind",
    "GPU worker count",
}
"""The panels the monitoring issue asks for, by title."""

needs_promtool = pytest.mark.skipif(
    shutil.which("promtool") is None, reason="promtool is not installed (Debian package: prometheus)"
)

# PromQL words that look like metric names: aggregations, functions (also caught by their "("),
# binary operators and modifiers.
KEYWORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "and", "or", "unless", "bool", "offset"}
KEYWORDS |= {"sum", "max", "min", "avg", "count", "rate", "increase", "deriv", "absent", "vector", "histogram_quantile"}


def promtool(*args: str) -> None:
    result = subprocess.run(["promtool", *args], capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0, result.stdout + result.stderr


def alert_rules() -> list[dict]:
    return [rule for group in yaml.safe_load(RULES.read_text())["groups"] for rule in group["rules"]]


def dashboard() -> dict:
    return json.loads(DASHBOARD.read_text())


def dashboard_queries() -> list[str]:
    return [target["expr"] for panel in dashboard()["panels"] for target in panel["targets"]]


def metric_names(expr: str) -> set[str]:
    """The metric names a PromQL expression selects: strings, label matchers, ranges and the label
    lists of by/without/on/ignoring removed, then every identifier that is no function or keyword."""
    expr = re.sub(r'"(?:[^"\\]|\\.)*"', "", expr)
    expr = re.sub(r"\{[^}]*\}|\[[^\]]*\]", "", expr)
    expr = re.sub(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", "", expr)
    names = re.findall(r"(?<![\w.$])([a-zA-Z_:][\w:]*)\b(?!\s*\()", expr)
    return {name for name in names if name not in KEYWORDS}


def test_metric_names_are_found_in_promql():
    expr = 'histogram_quantile(0.9, sum by (le) (rate(a_bucket{route!="/x", q=~"b|c"}[$__rate_interval]))) * 60'
    assert metric_names(expr) == {"a_bucket"}
    expr = "max by (queue) (x) > 0 unless on (queue) sum by (queue) (up) or vector(0) and absent(y{queue='cpu'})"
    assert metric_names(expr) == {"x", "up", "y"}


@needs_promtool
def test_the_rules_and_the_scrape_config_pass_promtool(tmp_path):
    promtool("check", "rules", str(RULES))
    promtool("test", "rules", str(RULE_TESTS))
    # rule_files name the path inside the Prometheus container: check a copy that points at the repo.
    config = yaml.safe_load(CONFIG.read_text())
    assert config["rule_files"] == ["/etc/prometheus/rules/*.yml"]
    config["rule_files"] = [str(RULES.parent / "*.yml")]
    (tmp_path / "prometheus.yml").write_text(yaml.safe_dump(config))
    promtool("check", "config", str(tmp_path / "prometheus.yml"))
    jobs = {job["job_name"]: scrape_targets(job) for job in config["scrape_configs"]}
    assert jobs == {
        "hdrtv-api": ["api:8000"],
        "hdrtv-worker-gpu": ["worker-gpu:9100"],
        "hdrtv-worker-cpu": ["worker-cpu:9100"],
    }


def scrape_targets(job: dict) -> list[str]:
    """host:port of a scrape job, static or found by DNS (every replica of a Compose service)."""
    static = [t for config in job.get("static_configs", []) for t in config["targets"]]
    found = [f"{name}:{c['port']}" for c in job.get("dns_sd_configs", []) for name in c["names"]]
    return static + found


def test_every_alert_has_a_firing_and_a_quiet_test_case_and_a_runbook():
    alerts = [rule["alert"] for rule in alert_rules()]
    assert len(alerts) == len(set(alerts)) >= 7
    cases = [case for test in yaml.safe_load(RULE_TESTS.read_text())["tests"] for case in test["alert_rule_test"]]
    firing = {case["alertname"] for case in cases if case["exp_alerts"]}
    quiet = {case["alertname"] for case in cases if not case["exp_alerts"]}
    runbook = DEPLOY.joinpath("README.md").read_text()
    documented = set(re.findall(r"^### (Hdrtv\w+)$", runbook, flags=re.M))
    assert set(alerts) <= firing and set(alerts) <= quiet and set(alerts) == documented
    for alert in alerts:
        section = runbook.split(f"### {alert}\n", 1)[1].split("\n### ", 1)[0]
        assert all(part in section for part in ("Means", "Check", "Fix")), alert
    for rule in alert_rules():
        assert rule["labels"]["severity"] in ("warning", "critical")
        assert f"deploy/README.md#{rule['alert'].lower()}" in rule["annotations"]["description"]


def test_the_rules_select_by_metric_and_queue_never_by_scrape_job():
    """Compose and Kubernetes name their scrape jobs differently; the queue names are the code's."""
    for rule in alert_rules():
        assert "job=" not in rule["expr"].replace(" ", ""), rule["alert"]
    [absent] = [rule for rule in alert_rules() if rule["alert"] == "HdrtvWorkersAbsent"]
    assert f'queue="{CPU_QUEUE}"' in absent["expr"]


def test_the_dashboard_has_the_panels_and_uses_the_provisioned_data_source():
    board = dashboard()
    titles = {panel["title"] for panel in board["panels"]}
    assert PANELS <= titles
    assert all(panel["description"] and panel["targets"] for panel in board["panels"])
    [source] = yaml.safe_load(DATASOURCES.read_text())["datasources"]
    assert source["type"] == "prometheus"
    [variable] = [v for v in board["templating"]["list"] if v["type"] == "datasource"]
    assert (variable["query"], variable["current"]["value"]) == ("prometheus", source["uid"])
    reference = {"type": "prometheus", "uid": f"${{{variable['name']}}}"}
    for panel in board["panels"]:
        assert panel["datasource"] == reference and all(t["datasource"] == reference for t in panel["targets"])
    [provider] = yaml.safe_load(DASHBOARD_PROVIDERS.read_text())["providers"]
    assert (provider["type"], provider["options"]["path"]) == ("file", "/var/lib/grafana/dashboards")


def exported(text: str) -> set[str]:
    """The series names an exposition has or will have: a family's HELP/TYPE appears before its
    first sample for unlabelled metrics and, in the API's registry, for labelled ones too."""
    names = set()
    for family in text_string_to_metric_families(text):
        suffixes = {"counter": ["_total"], "histogram": ["_bucket", "_sum", "_count"]}.get(family.type, [""])
        names |= {family.name + suffix for suffix in suffixes}
    return names


def test_every_queried_metric_is_exported_by_a_live_api_and_worker(s3_server, object_store, bucket, tmp_path):
    """The API and a worker on both queues, as deployed; one job whose input is damaged after the API
    accepted it fails on the worker, so labelled worker metrics whose values are not known in advance
    (errors by code) appear."""
    source = write_clip(tmp_path / "clip.mp4", width=64, height=48, frames=4)
    object_store.upload(source, f"s3://{bucket}/in/broken.mp4")
    metrics_port = servers.free_port()
    with servers.hdrtv_api(tmp_path, s3_server, "monitoring") as (api, key, _, env):
        with httpx.Client(base_url=api, headers={"Authorization": f"Bearer {key}"}, timeout=10) as client:
            body = {"input_uri": f"s3://{bucket}/in/broken.mp4", "output_uri": f"s3://{bucket}/out/broken.mkv"}
            response = client.post("/v1/jobs", json=body)
            assert response.status_code == 202, response.text
            # Damaged before any worker runs, so the worker's probe fails the job.
            object_store.client.put_object(Bucket=bucket, Key="in/broken.mp4", Body=source.read_bytes()[:500])
            with servers.hdrtv_worker(tmp_path, "worker", env, metrics_port=metrics_port):
                job_id, deadline = response.json()["id"], time.monotonic() + 60
                while client.get(f"/v1/jobs/{job_id}").json()["status"] != "failed":
                    assert time.monotonic() < deadline, (tmp_path / "worker.log").read_text()[-3000:]
                    time.sleep(0.2)
                worker_text = httpx.get(f"http://127.0.0.1:{metrics_port}/metrics").text
            api_text = client.get("/metrics").text

    names = exported(api_text) | exported(worker_text) | {"up"}  # `up`: Prometheus's own, per target
    queried = {name for expr in dashboard_queries() + [r["expr"] for r in alert_rules()] for name in metric_names(expr)}
    assert {"hdrtv_queue_depth", "hdrtv_worker_errors_total", "hdrtv_http_request_duration_seconds_bucket"} <= queried
    assert queried <= names, sorted(queried - names)
    assert 'hdrtv_worker_up{queue="gpu"} 1.0' in worker_text and 'hdrtv_worker_up{queue="cpu"} 1.0' in worker_text
    if shutil.which("promtool") is not None:  # the metrics added for alerting follow Prometheus's conventions
        check = subprocess.run(["promtool", "check", "metrics"], input=worker_text, capture_output=True, text=True)
        assert check.returncode == 0, check.stdout + check.stderr


def test_task_retries_are_counted_by_task():
    def retries(task: str) -> float:
        return REGISTRY.get_sample_value("hdrtv_worker_task_retries_total", {"task": task})

    before = retries("convert_chunk"), retries("deliver_callback")
    # What Celery sends when a task raises Retry (autoretry_for's transient errors, or self.retry).
    signals.task_retry.send(sender=tasks.convert_chunk, request=None, reason="redis down", einfo=None)
    assert (retries("convert_chunk"), retries("deliver_callback")) == (before[0] + 1, before[1])
