"""Recovery of steps whose worker died: step liveness, the sweeper that re-enqueues lost steps and
runs the janitor of temporary objects.

A worker that dies with its whole machine (SIGKILL, power loss) leaves its unacknowledged task with
the broker until the visibility timeout (`chunk_time_limit_s` + 600 s). Instead, a running step (a
job's start, which probes and plans it; a chunk; the assembly) keeps a short-lived heartbeat key
alive and notes when it started (`heartbeat`), every enqueue of a step is timed (`recording`), and
`sweep`, run every `sweep_interval_s` by one CPU worker at a time (`Sweeper`, a Redis lock),
re-enqueues the lost steps of active jobs. A step that is done or beating is never lost. One that
started since its last enqueue and stopped beating died with its worker: it comes back as soon as
the sweeper sees its beat expired. One that has not started may still wait in a queue: it comes
back once its last enqueue is `sweep_grace_s` old (at once if it was never enqueued). Duplicates
are harmless: the steps skip recorded chunks and finished jobs.

Keys (under the store's prefix): `job:<id>:beat:<step>` (step `start`, `chunk:<i>` or `assemble`,
expires after `heartbeat_ttl_s`), `job:<id>:enqueued` and `job:<id>:started` step -> epoch seconds
of its last enqueue and of the start of its current run, `sweep:lock`, `janitor:lock`.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import redis

from ..control.job_record import Job, JobStatus
from ..control.job_store import CLAIM_TTL_S, JobStore
from ..control.settings import Settings
from ..control.storage import ObjectStore
from ..control.task_names import ASSEMBLE_JOB, CONVERT_CHUNK, START_JOB
from .files import remove_orphans

log = logging.getLogger(__name__)

Enqueue = Callable[[str, list[Any], int], None]
START = "start"
ASSEMBLY = "assemble"


def chunk_step(index: int) -> str:
    return f"chunk:{index}"


def _step(name: str, args: list[Any]) -> str | None:
    """The step a task runs (None: not a step of a job's conversion)."""
    if name == CONVERT_CHUNK:
        return chunk_step(args[1])
    return {START_JOB: START, ASSEMBLE_JOB: ASSEMBLY}.get(name)


def _beat_key(store: JobStore, job_id: str, step: str) -> str:
    return f"{store.prefix}:job:{job_id}:beat:{step}"


def _enqueued_key(store: JobStore, job_id: str) -> str:
    return f"{store.prefix}:job:{job_id}:enqueued"


def _started_key(store: JobStore, job_id: str) -> str:
    return f"{store.prefix}:job:{job_id}:started"


def beating(store: JobStore, job_id: str, step: str) -> bool:
    """Whether `step` of the job runs on a live worker (its heartbeat has not expired)."""
    return bool(store.redis.exists(_beat_key(store, job_id, step)))


def beat(store: JobStore, job_id: str, step: str, ttl_s: int) -> None:
    """Mark `step` of the job alive for `ttl_s` seconds."""
    store.redis.set(_beat_key(store, job_id, step), time.time(), ex=ttl_s)


def _note(pipe: redis.client.Pipeline, key: str, step: str) -> None:
    pipe.hset(key, step, time.time())
    pipe.expire(key, CLAIM_TTL_S)


@contextmanager
def heartbeat(store: JobStore, job_id: str, step: str, ttl_s: int) -> Iterator[None]:
    """Keep `step` alive while the block runs: noted started, with a beat now and every third of the
    TTL from a thread (which dies with the process, so a killed worker's step goes quiet after
    `ttl_s`: it died). A block that raises ends as an enqueue, since its task retries it (or fails
    the job): the retry waits in a queue, under the grace."""
    pipe = store.redis.pipeline()
    pipe.set(_beat_key(store, job_id, step), time.time(), ex=ttl_s)
    _note(pipe, _started_key(store, job_id), step)
    pipe.execute()
    stopped = threading.Event()

    def keep_beating() -> None:
        while not stopped.wait(ttl_s / 3):
            try:
                beat(store, job_id, step, ttl_s)
            except redis.RedisError:
                log.warning("job %s: heartbeat of %s failed", job_id, step, exc_info=True)

    thread = threading.Thread(target=keep_beating, name=f"heartbeat-{job_id}-{step}", daemon=True)
    thread.start()
    raised = True
    try:
        yield
        raised = False
    finally:
        stopped.set()
        thread.join()
        try:
            pipe = store.redis.pipeline()
            pipe.delete(_beat_key(store, job_id, step))
            pipe.hdel(_started_key(store, job_id), step)
            if raised:
                _note(pipe, _enqueued_key(store, job_id), step)
            pipe.execute()
        except redis.RedisError:  # the beat expires by itself; keep the step's own outcome
            log.warning("job %s: could not end the heartbeat of %s", job_id, step, exc_info=True)


def recording(store: JobStore, enqueue: Enqueue) -> Enqueue:
    """`enqueue` that first notes when each step of a job's conversion was enqueued."""

    def send(name: str, args: list[Any], priority: int) -> None:
        step = _step(name, args)
        if step is not None:
            pipe = store.redis.pipeline()
            _note(pipe, _enqueued_key(store, args[0]), step)
            pipe.execute()
        enqueue(name, args, priority)

    return send


def running_job_ids(store: JobStore) -> set[str]:
    """Ids of every tenant's queued and running jobs."""
    ids: set[str] = set()
    for key in store.redis.scan_iter(match=f"{store.prefix}:tenant:*:active", count=500):
        ids |= store.redis.smembers(key)
    return ids


def sweep(store: JobStore, enqueue: Enqueue, grace_s: float, now: float | None = None) -> list[tuple[str, list[Any]]]:
    """Re-enqueue (with `enqueue`, which should be `recording`) the lost steps of active jobs; the
    (task name, args) sent. Lost: see the module's docstring."""
    now = time.time() if now is None else now
    sent: list[tuple[str, list[Any]]] = []
    for job_id in sorted(running_job_ids(store)):
        job = store.get(job_id)
        if job is None or job.status.terminal:
            continue
        for name, args in _lost_steps(store, job, now - grace_s):
            log.warning("job %s: re-enqueuing lost step %s %s", job_id, name, args[1:])
            enqueue(name, args, job.priority)
            sent.append((name, args))
    return sent


def _lost_steps(store: JobStore, job: Job, enqueued_before: float) -> list[tuple[str, list[Any]]]:
    enqueued = {step: float(at) for step, at in store.redis.hgetall(_enqueued_key(store, job.id)).items()}
    started = {step: float(at) for step, at in store.redis.hgetall(_started_key(store, job.id)).items()}

    def lost(step: str) -> bool:
        last_enqueued = enqueued.get(step, float("-inf"))
        died = started.get(step, float("-inf")) > last_enqueued
        return (died or last_enqueued <= enqueued_before) and not beating(store, job.id, step)

    if job.chunks_total is None:
        # The API's enqueue of the start is not recorded: a queued job waits until a worker starts it.
        waiting = job.status == JobStatus.QUEUED and START not in started
        return [(START_JOB, [job.id])] if not waiting and lost(START) else []
    done = store.chunk_results(job.id)
    if len(done) < job.chunks_total:
        return [(CONVERT_CHUNK, [job.id, i]) for i in range(job.chunks_total) if i not in done and lost(chunk_step(i))]
    if store.claim(job.id, ASSEMBLY) or lost(ASSEMBLY):  # unclaimed (its enqueuer died) or lost
        return [(ASSEMBLE_JOB, [job.id])]
    return []


class Sweeper:
    """Runs `sweep` every `sweep_interval_s` and the janitor of temporary objects (`remove_orphans`)
    every `janitor_interval_s` from a daemon thread; of several sweepers on one Redis, the one holding
    a task's lock (taken for one interval) runs it."""

    def __init__(self, store: JobStore, objects: ObjectStore, enqueue: Enqueue, settings: Settings) -> None:
        self.store = store
        self.objects = objects
        self.enqueue = recording(store, enqueue)
        self.settings = settings
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, name="hdrtv-sweeper", daemon=True)

    def sweep_once(self) -> list[tuple[str, list[Any]]] | None:
        """One sweep if this sweeper takes its lock (None otherwise)."""
        if not self._take("sweep", self.settings.sweep_interval_s):
            return None
        return sweep(self.store, self.enqueue, self.settings.sweep_grace_s)

    def clean_once(self) -> list[str] | None:
        """One run of the janitor if this sweeper takes its lock (None otherwise): the prefixes removed."""
        if not self._take("janitor", self.settings.janitor_interval_s):
            return None
        settings = self.settings
        return remove_orphans(self.store, self.objects, settings.allowed_buckets, settings.janitor_min_age_s)

    def start(self) -> Sweeper:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopped.set()
        self._thread.join()

    def _take(self, task: str, interval_s: float) -> bool:
        lock = f"{self.store.prefix}:{task}:lock"
        return bool(self.store.redis.set(lock, 1, nx=True, px=max(1, int(interval_s * 1000))))

    def _run(self) -> None:
        while not self._stopped.wait(self.settings.sweep_interval_s):
            for run_once in (self.sweep_once, self.clean_once):
                try:
                    run_once()
                except Exception:  # Redis, the broker or the store away: try again next interval
                    log.exception("%s failed", run_once.__name__)
