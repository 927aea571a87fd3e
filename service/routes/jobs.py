"""/v1/jobs: submit, read, list and cancel conversion jobs of the caller's tenant."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Header, HTTPException, Query, Response, status
from hdrtv.worker.control.job_record import Job, JobStatus

from ..auth import CurrentTenant
from ..schemas import JobCreate, JobList, JobPublic, error_responses
from ..services import AppServices, JsonRoute, Services, well_formed_id
from .intake import commit, prepare

router = APIRouter(prefix="/v1/jobs", tags=["jobs"], route_class=JsonRoute, responses=error_responses(401, 422, 503))

# The store's cursors, "<created_at>:<id>" (`JobStore.list`): declared, so that anything else is a
# 422 that the OpenAPI document announces, not one found deep inside the store.
CURSOR = r"^[0-9]+(\.[0-9]+)?([eE][+-]?[0-9]+)?:[0-9a-f]{32}$"

# Times in queries: ISO 8601, or epoch seconds (which pydantic reads as a datetime too; declared,
# so that the OpenAPI document says what is taken).
Moment = datetime | float
MOMENT = "ISO 8601 (UTC if no zone) or epoch seconds, inclusive"

IdempotencyKey = Annotated[
    str | None,
    Header(alias="Idempotency-Key", max_length=255, description="the same key and body within 24 h give the same job"),
]


def tenant_job(services: Services, tenant: str, job_id: str) -> Job:
    """The tenant's job; 404 for unknown ids and other tenants' jobs alike, so ids leak nothing."""
    job = services.jobs.get(job_id) if well_formed_id(job_id) else None
    if job is None or job.tenant != tenant:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no job {job_id!r}")
    return job


@router.post(
    "", status_code=status.HTTP_202_ACCEPTED, response_model=JobPublic, responses=error_responses(403, 409, 413, 429)
)
def submit_job(
    body: JobCreate,
    tenant: CurrentTenant,
    services: AppServices,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    """Check and queue a conversion job."""
    intake = prepare(services, tenant, body, None if idempotency_key is None else f"job:{idempotency_key}")
    job = commit(services, intake)
    headers = {"Location": f"{router.prefix}/{job.id}"} | ({} if intake.new else {"Idempotent-Replayed": "true"})
    # Serialised here, not by FastAPI, which would validate the model again on its thread pool (a
    # second hop per request; intake is the API's busiest route).
    content = JobPublic.from_job(job).model_dump_json()
    return Response(content, status.HTTP_202_ACCEPTED, headers, media_type="application/json")


@router.get("/{job_id}", response_model=JobPublic, responses=error_responses(404))
def get_job(job_id: str, tenant: CurrentTenant, services: AppServices) -> JobPublic:
    """Status, progress, timings, error, the output format and its metadata and callback delivery of a job."""
    return JobPublic.from_job(tenant_job(services, tenant, job_id))


@router.get("", response_model=JobList)
def list_jobs(
    tenant: CurrentTenant,
    services: AppServices,
    status_: Annotated[JobStatus | None, Query(alias="status")] = None,
    created_from: Annotated[Moment | None, Query(description=MOMENT)] = None,
    created_to: Annotated[Moment | None, Query(description=MOMENT)] = None,
    cursor: Annotated[str | None, Query(pattern=CURSOR, description="next_cursor of the previous page")] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> JobList:
    """The tenant's jobs, newest first, a page at a time."""
    jobs, next_cursor = services.jobs.list(
        tenant,
        status=status_,
        created_from=_epoch(created_from),
        created_to=_epoch(created_to),
        cursor=cursor,
        limit=limit,
    )
    return JobList(items=[JobPublic.from_job(job) for job in jobs], next_cursor=next_cursor)


@router.post(
    "/{job_id}/cancel",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=JobPublic,
    responses=error_responses(404, 409),
)
def cancel_job(job_id: str, tenant: CurrentTenant, services: AppServices) -> JobPublic:
    """Cancel a queued or running job; workers stop between steps and clean up."""
    job = tenant_job(services, tenant, job_id)
    if not services.jobs.request_cancel(job.id):
        finished = tenant_job(services, tenant, job_id)
        raise HTTPException(status.HTTP_409_CONFLICT, f"job {job_id!r} has already ended ({finished.status})")
    return JobPublic.from_job(tenant_job(services, tenant, job_id))


def _epoch(moment: Moment | None) -> float | None:
    """Epoch seconds; a time without a zone is taken as UTC."""
    if moment is None or isinstance(moment, float):
        return moment
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()
