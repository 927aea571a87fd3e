"""/healthz (the process answers) and /readyz (it can reach Redis and the object store)."""

from __future__ import annotations

import logging
from collections.abc import Callable

from fastapi import APIRouter, status
from fastapi.responses import JSONResponse

from ..schemas import Readiness
from ..services import AppServices

router = APIRouter(tags=["health"])
log = logging.getLogger(__name__)


@router.get("/healthz")
def healthz() -> dict[str, str]:
    """Liveness: the process serves requests."""
    return {"status": "ok"}


@router.get(
    "/readyz",
    response_model=Readiness,
    responses={503: {"model": Readiness, "description": "a part is unreachable; `checks` says which"}},
)
def readyz(services: AppServices) -> JSONResponse:
    """Readiness: Redis answers a ping and the object store a bucket request."""
    checks = {"redis": _check(services.redis.ping), "object_store": _check(services.objects.check_reachable)}
    ready = all(result == "ok" for result in checks.values())
    code = status.HTTP_200_OK if ready else status.HTTP_503_SERVICE_UNAVAILABLE
    return JSONResponse({"status": "ready" if ready else "unavailable", "checks": checks}, status_code=code)


def _check(probe: Callable[[], object]) -> str:
    try:
        probe()
    except Exception as error:  # any failure means not ready; its kind is the answer
        log.warning("readiness check failed: %r", error)
        return f"failed: {type(error).__name__}"
    return "ok"
