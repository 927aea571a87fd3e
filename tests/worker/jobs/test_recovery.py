"""The sweeper of lost steps and the heartbeats it reads, on a real redis-server (no Celery); a dying
worker is a child process killed with SIGKILL mid-step."""

import multiprocessing
import time

import pytest
from hdrtv.worker.control.job_store import Job, JobPhase, JobStatus, JobStore
from hdrtv.worker.control.settings import Settings
from hdrtv.worker.control.task_names import ASSEMBLE_JOB, CONVERT_CHUNK, START_JOB
from hdrtv.worker.jobs import recovery
from hdrtv.worker.jobs.recovery import (
    ASSEMBLY,
    START,
    Sweeper,
    beat,
    beating,
    chunk_step,
    heartbeat,
    recording,
    sweep,
)

GRACE_S = 60


@pytest.fixture
def sent():
    return []


@pytest.fixture
def enqueue(store, sent):
    return recording(store, lambda name, args, priority: sent.append((name, args, priority)))


def running_job(store, chunks=3, priority=6):
    job = Job(tenant="acme", input_uri="s3://b/in.mp4", output_uri="s3://b/out.mkv", priority=priority)
    store.create(job)
    store.set_status(job.id, JobStatus.RUNNING)
    store.update(job.id, chunks_total=chunks)
    return job


def later(seconds=GRACE_S + 1):
    return time.time() + seconds


def _run_step_forever(redis_url, prefix, job_id, step, ttl_s):
    with heartbeat(JobStore.from_url(redis_url, prefix), job_id, step, ttl_s):
        time.sleep(600)


def kill_mid_step(store, redis_url, job_id, step, ttl_s=1):
    """Run `step` in a child process that SIGKILL ends once it beats; return when its beat has expired."""
    child = multiprocessing.get_context("spawn").Process(
        target=_run_step_forever, args=(redis_url, store.prefix, job_id, step, ttl_s)
    )
    child.start()
    deadline = time.monotonic() + 30
    while not beating(store, job_id, step):
        assert child.is_alive() and time.monotonic() < deadline, "the step never beat"
        time.sleep(0.01)
    child.kill()
    child.join()
    while beating(store, job_id, step):
        assert time.monotonic() < deadline, "the beat outlived its TTL"
        time.sleep(0.05)


def test_only_chunks_neither_done_nor_beating_nor_recently_enqueued_come_back(store, enqueue, sent):
    job = running_job(store, chunks=4)
    for index in range(4):
        enqueue(CONVERT_CHUNK, [job.id, index], job.priority)
    sent.clear()
    store.mark_chunk_done(job.id, 0, {"frames": 8})
    beat(store, job.id, chunk_step(1), ttl_s=600)
    assert sweep(store, enqueue, GRACE_S) == [], "every chunk was enqueued moments ago"
    lost = sweep(store, enqueue, GRACE_S, now=later())
    assert lost == [(CONVERT_CHUNK, [job.id, 2]), (CONVERT_CHUNK, [job.id, 3])]
    assert sent == [(CONVERT_CHUNK, [job.id, 2], 6), (CONVERT_CHUNK, [job.id, 3], 6)]
    assert sweep(store, enqueue, GRACE_S) == [], "re-enqueued chunks start a new grace period"


def test_a_heartbeat_expires_with_its_worker(store, enqueue):
    job = running_job(store, chunks=1)
    beat(store, job.id, chunk_step(0), ttl_s=1)
    assert sweep(store, enqueue, 0) == []
    time.sleep(1.2)
    assert sweep(store, enqueue, 0) == [(CONVERT_CHUNK, [job.id, 0])]


def test_a_heartbeat_lives_while_its_block_runs_and_ends_with_it(store, enqueue):
    job = running_job(store, chunks=1)
    with heartbeat(store, job.id, chunk_step(0), ttl_s=2):
        time.sleep(2.5)  # longer than the TTL: the thread has beaten again
        assert sweep(store, enqueue, 0) == []
    assert sweep(store, enqueue, 0) == [(CONVERT_CHUNK, [job.id, 0])]


def test_a_step_whose_worker_died_comes_back_once_its_beat_expires_not_after_the_grace(store, enqueue, redis_server):
    job = running_job(store, chunks=2)
    for index in range(2):
        enqueue(CONVERT_CHUNK, [job.id, index], job.priority)
    with heartbeat(store, job.id, chunk_step(1), ttl_s=600):  # alive on another worker
        kill_mid_step(store, redis_server, job.id, chunk_step(0))
        assert sweep(store, enqueue, GRACE_S) == [(CONVERT_CHUNK, [job.id, 0])], "enqueued moments ago, yet lost"
        assert sweep(store, enqueue, GRACE_S) == [], "re-enqueued: the new copy may wait in a queue"
        with heartbeat(store, job.id, chunk_step(0), ttl_s=600):
            assert sweep(store, enqueue, GRACE_S, now=later()) == [], "the new copy runs"


