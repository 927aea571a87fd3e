"""The Celery application: broker, queues, priorities, limits. Light to import (no torch), so the
API process sends tasks by name with `send` and never loads the worker's code.

Job state lives in our own Redis records (`job_store`), so there is no result backend. Tasks are
acknowledged late and requeued when a worker dies, which is safe because every task is idempotent;
the broker's visibility timeout exceeds the longest task, or a running chunk would be redelivered.
Workers: `hdrtv worker --queues gpu` on GPU hosts (concurrency 1 per GPU), `--queues cpu`
elsewhere.

No app is built at import time: each process builds its own from the settings it runs with
(`make_app`), and the app keeps them, so the tasks it runs use those settings and not the
environment's (embedded mode runs on settings of its own).
"""

from __future__ import annotations

from typing import Any

from celery import Celery
from kombu import Exchange, Queue

from .settings import Settings
from .task_names import CPU_QUEUE, GPU_QUEUE, ROUTES

VISIBILITY_MARGIN_S = 600
"""How much longer than the task time limit the broker waits before redelivering an unacked task."""


class CeleryApp(Celery):
    """A Celery app that keeps the settings it was built from: `hdrtv.worker.jobs.tasks` builds the
    job context of its tasks from `app.settings`."""

    settings: Settings


def make_app(settings: Settings) -> CeleryApp:
    """The app for these settings. A worker imports `hdrtv.worker.jobs.tasks` through `include`, whose
    shared tasks then register on it; the API only sends tasks by name and never imports them."""
    app = CeleryApp("hdrtv", broker=settings.broker_url or settings.redis_url, include=["hdrtv.worker.jobs.tasks"])
    app.settings = settings
    limit = settings.chunk_time_limit_s
    app.conf.update(
        result_backend=None,
        task_ignore_result=True,
        task_serializer="json",
        accept_content=["json"],
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        # One chunk is the longest task; the soft limit lets a task fail its job before the kill.
        task_time_limit=limit,
        task_soft_time_limit=limit - min(60, limit // 10),
        task_queues=[Queue(name, Exchange(name), routing_key=name) for name in (CPU_QUEUE, GPU_QUEUE)],
        task_default_queue=CPU_QUEUE,
        task_routes={name: {"queue": queue} for name, queue in ROUTES.items()},
        broker_transport_options={
            "visibility_timeout": limit + VISIBILITY_MARGIN_S,
            "priority_steps": list(range(10)),
            "queue_order_strategy": "priority",
        },
        broker_connection_retry_on_startup=True,
        worker_hijack_root_logger=False,
    )
    return app


def broker_priority(job_priority: int) -> int:
    """Job priority (0..9, 9 most urgent) -> Redis transport priority (0 is consumed first)."""
    return 9 - job_priority


def send(app: Celery, name: str, args: list[Any], job_priority: int) -> None:
    """Enqueue task `name` through `app` on its queue at the job's priority (what the API, the tasks
    and the sweeper call; `partial(send, app)` is a `recovery.Enqueue`)."""
    app.send_task(name, args=args, queue=ROUTES[name], priority=broker_priority(job_priority))
