"""Prometheus metrics of the workers, in prometheus-client's multiprocess mode.

Each Celery pool process writes its counters and histograms to files under
PROMETHEUS_MULTIPROC_DIR (which `hdrtv worker` sets before this module is imported); the worker's
main process serves them summed with `serve`, together with the broker's queue depths, read at
scrape time. Job and chunk figures come from Celery's task signals and the job records, read
before and after each task, so a redelivered task that finds its work done counts nothing twice;
jobs cancelled through the API are the API's to count; Celery logs a handler that raises and
never fails the task for it. Bytes moved are what the worker's object store reports through
`ObjectStore.on_transfer` (on S3, every GET, PUT and part). Alerting needs three more: retries by
task (a chunk retrying is not a callback receiver being down), callback delivery outcomes, and
`hdrtv_worker_up{queue}` from the main process, which tells which queues have a live consumer
whatever the scrape jobs are called.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import redis
from celery import Celery, signals
from kombu.transport.redis import Channel
from prometheus_client import CollectorRegistry, Counter, Histogram, start_http_server
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector

from ..control.job_record import TERMINAL
from ..control.job_store import JobStatus
from ..control.storage import Direction, ObjectStore
from ..control.task_names import CONVERT_CHUNK, ROUTES
from .runner import JobContext

JOBS_FINISHED = Counter("hdrtv_worker_jobs_finished", "Jobs a worker moved to a terminal status", ["status"])
JOB_DURATION = Histogram(
    "hdrtv_worker_job_duration_seconds",
    "From a job's start (its submission if it never started) to its end, by terminal status",
    ["status"],
    buckets=(1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600, 7200, 14400, float("inf")),
)
CHUNK_DURATION = Histogram(
    "hdrtv_worker_chunk_duration_seconds",
    "Time to convert, encode and upload one chunk",
    buckets=(0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600, float("inf")),
)
FRAMES = Counter("hdrtv_worker_frames_converted", "Frames converted to HDR10")
MEGAPIXELS = Counter("hdrtv_worker_megapixels_converted", "Pixels converted to HDR10, in millions")
BYTES = Counter("hdrtv_worker_object_store_bytes", "Bytes moved to and from the object store", ["direction"])
ERRORS = Counter("hdrtv_worker_errors", "Jobs failed, by error code", ["kind"])
RETRIES = Counter(
    "hdrtv_worker_task_retries", "Task attempts retried (transient errors, callback receivers not answering)", ["task"]
)
CALLBACKS = Counter(
    "hdrtv_worker_callback_deliveries",
    "Callback delivery attempts by outcome: delivered, retrying (the receiver failed, another attempt is due), failed",
    ["outcome"],
)
CALLBACK_OUTCOMES = {"delivered": "delivered", "pending": "retrying", "failed": "failed"}
"""`callbacks.Outcome.state` -> outcome label; skipped attempts (no attempt made) count nothing."""

# Label values known in advance start at 0: increase() then sees the first failure or retry (a
# series born at 1 shows no increase), and failure ratios have their denominators from the start.
for _status in TERMINAL:
    JOBS_FINISHED.labels(_status.value)
    JOB_DURATION.labels(_status.value)
for _outcome in CALLBACK_OUTCOMES.values():
    CALLBACKS.labels(_outcome)
for _task in ROUTES:
    RETRIES.labels(_task.rpartition(".")[2])

_before: dict[str, tuple[JobStatus | None, bool]] = {}
"""Task id -> (its job's status, whether its chunk was recorded) when the task started."""


def record_tasks(context: Callable[[Celery], JobContext]) -> None:
    """Count what the tasks of this process do; `context(app)` is the job context of `app`'s tasks
    (the app that runs the task, as the tasks themselves read it)."""

    @signals.task_prerun.connect(weak=False)
    def before(task_id: str, args: tuple[Any, ...], task: Any, **_: Any) -> None:
        _before[task_id] = _observe(context(task.app), task.name, args)

    @signals.task_postrun.connect(weak=False)
    def after(task_id: str, args: tuple[Any, ...], task: Any, **_: Any) -> None:
        status, chunk_done = _before.pop(task_id, (None, True))
        ctx = context(task.app)
        job = ctx.store.get(args[0])
        if job is None:
            return
        if task.name == CONVERT_CHUNK and not chunk_done:
            _count_chunk(ctx, args[0], args[1])
        if job.status.terminal and status is not None and not status.terminal:
            JOBS_FINISHED.labels(job.status.value).inc()
            JOB_DURATION.labels(job.status.value).observe(job.finished_at - (job.started_at or job.created_at))
            if job.status == JobStatus.FAILED:
                ERRORS.labels(job.error_code or "unknown").inc()

    @signals.task_retry.connect(weak=False)
    def retried(sender: Any, **_: Any) -> None:
        RETRIES.labels(sender.name.rpartition(".")[2]).inc()


def count_callback(state: str) -> None:
    """Count a callback delivery attempt that ended in `state` (a `callbacks.Outcome.state`)."""
    if state in CALLBACK_OUTCOMES:
        CALLBACKS.labels(CALLBACK_OUTCOMES[state]).inc()


def count_transfers(objects: ObjectStore) -> None:
    """Count the bytes `objects` downloads and uploads, by direction."""
    objects.on_transfer(_transferred)


def serve(port: int, host: str, app: Celery, queues: list[str]) -> None:
    """Serve /metrics on `host:port` from a thread: every process's metrics summed, queue depths, and
    `hdrtv_worker_up` for the `queues` this worker consumes."""
    registry = CollectorRegistry()
    MultiProcessCollector(registry)
    registry.register(QueueDepth(app))
    registry.register(WorkerUp(queues))
    start_http_server(port, host, registry)


class WorkerUp:
    """1 for each queue this worker consumes: summed by queue, the live workers of each queue. Served
    by the worker's main process, so it vanishes with the worker, however the deployment names its
    scrape jobs (Compose services, Kubernetes pods)."""

    def __init__(self, queues: list[str]) -> None:
        self._queues = queues

    def collect(self) -> Iterator[GaugeMetricFamily]:
        gauge = GaugeMetricFamily("hdrtv_worker_up", "1 for each queue this worker consumes", labels=["queue"])
        for queue in self._queues:
            gauge.add_metric([queue], 1)
        yield gauge


class QueueDepth:
    """Messages waiting in each queue of the app, from the lengths of the broker's Redis lists."""

    def __init__(self, app: Celery) -> None:
        self._redis = redis.Redis.from_url(app.conf.broker_url, socket_timeout=5, socket_connect_timeout=5)
        self._queues = [queue.name for queue in app.conf.task_queues]
        self._steps = app.conf.broker_transport_options.get("priority_steps", [0])

    def collect(self) -> Iterator[GaugeMetricFamily]:
        gauge = GaugeMetricFamily("hdrtv_queue_depth", "Tasks waiting in the broker, by queue", labels=["queue"])
        pipe = self._redis.pipeline(transaction=False)
        for queue in self._queues:
            for step in self._steps:
                # kombu's Redis transport keeps one list per priority step: "name", "name<sep>step".
                pipe.llen(f"{queue}{Channel.sep}{step}" if step else queue)
        lengths = iter(pipe.execute())
        for queue in self._queues:
            gauge.add_metric([queue], sum(next(lengths) for _ in self._steps))
        yield gauge


def _observe(ctx: JobContext, name: str, args: tuple[Any, ...]) -> tuple[JobStatus | None, bool]:
    job = ctx.store.get(args[0])
    chunk_done = name == CONVERT_CHUNK and args[1] in ctx.store.chunk_results(args[0])
    return (None if job is None else job.status), chunk_done


def _count_chunk(ctx: JobContext, job_id: str, index: int) -> None:
    result = ctx.store.chunk_results(job_id).get(index)
    if result is None:
        return
    FRAMES.inc(result["frames"])
    CHUNK_DURATION.observe(result["seconds"])
    info = ctx.probes.get(job_id)
    if info is not None:
        MEGAPIXELS.inc(result["frames"] * info.width * info.height / 1e6)


def _transferred(direction: Direction, size: int) -> None:
    BYTES.labels(direction).inc(size)
