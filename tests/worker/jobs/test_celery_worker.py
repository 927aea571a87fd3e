"""A real worker process (`hdrtv worker`: Celery, prefork pool) against redis-server and moto's S3 runs
one job to success."""

import os
import time

import pytest
import servers
from hdrtv.worker.control.celery_app import broker_priority, make_app
from hdrtv.worker.control.job_store import Job, JobStatus, JobStore
from hdrtv.worker.control.settings import Settings
from hdrtv.worker.control.task_names import CPU_QUEUE, START_JOB
from video_factory import write_clip


@pytest.fixture
def worker(redis_server, s3_server, tmp_path):
    """A worker consuming both queues, configured through the environment like a deployed one."""
    env = os.environ | {
        "HDRTV_REDIS_URL": redis_server,
        "HDRTV_S3_ENDPOINT_URL": s3_server,
        "HDRTV_SCRATCH_DIR": str(tmp_path / "scratch"),
        "HDRTV_DEVICE": "auto",  # CUDA where present: the model must load after the fork
        "HDRTV_PRESET": "ultrafast",
        "HDRTV_CHUNK_FRAMES": "8",
        "OMP_NUM_THREADS": "1",
    }
    with servers.hdrtv_worker(tmp_path, "worker", env, concurrency=1):
        yield tmp_path / "worker.log"


def test_a_worker_runs_a_job_sent_by_name(worker, redis_server, s3_server, object_store, bucket, tmp_path):
    store = JobStore.from_url(redis_server)
    source = write_clip(tmp_path / "clip.mp4", frames=20, audio_language="eng")
    object_store.upload(source, f"s3://{bucket}/in/clip.mp4")
    job = Job(tenant="acme", input_uri=f"s3://{bucket}/in/clip.mp4", output_uri=f"s3://{bucket}/out/hdr.mkv")
    job.model = "bt2408"
    store.create(job)
    servers.grant_every_bucket(store.redis, job.tenant, store.prefix)

    app = make_app(Settings(redis_url=redis_server))  # what the API holds: no worker code imported
    app.send_task(START_JOB, args=[job.id], queue=CPU_QUEUE, priority=broker_priority(job.priority))
    deadline = time.monotonic() + 120
    while not store.get(job.id).status.terminal and time.monotonic() < deadline:
        time.sleep(0.2)

    done = store.get(job.id)
    assert done.status == JobStatus.SUCCEEDED, (done.error_message, worker.read_text()[-3000:])
    assert (done.chunks_total, done.chunks_done, done.frames_done) == (3, 3, 20)
    assert object_store.exists(job.output_uri)
    assert list(object_store.list(f"s3://{bucket}/.hdrtv-tmp/")) == []