def test_a_step_that_raised_has_the_grace_for_its_retry(store, enqueue):
    job = running_job(store, chunks=1)
    with pytest.raises(ConnectionError), heartbeat(store, job.id, chunk_step(0), ttl_s=600):
        raise ConnectionError("the object store is away")
    assert sweep(store, enqueue, GRACE_S) == [], "its task retries it: the retry waits in a queue"
    assert sweep(store, enqueue, GRACE_S, now=later()) == [(CONVERT_CHUNK, [job.id, 0])]


def test_a_start_whose_worker_died_comes_back_while_jobs_waiting_to_start_wait(store, enqueue, redis_server):
    waiting = Job(tenant="acme", input_uri="s3://b/in.mp4", output_uri="s3://b/out.mkv")
    store.create(waiting)  # its start, enqueued by the API, waits in the queue however long
    probing = Job(tenant="acme", input_uri="s3://b/in.mp4", output_uri="s3://b/out.mkv")
    store.create(probing)
    just_started = Job(tenant="acme", input_uri="s3://b/in.mp4", output_uri="s3://b/out.mkv")
    store.create(just_started)  # its worker died between the first beat and marking it running
    store.set_status(probing.id, JobStatus.RUNNING, phase=JobPhase.PROBING)
    kill_mid_step(store, redis_server, probing.id, START)
    kill_mid_step(store, redis_server, just_started.id, START)
    lost = sweep(store, enqueue, GRACE_S, now=later())
    assert sorted(lost) == sorted([(START_JOB, [probing.id]), (START_JOB, [just_started.id])])
    assert sweep(store, enqueue, GRACE_S) == [], "re-enqueued: the new copies may wait in a queue"
    with heartbeat(store, probing.id, START, ttl_s=600), heartbeat(store, just_started.id, START, ttl_s=600):
        assert sweep(store, enqueue, GRACE_S, now=later()) == [], "the new copies run"


def test_assembly_is_enqueued_when_unclaimed_or_lost(store, enqueue, sent):
    job = running_job(store, chunks=2)
    for index in range(2):
        store.mark_chunk_done(job.id, index, {"frames": 8})
    # The last chunk was recorded but its worker died before claiming the assembly.
    assert sweep(store, enqueue, GRACE_S) == [(ASSEMBLE_JOB, [job.id])]
    assert sweep(store, enqueue, GRACE_S) == [], "claimed and just enqueued"
    with heartbeat(store, job.id, ASSEMBLY, ttl_s=600):
        assert sweep(store, enqueue, GRACE_S, now=later()) == [], "the assembly runs"
    assert sweep(store, enqueue, GRACE_S, now=later()) == [(ASSEMBLE_JOB, [job.id])]
    assert [name for name, _, _ in sent] == [ASSEMBLE_JOB, ASSEMBLE_JOB]


def test_jobs_that_ended_or_wait_to_start_are_left_alone(store, enqueue):
    queued = Job(tenant="acme", input_uri="s3://b/in.mp4", output_uri="s3://b/out.mkv")
    store.create(queued)
    cancelled = running_job(store)
    store.request_cancel(cancelled.id)
    succeeded = running_job(store)
    store.set_status(succeeded.id, JobStatus.SUCCEEDED)
    assert sweep(store, enqueue, 0) == []


def test_one_sweeper_sweeps_per_interval(store, object_store, sent):
    job = running_job(store, chunks=1)
    settings = Settings(sweep_interval_s=0.5, sweep_grace_s=0)
    enqueue = lambda name, args, priority: sent.append((name, args))  # noqa: E731
    first, second = Sweeper(store, object_store, enqueue, settings), Sweeper(store, object_store, enqueue, settings)
    assert first.sweep_once() == [(CONVERT_CHUNK, [job.id, 0])]
    assert second.sweep_once() is None, "the lock is held for one interval"
    time.sleep(0.6)
    assert second.sweep_once() == [(CONVERT_CHUNK, [job.id, 0])]


def test_the_sweeper_thread_re_enqueues_a_lost_chunk(store, object_store, sent):
    job = running_job(store, chunks=1)
    settings = Settings(sweep_interval_s=0.1, sweep_grace_s=0)
    sweeper = Sweeper(store, object_store, lambda name, args, priority: sent.append((name, args)), settings).start()
    deadline = time.monotonic() + 5
    while not sent and time.monotonic() < deadline:
        time.sleep(0.05)
    sweeper.stop()
    assert sent[0] == (CONVERT_CHUNK, [job.id, 0])
    assert recovery.running_job_ids(store) == {job.id}
