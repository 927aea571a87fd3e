"""The steps of a conversion job as plain functions: `tasks.py` runs them under Celery, tests call
them directly.

`start_job` (CPU) checks the job's objects (the API took it without asking the store), fetches
and probes the source, finds shots and plans chunks, then enqueues one
`convert_chunk` per chunk (GPU); the step that records the last chunk enqueues `assemble_job`
(CPU), which joins the chunks with the source's audio and subtitles, uploads the output and marks
the job succeeded. Every step looks its job up first and stops when it is gone or finished, and
may run twice: a recorded chunk is skipped, the assembly is enqueued once (a claim), uploads
rewrite the same keys. A user's mistake (`InputError`) fails the job at once; transient errors
propagate for the task to retry; a cancelled job's files are removed by whichever step sees it.
A job with a `callback_url` gets one `deliver_callback` (a claim) from the step that finishes it
or, for a cancelled job, from the first step that sees the cancellation.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from hdrtv.model import Converter, load_converter
from hdrtv.model.converter import converter_radius

from ..control.errors import InputError, OutputExists
from ..control.grants import Grants
from ..control.job_record import Job, JobPhase, JobStatus
from ..control.job_store import JobStore
from ..control.options import ConversionOptions, options_for_job, output_suffix
from ..control.settings import Settings
from ..control.storage import BucketNotFound, ObjectNotFound, ObjectStore
from ..control.task_names import ASSEMBLE_JOB, CONVERT_CHUNK, DELIVER_CALLBACK
from ..formats import output_format
from ..formats.static_metadata import MasteringDisplay
from ..media.assemble import assemble
from ..media.chunks import Chunk, plan_chunks
from ..media.decode import decode_frames
from ..media.light_level import LightLevelMeter
from ..media.probe import VideoInfo, probe, refuse_hdr
from ..media.scenes import detect_shot_starts
from ..pipeline import convert_chunk as convert_chunk_frames
from . import callbacks
from .files import chunk_uri, discard, fetch, fetch_source, job_dir, local_source, remember_temp_root
from .recovery import ASSEMBLY, START, chunk_step, heartbeat

_PROBES_KEPT = 4
T = TypeVar("T")
log = logging.getLogger(__name__)


@dataclass
class JobContext:
    """What the steps work with, one per worker process; `enqueue(task name, args, job priority)`."""

    store: JobStore
    objects: ObjectStore
    settings: Settings
    scratch: Path
    enqueue: Callable[[str, list[Any], int], None]
    probes: dict[str, VideoInfo] = field(default_factory=dict)

    @property
    def grants(self) -> Grants:
        """The tenants' storage grants, kept beside the job records."""
        return Grants(self.store.redis, self.store.prefix)


def start_job(ctx: JobContext, job_id: str) -> None:
    """Plan the job's chunks (once) and enqueue those not converted yet."""
    job = _live_job(ctx, job_id)
    if job is None:
        return
    with _failing_on_input_error(ctx, job):
        check_granted(ctx, job)
        if job.chunks_total is None:
            _plan(ctx, job)
        job = _live_job(ctx, job_id)
        if job is None:
            return
        done = ctx.store.chunk_results(job_id)
        for index in range(job.chunks_total):
            if index not in done:
                ctx.enqueue(CONVERT_CHUNK, [job_id, index], job.priority)
        _enqueue_assembly_when_complete(ctx, job_id)


