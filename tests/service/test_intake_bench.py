"""`hdrtv bench-intake`: a real redis-server and one `hdrtv serve` of its own; every job sent is
accepted, stored and queued, and the report gives the rate and its ratio to the goal. Speed itself
is the bench's to report, not this test's."""

from __future__ import annotations

import json
import shutil
import subprocess

import pytest
from servers import HDRTV


def test_the_intake_bench_accepts_every_job_and_reports_the_rate_against_the_goal(tmp_path):
    if shutil.which("redis-server") is None:
        pytest.skip("redis-server is not on PATH (Debian package: redis-server)")
    report = tmp_path / "intake.json"
    argv = [HDRTV, "bench-intake", "--jobs", "80", "--concurrency", "4", "--json", str(report)]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    result = json.loads(report.read_text())
    assert (result["jobs"], result["accepted"], result["refused"]) == (80, 80, {})
    assert (result["stored"], result["queued"]) == (80, 80), "each 202 is a stored, queued job"
    assert result["goal_jobs_per_s"] == 200
    assert result["ratio_to_goal"] == pytest.approx(result["jobs_per_s"] / 200)
    assert result["jobs_per_s"] == pytest.approx(80 / result["seconds"])
    assert 0 < result["latency_ms_p50"] <= result["latency_ms_p95"] <= result["latency_ms_p99"]
    assert "| accepted (202) | 80 |" in done.stdout and "| ratio to goal |" in done.stdout


def test_the_intake_bench_refuses_nonsense_in_one_line():
    done = subprocess.run([HDRTV, "bench-intake", "--jobs", "0"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert done.stderr.strip() == "hdrtv bench-intake: error: --jobs and --concurrency must be at least 1, got 0 and 16"
