"""The service end to end, every part a real process: redis-server, moto's S3, the API under uvicorn
(`hdrtv serve`) and a Celery worker (`hdrtv worker`), driven over HTTP as a media platform would."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import httpx
import numpy as np
import pytest
import servers
from hdrtv.worker.control.job_store import JobStatus, JobStore
from prometheus_client.parser import text_string_to_metric_families
from servers import free_port
from video_factory import write_clip

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

    def submit(self, api: httpx.Client, input_uri: str, output_uri: str) -> str:
        body = {
            "input_uri": input_uri,
            "output_uri": output_uri,
            "model": "bt2408",
            "options": {"preset": "ultrafast", "chunk_frames": CHUNK_FRAMES},
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
    """A Redis of its own, an API key and the API; no worker yet. Lost steps come back within
    seconds (see test_a_job_survives_its_worker_being_killed_mid_chunk)."""
    fast_recovery = {"HDRTV_HEARTBEAT_TTL_S": "3", "HDRTV_SWEEP_INTERVAL_S": "1", "HDRTV_SWEEP_GRACE_S": "5"}
    with servers.hdrtv_api(tmp_path, s3_server, "e2e", **fast_recovery) as (api, key, redis_url, env):
        yield Stack(api, key, redis_url, env, tmp_path)


def samples(text: str) -> dict[tuple[str, frozenset], float]:
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def ffprobe(path: Path, *args: str) -> dict:
    command = ["ffprobe", "-v", "error", "-of", "json", *args, str(path)]
    return json.loads(subprocess.run(command, capture_output=True, text=True, check=True).stdout)


def test_a_job_submitted_over_http_is_converted_by_a_worker(stack, object_store, bucket, tmp_path):
    source = write_clip(tmp_path / "clip.mp4", width=WIDTH, height=HEIGHT, frames=FRAMES, audio_language="eng")
    object_store.upload(source, f"s3://{bucket}/in/clip.mp4")
    object_store.upload(source, f"s3://{bucket}/in/broken.mp4")
    metrics_port = free_port()
    with stack.client() as api:
        job_id = stack.submit(api, f"s3://{bucket}/in/clip.mp4", f"s3://{bucket}/out/clip.mkv")
        # Accepted while whole, then damaged before any worker reads it: the worker fails that job.
        broken = stack.submit(api, f"s3://{bucket}/in/broken.mp4", f"s3://{bucket}/out/broken.mkv")
        (tmp_path / "broken.mp4").write_bytes(source.read_bytes()[:1000])
        object_store.upload(tmp_path / "broken.mp4", f"s3://{bucket}/in/broken.mp4")
        with stack.worker("worker", metrics_port):
            stack.wait(api, job_id, "worker.log")
            assert stack.wait(api, broken, "worker.log", "failed")["error"]["code"] == "invalid_input"
            api_metrics = samples(api.get("/metrics").text)
            exposition = httpx.get(f"http://127.0.0.1:{metrics_port}/metrics").text

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


def converting(log: Path) -> set[str]:
    """Ids of the convert_chunk tasks the worker's log shows received and not ended."""
    text = log.read_text()
    received = set(re.findall(r"convert_chunk\[([0-9a-f-]+)\] received", text))
    return received - set(re.findall(r"convert_chunk\[([0-9a-f-]+)\] (?:succeeded|raised|retry)", text))


def decoded(path: Path) -> list[np.ndarray]:
    with av.open(str(path)) as container:
        return [frame.to_ndarray() for frame in container.decode(video=0)]


def test_a_job_survives_its_worker_being_killed_mid_chunk(stack, object_store, bucket, tmp_path):
    """SIGKILL to the whole worker (pool included) while a chunk converts; a new worker finishes the job
    unprompted (its sweeper re-enqueues the chunks whose heartbeat stopped), and the output decodes to
    the same frames as an undisturbed run's."""
    store = JobStore.from_url(stack.redis_url)
    source = write_clip(tmp_path / "long.mp4", width=256, height=192, frames=LONG_FRAMES)
    object_store.upload(source, f"s3://{bucket}/in/long.mp4")
    with stack.client() as api:
        job_id = stack.submit(api, f"s3://{bucket}/in/long.mp4", f"s3://{bucket}/out/killed.mkv")
        with stack.worker("first") as first:
            log, deadline = stack.tmp / "first.log", time.monotonic() + 60
            while store.get(job_id).chunks_done < 2 or not converting(log):
                assert time.monotonic() < deadline, log.read_text()[-3000:]
                time.sleep(0.01)
            os.killpg(first.pid, signal.SIGKILL)
        assert converting(log), "the chunk ended before the kill"
        killed = store.get(job_id)
        assert killed.status == JobStatus.RUNNING and killed.chunks_done < killed.chunks_total

        with stack.worker("second"):
            # The broker would give the killed worker's unacknowledged chunk back only after its
            # visibility timeout (chunk_time_limit_s + 600 s, far beyond this wait); the new worker's
            # sweeper sees the chunk's heartbeat gone and re-enqueues it. (When the kill lands just
            # as a chunk is acknowledged, nothing is lost and the queue alone finishes the job.)
            stack.wait(api, job_id, "second.log")
            reference_id = stack.submit(api, f"s3://{bucket}/in/long.mp4", f"s3://{bucket}/out/reference.mkv")
            stack.wait(api, reference_id, "second.log")

    outputs = []
    for name in ("killed", "reference"):
        object_store.download(f"s3://{bucket}/out/{name}.mkv", tmp_path / f"{name}.mkv")
        outputs.append(decoded(tmp_path / f"{name}.mkv"))
    assert len(outputs[0]) == len(outputs[1]) == LONG_FRAMES
    assert all(np.array_equal(a, b) for a, b in zip(*outputs))
