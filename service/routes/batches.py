"""/v1/batches: many jobs in one request, listed one by one or every video object under a prefix.

A batch is idempotent by content: its idempotency key is the hash of its body, and each of its
jobs gets a key derived from that hash and the job's place (its index, or its input URI for a
prefix batch). Sending the same batch again within 24 hours returns the same batch and jobs and
queues only objects that were not there before. Each job is checked as a single job is; a prefix
batch lists the prefix, the one request to the store intake makes.
"""

from __future__ import annotations

import hashlib
import uuid
from pathlib import PurePosixPath

from fastapi import APIRouter, HTTPException, status
from hdrtv.worker.control.errors import InputError
from hdrtv.worker.control.grants import NotGranted
from hdrtv.worker.control.options import OUTPUT_SUFFIXES

from ..auth import CurrentTenant
from ..schemas import (
    BatchCreate,
    BatchJobsCreate,
    BatchPrefixCreate,
    BatchPublic,
    JobCreate,
    JobSettings,
    error_responses,
)
from ..services import AppServices, JsonRoute, Services, well_formed_id
from .intake import (
    IDEMPOTENCY_TTL_S,
    Intake,
    body_hash,
    check_capacity,
    check_granted,
    check_output_free,
    commit,
    prepare,
)

router = APIRouter(
    prefix="/v1/batches", tags=["batches"], route_class=JsonRoute, responses=error_responses(401, 422, 503)
)

MAX_BATCH_JOBS = 1000
# What a prefix batch takes for video: the suffixes of the containers FFmpeg reads that video comes in.
VIDEO_SUFFIXES = frozenset(".mp4 .m4v .mov .mkv .webm .avi .ts .m2ts .mts .mxf .mpg .mpeg .wmv .flv .3gp .y4m".split())


@router.post(
    "", status_code=status.HTTP_202_ACCEPTED, response_model=BatchPublic, responses=error_responses(403, 409, 413, 429)
)
def submit_batch(body: BatchCreate, tenant: CurrentTenant, services: AppServices) -> BatchPublic:
    """Check and queue a batch of jobs; the same batch sent again makes no new jobs."""
    batch_key = "batch:" + body_hash(body)
    new_id = uuid.uuid4().hex
    earlier_id, _ = services.jobs.remember_idempotency(tenant, batch_key, batch_key, new_id, IDEMPOTENCY_TTL_S)
    batch_id = earlier_id or new_id
    if isinstance(body, BatchJobsCreate):
        intakes = [
            _prepare(services, tenant, job, f"{batch_key}:{i}", batch_id, f"jobs[{i}]: ")
            for i, job in enumerate(body.jobs)
        ]
        metadata = {"jobs": len(body.jobs)}
    else:
        check_granted(services, tenant, body.input_prefix, body.output_prefix)
        jobs = _prefix_jobs(services, body)
        intakes = [_prepare(services, tenant, job, f"{batch_key}:{_digest(job.input_uri)}", batch_id) for job in jobs]
        metadata = {"input_prefix": body.input_prefix, "output_prefix": body.output_prefix}
    check_capacity(services, tenant, sum(intake.new for intake in intakes))
    if services.jobs.get_batch(batch_id) is None:
        services.jobs.create_batch(tenant, metadata, batch_id=batch_id)
    for intake in intakes:
        services.jobs.add_to_batch(batch_id, commit(services, intake).id)
    return _public(services, tenant, batch_id)


@router.get("/{batch_id}", response_model=BatchPublic, responses=error_responses(404))
def get_batch(batch_id: str, tenant: CurrentTenant, services: AppServices) -> BatchPublic:
    """A batch's jobs and how many are in each status."""
    return _public(services, tenant, batch_id)


def _prepare(services: Services, tenant: str, job: JobCreate, key: str, batch_id: str, label: str = "") -> Intake:
    """`prepare` and a free output, its errors labelled with the job's place in the batch."""
    try:
        intake = prepare(services, tenant, job, key, batch_id)
        if intake.new:
            check_output_free(services, job.output_uri)
        return intake
    except NotGranted as error:  # 403, not 422
        raise NotGranted(f"{label}{error}") from None
    except InputError as error:
        raise InputError(f"{label}{error}") from None
    except HTTPException as error:
        raise HTTPException(error.status_code, f"{label}{error.detail}", error.headers) from None


def _prefix_jobs(services: Services, body: BatchPrefixCreate) -> list[JobCreate]:
    """One job per video object under the input prefix, its output at the same relative key with
    an .mkv suffix (.mp4 inputs keep .mp4)."""
    objects = services.objects
    source, target = objects.parse(body.input_prefix), objects.parse(body.output_prefix)
    if (source.scheme, source.bucket) == (target.scheme, target.bucket) and target.key.startswith(source.key):
        raise InputError(f"{body.output_prefix}: the output prefix lies under the input prefix")
    settings = body.model_dump(include=set(JobSettings.model_fields))
    jobs: dict[str, JobCreate] = {}
    for uri in objects.list(body.input_prefix):
        relative = PurePosixPath(objects.parse(uri).key[len(source.key) :])
        if relative.suffix.lower() not in VIDEO_SUFFIXES:
            continue
        if relative.suffix.lower() not in OUTPUT_SUFFIXES:
            relative = relative.with_suffix(".mkv")
        output = target.with_key(target.key + str(relative)).uri
        if output in jobs:
            raise InputError(f"{uri} and {jobs[output].input_uri} would both be written to {output}")
        if len(jobs) == MAX_BATCH_JOBS:
            raise InputError(f"{body.input_prefix}: over {MAX_BATCH_JOBS} video objects; split the batch")
        jobs[output] = JobCreate(input_uri=uri, output_uri=output, **settings)
    if not jobs:
        raise InputError(f"{body.input_prefix}: no video objects under this prefix")
    return list(jobs.values())


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def _public(services: Services, tenant: str, batch_id: str) -> BatchPublic:
    batch = services.jobs.get_batch(batch_id) if well_formed_id(batch_id) else None
    if batch is None or batch.tenant != tenant:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no batch {batch_id!r}")
    counts = services.jobs.batch_counts(batch_id)
    return BatchPublic(
        id=batch.id, created_at=batch.created_at, total=len(batch.job_ids), counts=counts, job_ids=batch.job_ids
    )
