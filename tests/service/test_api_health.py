"""/healthz and /readyz against real and unreachable parts."""

from __future__ import annotations

from api_harness import ApiHarness
from servers import free_port


def test_liveness_and_readiness_with_every_part_up(redis_server, s3_settings, bucket, tmp_path):
    api = ApiHarness.start(redis_server, s3_settings, bucket, tmp_path, allowed_buckets=[bucket])
    assert api.client.get("/healthz").json() == {"status": "ok"}
    ready = api.client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json() == {"status": "ready", "checks": {"redis": "ok", "object_store": "ok"}}


def test_readiness_names_the_part_that_is_down(s3_settings, bucket, tmp_path):
    redis_url = f"redis://127.0.0.1:{free_port()}/0"  # nothing listens there
    api = ApiHarness.start(redis_url, s3_settings, bucket, tmp_path, allowed_buckets=["no-such-bucket"])
    assert api.client.get("/healthz").status_code == 200
    ready = api.client.get("/readyz")
    assert ready.status_code == 503
    checks = ready.json()["checks"]
    assert checks["redis"].startswith("failed: ") and checks["object_store"].startswith("failed: ")
