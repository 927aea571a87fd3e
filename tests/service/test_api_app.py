"""`service/app.py`: secrets policy (the API's and the worker's), what the API process imports, and
unavailable parts -> 503."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from api_harness import ApiHarness
from hdrtv.service.cli import main
from hdrtv.worker.control.settings import Settings, get_settings
from servers import HDRTV, free_port


def test_production_refuses_the_default_callback_signing_key(monkeypatch, capsys):
    with pytest.raises(ValueError, match="HDRTV_CALLBACK_SIGNING_KEY is the default"):
        Settings(environment="production").refuse_default_secrets()
    Settings(environment="production", callback_signing_key="s3cret-of-our-own").refuse_default_secrets()
    Settings(environment="development").refuse_default_secrets()
    monkeypatch.setenv("HDRTV_ENVIRONMENT", "production")
    get_settings.cache_clear()
    try:
        assert main(["serve", "--port", str(free_port())]) == 2
    finally:
        get_settings.cache_clear()
    assert "HDRTV_CALLBACK_SIGNING_KEY is the default" in capsys.readouterr().err


def test_the_worker_refuses_the_default_callback_signing_key_in_production():
    """Workers sign the callbacks: `hdrtv worker` stops before it reaches a broker, in one line."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("HDRTV_")} | {"HDRTV_ENVIRONMENT": "production"}
    result = subprocess.run([HDRTV, "worker"], env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
    assert result.stderr.strip().splitlines() == [
        "hdrtv worker: error: HDRTV_CALLBACK_SIGNING_KEY is the default; set a secret of your own in production"
    ]


def test_the_api_process_loads_neither_torch_nor_the_worker_tasks():
    code = (
        "import sys; from fastapi.testclient import TestClient; from hdrtv.service.app import create_app; "
        "TestClient(create_app()).get('/healthz'); "
        "print(' '.join(sorted(m for m in sys.modules if m.split('.')[0] in {'torch', 'av', 'cv2', 'scenedetect'} "
        "or m in {'hdrtv.worker.jobs.tasks', 'hdrtv.worker.pipeline', 'hdrtv.worker.media.probe'})))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == ""


def test_an_unreachable_broker_fails_the_job_and_answers_503(redis_server, s3_settings, bucket, tmp_path):
    broker = f"redis://127.0.0.1:{free_port()}/0"  # nothing listens there
    api = ApiHarness.start(redis_server, s3_settings, bucket, tmp_path, broker_url=broker)
    api.put("in/a.mp4", b"video bytes")
    headers = api.auth()
    response = api.client.post("/v1/batches", json={"jobs": [api.job_body("in/a.mp4")]}, headers=headers)
    assert response.status_code == 503 and "job queue is unavailable" in response.json()["detail"]
    [job] = api.client.get("/v1/jobs", headers=headers).json()["items"]
    assert job["status"] == "failed" and job["error"]["code"] == "enqueue_failed"


def test_an_unreachable_object_store_answers_503_to_a_prefix_batch(redis_server, s3_settings, bucket, tmp_path):
    """Listing the prefix is the one request intake makes to the store (single jobs make none)."""
    s3 = s3_settings.model_copy(update={"s3_endpoint_url": f"http://127.0.0.1:{free_port()}"})
    api = ApiHarness.start(redis_server, s3, bucket, tmp_path)
    body = {"input_prefix": api.uri("in/"), "output_prefix": api.uri("out/")}
    response = api.client.post("/v1/batches", json=body, headers=api.auth())
    assert response.status_code == 503 and "object store is unavailable" in response.json()["detail"]
    assert response.headers["Retry-After"]
