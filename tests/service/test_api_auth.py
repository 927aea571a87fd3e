"""Bearer API keys (`service/auth.py`, `service/api_keys.py`, `hdrtv keys`): who may see what."""

from __future__ import annotations

import hashlib

import pytest
import redis
from api_harness import ApiHarness
from hdrtv.service.api_keys import ApiKeys
from hdrtv.service.cli import main
from hdrtv.worker.control.job_record import Job
from hdrtv.worker.control.settings import get_settings


@pytest.fixture
def api(redis_server, s3_settings, bucket, tmp_path) -> ApiHarness:
    return ApiHarness.start(redis_server, s3_settings, bucket, tmp_path)


@pytest.mark.parametrize(
    ("headers", "message"),
    [
        ({}, "missing API key"),
        ({"Authorization": "Basic dXNlcjpwYXNz"}, "missing API key"),
        ({"Authorization": "Bearer hdrtv_not-a-key"}, "unknown or revoked API key"),
    ],
)
@pytest.mark.parametrize(("method", "path"), [("GET", "/v1/jobs"), ("POST", "/v1/jobs"), ("GET", "/v1/batches/x")])
def test_requests_without_a_valid_key_get_401(api, headers, message, method, path):
    response = api.client.request(method, path, headers=headers, json={})
    assert response.status_code == 401 and response.json()["detail"].startswith(message)
    assert response.headers["WWW-Authenticate"] == "Bearer"


def test_another_tenants_job_is_not_found_as_if_it_did_not_exist(api):
    job = Job(tenant=api.tenant("acme"), input_uri=api.uri("a.mp4"), output_uri=api.uri("a.mkv"))
    api.services.jobs.create(job)
    api.services.jobs.mark_chunk_done(job.id, 0, {"frames": 1})  # makes the Redis hash `job:<id>:chunks`
    mine, theirs = api.auth("acme"), api.auth("rival")
    assert api.client.get(f"/v1/jobs/{job.id}", headers=mine).status_code == 200
    for response in (
        api.client.get(f"/v1/jobs/{job.id}", headers=theirs),
        api.client.post(f"/v1/jobs/{job.id}/cancel", headers=theirs),
        api.client.get("/v1/jobs/no-such-job", headers=theirs),
        api.client.get(f"/v1/jobs/{job.id}:chunks", headers=mine),  # another kind of key
    ):
        assert response.status_code == 404 and response.json()["detail"].startswith("no job")
    assert api.client.get("/v1/jobs", headers=theirs).json()["items"] == []
    assert api.services.jobs.get(job.id).status == "queued"


def test_keys_are_stored_only_as_hashes_and_can_be_revoked(redis_server):
    client = redis.Redis.from_url(redis_server, decode_responses=True)
    keys = ApiKeys(client, prefix="keys-test")
    key = keys.create("acme")
    assert key.startswith("hdrtv_") and len(key) > 40 and key != keys.create("acme")
    stored = {name: client.get(name) for name in client.scan_iter("keys-test:*")}
    assert f"keys-test:api_key:{hashlib.sha256(key.encode()).hexdigest()}" in stored
    assert not any(key in name or key == value for name, value in stored.items())
    assert keys.tenant(key) == "acme" and keys.tenant(key + "x") is None
    assert keys.revoke(key) and keys.tenant(key) is None and not keys.revoke(key)
    with pytest.raises(ValueError, match="tenant must be"):
        keys.create("a:b")


def test_hdrtv_keys_create_prints_a_working_key_once(api, monkeypatch, capsys):
    monkeypatch.setenv("HDRTV_REDIS_URL", api.services.settings.redis_url)
    get_settings.cache_clear()
    try:
        assert main(["keys", "create", api.tenant("cli")]) == 0
        key = capsys.readouterr().out.strip()
        headers = {"Authorization": f"Bearer {key}"}
        assert api.client.get("/v1/jobs", headers=headers).status_code == 200
        assert main(["keys", "revoke", key]) == 0
        assert api.client.get("/v1/jobs", headers=headers).status_code == 401
        assert main(["keys", "revoke", key]) == 2 and "no such API key" in capsys.readouterr().err
    finally:
        get_settings.cache_clear()
