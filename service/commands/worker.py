"""`hdrtv worker`: a Celery worker of the job tasks, with its Prometheus metrics on a port and, on
CPU queues, the sweeper of lost steps and orphaned temporary objects (`recovery`). Its settings come
from HDRTV_* and are checked before anything starts: workers sign the callbacks, so production
refuses the default key here too."""

from __future__ import annotations

import argparse
import os
import tempfile
from contextlib import nullcontext
from functools import partial

from hdrtv.worker.control.settings import get_settings


def _worker(args: argparse.Namespace) -> None:
    settings = get_settings()
    settings.refuse_default_secrets()
    # prometheus-client picks its multiprocess mode when imported: set the folder before that.
    configured = "PROMETHEUS_MULTIPROC_DIR" in os.environ
    with nullcontext() if configured else tempfile.TemporaryDirectory(prefix="hdrtv-metrics-") as fresh:
        if fresh is not None:
            os.environ["PROMETHEUS_MULTIPROC_DIR"] = fresh
        from hdrtv.worker.control.celery_app import make_app, send
        from hdrtv.worker.control.job_store import JobStore
        from hdrtv.worker.control.storage import ObjectStore
        from hdrtv.worker.control.task_names import CPU_QUEUE
        from hdrtv.worker.jobs import task_metrics
        from hdrtv.worker.jobs.recovery import Sweeper

        app = make_app(settings)  # its tasks run with these settings
        queues = [queue.strip() for queue in args.queues.split(",")]
        if args.metrics_port is not None:
            task_metrics.serve(args.metrics_port, args.metrics_host, app, queues)
        if CPU_QUEUE in queues:  # re-enqueues the steps of workers that died, removes orphaned temporary objects
            store, objects = JobStore.from_url(settings.redis_url), ObjectStore.from_settings(settings)
            Sweeper(store, objects, partial(send, app), settings).start()
        argv = ["worker", "--queues", args.queues, "--pool", "prefork", "--loglevel", args.log_level]
        argv += [] if args.concurrency is None else ["--concurrency", str(args.concurrency)]
        app.worker_main(argv)


def add_parsers(commands: argparse._SubParsersAction) -> None:
    worker = commands.add_parser("worker", help="run a Celery worker of the job tasks (settings from HDRTV_*)")
    worker.add_argument("--queues", default="gpu,cpu", help="queues to consume, comma-separated (default gpu,cpu)")
    worker.add_argument("--concurrency", type=int, help="pool processes (default: one per CPU core; use 1 per GPU)")
    worker.add_argument("--metrics-port", type=int, help="serve Prometheus /metrics on this port")
    worker.add_argument("--metrics-host", default="127.0.0.1", help="address of /metrics (default 127.0.0.1)")
    worker.add_argument("--log-level", default="info", choices=("critical", "error", "warning", "info", "debug"))
    worker.set_defaults(run=_worker)
