"""Real servers for tests, each a child process on a free local port: redis-server, moto's S3.

Plain context managers, so end-to-end tests can start more (uvicorn, a Celery worker) the same way:

    with running(["uvicorn", ...], ready=lambda: http_answers(url), log=tmp / "api.log"):
        ...

Each process runs in its own process group, which is stopped as a whole (SIGTERM, then SIGKILL),
so children such as Celery's pool processes go with it. Output goes to a log file whose tail is
shown when a server dies or never becomes ready.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager, nullcontext
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import redis
from hdrtv.worker.control.grants import EVERY_BUCKET, Grants

# Dummy credentials, and no shared config files or profile: tests never reach a real account.
# The `hdrtv` command of this interpreter's environment.
HDRTV = str(Path(sys.executable).with_name("hdrtv"))
AWS_TEST_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": None,
    "AWS_PROFILE": None,
    "AWS_CONFIG_FILE": os.devnull,
    "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
    "AWS_EC2_METADATA_DISABLED": "true",
}


def free_port() -> int:
    """A TCP port nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def http_answers(url: str) -> bool:
    """Whether an HTTP server answers at `url`, with any status."""
    try:
        urllib.request.urlopen(url, timeout=1).close()
    except urllib.error.HTTPError:
        return True
    except OSError:
        return False
    return True


def redis_answers(port: int) -> bool:
    """Whether a Redis server on the port answers PING (not while it is still loading)."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(64).startswith(b"+PONG")
    except OSError:
        return False


@contextmanager
def environment(changes: Mapping[str, str | None]) -> Iterator[None]:
    """Set (or, for None, unset) environment variables of this process; restore them afterwards."""
    saved = {name: os.environ.get(name) for name in changes}
    try:
        _apply(changes)
        yield
    finally:
        _apply(saved)


@contextmanager
def running(
    argv: list[str],
    *,
    ready: Callable[[], bool],
    log: Path,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    timeout_s: float = 30.0,
) -> Iterator[subprocess.Popen]:
    """Start `argv`, wait until `ready()` is true, yield the process; stop its process group after."""
    with open(log, "wb") as out:
        process = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, env=env, cwd=cwd, start_new_session=True)
    try:
        deadline = time.monotonic() + timeout_s
        while not ready():
            if process.poll() is not None:
                raise RuntimeError(f"{argv[0]} exited with status {process.returncode}:\n{_tail(log)}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"{argv[0]} not ready after {timeout_s:.0f} s:\n{_tail(log)}")
            time.sleep(0.05)
        yield process
    finally:
        stop(process)


def stop(process: subprocess.Popen, timeout_s: float = 5.0) -> None:
    """SIGTERM to the process's group, SIGKILL when it has not exited after `timeout_s`."""
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout_s)
    except ProcessLookupError:
        process.wait()
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


@contextmanager
def redis_server(directory: Path, port: int | None = None, durable: bool = False) -> Iterator[str]:
    """A redis-server working in `directory` (on `port`, else a free one); yields its URL. Without
    persistence, or `durable`: every write in its append-only file before it answers, so a server
    killed and started again on the same folder comes back with everything it acknowledged."""
    port = port or free_port()
    argv = ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--dir", str(directory), "--save", ""]
    argv += ["--appendonly", "yes", "--appendfsync", "always"] if durable else ["--appendonly", "no"]
    with running(argv, ready=lambda: redis_answers(port), log=directory / "redis.log"):
        yield f"redis://127.0.0.1:{port}/0"


