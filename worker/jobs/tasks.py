"""The Celery tasks: thin wrappers that run the steps of `runner.py` with a context built once per
worker process, on first use (after the fork: no connection or CUDA state crosses it; the model
loads lazily inside the first chunk task), from the settings of the app that runs the task
(`CeleryApp.settings`), never from the environment. They are shared tasks: they register on the
app that imports this module through its `include`, since no app exists at import time.

Transient failures (object store or Redis unreachable) retry with exponential backoff and jitter;
when retries run out, at the soft time limit, or on our own bugs, the job fails with a code and its
files are removed. User errors never get here: the steps fail the job themselves.
"""

from __future__ import annotations

import logging
import time
from functools import cache, partial
from typing import Any

import redis
from celery import Task, shared_task
from celery.exceptions import SoftTimeLimitExceeded

from ..control.celery_app import CeleryApp, send
from ..control.job_store import JobStore
from ..control.storage import ObjectStore, StorageUnavailable
from ..control.task_names import ASSEMBLE_JOB, CONVERT_CHUNK, DELIVER_CALLBACK, START_JOB
from . import callbacks, recovery, runner, task_metrics
from .files import scratch_root, sweep
from .runner import JobContext

TRANSIENT = (StorageUnavailable, redis.ConnectionError, redis.TimeoutError)

log = logging.getLogger(__name__)


@cache
def context(app: CeleryApp) -> JobContext:
    """The store connections and scratch folder of `app`'s tasks in this process, from its settings."""
    settings = app.settings
    objects = ObjectStore.from_settings(settings)
    task_metrics.count_transfers(objects)
    store = JobStore.from_url(settings.redis_url)
    return JobContext(
        store=store,
        objects=objects,
        settings=settings,
        scratch=scratch_root(settings.scratch_dir),
        enqueue=recovery.recording(store, partial(send, app)),
    )


def failure(error: BaseException) -> tuple[str, str]:
    """(error_code, error_message) of a task that gave up; the object store's faults have a code of
    their own (`storage_unavailable`, as `runner` gives a bucket that vanished)."""
    if isinstance(error, StorageUnavailable):
        return "storage_unavailable", f"the object store stayed unreachable through every retry: {error}"
    if isinstance(error, TRANSIENT):
        return "unavailable", f"a service stayed unreachable through every retry: {error}"
    if isinstance(error, SoftTimeLimitExceeded):
        return "time_limit", "a step ran past its time limit (chunk_time_limit_s)"
    return "internal_error", f"internal error ({type(error).__name__}); the worker's log has the details"


class JobTask(Task):
    """A step of a job: its first argument is the job id."""

    autoretry_for = TRANSIENT
    retry_backoff = 2
    retry_backoff_max = 300
    retry_jitter = True
    max_retries = 8

    def before_start(self, task_id: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        ctx = context(self.app)
        sweep(ctx.store, ctx.scratch)

    def on_failure(self, exc: BaseException, task_id: str, args: Any, kwargs: Any, einfo: Any) -> None:
        code, message = failure(exc)
        try:
            runner.fail_job(context(self.app), args[0], code, message)
        except TRANSIENT:
            log.exception("job %s: could not record its failure", args[0])


task_metrics.record_tasks(context)


@shared_task(name=START_JOB, base=JobTask, bind=True)
def start_job(self: JobTask, job_id: str) -> None:
    runner.start_job(context(self.app), job_id)


@shared_task(name=CONVERT_CHUNK, base=JobTask, bind=True)
def convert_chunk(self: JobTask, job_id: str, index: int) -> None:
    runner.convert_chunk(context(self.app), job_id, index)


@shared_task(name=ASSEMBLE_JOB, base=JobTask, bind=True)
def assemble_job(self: JobTask, job_id: str) -> None:
    runner.assemble_job(context(self.app), job_id)


@shared_task(
    name=DELIVER_CALLBACK,
    bind=True,
    max_retries=callbacks.MAX_ATTEMPTS - 1,
    autoretry_for=(redis.ConnectionError, redis.TimeoutError),
    retry_backoff=True,
)
def deliver_callback(self: Task, job_id: str) -> None:
    """One attempt to POST the finished job to its callback URL; the job record counts the attempts
    and `callbacks.RETRY_DELAYS_S` spaces them (about a day in all)."""
    ctx = context(self.app)
    outcome = callbacks.deliver(ctx.store, job_id, ctx.settings, time.time())
    task_metrics.count_callback(outcome.state)
    if outcome.retry_in_s is not None:
        raise self.retry(countdown=outcome.retry_in_s)
