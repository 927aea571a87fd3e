"""The service end to end, every part a real process: redis-server, moto's S3, the API under uvicorn
(`hdrtv serve`) and a Celery worker (`hdrtv worker`), driven over HTTP as a media platform would."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import TypeVar

import av
import httpx
import numpy as np
import pytest
import servers
from hdrtv.worker.control.job_store import JobPhase, JobStatus, JobStore
from hdrtv.worker.jobs.recovery import START, beating, chunk_step
from prometheus_client.parser import text_string_to_metric_families
from servers import free_port
from video_factory import write_clip

T = TypeVar("T")

WIDTH, HEIGHT, FRAMES, CHUNK_FRAMES = 96, 64, 24, 8
LONG_FRAMES = 64


@dataclass
class Stack:
    """The running API (base URL), a tenant's key, the Redis and environment workers are given."""

    api: str
    key: str
    redis_url: str
    env: dict[str, str]
    tmp: Path

    def worker(self, name: str, metrics_port: int | None = None) -> AbstractContextManager[subprocess.Popen]:
        """`hdrtv worker` on both queues, one pool process (`servers.hdrtv_worker`)."""
        return servers.hdrtv_worker(self.tmp, name, self.env, metrics_port=metrics_port)

    def submit(self, api: httpx.Client, input_uri: str, output_uri: str, chunk_frames: int = CHUNK_FRAMES) -> str:
        body = {
            "input_uri": input_uri,
            "output_uri": output_uri,
            "model": "bt2408",
            "options": {"preset": "ultrafast", "chunk_frames": chunk_frames},
        }
        response = api.post("/v1/jobs", json=body)
        assert response.status_code == 202, response.text
        return response.json()["id"]

    def wait(self, api: httpx.Client, job_id: str, log: str, status: str = "succeeded") -> dict:
        """The job once it has ended (120 s at most) with `status`."""
        deadline = time.monotonic() + 120
        while (job := api.get(f"/v1/jobs/{job_id}").json())["status"] in ("queued", "running"):
            assert time.monotonic() < deadline, f"job still {job['status']}:\n{(self.tmp / log).read_text()[-3000:]}"
            time.sleep(0.2)
        assert job["status"] == status, (job, (self.tmp / log).read_text()[-3000:])
        return job

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.api, headers={"Authorization": f"Bearer {self.key}"}, timeout=10)


@pytest.fixture
def stack(s3_server, tmp_path) -> Iterator[Stack]:
    """A Redis of its own, an API key and the API; no worker yet. A step whose worker died comes back
    seconds after its heartbeat expires (3 s); the grace of steps waiting in a queue is far beyond
    any wait here, so the kill tests show recovery by heartbeat alone. The janitor of orphaned
    temporary objects runs every second and removes what it has seen orphaned for 2 s."""
    fast_recovery = {
        "HDRTV_HEARTBEAT_TTL_S": "3",
        "HDRTV_SWEEP_INTERVAL_S": "1",
        "HDRTV_SWEEP_GRACE_S": "600",
        "HDRTV_JANITOR_INTERVAL_S": "1",
        "HDRTV_JANITOR_MIN_AGE_S": "2",
    }
    with servers.hdrtv_api(tmp_path, s3_server, "e2e", **fast_recovery) as (api, key, redis_url, env):
        yield Stack(api, key, redis_url, env, tmp_path)


def samples(text: str) -> dict[tuple[str, frozenset], float]:
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def wait_until(condition: Callable[[], object], what: str, limit_s: float = 120) -> None:
    """Return once `condition()` holds (polled every 10 ms); fail after `limit_s`."""
    deadline = time.monotonic() + limit_s
    while not condition():
        assert time.monotonic() < deadline, f"no {what} after {limit_s:.0f} s"
        time.sleep(0.01)


def ffprobe(path: Path, *args: str) -> dict:
    command = ["ffprobe", "-v", "error", "-of", "json", *args, str(path)]
    return json.loads(subprocess.run(command, capture_output=True, text=True, check=True).stdout)