def convert_chunk(ctx: JobContext, job_id: str, index: int) -> None:
    """Convert chunk `index` into the job's temporary prefix and record it."""
    job = _live_job(ctx, job_id)
    if job is None:
        return
    if index not in ctx.store.chunk_results(job_id):
        ttl = ctx.settings.heartbeat_ttl_s
        with _failing_on_input_error(ctx, job), heartbeat(ctx.store, job_id, chunk_step(index), ttl):
            started = time.monotonic()
            plan = ctx.store.get_plan(job_id)
            chunk = Chunk.from_dict(plan["chunks"][index])
            options = options_for_job(ctx.settings, job.model, job.options)
            path = job_dir(ctx.scratch, job_id) / f"encoded{index:05d}.mp4"
            mastering = MasteringDisplay(max_luminance=options.max_nits)
            info, converter = _probe(ctx, job), _converter(options)
            meter = convert_chunk_frames(info, chunk, plan["shot_starts"], converter, path, mastering, options)
            if _discard_if_cancelled(ctx, job):
                return
            ctx.objects.upload(path, chunk_uri(ctx.objects, job, index))
            path.unlink()
            seconds = time.monotonic() - started
            result = {"frames": chunk.stop - chunk.start, "meter": meter.to_dict(), "seconds": seconds}
            ctx.store.mark_chunk_done(job_id, index, result)
    if not _discard_if_cancelled(ctx, job):
        _enqueue_assembly_when_complete(ctx, job_id)


def assemble_job(ctx: JobContext, job_id: str) -> None:
    """Join the chunks into the output, upload it, remove the chunks and mark the job succeeded."""
    job = _live_job(ctx, job_id)
    if job is None:
        return
    with _failing_on_input_error(ctx, job), heartbeat(ctx.store, job_id, ASSEMBLY, ctx.settings.heartbeat_ttl_s):
        check_granted(ctx, job)
        started = time.monotonic()
        results = ctx.store.chunk_results(job_id)
        if len(results) != job.chunks_total:
            raise RuntimeError(f"job {job_id}: {len(results)} of {job.chunks_total} chunks recorded")
        ctx.store.update(job_id, phase=JobPhase.ASSEMBLING)
        folder = job_dir(ctx.scratch, job_id)
        uris = [chunk_uri(ctx.objects, job, index) for index in range(job.chunks_total)]
        paths = [fetch(ctx.objects, uri, folder / f"chunk{index:05d}.mp4") for index, uri in enumerate(uris)]
        meter = LightLevelMeter()
        for result in results.values():
            meter.merge(LightLevelMeter.from_dict(result["meter"]))
        options = options_for_job(ctx.settings, job.model, job.options)
        fmt = output_format(options.format)
        mastering = MasteringDisplay(max_luminance=options.max_nits)
        output = folder / f"output{_output_suffix(ctx, job)}"
        source = fetch_source(ctx.objects, ctx.scratch, job)
        assemble(paths, output, source, meter.result(), mastering, overwrite=True, output_format=fmt)
        written = probe(output)
        assembled = time.monotonic()
        if _discard_if_cancelled(ctx, job):
            return
        ctx.store.update(job_id, phase=JobPhase.UPLOADING)
        _check_output_absent(ctx, job)
        ctx.objects.upload(output, job.output_uri)
        timings = job.timings | {
            "convert_s": sum(result["seconds"] for result in results.values()),
            "assemble_s": assembled - started,
            "upload_s": time.monotonic() - assembled,
        }
        succeeded = ctx.store.set_status(  # no phase: nothing is in progress
            job_id,
            JobStatus.SUCCEEDED,
            phase=None,
            output_format=fmt.name,
            output_metadata=fmt.summary(written),
            timings=timings,
        )
        if not succeeded:
            ctx.objects.delete(job.output_uri)  # cancelled during the upload: leave no output behind
        discard(ctx.objects, ctx.scratch, job)
        _schedule_callback(ctx, job_id)


def fail_job(ctx: JobContext, job_id: str, code: str, message: str) -> None:
    """Mark the job failed (unless already finished), remove its files and call back. The record and
    the callback come first: a clean-up the store refuses (its bucket gone, the store down) is logged
    and leaves the chunk objects, rather than a failed job that nobody is told about."""
    job = ctx.store.get(job_id)
    if job is None:
        return
    ctx.store.set_status(job_id, JobStatus.FAILED, error_code=code, error_message=message)
    try:
        discard(ctx.objects, ctx.scratch, job)
    except Exception:  # whatever the clean-up raises, the callback below must still be scheduled
        log.exception("job %s: could not remove its temporary files", job_id)
    _schedule_callback(ctx, job_id)


