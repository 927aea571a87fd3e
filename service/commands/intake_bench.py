"""`hdrtv bench-intake`: how many jobs one API process accepts per second, against a real Redis.

The bench starts a redis-server of its own (a scratch one: nothing of a real deployment is
touched) and one `hdrtv serve` on it, makes a tenant with a key and storage grants, and sends
`jobs` single-job POSTs over `concurrency` connections; each must be answered 202 (accepted,
stored and queued on the broker). No worker runs and no object store is reachable: intake asks the
store nothing. Afterwards the jobs in Redis and the tasks on the broker are counted. Reported:
accepted jobs per second over the whole run, its ratio to the goal
(`GOAL_JOBS_PER_S`), and the answer times' percentiles. The client runs in this process and
shares the machine's cores with the API and Redis, as a load generator on the same host would.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import redis
from hdrtv.worker.control.celery_app import make_app
from hdrtv.worker.control.grants import Grants
from hdrtv.worker.control.job_store import JobStore
from hdrtv.worker.control.settings import Settings

from ..api_keys import ApiKeys

GOAL_JOBS_PER_S = 200.0
WARMUP_JOBS = 50
BUCKET = "bench"
STARTUP_TIMEOUT_S = 30.0


@dataclass(frozen=True)
class IntakeResult:
    """One run: jobs sent and accepted, its wall time, the rate and answer-time percentiles (ms)."""

    jobs: int
    concurrency: int
    accepted: int
    refused: dict[str, int]
    stored: int  # jobs in Redis after the run, and start tasks on the broker (both beyond the warm-up's)
    queued: int
    seconds: float
    jobs_per_s: float
    goal_jobs_per_s: float
    ratio_to_goal: float
    latency_ms_p50: float
    latency_ms_p95: float
    latency_ms_p99: float

    def to_dict(self) -> dict:
        return asdict(self)

    def markdown(self) -> str:
        rows = [
            ("jobs sent", f"{self.jobs} over {self.concurrency} connections"),
            ("accepted (202)", str(self.accepted)),
            ("stored / queued after the run", f"{self.stored} / {self.queued}"),
            ("refused", ", ".join(f"{status}: {count}" for status, count in self.refused.items()) or "none"),
            ("wall time", f"{self.seconds:.2f} s"),
            ("accepted jobs/s", f"{self.jobs_per_s:.0f}"),
            ("goal", f"{self.goal_jobs_per_s:.0f} jobs/s"),
            ("ratio to goal", f"{self.ratio_to_goal:.2f}"),
            (
                "answer time p50 / p95 / p99",
                f"{self.latency_ms_p50:.1f} / {self.latency_ms_p95:.1f} / {self.latency_ms_p99:.1f} ms",
            ),
        ]
        return "\n".join(["| intake | |", "|---|---|", *(f"| {name} | {value} |" for name, value in rows)])


def run_intake_bench(jobs: int, concurrency: int, scratch: Path | None = None) -> IntakeResult:
    """Start Redis and one API process, send the jobs, stop both; see the module docstring."""
    if jobs < 1 or concurrency < 1:
        raise ValueError(f"--jobs and --concurrency must be at least 1, got {jobs} and {concurrency}")
    if shutil.which("redis-server") is None:
        raise ValueError("redis-server not found on PATH; install it (Debian: apt-get install redis-server)")
    with tempfile.TemporaryDirectory(prefix="hdrtv-bench-intake-", dir=scratch) as folder:
        with _redis_server(Path(folder)) as redis_url, _api(Path(folder), redis_url, jobs) as api_url:
            tenant, key = _tenant_key(redis_url)
            _send(api_url, key, WARMUP_JOBS, min(concurrency, WARMUP_JOBS), "warmup")
            started = time.perf_counter()
            answers = _send(api_url, key, jobs, concurrency, "run")
            seconds = time.perf_counter() - started
            stored, queued = _stored_and_queued(redis_url, tenant)
    accepted = sum(status == 202 for status, _ in answers)
    refused: dict[str, int] = {}
    for status, _ in answers:
        if status != 202:
            refused[str(status)] = refused.get(str(status), 0) + 1
    latencies = sorted(latency * 1000 for _, latency in answers)
    rate = accepted / seconds
    return IntakeResult(
        jobs=jobs,
        concurrency=concurrency,
        accepted=accepted,
        refused=refused,
        stored=stored - WARMUP_JOBS,
        queued=queued - WARMUP_JOBS,
        seconds=seconds,
        jobs_per_s=rate,
        goal_jobs_per_s=GOAL_JOBS_PER_S,
        ratio_to_goal=rate / GOAL_JOBS_PER_S,
        latency_ms_p50=_percentile(latencies, 0.50),
        latency_ms_p95=_percentile(latencies, 0.95),
        latency_ms_p99=_percentile(latencies, 0.99),
    )


def _send(api_url: str, key: str, jobs: int, concurrency: int, run: str) -> list[tuple[int, float]]:
    """POST `jobs` jobs (each its own output) over `concurrency` keep-alive connections, one thread
    each; (status, seconds) per job. The standard library's client: httpx's costs the client
    about 3 ms of CPU per request, which on two cores would measure the client, not the API."""
    address = urlsplit(api_url)
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    pending = iter(range(jobs))
    taking = threading.Lock()
    answers: list[tuple[int, float]] = []

    def connection() -> None:
        client = http.client.HTTPConnection(address.hostname, address.port, timeout=60)
        while True:
            with taking:
                index = next(pending, None)
            if index is None:
                break
            body = {
                "input_uri": f"s3://{BUCKET}/in/title{index % 97}.mp4",
                "output_uri": f"s3://{BUCKET}/out/{run}/{index}.mkv",
                "model": "bt2408",
            }
            started = time.perf_counter()
            client.request("POST", "/v1/jobs", json.dumps(body), headers)
            answer = client.getresponse()
            answer.read()
            answers.append((answer.status, time.perf_counter() - started))
        client.close()

    threads = [threading.Thread(target=connection) for _ in range(concurrency)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return answers


def _percentile(ordered: list[float], fraction: float) -> float:
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def _tenant_key(redis_url: str) -> tuple[str, str]:
    """A new tenant that may read and write the bench's bucket, and a key of it."""
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    tenant = f"bench-{uuid.uuid4().hex[:8]}"
    Grants(client).grant_both(tenant, f"s3://{BUCKET}/")
    key = ApiKeys(client).create(tenant)
    client.close()
    return tenant, key