@contextmanager
def moto_server(directory: Path) -> Iterator[str]:
    """moto's S3 (and other AWS APIs) over HTTP, state in memory; yields the endpoint URL."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    argv = [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)]
    with running(argv, ready=lambda: http_answers(url), log=directory / "moto.log"):
        yield url


@contextmanager
def hdrtv_api(
    directory: Path, s3_url: str, tenant: str, redis_url: str | None = None, **settings: str
) -> Iterator[tuple[str, str, str, dict]]:
    """A Redis of its own (no other test's tasks on its broker) unless `redis_url` names one, an API
    key of `tenant` and the API under `hdrtv serve`; `settings` are more environment variables
    (HDRTV_...). No worker yet. Yields (API URL, key, Redis URL, the environment for the processes
    the test starts)."""
    with nullcontext(redis_url) if redis_url else redis_server(directory) as redis_url:
        env = os.environ | {
            "HDRTV_REDIS_URL": redis_url,
            "HDRTV_S3_ENDPOINT_URL": s3_url,
            "HDRTV_SCRATCH_DIR": str(directory / "scratch"),
            "HDRTV_DEVICE": "cpu",
            "OMP_NUM_THREADS": "1",
            **settings,
        }
        env.pop("PROMETHEUS_MULTIPROC_DIR", None)
        create = [HDRTV, "keys", "create", tenant, "--read", "s3://", "--write", "s3://", "--callback", "http://"]
        key = subprocess.run(create, env=env, capture_output=True, text=True, check=True).stdout.strip()
        api = f"http://127.0.0.1:{free_port()}"
        serve = [HDRTV, "serve", "--port", api.rsplit(":", 1)[1], "--log-level", "warning"]
        with running(serve, ready=lambda: http_answers(f"{api}/healthz"), log=directory / "api.log", env=env):
            yield api, key, redis_url, env


def _apply(values: Mapping[str, str | None]) -> None:
    for name, value in values.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


def _tail(log: Path, lines: int = 20) -> str:
    return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])


def hdrtv_worker(
    directory: Path, name: str, env: Mapping[str, str], concurrency: int = 1, metrics_port: int | None = None
) -> AbstractContextManager[subprocess.Popen]:
    """`hdrtv worker` on both queues with `concurrency` pool processes, its log `<name>.log` in
    `directory`, ready once Celery says so. With `metrics_port` it serves /metrics there; without,
    its metric files go under `directory/<name>-metrics` (a killed worker leaves them behind)."""
    argv = [HDRTV, "worker", "--queues", "gpu,cpu", "--concurrency", str(concurrency)]
    if metrics_port is None:
        (folder := directory / f"{name}-metrics").mkdir()
        env = {**env, "PROMETHEUS_MULTIPROC_DIR": str(folder)}
    else:
        argv += ["--metrics-port", str(metrics_port)]
    log = directory / f"{name}.log"
    return running(argv, ready=lambda: log.exists() and " ready." in log.read_text(), log=log, env=env, timeout_s=60)


def grant_every_bucket(client: redis.Redis, tenant: str, prefix: str = "hdrtv") -> None:
    """Let `tenant` read and write every bucket and call back to any http(s) receiver (tests whose
    subject is not the grants)."""
    grants = Grants(client, prefix)
    grants.grant_both(tenant, EVERY_BUCKET)
    for receivers in ("http://", "https://"):
        grants.grant(tenant, "callback", receivers)


class CallbackReceiver(ThreadingHTTPServer):
    """An HTTP receiver of callbacks in a thread of this process: answers each POST with the next of
    `statuses` (the last one repeats) and keeps the requests as (path, headers, body)."""

    def __init__(self, statuses: list[int]) -> None:
        super().__init__(("127.0.0.1", 0), _CallbackHandler)
        self.statuses = list(statuses)
        self.requests: list[tuple[str, dict[str, str], bytes]] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_port}/hooks/hdrtv?source=test"


class _CallbackHandler(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.server.requests.append((self.path, dict(self.headers), body))
        status = self.server.statuses.pop(0) if len(self.server.statuses) > 1 else self.server.statuses[0]
        self.send_response(status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@contextmanager
def callback_receiver(statuses: list[int] | None = None) -> Iterator[CallbackReceiver]:
    """A `CallbackReceiver` serving until the block ends (default: every POST answered 200)."""
    server = CallbackReceiver(statuses or [200])
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
