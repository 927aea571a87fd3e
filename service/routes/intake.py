"""From an accepted body to a stored, queued job: idempotency keys, the checks, the tenant's limit.

Intake answers at once: it checks the request (the URIs' form, the tenant's storage and callback
grants, the output's reservation, the tenant's limit) and never asks the object store anything. Whether the input is
there and is SDR video, and whether the output is free, the job's start step finds out on a
worker; a problem there fails the job with its error and its callback.

An idempotency key reserves a job id for 24 hours together with the hash of the body that came
with it. The same key with the same body gets the job made under that id; with another body, a
409. A request whose checks failed leaves the id reserved but no job stored, so a retry with the
same key and body runs the checks again; two such requests racing both pass the checks and only
one stores the job (the store refuses a second job under an id).
"""

from __future__ import annotations

import hashlib
import json
import logging
import uuid
from dataclasses import dataclass

from fastapi import HTTPException, status
from hdrtv.worker.control.errors import InputError
from hdrtv.worker.control.job_record import Job, JobStatus
from hdrtv.worker.control.job_store import JobExists, OutputReserved
from hdrtv.worker.control.options import job_options, output_suffix
from kombu.exceptions import OperationalError
from pydantic import BaseModel

from ..schemas import JobCreate
from ..services import Services

IDEMPOTENCY_TTL_S = 24 * 3600
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Intake:
    """A job to answer with; `new` when this request made it (not stored until `commit`)."""

    job: Job
    new: bool


def body_hash(body: BaseModel) -> str:
    """SHA-256 of the body's canonical JSON: equal for equal bodies, whatever their key order."""
    return hashlib.sha256(json.dumps(body.model_dump(mode="json"), sort_keys=True).encode()).hexdigest()


def prepare(services: Services, tenant: str, body: JobCreate, key: str | None, batch_id: str | None = None) -> Intake:
    """The job an earlier request with `key` made, or a new job once every check has passed."""
    job_id = uuid.uuid4().hex
    if key is not None:
        digest = body_hash(body)
        earlier_id, earlier_hash = services.jobs.remember_idempotency(tenant, key, digest, job_id, IDEMPOTENCY_TTL_S)
        if earlier_id is not None:
            if earlier_hash != digest:
                raise HTTPException(status.HTTP_409_CONFLICT, "this Idempotency-Key came with another body")
            job_id = earlier_id
            earlier = services.jobs.get(job_id)
            if earlier is not None:
                return Intake(earlier, new=False)
    check_uris(services, body.input_uri, body.output_uri)
    check_granted(services, tenant, body.input_uri, body.output_uri)
    if body.callback_url is not None:
        services.grants.check_callback(tenant, str(body.callback_url))
    job = Job(
        id=job_id,
        tenant=tenant,
        input_uri=body.input_uri,
        output_uri=body.output_uri,
        model=body.model,
        # Defaults filled in here, so the record says what ran.
        options=job_options(services.settings, body.options.model_dump(exclude={"overwrite"}, exclude_none=True)),
        overwrite=body.options.overwrite,
        priority=body.priority,
        callback_url=None if body.callback_url is None else str(body.callback_url),
        metadata=body.metadata,
        batch_id=batch_id,
    )
    return Intake(job, new=True)


def check_uris(services: Services, input_uri: str, output_uri: str) -> None:
    """InputError naming the URI at fault: a scheme, bucket or output container the service does
    not take, or an output that would replace the input."""
    for uri in (input_uri, output_uri):
        services.objects.check_bucket_allowed(services.objects.parse(uri))
    output_suffix(output_uri)
    if input_uri == output_uri:
        raise InputError(f"{output_uri}: the output would overwrite the input")


def check_granted(services: Services, tenant: str, source: str, target: str) -> None:
    """403 unless the tenant may read `source` and write `target` (objects or batch prefixes);
    before anything asks the store about them, so the answer is the same whether they exist."""
    services.grants.check_transfer(tenant, services.objects.parse(source), services.objects.parse(target))


def check_output_free(services: Services, uri: str) -> None:
    """409 when an active job writes the output `uri`. Only for checking a whole batch before any
    of its jobs is stored: `commit` refuses a taken output atomically."""
    if services.jobs.output_writer(uri) is not None:
        raise _output_in_use(uri)


def check_capacity(services: Services, tenant: str, new_jobs: int) -> None:
    """429 unless the tenant may have `new_jobs` more active jobs. Only for checking a whole batch
    before any of its jobs is stored: `commit` enforces the limit atomically."""
    limit = services.settings.max_queued_jobs_per_tenant
    active = services.jobs.count_active(tenant)
    if new_jobs and active + new_jobs > limit:
        raise _too_many(tenant, active, limit)


def commit(services: Services, intake: Intake) -> Job:
    """Store and queue a new job (nothing for an earlier one); 429 at the tenant's limit."""
    if not intake.new:
        return intake.job
    job = intake.job
    limit = services.settings.max_queued_jobs_per_tenant
    try:
        stored = services.jobs.create(job, max_active=limit, reserve_output=True)
    except JobExists:  # a concurrent request with the same idempotency key stored it first
        return services.jobs.get(job.id) or job
    except OutputReserved:
        raise _output_in_use(job.output_uri) from None
    if not stored:
        raise _too_many(job.tenant, services.jobs.count_active(job.tenant), limit)
    try:
        services.enqueue(job)
    except (OperationalError, OSError) as error:
        log.exception("could not queue job %s", job.id)
        services.jobs.set_status(job.id, JobStatus.FAILED, error_code="enqueue_failed", error_message=str(error))
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, "the job queue is unavailable; retry later") from None
    services.metrics.jobs_submitted.labels(job.model).inc()
    return job


def _output_in_use(uri: str) -> HTTPException:
    return HTTPException(
        status.HTTP_409_CONFLICT, f"{uri}: another job is writing this output; submit again once it has ended"
    )


def _too_many(tenant: str, active: int, limit: int) -> HTTPException:
    return HTTPException(
        status.HTTP_429_TOO_MANY_REQUESTS,
        f"tenant {tenant!r} has {active} active jobs, the limit is {limit}; retry when some have finished",
        headers={"Retry-After": "60"},
    )
