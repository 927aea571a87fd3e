"""`hdrtv serve --embedded`: the API and a worker in one process, no Redis or S3, jobs on file:// URIs."""

from __future__ import annotations

import json
import os
import re
import subprocess
import time
from pathlib import Path

import httpx
import servers
from servers import free_port, running
from video_factory import write_clip


def ffprobe_streams(path: Path) -> list[dict]:
    command = ["ffprobe", "-v", "error", "-of", "json", "-show_streams", str(path)]
    return json.loads(subprocess.run(command, capture_output=True, text=True, check=True).stdout)["streams"]


def test_a_job_on_file_uris_is_converted_by_the_embedded_worker(tmp_path):
    source = write_clip(tmp_path / "clip.mp4", width=96, height=64, frames=24, audio_language="eng")
    output = tmp_path / "out" / "clip.mkv"
    port, log = free_port(), tmp_path / "embedded.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HDRTV_", "PROMETHEUS_"))}
    env |= {"HDRTV_DEVICE": "cpu", "OMP_NUM_THREADS": "1"}
    argv = [servers.HDRTV, "serve", "--embedded", "--port", str(port), "--data-dir", str(tmp_path / "data")]
    with running(argv, ready=lambda: " ready." in log.read_text(), log=log, env=env, timeout_s=60):
        key = re.search(r"API key of tenant 'local': (\S+)", log.read_text()).group(1)
        headers = {"Authorization": f"Bearer {key}"}
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", headers=headers, timeout=10) as api:
            body = {
                "input_uri": source.as_uri(),
                "output_uri": output.as_uri(),
                "model": "bt2408",
                "options": {"preset": "ultrafast", "chunk_frames": 8},
            }
            response = api.post("/v1/jobs", json=body)
            assert response.status_code == 202, response.text
            deadline = time.monotonic() + 120
            while (job := api.get(f"/v1/jobs/{response.json()['id']}").json())["status"] in ("queued", "running"):
                assert time.monotonic() < deadline, log.read_text()[-3000:]
                time.sleep(0.2)
            assert job["status"] == "succeeded", (job, log.read_text()[-3000:])
            assert api.get("/v1/jobs", headers={"Authorization": "Bearer hdrtv_wrong"}).status_code == 401
            assert "hdrtv_jobs_submitted_total" in api.get("/metrics").text

    streams = ffprobe_streams(output)
    video = next(s for s in streams if s["codec_type"] == "video")
    assert (video["codec_name"], video["color_transfer"], video["color_primaries"]) == ("hevc", "smpte2084", "bt2020")
    assert any(s["codec_type"] == "audio" for s in streams)
