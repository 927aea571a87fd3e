"""Faults injected into a running service, every part a real process: a redis-server with its
append-only file, a moto S3 server on a port of its own (so it can be stopped, paused and started
again there), the API (`hdrtv serve`), Celery workers (`hdrtv worker`) and a receiver of callbacks.

Each fault strikes while a job is mid-way (a step's heartbeat in Redis is the sign, so the fault
cannot miss the step), and each job must end succeeded, or failed with a clear error, with its
callback delivered; no job stays running and no temporary object survives. How long each recovery
took is listed at the end of the run ("recovery times"). Worker deaths while probing and mid-chunk
are in test_e2e_service.py; a store down before a job starts and its 503s are in
test_service_outage.py.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, ExitStack
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import servers
from hdrtv.worker.control.job_record import Job
from hdrtv.worker.control.job_store import JobStatus, JobStore
from hdrtv.worker.control.settings import Settings
from hdrtv.worker.control.storage import ObjectStore
from hdrtv.worker.jobs.files import TEMP_DIR
from hdrtv.worker.jobs.recovery import ASSEMBLY, beating, chunk_step
from test_e2e_service import kill_on, wait_until
from test_service_outage import moto
from video_factory import write_clip

BUCKET = "faults"
FRAMES, CHUNK_FRAMES = 48, 16  # three chunks
SETTINGS = {
    "HDRTV_HEARTBEAT_TTL_S": "3",  # a dead step is back seconds after its worker dies
    "HDRTV_SWEEP_INTERVAL_S": "1",
    "HDRTV_SWEEP_GRACE_S": "600",
    "HDRTV_JANITOR_INTERVAL_S": "1",
    "HDRTV_JANITOR_MIN_AGE_S": "2",
    "HDRTV_S3_CONNECT_TIMEOUT_S": "1",
    "HDRTV_S3_READ_TIMEOUT_S": "1",
    "HDRTV_ALLOW_PRIVATE_CALLBACKS": "true",  # the receiver listens on this machine
}


@dataclass
class Service:
    """The running parts and what a test needs to strike them; `parts` stops them all at the end,
    `store_parts` the object store alone."""

    tmp: Path
    api: str
    key: str
    env: dict[str, str]
    store: JobStore
    objects: ObjectStore
    s3_process: subprocess.Popen
    s3_port: int
    redis_dir: Path
    redis_port: int
    receiver: servers.CallbackReceiver
    parts: ExitStack
    store_parts: ExitStack

    def submit(self, name: str) -> str:
        """A job converting the test clip to out/<name>.mkv, submitted through the API, calling back."""
        body = {
            "input_uri": f"s3://{BUCKET}/in/clip.mp4",
            "output_uri": f"s3://{BUCKET}/out/{name}.mkv",
            "model": "bt2408",
            "options": {"preset": "ultrafast", "chunk_frames": CHUNK_FRAMES},
            "callback_url": self.receiver.url,
        }
        answer = httpx.post(f"{self.api}/v1/jobs", json=body, headers={"Authorization": f"Bearer {self.key}"})
        assert answer.status_code == 202, answer.text
        return answer.json()["id"]

    def worker(self, name: str) -> AbstractContextManager[subprocess.Popen]:
        return servers.hdrtv_worker(self.tmp, name, self.env)

    def ended(self, job_id: str, log: str, limit_s: float = 180) -> Job:
        """The job once it has ended and its callback was delivered, with nothing of it left in the store."""
        wait_until(lambda: self.store.get(job_id).status.terminal, f"end of job {job_id} ({log})", limit_s)
        wait_until(lambda: delivered(self.receiver, job_id), f"callback of job {job_id}", 60)
        wait_until(lambda: not list(self.objects.list(f"s3://{BUCKET}/{TEMP_DIR}/")), "temporary objects gone", 30)
        return self.store.get(job_id)


def delivered(receiver: servers.CallbackReceiver, job_id: str) -> bool:
    return any(json.loads(body)["id"] == job_id for _, _, body in receiver.requests)


@pytest.fixture
def clip(tmp_path_factory) -> Path:
    return write_clip(tmp_path_factory.mktemp("clip") / "clip.mp4", width=96, height=64, frames=FRAMES)


@pytest.fixture
def service(tmp_path, aws_credentials, clip) -> Iterator[Service]:
    s3_port, redis_port = servers.free_port(), servers.free_port()
    s3_url = f"http://127.0.0.1:{s3_port}"
    (redis_dir := tmp_path / "redis").mkdir()
    with ExitStack() as parts:
        store_parts = parts.enter_context(ExitStack())
        s3_process = store_parts.enter_context(moto(s3_port, tmp_path / "moto.log"))
        redis_url = parts.enter_context(servers.redis_server(redis_dir, redis_port, durable=True))
        receiver = parts.enter_context(servers.callback_receiver())
        api, key, _, env = parts.enter_context(
            servers.hdrtv_api(tmp_path, s3_url, "faults", redis_url=redis_url, **SETTINGS)
        )
        objects = ObjectStore.from_settings(Settings(s3_endpoint_url=s3_url))
        objects.client.create_bucket(Bucket=BUCKET)
        objects.upload(clip, f"s3://{BUCKET}/in/clip.mp4")
        store = JobStore.from_url(redis_url)
        yield Service(
            tmp_path,
            api,
            key,
            env,
            store,
            objects,
            s3_process,
            s3_port,
            redis_dir,
            redis_port,
            receiver,
            parts,
            store_parts,
        )


def converting(service: Service, job_id: str) -> bool:
    """A sign from the worker: one chunk recorded and another one's heartbeat beating."""
    job = service.store.get(job_id)
    if job.chunks_total is None or job.chunks_done < 1:
        return False
    done = service.store.chunk_results(job_id)
    return any(i not in done and beating(service.store, job_id, chunk_step(i)) for i in range(job.chunks_total))


