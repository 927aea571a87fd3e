"""What the routes share, built once per app (`app.state.services`), and its typed dependencies."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Annotated, Any

import pydantic_core
import redis
from fastapi import Depends, Request, Response
from fastapi.routing import APIRoute
from hdrtv.worker.control.grants import Grants
from hdrtv.worker.control.job_record import Job
from hdrtv.worker.control.job_store import JobStore
from hdrtv.worker.control.settings import Settings
from hdrtv.worker.control.storage import ObjectStore

from .api_keys import ApiKeys
from .api_metrics import ApiMetrics

# Job and batch ids are uuid4 hex; anything else could name another kind of Redis key.
_ID = re.compile(r"[0-9a-f]{32}")


def well_formed_id(value: str) -> bool:
    return _ID.fullmatch(value) is not None


@dataclass
class Services:
    """The app's connections and policies."""

    settings: Settings
    redis: redis.Redis
    jobs: JobStore
    objects: ObjectStore
    keys: ApiKeys
    grants: Grants
    enqueue: Callable[[Job], None]  # queues the job's first task
    metrics: ApiMetrics


async def services(request: Request) -> Services:
    """Async, as it does no I/O: FastAPI runs a sync dependency on its thread pool (a hop per request)."""
    return request.app.state.services


AppServices = Annotated[Services, Depends(services)]


class JsonRequest(Request):
    """A request whose body is read as JSON strictly (RFC 8259): NaN, Infinity, lone surrogates and
    bytes that are not UTF-8 are refused as invalid JSON. Python's json takes all of them, and
    they then fail where a value is stored or answered (a 500)."""

    async def json(self) -> Any:
        if not hasattr(self, "_json"):
            try:
                self._json = pydantic_core.from_json(await self.body(), allow_inf_nan=False)
            except ValueError as error:
                raise json.JSONDecodeError(str(error), "", 0) from None  # FastAPI answers it with a 422
        return self._json


class JsonRoute(APIRoute):
    """The routes of the routers that take bodies, reading them as `JsonRequest`."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def strict_json_handler(request: Request) -> Response:
            return await handler(JsonRequest(request.scope, request.receive))

        return strict_json_handler
