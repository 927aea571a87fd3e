"""Fixtures of the worker's tests: a job store of its own per test on the session's redis-server."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from hdrtv.worker.control.job_store import JobStore


@pytest.fixture
def store(redis_server) -> Iterator[JobStore]:
    """A JobStore under a key prefix of its own, its keys removed afterwards."""
    store = JobStore.from_url(redis_server, prefix=f"test-{uuid.uuid4().hex}")
    yield store
    keys = list(store.redis.scan_iter(f"{store.prefix}:*"))
    if keys:
        store.redis.delete(*keys)