def test_a_worker_killed_while_assembling(service, report_recovery):
    """SIGKILL to the whole worker while it assembles the output; a new worker's sweeper re-enqueues
    the assembly once its heartbeat expires, and the output is written once, whole."""
    job_id = service.submit("assembled")
    with service.worker("first") as first:
        kill_on(first, lambda: beating(service.store, job_id, ASSEMBLY), service.tmp / "first.log")
    killed_at = time.monotonic()
    assert service.store.get(job_id).status == JobStatus.RUNNING
    with service.worker("second"):
        job = service.ended(job_id, "second.log")
        report_recovery("worker killed while assembling: the job succeeded", time.monotonic() - killed_at)
    assert job.status == JobStatus.SUCCEEDED, (job.error_code, job.error_message)
    assert service.objects.head(f"s3://{BUCKET}/out/assembled.mkv").size > 0


def test_redis_killed_and_restarted_with_its_append_only_file(service, report_recovery):
    """SIGKILL to redis-server while a chunk converts, started again on the same folder 2 s later:
    the job records and the queued tasks come back from the append-only file, and the job succeeds."""
    job_id = service.submit("redis")
    with service.worker("worker") as worker:
        wait_until(lambda: converting(service, job_id), "a chunk converting")
        (redis_pid,) = _pids_of("redis-server", service.redis_port)
        os.kill(redis_pid, signal.SIGKILL)
        killed_at = time.monotonic()
        time.sleep(2)
        service.parts.enter_context(servers.redis_server(service.redis_dir, service.redis_port, durable=True))
        job = service.ended(job_id, "worker.log")
        report_recovery("redis killed, back after 2 s (AOF): job ended after the kill", time.monotonic() - killed_at)
        assert worker.poll() is None, "the worker rode out the outage"
    assert job.status == JobStatus.SUCCEEDED, (job.error_code, job.error_message)


def test_the_store_paused_and_resumed(service, report_recovery):
    """SIGSTOP to the object store for 4 s while a chunk converts (connections open, nothing
    answers): the steps' requests time out, their tasks retry with backoff, and the job succeeds."""
    job_id = service.submit("paused")
    with service.worker("worker"):
        wait_until(lambda: converting(service, job_id), "a chunk converting")
        os.killpg(service.s3_process.pid, signal.SIGSTOP)
        paused_at = time.monotonic()
        try:
            time.sleep(4)
        finally:
            os.killpg(service.s3_process.pid, signal.SIGCONT)
        job = service.ended(job_id, "worker.log")
        report_recovery("store paused for 4 s: the job ended after the pause began", time.monotonic() - paused_at)
    assert job.status == JobStatus.SUCCEEDED, (job.error_code, job.error_message)


def test_the_store_restarted_empty(service, report_recovery):
    """The object store killed while a chunk converts and started again with nothing in it (a store
    that lost its state): the job fails as the store's fault, `storage_unavailable`, naming what is
    missing, and calls back; nothing of it stays running."""
    job_id = service.submit("emptied")
    with service.worker("worker"):
        wait_until(lambda: converting(service, job_id), "a chunk converting")
        service.store_parts.close()
        stopped_at = time.monotonic()
        service.parts.enter_context(moto(service.s3_port, service.tmp / "moto-2.log"))
        wait_until(lambda: service.store.get(job_id).status.terminal, "the job's end", 180)
        wait_until(lambda: delivered(service.receiver, job_id), "its callback", 60)
        report_recovery("store stopped, restarted empty: the job failed after the stop", time.monotonic() - stopped_at)
    job = service.store.get(job_id)
    assert (job.status, job.error_code) == (JobStatus.FAILED, "storage_unavailable"), job.error_message
    assert "no such bucket" in job.error_message and BUCKET in job.error_message


def _pids_of(name: str, port: int) -> list[int]:
    """Pids of the processes whose command line holds `name` and `:port` (redis-server shows itself
    as "redis-server 127.0.0.1:<port>")."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if name in command and f":{port}" in command:
            found.append(int(entry.name))
    return found
