"""`hdrtv serve` under uvicorn and the `hdrtv jobs` client against it."""

from __future__ import annotations

import json
import os
import sys

import pytest
from hdrtv.service.api_keys import ApiKeys
from hdrtv.service.cli import main
from hdrtv.worker.control.job_record import JobStatus
from hdrtv.worker.control.job_store import JobStore
from servers import free_port, grant_every_bucket, http_answers, running
from video_factory import write_clip


@pytest.fixture
def server(redis_server, s3_server, tmp_path) -> str:
    port = free_port()
    env = os.environ | {"HDRTV_REDIS_URL": redis_server, "HDRTV_S3_ENDPOINT_URL": s3_server}
    argv = [sys.executable, "-m", "hdrtv.service.cli", "serve", "--port", str(port), "--log-level", "warning"]
    url = f"http://127.0.0.1:{port}"
    with running(argv, ready=lambda: http_answers(f"{url}/healthz"), log=tmp_path / "api.log", env=env):
        yield url


def test_submit_get_list_cancel_and_wait(server, redis_server, object_store, bucket, tmp_path, capsys):
    jobs = JobStore.from_url(redis_server)
    key = ApiKeys(jobs.redis).create("cli-tenant")
    grant_every_bucket(jobs.redis, "cli-tenant")
    object_store.upload(write_clip(tmp_path / "a.mp4"), f"s3://{bucket}/a.mp4")
    client = ["--server", server, "--key", key]

    def run(*argv: str) -> tuple[int, str, str]:
        code = main([*argv[:2], *client, *argv[2:]])
        out, err = capsys.readouterr()
        return code, out, err

    code, out, _ = run(
        "jobs", "submit", f"s3://{bucket}/a.mp4", f"s3://{bucket}/a.mkv", "--priority", "3", "--metadata", "show=x"
    )
    assert code == 0
    job = json.loads(out)
    assert job["status"] == "queued" and job["priority"] == 3 and job["metadata"] == {"show": "x"}
    assert json.loads(run("jobs", "get", job["id"])[1])["id"] == job["id"]
    assert [j["id"] for j in json.loads(run("jobs", "list", "--status", "queued")[1])["items"]] == [job["id"]]
    assert json.loads(run("jobs", "cancel", job["id"])[1])["status"] == "cancelled"

    code, out, err = run("jobs", "wait", job["id"], "--interval", "0.1")
    assert code == 2 and json.loads(out)["status"] == "cancelled" and "cancelled: cancelled on request" in err
    code, _, err = run("jobs", "cancel", job["id"])
    assert code == 2 and "409 Conflict: job" in err

    code, out, _ = run("jobs", "submit", f"s3://{bucket}/a.mp4", f"s3://{bucket}/b.mkv")
    second = json.loads(out)["id"]
    jobs.set_status(second, JobStatus.SUCCEEDED)
    code, out, _ = run("jobs", "wait", second, "--interval", "0.1")
    assert code == 0 and json.loads(out)["status"] == "succeeded"


def test_client_errors_are_one_line(server, capsys):
    assert main(["jobs", "get", "x", "--server", server, "--key", "hdrtv_wrong"]) == 2
    assert capsys.readouterr().err.strip() == "hdrtv jobs: error: 401 Unauthorized: unknown or revoked API key"
    assert main(["jobs", "get", "x", "--server", server, "--key", ""]) == 2
    assert "no API key" in capsys.readouterr().err
    assert main(["jobs", "get", "x", "--server", f"http://127.0.0.1:{free_port()}", "--key", "k"]) == 2
    assert "hdrtv jobs: error: http://127.0.0.1:" in capsys.readouterr().err
