"""Recovery of steps whose worker died: chunk liveness and the sweeper that re-enqueues lost steps.

A worker that dies with its whole machine (SIGKILL, power loss) leaves its unacknowledged task with
the broker until the visibility timeout (`chunk_time_limit_s` + 600 s). Instead, a running chunk or
assembly keeps a short-lived heartbeat key alive (`heartbeat`), every enqueue of a step is timed
(`recording`), and `sweep`, run every `sweep_interval_s` by one CPU worker at a time (`Sweeper`, a
Redis lock), re-enqueues the steps of running jobs that are neither done, beating, nor enqueued
within the last `sweep_grace_s`. Duplicates are harmless: the steps skip recorded chunks and
finished jobs.

Keys (under the store's prefix): `job:<id>:beat:<step>` (step `chunk:<i>` or `assemble`, expires
after `heartbeat_ttl_s`), `job:<id>:enqueued` step -> epoch seconds of its last enqueue,
`sweep:lock`.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import redis

from ..control.job_record import JobStatus
from ..control.job_store import CLAIM_TTL_S, JobStore
from ..control.settings import Settings
from ..control.task_names import ASSEMBLE_JOB, CONVERT_CHUNK

log = logging.getLogger(__name__)

Enqueue = Callable[[str, list[Any], int], None]
ASSEMBLY = "assemble"


def chunk_step(index: int) -> str:
    return f"chunk:{index}"


def _beat_key(store: JobStore, job_id: str, step: str) -> str:
    return f"{store.prefix}:job:{job_id}:beat:{step}"


def _enqueued_key(store: JobStore, job_id: str) -> str:
    return f"{store.prefix}:job:{job_id}:enqueued"


def beat(store: JobStore, job_id: str, step: str, ttl_s: int) -> None:
    """Mark `step` of the job alive for `ttl_s` seconds."""
    store.redis.set(_beat_key(store, job_id, step), time.time(), ex=ttl_s)


@contextmanager
def heartbeat(store: JobStore, job_id: str, step: str, ttl_s: int) -> Iterator[None]:
    """Keep `step` alive while the block runs: a beat now, then every third of the TTL from a thread
    (which dies with the process, so a killed worker's step goes quiet after `ttl_s`)."""
    beat(store, job_id, step, ttl_s)
    stopped = threading.Event()

    def keep_beating() -> None:
        while not stopped.wait(ttl_s / 3):
            try:
                beat(store, job_id, step, ttl_s)
            except redis.RedisError:
                log.warning("job %s: heartbeat of %s failed", job_id, step, exc_info=True)

    thread = threading.Thread(target=keep_beating, name=f"heartbeat-{job_id}-{step}", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stopped.set()
        thread.join()
        try:
            store.redis.delete(_beat_key(store, job_id, step))
        except redis.RedisError:  # it expires by itself; keep the step's own outcome
            log.warning("job %s: could not end the heartbeat of %s", job_id, step, exc_info=True)


def recording(store: JobStore, enqueue: Enqueue) -> Enqueue:
    """`enqueue` that first notes when each chunk and assembly step was enqueued."""

    def send(name: str, args: list[Any], priority: int) -> None:
        if name in (CONVERT_CHUNK, ASSEMBLE_JOB):
            step = chunk_step(args[1]) if name == CONVERT_CHUNK else ASSEMBLY
            key = _enqueued_key(store, args[0])
            pipe = store.redis.pipeline()
            pipe.hset(key, step, time.time())
            pipe.expire(key, CLAIM_TTL_S)
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
    """Re-enqueue (with `enqueue`, which should be `recording`) the lost steps of running jobs; the
    (task name, args) sent. A step is lost when it is not done, has no live heartbeat and was last
    enqueued more than `grace_s` ago (or never)."""
    now = time.time() if now is None else now
    sent: list[tuple[str, list[Any]]] = []
    for job_id in sorted(running_job_ids(store)):
        job = store.get(job_id)
        if job is None or job.status != JobStatus.RUNNING or job.chunks_total is None:
            continue
        for name, args in _lost_steps(store, job_id, job.chunks_total, now - grace_s):
            log.warning("job %s: re-enqueuing lost step %s %s", job_id, name, args[1:])
            enqueue(name, args, job.priority)
            sent.append((name, args))
    return sent


def _lost_steps(store: JobStore, job_id: str, chunks_total: int, enqueued_before: float) -> list[tuple[str, list[Any]]]:
    enqueued = {step: float(at) for step, at in store.redis.hgetall(_enqueued_key(store, job_id)).items()}

    def lost(step: str) -> bool:
        recent = enqueued.get(step, float("-inf")) > enqueued_before
        return not recent and not store.redis.exists(_beat_key(store, job_id, step))

    done = store.chunk_results(job_id)
    if len(done) < chunks_total:
        return [(CONVERT_CHUNK, [job_id, i]) for i in range(chunks_total) if i not in done and lost(chunk_step(i))]
    if store.claim(job_id, ASSEMBLY) or lost(ASSEMBLY):  # unclaimed (its enqueuer died) or lost
        return [(ASSEMBLE_JOB, [job_id])]
    return []


class Sweeper:
    """Runs `sweep` every `sweep_interval_s` from a daemon thread; of several sweepers on one Redis,
    the one holding `sweep:lock` (taken for one interval) sweeps."""

    def __init__(self, store: JobStore, enqueue: Enqueue, settings: Settings) -> None:
        self.store = store
        self.enqueue = recording(store, enqueue)
        self.interval_s = settings.sweep_interval_s
        self.grace_s = settings.sweep_grace_s
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, name="hdrtv-sweeper", daemon=True)

    def sweep_once(self) -> list[tuple[str, list[Any]]] | None:
        """One sweep if this sweeper takes the lock (None otherwise)."""
        lock = f"{self.store.prefix}:sweep:lock"
        if not self.store.redis.set(lock, 1, nx=True, px=max(1, int(self.interval_s * 1000))):
            return None
        return sweep(self.store, self.enqueue, self.grace_s)

    def start(self) -> Sweeper:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopped.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stopped.wait(self.interval_s):
            try:
                self.sweep_once()
            except Exception:  # Redis or the broker away: try again next interval
                log.exception("sweep failed")
