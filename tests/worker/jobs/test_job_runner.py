"""The job steps end to end without Celery: a real redis-server, moto's S3, real video files.

Enqueued tasks go to a list that `drain` runs in order, in this process, as workers would.
"""

import dataclasses
import json
import logging
import subprocess
import uuid

import pytest
from hdrtv.worker.control.job_store import Job, JobStatus, JobStore
from hdrtv.worker.control.settings import Settings
from hdrtv.worker.control.storage import ObjectStore, StorageUnavailable
from hdrtv.worker.control.task_names import ASSEMBLE_JOB, CONVERT_CHUNK, DELIVER_CALLBACK
from hdrtv.worker.jobs import runner as job_runner
from hdrtv.worker.jobs.files import scratch_root, temp_prefix
from hdrtv.worker.jobs.tasks import failure
from servers import free_port, grant_every_bucket
from video_factory import write_clip

FRAMES, CHUNK_FRAMES = 24, 8  # three chunks
CALLBACK = "https://hooks.example.com/hdrtv"
STEPS = {CONVERT_CHUNK: job_runner.convert_chunk, ASSEMBLE_JOB: job_runner.assemble_job}


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    return write_clip(tmp_path_factory.mktemp("src") / "clip.mp4", frames=FRAMES, audio_language="eng")


@pytest.fixture
def ctx(redis_server, object_store, s3_settings, tmp_path):
    settings = s3_settings.model_copy(update={"preset": "ultrafast", "chunk_frames": CHUNK_FRAMES, "device": "cpu"})
    queue = []
    context = job_runner.JobContext(
        store=JobStore.from_url(redis_server, prefix=f"test-{uuid.uuid4().hex}"),
        objects=object_store,
        settings=settings,
        scratch=scratch_root(str(tmp_path / "scratch")),
        enqueue=lambda name, args, priority: queue.append((name, args)),
    )
    context.queue = queue
    grant_every_bucket(context.store.redis, "acme", context.store.prefix)
    return context


def submit(ctx, bucket, source, output_bucket=None, **fields):
    input_uri = f"s3://{bucket}/in/{source.name}"
    ctx.objects.upload(source, input_uri)
    output_uri = f"s3://{output_bucket or bucket}/out/hdr.mp4"
    job = Job(tenant="acme", input_uri=input_uri, output_uri=output_uri, model="bt2408", **fields)
    ctx.store.create(job)
    return job


def drain(ctx):
    while ctx.queue:
        name, args = ctx.queue.pop(0)
        STEPS[name](ctx, *args)


def leftovers(ctx, job):
    """Chunk objects in the store and local scratch folders the job left behind."""
    return list(ctx.objects.list(temp_prefix(ctx.objects, job))), list(ctx.scratch.iterdir())


def ffprobe_video(path):
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-of", "json", "-show_streams", str(path)],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(out.stdout)["streams"]


def test_a_job_runs_to_an_hdr10_output_and_leaves_nothing_behind(ctx, bucket, clip, tmp_path):
    job = submit(ctx, bucket, clip, priority=7)
    job_runner.start_job(ctx, job.id)
    assert [name for name, _ in ctx.queue] == [CONVERT_CHUNK] * 3
    drain(ctx)

    done = ctx.store.get(job.id)
    assert done.status == JobStatus.SUCCEEDED, done.error_message
    assert done.phase is None, "nothing is in progress"
    assert (done.frames_total, done.frames_done, done.chunks_total, done.chunks_done) == (FRAMES, FRAMES, 3, 3)
    assert done.output_format == "hdr10"
    assert done.output_metadata["transfer"] == "smpte2084"
    assert done.output_metadata["mastering_display"]["max_luminance"] == 1000
    assert done.output_metadata["content_light"]["max_cll"] > 0
    assert set(done.timings) == {"prepare_s", "convert_s", "assemble_s", "upload_s"}
    assert done.started_at <= done.finished_at
    assert leftovers(ctx, job) == ([], [])
    ctx.objects.download(job.output_uri, tmp_path / "out.mp4")
    streams = ffprobe_video(tmp_path / "out.mp4")
    video = next(s for s in streams if s["codec_type"] == "video")
    assert (video["codec_name"], video["color_transfer"], video["color_primaries"]) == ("hevc", "smpte2084", "bt2020")
    assert int(video["nb_frames"]) == FRAMES
    assert [s.get("tags", {}).get("language") for s in streams if s["codec_type"] == "audio"] == ["eng"]


def test_steps_run_twice_change_nothing(ctx, bucket, clip):
    job = submit(ctx, bucket, clip)
    job_runner.start_job(ctx, job.id)
    job_runner.start_job(ctx, job.id)  # redelivered: the plan is kept, missing chunks enqueued again
    assert [args for _, args in ctx.queue] == [[job.id, i] for i in (0, 1, 2)] * 2
    ctx.queue.clear()
    job_runner.convert_chunk(ctx, job.id, 0)
    first = ctx.store.chunk_results(job.id)
    job_runner.convert_chunk(ctx, job.id, 0)
    assert ctx.store.chunk_results(job.id) == first
    assert ctx.store.get(job.id).chunks_done == 1
    for index in (1, 2, 2, 1):
        job_runner.convert_chunk(ctx, job.id, index)
    assert ctx.queue == [(ASSEMBLE_JOB, [job.id])], "the assembly is enqueued once"
    drain(ctx)
    etag = ctx.objects.head(job.output_uri).etag
    job_runner.assemble_job(ctx, job.id)
    job_runner.convert_chunk(ctx, job.id, 2)
    assert ctx.queue == []
    assert ctx.objects.head(job.output_uri).etag == etag
    assert ctx.store.get(job.id).status == JobStatus.SUCCEEDED


