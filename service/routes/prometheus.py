"""/metrics: the API's Prometheus metrics in the text exposition format."""

from __future__ import annotations

from fastapi import APIRouter, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from ..services import AppServices

router = APIRouter(tags=["metrics"])


@router.get("/metrics", include_in_schema=False)
def metrics(services: AppServices) -> Response:
    """Request counts and latencies by route and status; jobs submitted by model."""
    return Response(generate_latest(services.metrics.registry), media_type=CONTENT_TYPE_LATEST)
