"""Request and response bodies of the REST API, named by role: `*Create` in, `*Public` out."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal

from hdrtv.model.options import DEFAULT_CONVERTER
from hdrtv.worker.control.job_record import Job, JobPhase, JobStatus
from hdrtv.worker.control.options import JOB_FIELDS, X265_PRESETS, ConversionOptions, fields_model
from pydantic import BaseModel, ConfigDict, Field, HttpUrl

Metadata = dict[str, str]


ConverterName = ConversionOptions.model_fields["model"].annotation


class JobOptions(fields_model("JobOptionFields", JOB_FIELDS + ("overwrite",), optional=JOB_FIELDS)):
    """A job's options (`options.JOB_FIELDS`, declared once in `ConversionOptions`); those left
    out take the service's configured defaults; `overwrite` concerns the submission's checks."""

    model_config = ConfigDict(extra="forbid")

    # Narrower than the option: a job names an x265 preset, which every worker's encoder takes
    # (NVENC maps it); NVENC's own p1..p7 are for `hdrtv convert` on a machine known to have NVENC.
    preset: Literal[X265_PRESETS] | None = Field(None, description=ConversionOptions.model_fields["preset"].description)


class JobSettings(BaseModel):
    """What a job or every job of a prefix batch runs with."""

    model_config = ConfigDict(extra="forbid")

    model: ConverterName = DEFAULT_CONVERTER
    options: JobOptions = Field(default_factory=JobOptions)
    priority: int = Field(5, ge=0, le=9, description="9 is the most urgent")
    callback_url: HttpUrl | None = Field(None, description="POSTed the job when it ends, signed with HMAC-SHA256")
    metadata: Metadata = Field(default_factory=dict, max_length=50, description="kept with the job, returned as is")


class JobCreate(JobSettings):
    """One SDR video object to convert into one HDR10 object."""

    input_uri: str = Field(min_length=1, max_length=2048, examples=["s3://media/in/episode-1.mp4"])
    output_uri: str = Field(min_length=1, max_length=2048, examples=["s3://media/hdr10/episode-1.mkv"])


class BatchJobsCreate(BaseModel):
    """A batch given job by job."""

    model_config = ConfigDict(extra="forbid")

    jobs: list[JobCreate] = Field(min_length=1, max_length=1000)


class BatchPrefixCreate(JobSettings):
    """A batch of every video object under `input_prefix`, each written under `output_prefix`."""

    input_prefix: str = Field(min_length=1, max_length=2048, examples=["s3://media/season-1/"])
    output_prefix: str = Field(min_length=1, max_length=2048, examples=["s3://media/season-1-hdr10/"])


BatchCreate = BatchJobsCreate | BatchPrefixCreate


class JobProgress(BaseModel):
    percent: float
    frames_done: int
    frames_total: int | None
    chunks_done: int
    chunks_total: int | None


class JobTimings(BaseModel):
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    updated_at: datetime


class JobError(BaseModel):
    code: str | None
    message: str | None


class JobPublic(BaseModel):
    """A job as its tenant sees it."""

    id: str
    batch_id: str | None
    status: JobStatus
    phase: JobPhase | None = Field(
        description="what a running job is doing; null while queued and once succeeded, where a failed or "
        "cancelled job stopped"
    )
    input_uri: str
    output_uri: str
    model: str
    options: dict[str, Any]
    priority: int
    callback_url: str | None
    metadata: dict[str, Any]
    progress: JobProgress
    timings: JobTimings
    error: JobError | None
    output_format: str | None = Field(description="the output format written, e.g. hdr10")
    output_metadata: dict[str, Any] | None = Field(
        description="what the output signals: codec, transfer, primaries, and the format's metadata "
        "(hdr10: mastering display and MaxCLL/MaxFALL)"
    )
    callback: dict[str, Any] = Field(description="delivery state of the completion callback")

    @classmethod
    def from_job(cls, job: Job) -> JobPublic:
        if job.frames_total:
            percent = min(100.0, round(100 * job.frames_done / job.frames_total, 1))
        else:
            percent = 100.0 if job.status == JobStatus.SUCCEEDED else 0.0
        failed = job.error_code is not None or job.error_message is not None
        return cls(
            **{name: getattr(job, name) for name in _COPIED},
            progress=JobProgress(
                percent=percent,
                frames_done=job.frames_done,
                frames_total=job.frames_total,
                chunks_done=job.chunks_done,
                chunks_total=job.chunks_total,
            ),
            timings=JobTimings(
                created_at=_time(job.created_at),
                started_at=_time(job.started_at),
                finished_at=_time(job.finished_at),
                updated_at=_time(job.updated_at),
            ),
            error=JobError(code=job.error_code, message=job.error_message) if failed else None,
        )


_COPIED = (
    "id batch_id status phase input_uri output_uri model options priority callback_url metadata output_format "
    "output_metadata callback"
).split()


class JobList(BaseModel):
    items: list[JobPublic]
    next_cursor: str | None = Field(description="pass as `cursor` for the next page; null on the last")


class BatchPublic(BaseModel):
    """A batch and how many of its jobs are in each status."""

    id: str
    created_at: datetime
    total: int
    counts: dict[str, int]
    job_ids: list[str]


def _time(epoch: float | None) -> datetime | None:
    return None if epoch is None else datetime.fromtimestamp(epoch, UTC)
