"""Request and response bodies of the REST API, named by role: `*Create` in, `*Public` out."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from hdrtv.model.options import DEFAULT_CONVERTER
from hdrtv.worker.control.job_record import Job, JobPhase, JobStatus
from hdrtv.worker.control.options import JOB_FIELDS, X265_PRESETS, ConversionOptions, fields_model
from pydantic import BaseModel, ConfigDict, Discriminator, Field, HttpUrl, StringConstraints, Tag, field_validator
from pydantic_core import PydanticCustomError

# A job's metadata is bounded because every read and list of its jobs returns it (some 29 KB a job at most).
METADATA_KEYS, METADATA_KEY_CHARS, METADATA_VALUE_CHARS = 50, 64, 512
Metadata = dict[
    Annotated[str, StringConstraints(min_length=1, max_length=METADATA_KEY_CHARS)],
    Annotated[str, StringConstraints(max_length=METADATA_VALUE_CHARS)],
]


ConverterName = ConversionOptions.model_fields["model"].annotation


class JobOptions(fields_model("JobOptionFields", JOB_FIELDS + ("overwrite",), optional=JOB_FIELDS)):
    """A job's options (`options.JOB_FIELDS`, declared once in `ConversionOptions`); those left
    out take the service's configured defaults; `overwrite` lets the job replace an object at its output."""

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
    callback_url: HttpUrl | None = Field(
        None, description="POSTed the job when it ends, signed with HMAC-SHA256; no user:password@"
    )
    metadata: Metadata = Field(
        default_factory=dict,
        max_length=METADATA_KEYS,
        description=f"kept with the job, returned as is: up to {METADATA_KEYS} keys of 1-{METADATA_KEY_CHARS} "
        f"characters, values of up to {METADATA_VALUE_CHARS}",
    )

    @field_validator("callback_url")
    @classmethod
    def _no_credentials(cls, url: HttpUrl | None) -> HttpUrl | None:
        """Refuse user:password@ in a callback URL: the URL is stored in the job and returned by
        every read and list of the tenant's jobs, so a password there would reach anyone holding a
        key of the tenant. Receivers authenticate callbacks by their HMAC signature instead."""
        if url is not None and (url.username or url.password):
            raise PydanticCustomError(
                "url_credentials",
                "a callback URL may not hold credentials (user:password@); verify X-Hdrtv-Signature instead",
            )
        return url


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


def _batch_kind(body: Any) -> str:
    """A body with `jobs` is a batch of listed jobs, any other a prefix batch: a refusal then names
    the problems of that kind alone, not of both."""
    listed = "jobs" in body if isinstance(body, dict) else isinstance(body, BatchJobsCreate)
    return "BatchJobsCreate" if listed else "BatchPrefixCreate"


BatchCreate = Annotated[
    Annotated[BatchJobsCreate, Tag("BatchJobsCreate")] | Annotated[BatchPrefixCreate, Tag("BatchPrefixCreate")],
    Discriminator(_batch_kind),
]


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


class Readiness(BaseModel):
    """/readyz: each part the API needs, "ok" or why it failed."""

    status: Literal["ready", "unavailable"]
    checks: dict[str, str]


class ErrorPublic(BaseModel):
    """Every error the API answers with, 422 included: one line that names the problem."""

    detail: str


_ERRORS = {
    401: "missing, unknown or revoked API key",
    403: "an input, output or prefix outside the tenant's storage grants (whether or not anything is there)",
    404: "no such job or batch of this tenant",
    409: "conflicts with what exists: the output, the job's state, or another body under this Idempotency-Key",
    413: "the request body is larger than the API reads (HDRTV_MAX_REQUEST_BYTES)",
    422: "the request, or the input it names, is refused",
    429: "the tenant's active jobs are at its limit; Retry-After",
    503: "Redis, the object store or the job queue is unavailable; Retry-After",
}


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` for these error statuses, each with the `ErrorPublic` body."""
    return {status: {"model": ErrorPublic, "description": _ERRORS[status]} for status in statuses}
