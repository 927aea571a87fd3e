"""The sweeper of lost steps and the heartbeats it reads, on a real redis-server (no Celery)."""

import time

import pytest
from hdrtv.worker.control.job_store import Job, JobStatus
from hdrtv.worker.control.settings import Settings
from hdrtv.worker.control.task_names import ASSEMBLE_JOB, CONVERT_CHUNK
from hdrtv.worker.jobs import recovery
from hdrtv.worker.jobs.recovery import ASSEMBLY, Sweeper, beat, chunk_step, heartbeat, recording, sweep

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


def test_jobs_not_running_or_not_planned_are_left_alone(store, enqueue):
    queued = Job(tenant="acme", input_uri="s3://b/in.mp4", output_uri="s3://b/out.mkv")
    store.create(queued)
    probing = Job(tenant="other", input_uri="s3://b/in.mp4", output_uri="s3://b/out.mkv")
    store.create(probing)
    store.set_status(probing.id, JobStatus.RUNNING)
    cancelled = running_job(store)
    store.request_cancel(cancelled.id)
    succeeded = running_job(store)
    store.set_status(succeeded.id, JobStatus.SUCCEEDED)
    assert sweep(store, enqueue, 0) == []


def test_one_sweeper_sweeps_per_interval(store, sent):
    job = running_job(store, chunks=1)
    settings = Settings(sweep_interval_s=0.5, sweep_grace_s=0)
    enqueue = lambda name, args, priority: sent.append((name, args))  # noqa: E731
    first, second = Sweeper(store, enqueue, settings), Sweeper(store, enqueue, settings)
    assert first.sweep_once() == [(CONVERT_CHUNK, [job.id, 0])]
    assert second.sweep_once() is None, "the lock is held for one interval"
    time.sleep(0.6)
    assert second.sweep_once() == [(CONVERT_CHUNK, [job.id, 0])]


def test_the_sweeper_thread_re_enqueues_a_lost_chunk(store, sent):
    job = running_job(store, chunks=1)
    settings = Settings(sweep_interval_s=0.1, sweep_grace_s=0)
    sweeper = Sweeper(store, lambda name, args, priority: sent.append((name, args)), settings).start()
    deadline = time.monotonic() + 5
    while not sent and time.monotonic() < deadline:
        time.sleep(0.05)
    sweeper.stop()
    assert sent[0] == (CONVERT_CHUNK, [job.id, 0])
    assert recovery.running_job_ids(store) == {job.id}
