"""The object store goes away for a few seconds while a job is queued; the job still succeeds.

Every part is a real process: redis-server, the API (`hdrtv serve`), a Celery worker (`hdrtv
worker`) and a moto S3 server of this test's own on a fixed port, stopped and started again there.

Deterministic design: the job is accepted while the store is up, then the store is stopped before
any worker exists. The worker's `start_job` then fails on its first read (StorageUnavailable) and
Celery retries it with exponential backoff (`JobTask`: base 2 s, jitter, 8 retries). Only after
the worker's log shows that retry is moto started again on the same port; as moto keeps its state
in memory, the bucket and the input object are created again, with the worker's whole process
group stopped (SIGSTOP) meanwhile, so no retry can see the restarted store half populated (which
would fail the job as a missing input: a user error, not retried). Nothing of the job lives in the
store before `start_job` succeeds, so the restarted store holds all the job needs whatever retry
attempt gets through.
"""

from __future__ import annotations

import os
import signal
import sys
import time
from contextlib import ExitStack
from pathlib import Path

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
