"""The job steps end to end without Celery: a real redis-server, moto's S3, real video files.

Enqueued tasks go to a list that `drain` runs in order, in this process, as workers would.
"""

import json
import subprocess
import uuid

import pytest
from hdrtv.worker.control.job_store import Job, JobStatus, JobStore
from hdrtv.worker.control.settings import Settings
from hdrtv.worker.control.storage import ObjectStore, StorageUnavailable
from hdrtv.worker.control.task_names import ASSEMBLE_JOB, CONVERT_CHUNK
from hdrtv.worker.jobs import runner as job_runner
from hdrtv.worker.jobs.files import scratch_root, temp_prefix
from servers import free_port
from video_factory import write_clip

FRAMES, CHUNK_FRAMES = 24, 8  # three chunks
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
    return context


def submit(ctx, bucket, source, **fields):
    input_uri = f"s3://{bucket}/in/{source.name}"
    ctx.objects.upload(source, input_uri)
    job = Job(tenant="acme", input_uri=input_uri, output_uri=f"s3://{bucket}/out/hdr.mp4", model="bt2408", **fields)
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
    ("make", "message"),
    [
        (lambda path: path.write_bytes(b"not a video at all" * 100) and path, "clip.mp4: "),
        (lambda path: write_clip(path, frames=4, color_trc="smpte2084", color_primaries="bt2020"), "already HDR"),
    ],
    ids=["garbage", "hdr"],
)
def test_bad_input_fails_the_job_with_a_message(ctx, bucket, tmp_path, make, message):
    job = submit(ctx, bucket, make(tmp_path / "clip.mp4"))
    job_runner.start_job(ctx, job.id)
    failed = ctx.store.get(job.id)
    assert (failed.status, failed.error_code) == (JobStatus.FAILED, "invalid_input")
    assert message in failed.error_message and job.input_uri in failed.error_message
    assert str(ctx.scratch) not in failed.error_message
    assert ctx.queue == []
    assert leftovers(ctx, job) == ([], [])


def test_a_missing_input_or_an_unknown_option_fails_the_job(ctx, bucket, clip):
    missing = Job(tenant="acme", input_uri=f"s3://{bucket}/nothing.mp4", output_uri=f"s3://{bucket}/o.mkv")
    ctx.store.create(missing)
    job_runner.start_job(ctx, missing.id)
    assert ctx.store.get(missing.id).error_message == f"{missing.input_uri}: no such object"
    odd = submit(ctx, bucket, clip, options={"colour": "blue"})
    job_runner.start_job(ctx, odd.id)
    assert ctx.store.get(odd.id).error_message == "unknown options: colour"


def test_an_unreachable_store_raises_for_a_retry_and_keeps_the_job(ctx, bucket, clip):
    job = submit(ctx, bucket, clip)
    down = Settings(s3_endpoint_url=f"http://127.0.0.1:{free_port()}")
    ctx.objects = ObjectStore.from_settings(down)
    with pytest.raises(StorageUnavailable):
        job_runner.start_job(ctx, job.id)
    assert ctx.store.get(job.id).status == JobStatus.RUNNING
