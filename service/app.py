"""The REST API: media platforms submit SDR -> HDR10 jobs on their object store and follow them.

`create_app` builds the app from the settings: one Redis client (job records, API keys), the
object store, a Celery app that sends the first task of each job by name (the API never imports
the worker's code or torch), and the metrics registry. In production it refuses to start with
the default callback signing key (`Settings.refuse_default_secrets`, which the workers run too).

Every error is answered as `{"detail": "<one line>"}` (`schemas.ErrorPublic`, declared for each
route in the OpenAPI document), request validation's 422 included; request bodies are bounded
by `HDRTV_MAX_REQUEST_BYTES` and read as strict JSON (`services.JsonRoute`).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import redis
from fastapi import FastAPI, HTTPException, Request, status
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from hdrtv.worker.control.celery_app import make_app, send
from hdrtv.worker.control.errors import InputError
from hdrtv.worker.control.grants import Grants, NotGranted
from hdrtv.worker.control.job_record import Job
from hdrtv.worker.control.job_store import JobStore
from hdrtv.worker.control.settings import Settings, get_settings
from hdrtv.worker.control.storage import ObjectStore, StorageUnavailable
from hdrtv.worker.control.task_names import START_JOB
from starlette.datastructures import Headers
from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .api_keys import ApiKeys
from .api_metrics import ApiMetrics, MetricsMiddleware
from .routes import batches, health, jobs, prometheus
from .services import Services

REDIS_TIMEOUT_S = 5
MAX_LISTED_PROBLEMS = 5  # of a 422's validation errors (a batch of 1000 bad jobs has thousands)


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
    app.add_middleware(BodySizeLimit, limit=settings.max_request_bytes)
    app.add_middleware(MetricsMiddleware, metrics=services.metrics)  # outermost: counts the 413s too
    for module in (health, prometheus, jobs, batches):
        app.include_router(module.router)
    app.add_exception_handler(RequestValidationError, _invalid_request)
    app.add_exception_handler(status.HTTP_405_METHOD_NOT_ALLOWED, _method_not_allowed)
    app.add_exception_handler(NotGranted, _not_granted)
    app.add_exception_handler(InputError, _input_error)
    app.add_exception_handler(StorageUnavailable, _unavailable("object store"))
    app.add_exception_handler(redis.ConnectionError, _unavailable("job store"))
    app.add_exception_handler(redis.TimeoutError, _unavailable("job store"))
    return app


class BodySizeLimit:
    """ASGI middleware: 413 for a request body over `limit` bytes, raised when a route reads it and
    before a byte is parsed; at once when Content-Length says so, else as soon as the bytes received
    pass the limit (a chunked body declares no length). Routes that take no body never read it.
    Not Starlette's own `max_body_size`: that one answers in plain text, not with a JSON detail."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = Headers(scope=scope).get("content-length", "")
        too_large = declared.isdigit() and int(declared) > self.limit
        received = 0

        async def receive_within_limit() -> Message:
            nonlocal received
            if not too_large:
                message = await receive()
                received += len(message.get("body", b""))
                if received <= self.limit:
                    return message
            raise HTTPException(
                status.HTTP_413_CONTENT_TOO_LARGE,
                f"the request body is over {self.limit} bytes, the limit (HDRTV_MAX_REQUEST_BYTES)",
            )

        await self.app(scope, receive_within_limit, send)


async def _invalid_request(request: Request, error: RequestValidationError) -> JSONResponse:
    """Request validation's errors as one line, like every other error. Never the input: the caller
    sent it, and it may be what JSON cannot carry back."""
    problems = [_problem(problem) for problem in error.errors()]
    more = len(problems) - MAX_LISTED_PROBLEMS
    detail = "; ".join(problems[:MAX_LISTED_PROBLEMS]) + (f"; and {more} more" if more > 0 else "")
    return JSONResponse({"detail": detail}, status_code=status.HTTP_422_UNPROCESSABLE_CONTENT)


def _problem(error: dict) -> str:
    """One validation error as `where: what`, each part of `where` cut short (a dict's keys are parts)."""
    if error["type"] == "json_invalid":
        return f"the body is not valid JSON ({error['ctx']['error']})"
    where = ".".join(str(part)[:40] + ("..." if len(str(part)) > 40 else "") for part in error["loc"])
    return f"{where}: {error['msg']}"


async def _method_not_allowed(request: Request, error: Exception) -> JSONResponse:
    """405 with `Allow` naming every method of the path: Starlette names only those of the first
    route that matched the path (POST alone for /v1/jobs, which also lists with GET)."""
    allowed = {
        method
        for route in request.app.routes
        if isinstance(route, APIRoute) and route.matches(request.scope)[0] != Match.NONE
        for method in route.methods
    }
    return JSONResponse(
        {"detail": f"{request.method} is not allowed here; use {', '.join(sorted(allowed))}"},
        status_code=status.HTTP_405_METHOD_NOT_ALLOWED,
        headers={"Allow": ", ".join(sorted(allowed))},
    )


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