def _check_objects(ctx: JobContext, job: Job) -> None:
    """What the API does not ask the store when it takes a job (it answers at once): the input is
    there, neither empty nor over `max_input_bytes`; the output's bucket exists (found now rather
    than at the upload after the conversion) and nothing is at the output unless the job may
    replace it. Before a byte is fetched. A bucket missing here is the user's mistake, so its
    InputError drops the BucketNotFound type that `_error_code` reads as the store's fault."""
    try:
        size = ctx.objects.head(job.input_uri).size
        ctx.objects.check_bucket(job.output_uri)
        occupied = not job.overwrite and ctx.objects.exists(job.output_uri)
    except BucketNotFound as error:
        raise InputError(str(error)) from None
    if size == 0:
        raise InputError(f"{job.input_uri}: empty object (0 bytes)")
    if size > ctx.settings.max_input_bytes:
        raise InputError(
            f"{job.input_uri}: {size} bytes, over the limit of {ctx.settings.max_input_bytes} (HDRTV_MAX_INPUT_BYTES)"
        )
    if occupied:
        raise OutputExists(f"{job.output_uri}: the output exists; submit again with options.overwrite to replace it")


def _plan(ctx: JobContext, job: Job) -> None:
    """Check the job's objects, probe the source, find its shots and plan its chunks: the job's start
    step, beating (the beat comes first, so that a sweeper never sees the job running without it)."""
    with heartbeat(ctx.store, job.id, START, ctx.settings.heartbeat_ttl_s):
        started = time.monotonic()
        ctx.store.set_status(job.id, JobStatus.RUNNING, phase=JobPhase.PROBING)
        options = options_for_job(ctx.settings, job.model, job.options)
        _output_suffix(ctx, job)
        _check_objects(ctx, job)
        remember_temp_root(ctx.store, ctx.objects, job)
        info = _probe(ctx, job)
        refuse_hdr(info, options.force)
        radius = _model_call(options, converter_radius)
        shot_starts = detect_shot_starts(decode_frames(info))
        chunks = plan_chunks(info.frame_count, shot_starts, options.chunk_frames, radius)
        ctx.store.set_plan(job.id, {"shot_starts": shot_starts, "chunks": [chunk.to_dict() for chunk in chunks]})
        ctx.store.update(
            job.id,
            phase=JobPhase.CONVERTING,
            frames_total=info.frame_count,
            chunks_total=len(chunks),
            timings={"prepare_s": time.monotonic() - started},
        )


def _check_output_absent(ctx: JobContext, job: Job) -> None:
    """OutputExists when something was written to the output after the job was submitted and the
    job may not replace it. Checked once, just before the upload (a claim): a rerun of the step
    after its upload began finds the job's own object there and replaces it."""
    if not job.overwrite and ctx.store.claim(job.id, "output") and ctx.objects.exists(job.output_uri):
        raise OutputExists(
            f"{job.output_uri}: an object appeared at the output after submission; "
            "submit again with options.overwrite to replace it"
        )


def check_granted(ctx: JobContext, job: Job) -> None:
    """NotGranted unless the job's tenant may still read its input and write its output: checked
    with the grants Redis holds now, when the job starts and before its output is written."""
    ctx.grants.check_transfer(job.tenant, ctx.objects.parse(job.input_uri), ctx.objects.parse(job.output_uri))


def _live_job(ctx: JobContext, job_id: str) -> Job | None:
    """The job unless it is gone or finished; a cancelled job's files are removed on the way."""
    job = ctx.store.get(job_id)
    if job is None or not job.status.terminal:
        return job
    if job.status == JobStatus.CANCELLED:
        discard(ctx.objects, ctx.scratch, job)
    _schedule_callback(ctx, job_id)
    return None