def _stored_and_queued(redis_url: str, tenant: str) -> tuple[int, int]:
    """The tenant's jobs in the job store and the tasks waiting on the broker (the API's only)."""
    # Imported here: the metrics module loads prometheus-client, which `hdrtv worker` must import
    # only after it has chosen the multiprocess folder (every command's module loads with the CLI).
    from hdrtv.worker.jobs.task_metrics import QueueDepth

    store = JobStore.from_url(redis_url)
    stored = len(store.list(tenant, limit=1_000_000)[0])
    store.redis.close()
    (gauge,) = QueueDepth(make_app(Settings(redis_url=redis_url, broker_url=redis_url))).collect()
    return stored, int(sum(sample.value for sample in gauge.samples))


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def _process(argv: list[str], log: Path, ready_url: str | None, env: dict[str, str] | None = None) -> Iterator[None]:
    """Run `argv` (output to `log`) until the block ends; ready when `ready_url` answers (or Redis pings)."""
    with log.open("wb") as output:
        process = subprocess.Popen(argv, stdout=output, stderr=subprocess.STDOUT, env=env)
    try:
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while not _answers(ready_url, argv):
            if process.poll() is not None or time.monotonic() > deadline:
                tail = log.read_text(errors="replace").strip().splitlines()[-1:] or ["no output"]
                raise ValueError(f"{Path(argv[0]).name} did not start: {tail[0]}")
            time.sleep(0.1)
        yield
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _answers(url: str | None, argv: list[str]) -> bool:
    try:
        if url is None:  # redis-server: its port is the argument after --port
            return redis.Redis(port=int(argv[argv.index("--port") + 1]), socket_timeout=1).ping()
        return httpx.get(url, timeout=1).status_code == 200
    except (redis.RedisError, httpx.HTTPError, OSError):
        return False


@contextmanager
def _redis_server(folder: Path) -> Iterator[str]:
    port = _free_port()
    argv = ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--dir", str(folder), "--save", ""]
    with _process(argv, folder / "redis.log", None):
        yield f"redis://127.0.0.1:{port}/0"


@contextmanager
def _api(folder: Path, redis_url: str, jobs: int) -> Iterator[str]:
    """One `hdrtv serve` process on `redis_url`, its object store an address where nothing listens."""
    port = _free_port()
    env = os.environ | {
        "HDRTV_REDIS_URL": redis_url,
        "HDRTV_BROKER_URL": redis_url,
        "HDRTV_S3_ENDPOINT_URL": f"http://127.0.0.1:{_free_port()}",
        "HDRTV_MAX_QUEUED_JOBS_PER_TENANT": str(jobs + WARMUP_JOBS),
        "HDRTV_ENVIRONMENT": "development",
    }
    argv = [sys.executable, "-m", "hdrtv.service.cli", "serve", "--port", str(port), "--log-level", "warning"]
    url = f"http://127.0.0.1:{port}"
    with _process(argv, folder / "api.log", f"{url}/healthz", env):
        yield url


def _bench_intake(args: argparse.Namespace) -> None:
    result = run_intake_bench(args.jobs, args.concurrency)
    print(result.markdown())
    if args.json is not None:
        args.json.write_text(json.dumps(result.to_dict(), indent=2) + "\n")


def add_parsers(commands: argparse._SubParsersAction) -> None:
    bench = commands.add_parser(
        "bench-intake",
        help="jobs per second one API process accepts, with a redis-server of its own (needs redis-server)",
    )
    bench.add_argument("--jobs", type=int, default=3000, help="single-job POSTs to time (default 3000)")
    bench.add_argument("--concurrency", type=int, default=16, help="connections sending them (default 16)")
    bench.add_argument("--json", type=Path, default=None, help="also write the result as JSON here")
    bench.set_defaults(run=_bench_intake)
