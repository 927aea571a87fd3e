"""The janitor of temporary objects against moto's S3 server and a real redis-server: it removes the
chunk files of jobs that ended or whose records are gone (a Redis restored from an older snapshot),
only once it has seen them so for the safety age, and never those of running jobs."""

import time
import uuid

import pytest
from hdrtv.worker.control.job_store import Job, JobStatus
from hdrtv.worker.control.settings import Settings
from hdrtv.worker.jobs.files import chunk_uri, remember_temp_root, remove_orphans, temp_prefix
from hdrtv.worker.jobs.recovery import Sweeper

MIN_AGE_S = 3600


@pytest.fixture
def other_bucket(object_store):
    name = f"test-{uuid.uuid4().hex[:16]}"
    object_store.client.create_bucket(Bucket=name)
    return name


def job_with_a_chunk(store, objects, bucket, tmp_path, status=JobStatus.RUNNING, stored=True):
    """A job with one chunk file under its temporary prefix (its record kept unless `stored` is False)."""
    job = Job(tenant="acme", input_uri=f"s3://{bucket}/in.mp4", output_uri=f"s3://{bucket}/out/{uuid.uuid4().hex}.mkv")
    if stored:
        store.create(job)
        store.set_status(job.id, status)
    remember_temp_root(store, objects, job)
    (path := tmp_path / "chunk.mp4").write_bytes(b"chunk")
    objects.upload(path, chunk_uri(objects, job, 0))
    return job


def temporary(objects, *buckets):
    return {uri for bucket in buckets for uri in objects.list(f"s3://{bucket}/.hdrtv-tmp/")}


def test_temporary_objects_of_ended_and_gone_jobs_go_once_old_enough(
    store, object_store, bucket, other_bucket, tmp_path
):
    running = job_with_a_chunk(store, object_store, bucket, tmp_path)
    failed = job_with_a_chunk(store, object_store, bucket, tmp_path, JobStatus.FAILED)
    gone = job_with_a_chunk(store, object_store, bucket, tmp_path, stored=False)
    # Written before a restore of Redis lost both the job and the note of where it wrote: the
    # janitor still looks in the allowed buckets.
    forgotten = job_with_a_chunk(store, object_store, other_bucket, tmp_path, stored=False)
    store.redis.srem(f"{store.prefix}:tmp:roots", f"s3://{other_bucket}/.hdrtv-tmp/")
    object_store.upload(tmp_path / "chunk.mp4", f"s3://{bucket}/out/kept.mkv")
    everything = temporary(object_store, bucket, other_bucket)

    assert remove_orphans(store, object_store, [other_bucket], MIN_AGE_S) == [], "first seen now"
    assert remove_orphans(store, object_store, [other_bucket], MIN_AGE_S, now=time.time() + MIN_AGE_S / 2) == []
    assert temporary(object_store, bucket, other_bucket) == everything
    removed = remove_orphans(store, object_store, [other_bucket], MIN_AGE_S, now=time.time() + MIN_AGE_S + 1)
    assert sorted(removed) == sorted(temp_prefix(object_store, job) for job in (failed, gone, forgotten))
    assert temporary(object_store, bucket, other_bucket) == {chunk_uri(object_store, running, 0)}
    assert object_store.exists(f"s3://{bucket}/out/kept.mkv")


def test_a_job_that_ends_later_starts_its_safety_age_then(store, object_store, bucket, tmp_path):
    job = job_with_a_chunk(store, object_store, bucket, tmp_path)
    assert remove_orphans(store, object_store, [], MIN_AGE_S) == []
    store.set_status(job.id, JobStatus.CANCELLED)
    assert remove_orphans(store, object_store, [], MIN_AGE_S, now=time.time() + MIN_AGE_S / 2) == []
    assert remove_orphans(store, object_store, [], MIN_AGE_S, now=time.time() + MIN_AGE_S + 1) == []
    assert remove_orphans(store, object_store, [], MIN_AGE_S, now=time.time() + 2 * MIN_AGE_S) == [
        temp_prefix(object_store, job)
    ]


def test_one_janitor_runs_per_interval(store, object_store, bucket, tmp_path):
    gone = job_with_a_chunk(store, object_store, bucket, tmp_path, stored=False)
    settings = Settings(janitor_interval_s=600, janitor_min_age_s=0)
    first, second = (Sweeper(store, object_store, lambda *_: None, settings) for _ in range(2))
    assert first.clean_once() == [temp_prefix(object_store, gone)]
    assert second.clean_once() is None, "the lock is held for one interval"
    assert temporary(object_store, bucket) == set()
