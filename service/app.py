"""The REST API: media platforms submit SDR -> HDR10 jobs on their object store and follow them.

`create_app` builds the app from the settings: one Redis client (job records, API keys), the
object store, a Celery app that sends the first task of each job by name (the API never imports
the worker's code or torch), and the metrics registry. In production it refuses to start with
the default callback signing key (`Settings.refuse_default_secrets`, which the workers run too).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import redis
from fastapi import FastAPI, Request, status
from fastapi.responses import JSONResponse
from hdrtv.worker.control.celery_app import make_app, send
from hdrtv.worker.control.errors import InputError
from hdrtv.worker.control.grants import Grants, NotGranted
from hdrtv.worker.control.job_record import Job
from hdrtv.worker.control.job_store import JobStore
from hdrtv.worker.control.settings import Settings, get_settings
from hdrtv.worker.control.storage import ObjectStore, StorageUnavailable
from hdrtv.worker.control.task_names import START_JOB

from .api_keys import ApiKeys
from .api_metrics import ApiMetrics, MetricsMiddleware
from .routes import batches, health, jobs, prometheus
from .services import Services
from .submission import SubmissionLimits

REDIS_TIMEOUT_S = 5


def celery_enqueue(settings: Settings) -> Callable[[Job], None]:
    """Queue a job's first task on the broker of `settings`, at the job's priority."""
    celery = make_app(settings)

    def enqueue(job: Job) -> None:
        send(celery, START_JOB, [job.id], job.priority)

    return enqueue


def create_app(
    settings: Settings | None = None,
    *,
    objects: ObjectStore | None = None,
    enqueue: Callable[[Job], None] | None = None,
    limits: SubmissionLimits | None = None,
) -> FastAPI:
    """The API for `settings` (default: the environment's); the keywords replace its parts."""
    settings = settings or get_settings()
    settings.refuse_default_secrets()
    timeout = {"socket_timeout": REDIS_TIMEOUT_S, "socket_connect_timeout": REDIS_TIMEOUT_S}
    client = redis.Redis.from_url(settings.redis_url, decode_responses=True, **timeout)
    job_store = JobStore(client)
    services = Services(
        settings=settings,
        redis=client,
        jobs=job_store,
        objects=objects or ObjectStore.from_settings(settings),
        keys=ApiKeys(client),
        grants=Grants(client, job_store.prefix),
        enqueue=enqueue or celery_enqueue(settings),
        limits=limits or SubmissionLimits(),
        metrics=ApiMetrics(),
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        client.close()

    app = FastAPI(
        title="hdrtv",
        summary="SDR (BT.709) to HDR10 (PQ, BT.2020) video conversion jobs on your object store",
        version="1",
        lifespan=lifespan,
    )
    app.state.services = services
    app.add_middleware(MetricsMiddleware, metrics=services.metrics)
    for module in (health, prometheus, jobs, batches):
        app.include_router(module.router)
    app.add_exception_handler(NotGranted, _not_granted)
    app.add_exception_handler(InputError, _input_error)
    app.add_exception_handler(StorageUnavailable, _unavailable("object store"))
    app.add_exception_handler(redis.ConnectionError, _unavailable("job store"))
    app.add_exception_handler(redis.TimeoutError, _unavailable("job store"))
    return app


async def _input_error(request: Request, error: Exception) -> JSONResponse:
    """What the caller got wrong, as one line naming the problem."""
    return JSONResponse({"detail": str(error)}, status_code=status.HTTP_422_UNPROCESSABLE_CONTENT)


async def _not_granted(request: Request, error: Exception) -> JSONResponse:
    """A URI outside the tenant's storage grants: 403, decided before the store is asked anything."""
    return JSONResponse({"detail": str(error)}, status_code=status.HTTP_403_FORBIDDEN)


def _unavailable(what: str) -> Callable:
    async def handler(request: Request, error: Exception) -> JSONResponse:
        return JSONResponse(
            {"detail": f"the {what} is unavailable ({type(error).__name__}); retry later"},
            status_code=status.HTTP_503_SERVICE_UNAVAILABLE,
            headers={"Retry-After": "30"},
        )

    return handler
