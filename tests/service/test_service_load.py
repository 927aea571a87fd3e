"""The service under load, every part a real process: redis-server, moto's S3, the API (`hdrtv serve`)
and Celery workers (`hdrtv worker`).

Jobs go in through POST /v1/batches: a batch is checked like single jobs except for the API's
header probe (a child process per job), which would make 200 single submissions take minutes on a
small machine; the worker still probes every input.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import servers
from hdrtv.worker.control.celery_app import make_app
from hdrtv.worker.control.job_store import JobStatus, JobStore
from hdrtv.worker.control.settings import Settings
from hdrtv.worker.jobs.files import TEMP_DIR
from hdrtv.worker.jobs.task_metrics import QueueDepth
from video_factory import write_clip

OPTIONS = {"preset": "ultrafast"}


@dataclass
class Stack:
    api: str
    key: str
    redis_url: str
    env: dict[str, str]
    tmp: Path

    def worker(self, name: str, concurrency: int, env: dict[str, str] | None = None) -> AbstractContextManager:
        return servers.hdrtv_worker(self.tmp, name, env or self.env, concurrency)

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.api, headers={"Authorization": f"Bearer {self.key}"}, timeout=30)

    def submit_batch(self, api: httpx.Client, jobs: list[dict]) -> dict:
        response = api.post("/v1/batches", json={"jobs": jobs})
        assert response.status_code == 202, response.text
        return response.json()

    def queue_depth(self) -> int:
        """Tasks waiting in both queues, counted as the workers' hdrtv_queue_depth gauge counts them."""
        (gauge,) = QueueDepth(make_app(Settings(redis_url=self.redis_url))).collect()
        return int(sum(sample.value for sample in gauge.samples))


def make_stack(tmp_path: Path, s3_url: str) -> Iterator[Stack]:
    with servers.hdrtv_api(tmp_path, s3_url, "load") as (api, key, redis_url, env):
        yield Stack(api, key, redis_url, env, tmp_path)


@pytest.fixture
def stack(s3_server, tmp_path) -> Iterator[Stack]:
    yield from make_stack(tmp_path, s3_server)


def job(bucket: str, name: str, priority: int = 5) -> dict:
    return {
        "input_uri": f"s3://{bucket}/in/clip.mp4",
        "output_uri": f"s3://{bucket}/out/{name}.mkv",
        "model": "bt2408",
        "priority": priority,
        "options": OPTIONS,
    }


def wait_all(store: JobStore, job_ids: list[str], log: Path, timeout_s: float) -> list:
    deadline = time.monotonic() + timeout_s
    while True:
        jobs = [store.get(job_id) for job_id in job_ids]
        if all(j.status.terminal for j in jobs):
            return jobs
        left = sum(not j.status.terminal for j in jobs)
        assert time.monotonic() < deadline, f"{left} jobs not finished:\n{log.read_text()[-3000:]}"
        time.sleep(0.25)


@pytest.fixture
def tiny_clip(tmp_path) -> Path:
    return write_clip(tmp_path / "clip.mp4", width=32, height=32, frames=3)


JOBS = 200


def test_a_few_hundred_queued_jobs_are_drained(stack, object_store, bucket, tiny_clip):
    object_store.upload(tiny_clip, f"s3://{bucket}/in/clip.mp4")
    store = JobStore.from_url(stack.redis_url)
    with stack.client() as api:
        batch = stack.submit_batch(api, [job(bucket, f"o{i:03d}") for i in range(JOBS)])
        job_ids = batch["job_ids"]
        assert len(job_ids) == JOBS
        assert stack.queue_depth() == JOBS
        with stack.worker("worker", 2):
            jobs = wait_all(store, job_ids, stack.tmp / "worker.log", 300)
        counts = api.get(f"/v1/batches/{batch['id']}").json()["counts"]
    assert [j.id for j in jobs if j.status != JobStatus.SUCCEEDED] == []
    assert counts.get("succeeded") == JOBS
    outputs = set(object_store.list(f"s3://{bucket}/out/"))
    assert outputs == {f"s3://{bucket}/out/o{i:03d}.mkv" for i in range(JOBS)}
    assert list(object_store.list(f"s3://{bucket}/{TEMP_DIR}/")) == []
    assert stack.queue_depth() == 0


LOW = 30


def test_an_urgent_job_overtakes_a_queued_batch(stack, object_store, bucket, tiny_clip):
    object_store.upload(tiny_clip, f"s3://{bucket}/in/clip.mp4")
    store = JobStore.from_url(stack.redis_url)
    with stack.client() as api:
        low = stack.submit_batch(api, [job(bucket, f"low{i:03d}", priority=0) for i in range(LOW)])["job_ids"]
        urgent = stack.submit_batch(api, [job(bucket, "urgent", priority=9)])["job_ids"][0]
        with stack.worker("worker", 1):
            jobs = wait_all(store, [*low, urgent], stack.tmp / "worker.log", 300)
    assert all(j.status == JobStatus.SUCCEEDED for j in jobs)
    order = [j.id for j in sorted(jobs, key=lambda j: j.finished_at)]
    # The worker may already hold a prefetched low-priority task or two when it starts.
    assert order.index(urgent) < 3, order.index(urgent)
