"""The job store against a real redis-server: records, terminal states, listing, chunks, keys, batches."""

import pytest
import redis
from hdrtv.worker.control.job_store import Job, JobExists, JobPhase, JobStatus, JobStore


def new_job(tenant="acme", **fields):
    return Job(tenant=tenant, input_uri="s3://in/a.mp4", output_uri="s3://out/a.mp4", **fields)


def test_a_job_round_trips_with_every_field(store):
    job = new_job(
        options={"chunk_frames": 48, "preset": "ultrafast"},
        priority=7,
        callback_url="https://example.com/hook",
        metadata={"title": "Film", "n": [1, 2]},
        batch_id="b1",
        output_format="hdr10",
        output_metadata={"content_light": {"max_cll": 900}},
    )
    assert store.create(job)
    assert store.get(job.id) == job
    assert store.get("no-such-job") is None
    with pytest.raises(JobExists):
        store.create(job)


def test_a_client_that_returns_bytes_is_refused(redis_server):
    with pytest.raises(ValueError, match="decode_responses"):
        JobStore(redis.Redis.from_url(redis_server))


def test_priority_outside_0_to_9_is_refused():
    with pytest.raises(ValueError, match="priority"):
        new_job(priority=10)


def test_update_sets_fields_but_never_the_status_nor_unknown_names(store):
    job = new_job()
    store.create(job)
    assert store.update(job.id, frames_total=240, chunks_total=3, phase=JobPhase.CONVERTING)
    stored = store.get(job.id)
    assert (stored.frames_total, stored.chunks_total, stored.phase) == (240, 3, JobPhase.CONVERTING)
    assert stored.updated_at >= job.updated_at
    with pytest.raises(ValueError, match="set_status"):
        store.update(job.id, status=JobStatus.SUCCEEDED)
    with pytest.raises(ValueError, match="unknown"):
        store.update(job.id, colour="red")
    assert not store.update("gone", frames_total=1)
    assert store.get("gone") is None, "an update must not create a partial record"


def test_status_moves_stamp_times_and_terminal_states_are_final(store):
    job = new_job()
    store.create(job)
    assert store.count_active("acme") == 1
    assert store.set_status(job.id, JobStatus.RUNNING, phase=JobPhase.PROBING)
    running = store.get(job.id)
    assert running.started_at is not None and running.finished_at is None
    assert store.set_status(job.id, JobStatus.FAILED, error_code="input", error_message="no video stream")
    failed = store.get(job.id)
    assert (failed.status, failed.error_code, failed.error_message) == (JobStatus.FAILED, "input", "no video stream")
    assert failed.finished_at >= failed.started_at
    assert store.count_active("acme") == 0
    assert not store.set_status(job.id, JobStatus.SUCCEEDED)
    assert not store.set_status(job.id, JobStatus.RUNNING)
    assert store.get(job.id).status == JobStatus.FAILED
    assert not store.set_status("gone", JobStatus.RUNNING)


def test_cancel_is_final_and_only_for_unfinished_jobs(store):
    job, done = new_job(), new_job()
    store.create(job)
    store.create(done)
    store.set_status(done.id, JobStatus.SUCCEEDED)
    assert not store.cancel_requested(job.id)
    assert store.request_cancel(job.id)
    assert store.cancel_requested(job.id)
    assert not store.set_status(job.id, JobStatus.RUNNING), "a worker cannot revive a cancelled job"
    assert store.get(job.id).status == JobStatus.CANCELLED
    assert not store.request_cancel(done.id)
    assert store.get(done.id).status == JobStatus.SUCCEEDED
    assert not store.request_cancel("gone")
    assert store.count_active("acme") == 0


def test_create_refuses_a_tenant_at_its_active_limit(store):
    first, second = new_job(), new_job()
    assert store.create(first, max_active=1)
    assert not store.create(second, max_active=1)
    assert store.get(second.id) is None
    assert store.create(new_job(tenant="other"), max_active=1)
    store.set_status(first.id, JobStatus.SUCCEEDED)
    assert store.create(second, max_active=1)


