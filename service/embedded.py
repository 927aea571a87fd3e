"""Embedded mode (`hdrtv serve --embedded`): the API and a worker in one process, no external services.

Job records, API keys and the Celery broker live in fakeredis's in-process Redis server (Lua
included, so the job store's scripts run unchanged), reached over a loopback TCP port like a real
Redis; everything is lost when the process ends. Jobs name their files with `file:///abs/path`
URIs: inputs and outputs may lie anywhere the process can read and write (not confined to the data
folder, which holds the workers' scratch space). The API runs under uvicorn in a thread; a Celery
worker with the solo pool consumes both queues (gpu, cpu) in the main thread, one task at a time.
Both run on one `Settings` object of their own (`local_settings`), handed to the API and to the
worker's Celery app, whose tasks read it from there: the process's environment is left as it is.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path

from hdrtv.worker.control.grants import EVERY_BUCKET, Grants
from hdrtv.worker.control.settings import Settings

TENANT = "local"


@dataclass
class Embedded:
    """A running embedded store and API: where the API listens, a key of tenant `TENANT` and the
    settings the worker must run with."""

    url: str
    key: str
    settings: Settings


def start_store(host: str = "127.0.0.1") -> str:
    """Serve an in-memory Redis on a free loopback port from daemon threads; its URL."""
    import redis
    from fakeredis import TcpFakeServer
    from hdrtv.worker.control import job_scripts

    server = TcpFakeServer((host, 0))
    server.daemon_threads = True  # connections end with the process
    threading.Thread(target=server.serve_forever, name="hdrtv-redis", daemon=True).start()
    url = f"redis://{host}:{server.server_address[1]}/0"
    # fakeredis's server drops a connection after any error reply, NOSCRIPT included: load the job
    # store's scripts now so that EVALSHA always finds them.
    with redis.Redis.from_url(url) as client:
        for script in (
            job_scripts.CREATE,
            job_scripts.SET_STATUS,
            job_scripts.UPDATE,
            job_scripts.MARK_CHUNK,
            job_scripts.REMEMBER,
        ):
            client.script_load(script)
    return url


def local_settings(redis_url: str, data_dir: Path) -> Settings:
    """The environment's settings on the embedded store (its broker too), with file:// URIs and the
    scratch space under `data_dir`."""
    scratch = data_dir / "scratch"
    scratch.mkdir(parents=True, exist_ok=True)
    return Settings(redis_url=redis_url, broker_url=None, allow_file_uris=True, scratch_dir=str(scratch))


def start(data_dir: Path, host: str, port: int, log_level: str) -> Embedded:
    """Start the store and the API (a daemon thread); returns once the API listens."""
    import redis
    import uvicorn

    from .api_keys import ApiKeys
    from .app import create_app

    settings = local_settings(start_store(), data_dir.resolve())
    api = create_app(settings)  # refuses default secrets in production
    client = redis.Redis.from_url(settings.redis_url, decode_responses=True)
    key = ApiKeys(client).create(TENANT)
    grants = Grants(client)
    for prefix in ("file:///", EVERY_BUCKET):  # one local user: every file it can reach, and any bucket
        grants.grant_both(TENANT, prefix)
    for receivers in ("http://", "https://"):  # and any receiver of callbacks
        grants.grant(TENANT, "callback", receivers)
    config = uvicorn.Config(api, host=host, port=port, log_level=log_level)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="hdrtv-api", daemon=True)
    thread.start()
    while not server.started:
        if not thread.is_alive():
            raise OSError(f"the API could not start on {host}:{port}")
        thread.join(0.05)
    return Embedded(url=f"http://{host}:{port}", key=key, settings=settings)


def run_worker(settings: Settings, log_level: str) -> None:
    """Run a solo-pool Celery worker of both queues on `settings` in this thread until it is stopped
    (SIGINT, SIGTERM)."""
    from hdrtv.worker.control.celery_app import make_app

    app = make_app(settings)
    argv = ["worker", "--queues", "gpu,cpu", "--pool", "solo", "--loglevel", log_level]
    app.worker_main([*argv, "--without-gossip", "--without-mingle", "--without-heartbeat"])