def _discard_if_cancelled(ctx: JobContext, job: Job) -> bool:
    if ctx.store.cancel_requested(job.id):
        discard(ctx.objects, ctx.scratch, job)
        _schedule_callback(ctx, job.id)
        return True
    return False


def _schedule_callback(ctx: JobContext, job_id: str) -> None:
    """Enqueue the delivery of a finished job's callback, once (a claim; a step that saw the job
    finished earlier but could not enqueue left it unclaimed)."""
    job = ctx.store.get(job_id)
    if job is None or not job.callback_url or not job.status.terminal or not ctx.store.claim(job_id, "callback"):
        return
    ctx.store.update(job_id, callback=callbacks.initial_state())
    try:
        ctx.enqueue(DELIVER_CALLBACK, [job_id], job.priority)
    except BaseException:
        ctx.store.release(job_id, "callback")
        raise


def _enqueue_assembly_when_complete(ctx: JobContext, job_id: str) -> None:
    job = ctx.store.get(job_id)
    complete = job is not None and job.chunks_total is not None and job.chunks_done >= job.chunks_total
    if complete and ctx.store.claim(job_id, "assemble"):
        try:
            ctx.enqueue(ASSEMBLE_JOB, [job_id], job.priority)
        except BaseException:
            ctx.store.release(job_id, "assemble")  # the retried step claims it again
            raise


@contextmanager
def _failing_on_input_error(ctx: JobContext, job: Job) -> Iterator[None]:
    """Fail the job with the error's code (`_error_code`) and line, naming the input URI rather
    than the worker's copy."""
    try:
        yield
    except InputError as error:
        message = str(error).replace(str(local_source(ctx.objects, ctx.scratch, job)), job.input_uri)
        fail_job(ctx, job.id, _error_code(ctx, job, error), message)


def _error_code(ctx: JobContext, job: Job, error: InputError) -> str:
    """Whose fault a job's InputError is. The start step saw both buckets and the input object
    (`_check_objects`, which reports a missing bucket as the user's), so after it:

    - `storage_unavailable`: a bucket is missing (deleted since, or the store lost its state, as a
      store restarted empty does), or an object the job wrote itself (a chunk) is;
    - the error's own code for anything else, the user's doing: `invalid_input` (the input object
      missing or removed, an input that is no SDR video, refused access, bad options),
      `forbidden` (outside the tenant's storage grants), `output_exists`.

    A store that stays unreachable or answers 5xx through every retry is `storage_unavailable` too
    (`tasks.failure`).
    """
    lost = isinstance(error, BucketNotFound) or (
        isinstance(error, ObjectNotFound) and error.uri != ctx.objects.parse(job.input_uri).uri
    )
    return "storage_unavailable" if lost else error.code


def _probe(ctx: JobContext, job: Job) -> VideoInfo:
    if job.id not in ctx.probes:
        while len(ctx.probes) >= _PROBES_KEPT:
            del ctx.probes[next(iter(ctx.probes))]
        ctx.probes[job.id] = probe(fetch_source(ctx.objects, ctx.scratch, job))
    return ctx.probes[job.id]


def _converter(options: ConversionOptions) -> Converter:
    """The converter (DSLNet weights load once per process, see `load_converter`)."""
    return _model_call(options, lambda chosen: load_converter(options=chosen))


def _model_call(options: ConversionOptions, call: Callable[[ConversionOptions], T]) -> T:
    """`call(options)`, its ValueError (no such weights, not that variant) the job's InputError."""
    try:
        return call(options)
    except ValueError as error:
        raise InputError(f"model {options.model}: {error}") from error


def _output_suffix(ctx: JobContext, job: Job) -> str:
    ctx.objects.parse(job.output_uri)  # a well-formed URI first
    return output_suffix(job.output_uri)