def test_cancellation_stops_the_job_and_removes_its_chunks(ctx, bucket, clip):
    job = submit(ctx, bucket, clip)
    job_runner.start_job(ctx, job.id)
    job_runner.convert_chunk(ctx, job.id, 0)
    assert len(leftovers(ctx, job)[0]) == 1
    assert ctx.store.request_cancel(job.id)
    ctx.queue[:] = [(ASSEMBLE_JOB, [job.id])] + ctx.queue  # even a stray assembly does nothing
    drain(ctx)
    stopped = ctx.store.get(job.id)
    assert (stopped.status, stopped.chunks_done) == (JobStatus.CANCELLED, 1)
    assert leftovers(ctx, job) == ([], [])
    assert not ctx.objects.exists(job.output_uri)


@pytest.mark.parametrize(
    ("case", "code", "message"),
    [
        ("missing input", "invalid_input", "{input}: no such object"),
        ("empty input", "invalid_input", "{input}: empty object (0 bytes)"),
        ("huge input", "invalid_input", "{input}: 2048 bytes, over the limit of 1024 (HDRTV_MAX_INPUT_BYTES)"),
        ("input bucket missing", "invalid_input", "{input}: no such bucket"),
        ("output bucket missing", "invalid_input", "{output}: no such bucket"),
        ("output exists", "output_exists", "{output}: the output exists; submit again with options.overwrite"),
        ("not video", "invalid_input", "{input}: not a media file"),
        ("hdr input", "invalid_input", "{input}: already HDR"),
    ],
)
def test_the_start_step_finds_what_intake_did_not_ask_and_fails_the_job_with_a_callback(
    ctx, bucket, clip, tmp_path, case, code, message
):
    """The API takes jobs without asking the store; the start step checks the objects before it
    fetches a byte (the source only for what needs its content) and tells the client."""
    contents = {"empty input": b"", "huge input": b"\0" * 2048, "not video": b"a shopping list\n" * 99}
    source = clip
    if case in contents:
        source = tmp_path / "clip.mp4"
        source.write_bytes(contents[case])
    elif case == "hdr input":
        source = write_clip(tmp_path / "hdr.mp4", frames=4, color_trc="smpte2084", color_primaries="bt2020")
    if case == "huge input":
        ctx.settings = ctx.settings.model_copy(update={"max_input_bytes": 1024})
    job = submit(ctx, bucket, source, callback_url=CALLBACK)
    elsewhere = {
        "missing input": {"input_uri": f"s3://{bucket}/in/nothing.mp4"},
        "input bucket missing": {"input_uri": "s3://no-such-bucket-here/in/a.mp4"},
        "output bucket missing": {"output_uri": "s3://no-such-bucket-here/out/a.mkv"},
    }
    if case in elsewhere:
        job = dataclasses.replace(job, id=uuid.uuid4().hex, **elsewhere[case])
        ctx.store.create(job)
    if case == "output exists":
        ctx.objects.client.put_object(Bucket=bucket, Key="out/hdr.mp4", Body=b"converted before")
    job_runner.start_job(ctx, job.id)
    failed = ctx.store.get(job.id)
    assert (failed.status, failed.error_code) == (JobStatus.FAILED, code)
    assert message.format(input=job.input_uri, output=job.output_uri) in failed.error_message
    assert str(ctx.scratch) not in failed.error_message
    assert ctx.queue == [(DELIVER_CALLBACK, [job.id])] and failed.chunks_total is None
    assert list(ctx.scratch.iterdir()) == []
    if case not in ("not video", "hdr input"):
        assert ctx.probes == {}, "nothing fetched"
    if case == "output exists":
        assert ctx.objects.client.get_object(Bucket=bucket, Key="out/hdr.mp4")["Body"].read() == b"converted before"


def test_an_unknown_option_fails_the_job(ctx, bucket, clip):
    odd = submit(ctx, bucket, clip, options={"colour": "blue"})
    job_runner.start_job(ctx, odd.id)
    assert ctx.store.get(odd.id).error_message == "unknown options: colour"


def test_an_unreachable_store_raises_for_a_retry_and_keeps_the_job(ctx, bucket, clip):
    job = submit(ctx, bucket, clip, callback_url=CALLBACK)
    down = Settings(s3_endpoint_url=f"http://127.0.0.1:{free_port()}")
    ctx.objects = ObjectStore.from_settings(down)
    with pytest.raises(StorageUnavailable) as caught:
        job_runner.start_job(ctx, job.id)
    assert not ctx.store.get(job.id).status.terminal
    # The task's retries run out: the store's fault has its code, and the job fails and calls back
    # although the clean-up cannot reach the store either.
    code, message = failure(caught.value)
    job_runner.fail_job(ctx, job.id, code, message)
    failed = ctx.store.get(job.id)
    assert (failed.status, failed.error_code) == (JobStatus.FAILED, "storage_unavailable")
    assert "object store unreachable" in failed.error_message
    assert ctx.queue == [(DELIVER_CALLBACK, [job.id])]