def test_a_job_submitted_over_http_is_converted_by_a_worker(stack, object_store, bucket, tmp_path):
    """Two jobs end as they should, the succeeded one with no phase; the worker's janitor removes the
    chunk files of a job whose record is gone (a Redis restored from an older snapshot)."""
    source = write_clip(tmp_path / "clip.mp4", width=WIDTH, height=HEIGHT, frames=FRAMES, audio_language="eng")
    object_store.upload(source, f"s3://{bucket}/in/clip.mp4")
    object_store.upload(source, f"s3://{bucket}/in/broken.mp4")
    object_store.upload(source, f"s3://{bucket}/.hdrtv-tmp/{uuid.uuid4().hex}/chunk00000.mp4")
    metrics_port = free_port()
    with stack.client() as api:
        job_id = stack.submit(api, f"s3://{bucket}/in/clip.mp4", f"s3://{bucket}/out/clip.mkv")
        # Accepted while whole, then damaged before any worker reads it: the worker fails that job.
        broken = stack.submit(api, f"s3://{bucket}/in/broken.mp4", f"s3://{bucket}/out/broken.mkv")
        (tmp_path / "broken.mp4").write_bytes(source.read_bytes()[:1000])
        object_store.upload(tmp_path / "broken.mp4", f"s3://{bucket}/in/broken.mp4")
        with stack.worker("worker", metrics_port):
            assert stack.wait(api, job_id, "worker.log")["phase"] is None
            assert stack.wait(api, broken, "worker.log", "failed")["error"]["code"] == "invalid_input"
            api_metrics = samples(api.get("/metrics").text)
            exposition = httpx.get(f"http://127.0.0.1:{metrics_port}/metrics").text
            wait_until(lambda: not list(object_store.list(f"s3://{bucket}/.hdrtv-tmp/")), "temporary objects gone")

    output = tmp_path / "out.mkv"
    object_store.download(f"s3://{bucket}/out/clip.mkv", output)
    video = next(s for s in ffprobe(output, "-show_streams")["streams"] if s["codec_type"] == "video")
    assert (video["codec_name"], video["color_transfer"], video["color_primaries"]) == ("hevc", "smpte2084", "bt2020")
    frame = ffprobe(output, "-select_streams", "v", "-show_frames", "-read_intervals", "%+#1")["frames"][0]
    side = {d["side_data_type"]: d for d in frame["side_data_list"]}
    assert Fraction(side["Mastering display metadata"]["max_luminance"]) == 1000
    assert int(side["Content light level metadata"]["max_content"]) > 0
    assert int(ffprobe(output, "-count_frames", "-show_streams")["streams"][0]["nb_read_frames"]) == FRAMES

    assert api_metrics[("hdrtv_jobs_submitted_total", frozenset({("model", "bt2408")}))] == 2
    found = samples(exposition)
    chunks = FRAMES // CHUNK_FRAMES
    assert found[("hdrtv_worker_jobs_finished_total", frozenset({("status", "succeeded")}))] == 1
    assert found[("hdrtv_worker_job_duration_seconds_count", frozenset({("status", "succeeded")}))] == 1
    assert found[("hdrtv_worker_jobs_finished_total", frozenset({("status", "failed")}))] == 1
    assert found[("hdrtv_worker_errors_total", frozenset({("kind", "invalid_input")}))] == 1
    assert found[("hdrtv_worker_frames_converted_total", frozenset())] == FRAMES
    assert found[("hdrtv_worker_megapixels_converted_total", frozenset())] == pytest.approx(
        FRAMES * WIDTH * HEIGHT / 1e6
    )
    assert found[("hdrtv_worker_chunk_duration_seconds_count", frozenset())] == chunks
    assert found[("hdrtv_worker_object_store_bytes_total", frozenset({("direction", "upload")}))] > 0
    assert found[("hdrtv_worker_object_store_bytes_total", frozenset({("direction", "download")}))] >= os.path.getsize(
        source
    )
    assert {found[("hdrtv_queue_depth", frozenset({("queue", q)}))] for q in ("cpu", "gpu")} == {0}
    if shutil.which("promtool") is not None:
        check = subprocess.run(["promtool", "check", "metrics"], input=exposition, capture_output=True, text=True)
        assert check.returncode == 0, check.stdout + check.stderr


def kill_on(worker: subprocess.Popen, sign: Callable[[], T], log: Path) -> T:
    """SIGKILL the whole worker (pool included) as soon as `sign()` is true, a sign from the worker
    itself in Redis (a step's heartbeat), so that the step cannot end first (it runs far longer than
    one poll); what `sign()` returned."""
    deadline = time.monotonic() + 60
    while not (seen := sign()):
        assert worker.poll() is None and time.monotonic() < deadline, log.read_text()[-3000:]
        time.sleep(0.01)
    os.killpg(worker.pid, signal.SIGKILL)
    return seen