def test_list_pages_newest_first_with_filters_and_a_stable_cursor(store):
    jobs = [new_job(created_at=1000.0 + i // 2) for i in range(7)]  # pairs share a creation time
    for job in jobs:
        store.create(job)
    store.create(new_job(tenant="other"))
    store.set_status(jobs[2].id, JobStatus.RUNNING)
    expected = sorted(jobs, key=lambda j: (j.created_at, j.id), reverse=True)

    seen, cursor = [], None
    while True:
        page, cursor = store.list("acme", cursor=cursor, limit=2)
        assert len(page) <= 2
        seen += [j.id for j in page]
        if cursor is None:
            break
        store.create(new_job(created_at=5000.0))  # newer jobs do not shift later pages
    assert seen == [j.id for j in expected]

    running, cursor = store.list("acme", status=JobStatus.RUNNING)
    assert ([j.id for j in running], cursor) == ([jobs[2].id], None)
    window, _ = store.list("acme", created_from=1001.0, created_to=1002.0)
    assert {j.id for j in window} == {j.id for j in jobs[2:6]}
    assert store.list("nobody") == ([], None)


def test_a_chunk_recorded_twice_counts_once(store):
    job = new_job()
    store.create(job)
    assert store.mark_chunk_done(job.id, 0, {"frames": 48, "meter": {"peak": 1.0}}) == 1
    assert store.mark_chunk_done(job.id, 0, {"frames": 99, "meter": {"peak": 2.0}}) == 1
    assert store.mark_chunk_done(job.id, 2, {"frames": 30}) == 2
    assert store.chunk_results(job.id) == {0: {"frames": 48, "meter": {"peak": 1.0}}, 2: {"frames": 30}}
    stored = store.get(job.id)
    assert (stored.chunks_done, stored.frames_done) == (2, 78)
    assert store.mark_chunk_done("gone", 0, {"frames": 1}) == 0
    assert store.chunk_results("gone") == {}


def test_a_plan_is_kept_beside_the_job(store):
    plan = {"shot_starts": [0, 12], "chunks": [{"index": 0, "start": 0, "stop": 24}]}
    assert store.get_plan("j1") is None
    store.set_plan("j1", plan)
    assert store.get_plan("j1") == plan


def test_a_step_is_claimed_once_until_released(store):
    assert store.claim("j1", "assemble")
    assert not store.claim("j1", "assemble")
    assert store.claim("j1", "callback")
    store.release("j1", "assemble")
    assert store.claim("j1", "assemble")


def test_an_idempotency_key_remembers_the_first_job_per_tenant(store):
    assert store.remember_idempotency("acme", "k1", "hash-a", "job-1") == (None, None)
    assert store.remember_idempotency("acme", "k1", "hash-b", "job-2") == ("job-1", "hash-a")
    assert store.remember_idempotency("other", "k1", "hash-b", "job-3") == (None, None)
    store.remember_idempotency("acme", "short", "h", "job-4", ttl=1)
    assert 0 < store.redis.ttl(f"{store.prefix}:idem:acme:short") <= 1


def test_a_batch_counts_its_jobs_by_status(store):
    batch_id = store.create_batch("acme", metadata={"season": 2})
    jobs = [new_job(batch_id=batch_id) for _ in range(3)]
    for job in jobs:
        store.create(job)
        store.add_to_batch(batch_id, job.id)
    store.add_to_batch(batch_id, jobs[0].id)
    store.set_status(jobs[0].id, JobStatus.RUNNING)
    store.set_status(jobs[1].id, JobStatus.SUCCEEDED)
    assert store.batch_counts(batch_id) == {"queued": 1, "running": 1, "succeeded": 1, "failed": 0, "cancelled": 0}
    batch = store.get_batch(batch_id)
    assert (batch.tenant, batch.metadata, batch.job_ids) == ("acme", {"season": 2}, sorted(j.id for j in jobs))
    assert store.get_batch("no-such-batch") is None
