"""What the routes share, built once per app (`app.state.services`), and its typed dependencies."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated

import redis
from fastapi import Depends, Request
from hdrtv.worker.control.grants import Grants
from hdrtv.worker.control.job_record import Job
from hdrtv.worker.control.job_store import JobStore
from hdrtv.worker.control.settings import Settings
from hdrtv.worker.control.storage import ObjectStore

from .api_keys import ApiKeys
from .api_metrics import ApiMetrics
from .submission import SubmissionLimits

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
    limits: SubmissionLimits
    metrics: ApiMetrics


def services(request: Request) -> Services:
    return request.app.state.services


AppServices = Annotated[Services, Depends(services)]
