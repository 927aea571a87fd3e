"""The record of one conversion job (and of a batch of them), as the API and the workers share it through Redis.

Times are epoch seconds (UTC, `time.time()` floats): they sort and subtract without parsing; the
API renders them as ISO 8601. Every field is stored JSON-encoded in one Redis hash per job.
"""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import asdict, dataclass, field, fields
from enum import StrEnum
from typing import Any

from hdrtv.model.options import DEFAULT_CONVERTER


class JobStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def terminal(self) -> bool:
        return self in TERMINAL

    @property
    def active(self) -> bool:
        return not self.terminal


TERMINAL = frozenset({JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELLED})


class JobPhase(StrEnum):
    PROBING = "probing"
    CONVERTING = "converting"
    ASSEMBLING = "assembling"
    UPLOADING = "uploading"


@dataclass(kw_only=True)
class Job:
    """One SDR -> HDR10 conversion; `priority` 0..9, 9 the most urgent."""

    id: str = field(default_factory=lambda: uuid.uuid4().hex)
    tenant: str
    status: JobStatus = JobStatus.QUEUED
    phase: JobPhase | None = None
    input_uri: str
    output_uri: str
    model: str = DEFAULT_CONVERTER
    options: dict[str, Any] = field(default_factory=dict)  # `options.job_options`: every JOB_FIELDS value
    overwrite: bool = False  # may replace an object at the output (else the job fails with output_exists)
    priority: int = 5
    callback_url: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    batch_id: str | None = None
    created_at: float = field(default_factory=time.time)
    updated_at: float = field(default_factory=time.time)
    started_at: float | None = None
    finished_at: float | None = None
    frames_total: int | None = None
    frames_done: int = 0
    chunks_total: int | None = None
    chunks_done: int = 0
    error_code: str | None = None
    error_message: str | None = None
    output_format: str | None = None  # the format written (`hdrtv.worker.formats.FORMATS`)
    output_metadata: dict[str, Any] | None = None  # what it signals, its `OutputFormat.summary`
    callback: dict[str, Any] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)  # seconds per step: prepare, convert, assemble, upload

    def __post_init__(self) -> None:
        self.status = JobStatus(self.status)
        self.phase = None if self.phase is None else JobPhase(self.phase)
        if not 0 <= self.priority <= 9:
            raise ValueError(f"priority {self.priority} is outside 0..9")

    def to_redis(self) -> dict[str, str]:
        """Field name -> JSON text, the layout of the job's Redis hash."""
        return encode_fields(asdict(self))

    @classmethod
    def from_redis(cls, stored: dict[str | bytes, str | bytes]) -> Job:
        """The job a Redis hash holds; fields this version does not know are ignored (a record of
        an HDR10 output from before output formats reads as one of format hdr10)."""
        values = {_text(k): json.loads(v) for k, v in stored.items()}
        if values.get("output_hdr10") is not None and "output_format" not in values:
            values |= {"output_format": "hdr10", "output_metadata": values["output_hdr10"]}
        return cls(**{k: v for k, v in values.items() if k in FIELD_NAMES})


@dataclass(frozen=True)
class Batch:
    """Jobs submitted together; `job_ids` sorted."""

    id: str
    tenant: str
    created_at: float
    metadata: dict[str, Any]
    job_ids: list[str]


FIELD_NAMES = frozenset(f.name for f in fields(Job))


def encode_fields(values: dict[str, Any]) -> dict[str, str]:
    """JSON-encode each value (enums as their strings); refuse names a Job does not have."""
    unknown = set(values) - FIELD_NAMES
    if unknown:
        raise ValueError(f"unknown job fields: {sorted(unknown)}")
    return {k: json.dumps(v) for k, v in values.items()}


def _text(value: str | bytes) -> str:
    return value.decode() if isinstance(value, bytes) else value