def decoded(path: Path) -> list[np.ndarray]:
    with av.open(str(path)) as container:
        return [frame.to_ndarray() for frame in container.decode(video=0)]


def test_a_job_survives_its_worker_being_killed_mid_chunk(stack, object_store, bucket, tmp_path, report_recovery):
    """SIGKILL to the whole worker (pool included) while a chunk converts; a new worker finishes the job
    unprompted (its sweeper re-enqueues the chunk as soon as its heartbeat expires, although it was
    enqueued well within the grace), and the output decodes to the same frames as an undisturbed run's."""
    store = JobStore.from_url(stack.redis_url)
    source = write_clip(tmp_path / "long.mp4", width=256, height=192, frames=LONG_FRAMES)
    object_store.upload(source, f"s3://{bucket}/in/long.mp4")

    def converting() -> list[int]:
        """The chunks whose heartbeats beat, once two chunks are done (none before)."""
        job = store.get(job_id)
        if job.chunks_done < 2:
            return []
        done = store.chunk_results(job_id)
        return [i for i in range(job.chunks_total) if i not in done and beating(store, job_id, chunk_step(i))]

    with stack.client() as api:
        job_id = stack.submit(api, f"s3://{bucket}/in/long.mp4", f"s3://{bucket}/out/killed.mkv")
        with stack.worker("first") as first:
            lost = kill_on(first, converting, stack.tmp / "first.log")
        killed_at = time.monotonic()
        assert not set(lost) & set(store.chunk_results(job_id)), "a chunk ended before the kill"
        assert store.get(job_id).status == JobStatus.RUNNING

        with stack.worker("second"):
            # The broker would give the killed worker's unacknowledged chunk back only after its
            # visibility timeout (chunk_time_limit_s + 600 s); the new worker's sweeper sees the
            # chunk's heartbeat expire and re-enqueues it at once.
            wait_until(lambda: set(lost) <= set(store.chunk_results(job_id)), f"chunks {lost} recorded")
            recovered_s = time.monotonic() - killed_at
            stack.wait(api, job_id, "second.log")
            report_recovery("worker killed mid-chunk: its chunks recorded by another", recovered_s)
            reference_id = stack.submit(api, f"s3://{bucket}/in/long.mp4", f"s3://{bucket}/out/reference.mkv")
            stack.wait(api, reference_id, "second.log")
    assert recovered_s < 60, "a lost chunk waits for its heartbeat to expire (3 s), not the grace (600 s)"

    outputs = []
    for name in ("killed", "reference"):
        object_store.download(f"s3://{bucket}/out/{name}.mkv", tmp_path / f"{name}.mkv")
        outputs.append(decoded(tmp_path / f"{name}.mkv"))
    assert len(outputs[0]) == len(outputs[1]) == LONG_FRAMES
    assert all(np.array_equal(a, b) for a, b in zip(*outputs))


def test_a_job_survives_its_worker_being_killed_while_probing(stack, object_store, bucket, tmp_path, report_recovery):
    """SIGKILL to the whole worker while it probes a 40 s source and plans its chunks; a new worker's
    sweeper re-enqueues the start as soon as its heartbeat expires, and the job succeeds."""
    store = JobStore.from_url(stack.redis_url)
    source = write_clip(tmp_path / "forty.mp4", width=WIDTH, height=HEIGHT, frames=400, fps=10)
    object_store.upload(source, f"s3://{bucket}/in/forty.mp4")
    with stack.client() as api:
        job_id = stack.submit(api, f"s3://{bucket}/in/forty.mp4", f"s3://{bucket}/out/forty.mkv", chunk_frames=100)
        with stack.worker("first") as first:
            kill_on(
                first,
                lambda: store.get(job_id).phase == JobPhase.PROBING and beating(store, job_id, START),
                stack.tmp / "first.log",
            )
        killed_at, killed = time.monotonic(), store.get(job_id)
        assert (killed.status, killed.phase, killed.chunks_total) == (JobStatus.RUNNING, JobPhase.PROBING, None)

        with stack.worker("second"):
            wait_until(lambda: store.get(job_id).chunks_total is not None, "plan")
            planned_s = time.monotonic() - killed_at
            job = stack.wait(api, job_id, "second.log")
            report_recovery("worker killed while probing: the job planned by another", planned_s)
            report_recovery("worker killed while probing: the job succeeded", time.monotonic() - killed_at)
    assert planned_s < 60, "a lost start waits for its heartbeat to expire (3 s), not the grace (600 s)"
    assert job["progress"]["frames_done"] == 400
