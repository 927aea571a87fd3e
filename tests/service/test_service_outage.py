"""The object store fails under a running service, every part a real process: redis-server, the API
(`hdrtv serve`), a Celery worker (`hdrtv worker`) and a moto S3 server of each test's own on a fixed
port, stopped and started again there. A store that stops answering makes the API answer 503 within
its timeouts; a store gone for a few seconds while a job is queued does not fail the job.
"""

from __future__ import annotations

import itertools
import os
import signal
import sys
import time
from contextlib import ExitStack
from pathlib import Path

import httpx
import servers
from hdrtv.worker.control.job_store import JobStatus, JobStore
from hdrtv.worker.control.settings import Settings
from hdrtv.worker.control.storage import ObjectStore
from hdrtv.worker.jobs.files import TEMP_DIR
from servers import free_port, http_answers, running
from test_service_load import job, make_stack, wait_all
from video_factory import write_clip


def moto(port: int, log: Path):
    argv = [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)]
    return running(argv, ready=lambda: http_answers(f"http://127.0.0.1:{port}"), log=log)


def test_a_job_survives_the_object_store_being_briefly_unavailable(aws_credentials, tmp_path):
    """Deterministic design: the job is accepted while the store is up, then the store is stopped
    before any worker exists. The worker's `start_job` then fails on its first read
    (StorageUnavailable) and Celery retries it with exponential backoff (`JobTask`: base 2 s, jitter,
    8 retries). Only after the worker's log shows that retry is moto started again on the same port;
    as moto keeps its state in memory, the bucket and the input object are created again, with the
    worker's whole process group stopped (SIGSTOP) meanwhile, so no retry can see the restarted store
    half populated (which would fail the job at once: a missing bucket or input is not retried).
    Nothing of the job lives in the store before `start_job` succeeds, so the restarted store holds
    all the job needs whatever retry attempt gets through."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    objects = ObjectStore.from_settings(Settings(s3_endpoint_url=url, s3_region="us-east-1", s3_addressing="path"))
    clip = write_clip(tmp_path / "clip.mp4", width=32, height=32, frames=3)
    bucket = "outage"

    def populate() -> None:
        objects.client.create_bucket(Bucket=bucket)
        objects.upload(clip, f"s3://{bucket}/in/clip.mp4")

    with ExitStack() as outer:
        first_store = outer.enter_context(ExitStack())
        first_store.enter_context(moto(port, tmp_path / "moto-1.log"))
        populate()
        stack = next(stack_iter := make_stack(tmp_path, url))
        outer.callback(stack_iter.close)
        with stack.client() as api:
            job_id = stack.submit_batch(api, [job(bucket, "out")])["job_ids"][0]
        first_store.close()  # the store goes away with the job queued
        store = JobStore.from_url(stack.redis_url)
        log = tmp_path / "worker.log"
        with stack.worker("worker", 1) as worker:
            deadline = time.monotonic() + 30
            while "Retry in" not in log.read_text():
                assert time.monotonic() < deadline, log.read_text()[-3000:]
                time.sleep(0.1)
            assert store.get(job_id).status in (JobStatus.QUEUED, JobStatus.RUNNING)
            time.sleep(2)  # a few seconds' outage in all
            os.killpg(worker.pid, signal.SIGSTOP)
            try:
                restarted = outer.enter_context(moto(port, tmp_path / "moto-2.log"))
                populate()
            finally:
                os.killpg(worker.pid, signal.SIGCONT)
            assert restarted.poll() is None
            (done,) = wait_all(store, [job_id], log, 120)
            assert done.status == JobStatus.SUCCEEDED, (done.error_code, done.error_message, log.read_text()[-3000:])
            assert objects.exists(f"s3://{bucket}/out/out.mkv")
            assert list(objects.list(f"s3://{bucket}/{TEMP_DIR}/")) == []
            assert "StorageUnavailable" in log.read_text()


def test_the_api_answers_503_within_seconds_while_the_store_does_not_answer(aws_credentials, tmp_path):
    """A stopped store (SIGSTOP: its port still accepts connections, nothing answers) made /readyz and
    submissions hang for two minutes. With the store's timeouts (here 1 s, as settings) /readyz and a
    prefix batch (which lists the store) answer 503 within 3 attempts of that, and work again once
    the store does; a single job, which intake takes without asking the store, is accepted throughout."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    objects = ObjectStore.from_settings(Settings(s3_endpoint_url=url))
    clip = write_clip(tmp_path / "clip.mp4", width=32, height=32, frames=3)
    timeouts = {"HDRTV_S3_CONNECT_TIMEOUT_S": "1", "HDRTV_S3_READ_TIMEOUT_S": "1"}
    with (
        moto(port, tmp_path / "moto.log") as store,
        servers.hdrtv_api(tmp_path, url, "outage", **timeouts) as (api, key, _, _),
        httpx.Client(base_url=api, headers={"Authorization": f"Bearer {key}"}, timeout=60) as client,
    ):
        objects.client.create_bucket(Bucket="stopped")
        objects.upload(clip, "s3://stopped/in/clip.mp4")
        outputs = (f"s3://stopped/out{n}/" for n in itertools.count())  # one active job writes an output
        requests = {
            "readyz": lambda: client.get("/readyz"),
            "batch": lambda: client.post(
                "/v1/batches", json={"input_prefix": "s3://stopped/in/", "output_prefix": next(outputs)}
            ),
        }
        single = {"input_uri": "s3://stopped/in/clip.mp4", "model": "bt2408"}
        assert [request().status_code for request in requests.values()] == [200, 202]
        os.killpg(store.pid, signal.SIGSTOP)
        try:
            answers = {}
            for name, request in requests.items():
                start = time.monotonic()
                answers[name] = request()
                assert time.monotonic() - start < 10, name  # 3 x 1 s, and botocore's backoff (< 3 s)
            taken = client.post("/v1/jobs", json=single | {"output_uri": next(outputs) + "clip.mkv"})
            assert taken.status_code == 202, taken.text  # a store request would have been a 503
        finally:
            os.killpg(store.pid, signal.SIGCONT)
        assert [answer.status_code for answer in answers.values()] == [503, 503]
        assert answers["readyz"].json()["checks"]["object_store"] == "failed: StorageUnavailable"
        assert answers["batch"].json()["detail"] == "the object store is unavailable (StorageUnavailable); retry later"
        assert [request().status_code for request in requests.values()] == [200, 202]
