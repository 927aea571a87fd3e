"""The Celery app against a real redis-server, without a worker: queues, priorities, a light import."""

import subprocess
import sys

from hdrtv.worker.control.celery_app import broker_priority, make_app
from hdrtv.worker.control.settings import Settings
from hdrtv.worker.control.task_names import ASSEMBLE_JOB, CONVERT_CHUNK, CPU_QUEUE, GPU_QUEUE, ROUTES, START_JOB


def test_each_task_lands_on_its_own_queue_and_urgent_jobs_come_first(redis_server):
    app = make_app(Settings(redis_url=redis_server.rsplit("/", 1)[0] + "/1"))
    with app.connection_for_write() as connection:
        for queue in app.amqp.queues.values():  # as a worker consuming both queues does
            queue(connection.default_channel).declare()
    for job_id, priority in (("routine", 1), ("urgent", 9), ("normal", 5)):
        app.send_task(CONVERT_CHUNK, args=[job_id, 0], queue=ROUTES[CONVERT_CHUNK], priority=broker_priority(priority))
    app.send_task(START_JOB, args=["new"], queue=ROUTES[START_JOB], priority=broker_priority(5))
    with app.connection_for_read() as connection:
        channel = connection.default_channel
        assert channel.queue_declare(CPU_QUEUE, passive=True).message_count == 1
        assert channel.queue_declare(GPU_QUEUE, passive=True).message_count == 3
        order = [channel.basic_get(GPU_QUEUE, no_ack=True).decode()[0][0] for _ in range(3)]
        channel.queue_purge(CPU_QUEUE)
    assert order == ["urgent", "normal", "routine"]
    assert ROUTES[ASSEMBLE_JOB] == CPU_QUEUE


def test_the_api_side_imports_no_worker_machinery():
    code = (
        "import sys, hdrtv.worker.control.celery_app, hdrtv.worker.control.job_store, hdrtv.worker.control.task_names; "
        "print(' '.join(sorted(m for m in sys.modules if m.split('.')[0] in {'torch', 'av', 'numpy', 'boto3'} "
        "or m in {'hdrtv.worker.jobs.tasks', 'hdrtv.worker.pipeline'})))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == ""
