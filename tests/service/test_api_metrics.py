"""/metrics: request counts and latencies by route template and status, jobs submitted by model."""

from __future__ import annotations

import shutil
import subprocess

import pytest
from api_harness import ApiHarness
from prometheus_client.parser import text_string_to_metric_families


def samples(text: str) -> dict[tuple[str, frozenset], float]:
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


@pytest.fixture
def exposition(redis_server, s3_settings, bucket, tmp_path) -> str:
    """/metrics after a known set of requests."""
    api = ApiHarness.start(redis_server, s3_settings, bucket, tmp_path)
    api.put("in/a.mp4", b"video bytes")
    headers = api.auth()
    api.client.get("/healthz")
    api.client.get("/v1/jobs/one", headers=headers)
    api.client.get("/v1/jobs/two", headers=headers)
    api.client.get("/v1/jobs")
    api.client.get("/no/such/path")
    body = {"jobs": [api.job_body("in/a.mp4", "out/a.mkv", model="bt2408")]}
    assert api.client.post("/v1/batches", json=body, headers=headers).status_code == 202
    response = api.client.get("/metrics")
    assert response.headers["content-type"].startswith("text/plain")
    return response.text


def test_requests_are_counted_and_timed_by_route_template_and_status(exposition):
    found = samples(exposition)

    def requests(method: str, route: str, status: str) -> float:
        labels = frozenset({"method": method, "route": route, "status": status}.items())
        count = found[("hdrtv_http_requests_total", labels)]
        assert found[("hdrtv_http_request_duration_seconds_count", labels)] == count
        return count

    assert requests("GET", "/v1/jobs/{job_id}", "404") == 2
    assert requests("GET", "/v1/jobs", "401") == 1
    assert requests("GET", "/healthz", "200") == 1
    assert requests("GET", "unmatched", "404") == 1
    assert requests("POST", "/v1/batches", "202") == 1
    assert found[("hdrtv_jobs_submitted_total", frozenset({"model": "bt2408"}.items()))] == 1
    assert not any("one" in dict(labels).get("route", "") for _, labels in found)


@pytest.mark.skipif(shutil.which("promtool") is None, reason="promtool is not installed (Debian package: prometheus)")
def test_the_exposition_passes_promtool(exposition):
    result = subprocess.run(["promtool", "check", "metrics"], input=exposition, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
