"""Shared fixtures: real servers (redis-server, moto's S3) for the whole session, a fresh bucket and
an object store per test. How the servers start lives in `servers.py`."""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Callable, Iterator

import pytest
import servers
from hdrtv.worker.control.settings import Settings
from hdrtv.worker.control.storage import ObjectStore

MiB = 1024 * 1024
RECOVERIES = pytest.StashKey[list[tuple[str, str, float]]]()


@pytest.fixture
def report_recovery(request) -> Callable[[str, float], None]:
    """`report_recovery(what, seconds)`: how long the service took to recover from a fault, listed
    at the end of the run (the fault-injection suite's measurements)."""
    found = request.config.stash.setdefault(RECOVERIES, [])
    return lambda what, seconds: found.append((request.node.name, what, seconds))


def pytest_terminal_summary(terminalreporter, exitstatus, config) -> None:
    found = config.stash.get(RECOVERIES, [])
    if found:
        terminalreporter.section("recovery times")
        for test, what, seconds in found:
            terminalreporter.write_line(f"{seconds:7.1f} s  {what}  ({test})")


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory) -> Iterator[str]:
    """URL of a redis-server without persistence."""
    if shutil.which("redis-server") is None:
        pytest.skip("redis-server is not on PATH (Debian package: redis-server)")
    with servers.redis_server(tmp_path_factory.mktemp("redis")) as url:
        yield url


@pytest.fixture(scope="session")
def aws_credentials() -> Iterator[None]:
    """Dummy AWS credentials in this process's environment (child processes inherit them)."""
    with servers.environment(servers.AWS_TEST_ENV):
        yield


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory, aws_credentials) -> Iterator[str]:
    """Endpoint URL of moto's S3 server."""
    with servers.moto_server(tmp_path_factory.mktemp("moto")) as url:
        yield url


@pytest.fixture
def s3_settings(s3_server) -> Settings:
    return Settings(s3_endpoint_url=s3_server, s3_region="us-east-1", s3_addressing="path")


@pytest.fixture
def object_store(s3_settings) -> ObjectStore:
    """A store on the moto server; uploads above 5 MiB (S3's smallest part) go in parts."""
    return ObjectStore.from_settings(s3_settings, multipart_threshold=5 * MiB)


@pytest.fixture
def bucket(object_store) -> str:
    """A new, empty bucket."""
    name = f"test-{uuid.uuid4().hex[:16]}"
    object_store.client.create_bucket(Bucket=name)
    return name