@pytest.fixture
def other_bucket(object_store, bucket):
    """A second bucket, which a test deletes while the other stays."""
    name = f"{bucket}-2"
    object_store.client.create_bucket(Bucket=name)
    return name


def delete_bucket(objects, bucket):
    """Delete the bucket as S3 allows: its objects first."""
    for uri in list(objects.list(f"s3://{bucket}/")):
        objects.delete(uri)
    objects.client.delete_bucket(Bucket=bucket)


@pytest.mark.parametrize("gone", ["bucket", "chunks"])
def test_what_the_job_wrote_vanishing_mid_job_fails_it_as_the_stores_fault_and_calls_back(
    ctx, bucket, other_bucket, clip, gone, caplog
):
    """The output's bucket deleted (or only the chunk objects lost) once the chunks are converted: the
    assembly fails the job as `storage_unavailable`; the clean-up of the chunks then fails on the
    missing bucket, and yet the failure is recorded and the callback scheduled."""
    job = submit(ctx, bucket, clip, output_bucket=other_bucket, callback_url=CALLBACK)
    job_runner.start_job(ctx, job.id)
    while ctx.queue[0][0] == CONVERT_CHUNK:
        job_runner.convert_chunk(ctx, *ctx.queue.pop(0)[1])
    assert ctx.queue == [(ASSEMBLE_JOB, [job.id])]
    if gone == "bucket":
        delete_bucket(ctx.objects, other_bucket)
    else:
        ctx.objects.delete_prefix(temp_prefix(ctx.objects, job))
    with caplog.at_level(logging.ERROR, logger=job_runner.__name__):
        job_runner.assemble_job(ctx, *ctx.queue.pop(0)[1])
    failed = ctx.store.get(job.id)
    assert (failed.status, failed.error_code) == (JobStatus.FAILED, "storage_unavailable")
    first_chunk = f"{temp_prefix(ctx.objects, job)}chunk00000.mp4"
    assert failed.error_message == f"{first_chunk}: no such " + ("bucket" if gone == "bucket" else "object")
    assert ctx.queue == [(DELIVER_CALLBACK, [job.id])]
    assert list(ctx.scratch.iterdir()) == []
    not_removed = [r for r in caplog.records if r.getMessage() == f"job {job.id}: could not remove its temporary files"]
    assert len(not_removed) == (gone == "bucket")


def test_a_job_outside_its_tenants_grants_fails_at_start_whatever_its_record_says(ctx, bucket, clip):
    job = submit(ctx, bucket, clip)  # a record that names an output the tenant may no longer write
    ctx.grants.revoke("acme", "write", "s3://")
    ctx.grants.grant("acme", "write", f"s3://{bucket}/elsewhere/")
    job_runner.start_job(ctx, job.id)
    failed = ctx.store.get(job.id)
    assert (failed.status, failed.error_code) == (JobStatus.FAILED, "forbidden")
    assert f"{job.output_uri}: tenant 'acme' may not write there" in failed.error_message
    assert ctx.queue == [] and failed.chunks_total is None  # nothing read, planned or queued


def test_a_grant_taken_back_mid_job_stops_the_output_being_written(ctx, bucket, clip):
    job = submit(ctx, bucket, clip)
    job_runner.start_job(ctx, job.id)
    while ctx.queue[0][0] == CONVERT_CHUNK:
        name, args = ctx.queue.pop(0)
        STEPS[name](ctx, *args)
    ctx.grants.revoke("acme", "write", "s3://")
    drain(ctx)
    failed = ctx.store.get(job.id)
    assert (failed.status, failed.error_code) == (JobStatus.FAILED, "forbidden")
    assert not ctx.objects.exists(job.output_uri)
    assert leftovers(ctx, failed) == ([], [])


@pytest.mark.parametrize("overwrite", [False, True])
def test_an_object_written_to_the_output_after_submission_is_replaced_only_with_consent(ctx, bucket, clip, overwrite):
    job = submit(ctx, bucket, clip, overwrite=overwrite)
    job_runner.start_job(ctx, job.id)
    ctx.objects.client.put_object(Bucket=bucket, Key="out/hdr.mp4", Body=b"written by someone else")
    drain(ctx)
    done = ctx.store.get(job.id)
    body = ctx.objects.client.get_object(Bucket=bucket, Key="out/hdr.mp4")["Body"].read()
    if overwrite:
        assert done.status == JobStatus.SUCCEEDED and body != b"written by someone else"
    else:
        assert (done.status, done.error_code) == (JobStatus.FAILED, "output_exists")
        assert "appeared at the output after submission" in done.error_message
        assert body == b"written by someone else"
    assert leftovers(ctx, done) == ([], [])
