"""Completion callbacks against real parts: a redis-server, an HTTP receiver in a thread, moto's S3."""

import json
import time
import uuid
from types import SimpleNamespace

import pytest
from hdrtv.worker.control.grants import Grants, NotGranted
from hdrtv.worker.control.job_store import Job, JobStatus, JobStore
from hdrtv.worker.control.settings import Settings
from hdrtv.worker.control.task_names import ASSEMBLE_JOB, CONVERT_CHUNK, DELIVER_CALLBACK
from hdrtv.worker.jobs import callbacks
from hdrtv.worker.jobs import runner as job_runner
from hdrtv.worker.jobs.callbacks import MAX_ATTEMPTS, RETRY_DELAYS_S, RefusedURL, deliver, verify_signature
from hdrtv.worker.jobs.files import scratch_root
from servers import callback_receiver, free_port, grant_every_bucket
from video_factory import write_clip

KEY = "receiver-shared-secret"


@pytest.fixture
def receiver(request):
    """A receiver answering the statuses the test passes indirectly (default: 200)."""
    with callback_receiver(getattr(request, "param", None)) as server:
        yield server


@pytest.fixture
def settings():
    return Settings(callback_signing_key=KEY, allow_private_callbacks=True, callback_timeout_s=5)


def finished_job(store, url, status=JobStatus.FAILED):
    """A finished job whose callback is scheduled, as `jobs.runner` leaves it; its tenant may call
    back anywhere."""
    grant_every_bucket(store.redis, "acme", store.prefix)
    job = Job(tenant="acme", input_uri="s3://in/a.mp4", output_uri="s3://out/a.mkv", callback_url=url)
    job.metadata = {"title": "Episode 1"}
    store.create(job)
    store.set_status(job.id, status, error_code="invalid_input", error_message="not a video")
    store.update(job.id, callback=callbacks.initial_state())
    return job


def test_the_signature_needs_the_key_the_same_body_and_a_fresh_timestamp():
    body, now = b'{"id":"abc","status":"succeeded"}', 1_700_000_000.0
    signature = callbacks.sign(body, int(now), KEY)
    assert verify_signature(body, str(int(now)), signature, KEY, max_age_s=300, now=now + 299)
    assert not verify_signature(body, int(now), signature, "another-key", max_age_s=300, now=now)
    assert not verify_signature(body.replace(b"succeeded", b"failed"), int(now), signature, KEY, 300, now)
    assert not verify_signature(body, int(now), signature, KEY, max_age_s=300, now=now + 301)
    assert not verify_signature(body, int(now) + 1, signature, KEY, max_age_s=300, now=now)
    assert not verify_signature(body, "yesterday", signature, KEY, max_age_s=300, now=now)


def test_a_callback_arrives_signed_and_the_job_shows_it_delivered(store, settings, receiver):
    job = finished_job(store, receiver.url)
    now = time.time()
    assert deliver(store, job.id, settings, now) == callbacks.Outcome("delivered")

    [(path, headers, body)] = receiver.requests
    assert path == "/hooks/hdrtv?source=test"
    assert headers["Content-Type"] == "application/json"
    assert headers["X-Hdrtv-Timestamp"] == str(int(now))
    assert verify_signature(body, headers["X-Hdrtv-Timestamp"], headers["X-Hdrtv-Signature"], KEY, 300, time.time())
    sent = json.loads(body)
    assert sent["id"] == job.id and sent["status"] == "failed" and sent["error_code"] == "invalid_input"
    assert sent["metadata"] == {"title": "Episode 1"}

    state = store.get(job.id).callback
    assert state == {
        "state": "delivered",
        "attempts": 1,
        "last_status": 200,
        "last_error": None,
        "delivered_at": now,
        "next_attempt_at": None,
    }
    assert deliver(store, job.id, settings, time.time()) == callbacks.Outcome("skipped")
    assert len(receiver.requests) == 1


@pytest.mark.parametrize("receiver", [[500, 200]], indirect=True)
def test_a_failing_receiver_is_retried_until_it_answers(store, settings, receiver):
    job = finished_job(store, receiver.url, JobStatus.SUCCEEDED)
    now = time.time()
    assert deliver(store, job.id, settings, now) == callbacks.Outcome("pending", RETRY_DELAYS_S[0])
    state = store.get(job.id).callback
    assert (state["state"], state["attempts"], state["last_status"]) == ("pending", 1, 500)
    assert state["next_attempt_at"] == now + RETRY_DELAYS_S[0] and "500" in state["last_error"]

    assert deliver(store, job.id, settings, now + RETRY_DELAYS_S[0]).state == "delivered"
    state = store.get(job.id).callback
    assert (state["state"], state["attempts"], state["last_status"], state["last_error"]) == ("delivered", 2, 200, None)
    assert len(receiver.requests) == 2


@pytest.mark.parametrize("receiver", [[410]], indirect=True)
def test_a_receiver_answering_gone_ends_the_delivery(store, settings, receiver):
    job = finished_job(store, receiver.url)
    assert deliver(store, job.id, settings, time.time()) == callbacks.Outcome("failed")
    assert store.get(job.id).callback["last_status"] == 410


def test_a_callback_outside_the_tenants_callback_grants_is_not_sent(store, settings, receiver):
    """Checked at each attempt with the grants Redis holds then: the job record can't widen them."""
    job = finished_job(store, receiver.url)
    grants = Grants(store.redis, store.prefix)
    for receivers in ("http://", "https://"):
        grants.revoke("acme", "callback", receivers)
    grants.grant("acme", "callback", "https://hooks.example.com/")
    assert deliver(store, job.id, settings, time.time()) == callbacks.Outcome("failed")
    state = store.get(job.id).callback
    assert state["last_error"] == (
        f"{receiver.url}: tenant 'acme' may not send callbacks there (no callback grant covers it)"
    )
    assert receiver.requests == []
    grants.grant("acme", "callback", f"http://127.0.0.1:{receiver.server_port}/hooks/")
    grants.check_callback("acme", receiver.url)  # now covered; a different port or path is not:
    for other in (f"http://127.0.0.1:{free_port()}/hooks/x", f"http://127.0.0.1:{receiver.server_port}/hookz"):
        with pytest.raises(NotGranted):
            grants.check_callback("acme", other)


def test_an_unreachable_receiver_is_retried_and_given_up_after_the_last_attempt(store, settings):
    job = finished_job(store, f"http://127.0.0.1:{free_port()}/hook")
    assert deliver(store, job.id, settings, time.time()).state == "pending"
    assert "ConnectionRefusedError" in store.get(job.id).callback["last_error"]

    store.update(job.id, callback=store.get(job.id).callback | {"attempts": MAX_ATTEMPTS - 1})
    assert deliver(store, job.id, settings, time.time()) == callbacks.Outcome("failed")
    state = store.get(job.id).callback
    assert state["attempts"] == MAX_ATTEMPTS and "gave up" in state["last_error"]


def test_the_retry_schedule_spans_about_a_day():
    from hdrtv.worker.jobs.tasks import deliver_callback

    assert 24 * 3600 <= sum(RETRY_DELAYS_S) <= 25 * 3600
    assert RETRY_DELAYS_S[:3] == (30, 60, 120) and max(RETRY_DELAYS_S) == 3600
    assert list(RETRY_DELAYS_S) == sorted(RETRY_DELAYS_S)
    assert deliver_callback.max_retries == len(RETRY_DELAYS_S) == MAX_ATTEMPTS - 1


def test_private_addresses_are_refused_unless_allowed(store, settings, receiver):
    job = finished_job(store, receiver.url)
    public_only = settings.model_copy(update={"allow_private_callbacks": False})
    assert deliver(store, job.id, public_only, time.time()) == callbacks.Outcome("failed")
    assert "not a public address" in store.get(job.id).callback["last_error"]
    assert receiver.requests == []


@pytest.mark.parametrize(
    "url",
    [
        "http://10.1.2.3/",
        "http://169.254.169.254/latest",
        "http://[::1]:8080/",
        "http://[::ffff:127.0.0.1]/",
        "http://localhost/",
        "http://0.0.0.0/",
        "ftp://example.com/",
        "http:///nohost",
    ],
)
def test_urls_of_our_own_network_or_other_schemes_are_refused(url):
    with pytest.raises(RefusedURL):
        callbacks.resolve(url, allow_private=False)


def test_a_public_address_is_accepted():
    address = "93.184.216.34"
    assert callbacks.resolve(f"https://{address}/hook", allow_private=False) == ("https", address, 443, address)


@pytest.fixture
def ctx(redis_server, object_store, s3_settings, tmp_path):
    queue = []
    context = job_runner.JobContext(
        store=JobStore.from_url(redis_server, prefix=f"test-{uuid.uuid4().hex}"),
        objects=object_store,
        settings=s3_settings.model_copy(update={"preset": "ultrafast", "device": "cpu"}),
        scratch=scratch_root(str(tmp_path / "scratch")),
        enqueue=lambda name, args, priority: queue.append((name, args)),
    )
    context.queue = queue
    grant_every_bucket(context.store.redis, "acme", context.store.prefix)
    return context


def submit(ctx, bucket, tmp_path, callback_url, source=None):
    """A job converting `source` (default: a file that is no video) into a bt2408 HDR10 output."""
    if source is None:
        source = tmp_path / "clip.mp4"
        source.write_bytes(b"not a video at all" * 100)
    job = Job(
        model="bt2408",
        tenant="acme",
        input_uri=f"s3://{bucket}/in/clip.mp4",
        output_uri=f"s3://{bucket}/out/hdr.mp4",
        callback_url=callback_url,
    )
    ctx.objects.upload(source, job.input_uri)
    ctx.store.create(job)
    return job


def test_a_failed_job_schedules_its_callback_once(ctx, bucket, tmp_path):
    job = submit(ctx, bucket, tmp_path, "https://hooks.example.com/hdrtv")
    job_runner.start_job(ctx, job.id)
    assert ctx.store.get(job.id).status == JobStatus.FAILED
    assert ctx.queue == [(DELIVER_CALLBACK, [job.id])]
    assert ctx.store.get(job.id).callback == callbacks.initial_state()

    job_runner.fail_job(ctx, job.id, "internal_error", "again")
    job_runner.start_job(ctx, job.id)
    assert ctx.queue == [(DELIVER_CALLBACK, [job.id])]


def test_a_cancelled_job_schedules_its_callback_when_a_step_sees_it(ctx, bucket, tmp_path):
    job = submit(ctx, bucket, tmp_path, "https://hooks.example.com/hdrtv")
    ctx.store.request_cancel(job.id)
    job_runner.start_job(ctx, job.id)
    assert ctx.queue == [(DELIVER_CALLBACK, [job.id])]


def test_a_job_without_a_callback_url_schedules_nothing(ctx, bucket, tmp_path):
    job = submit(ctx, bucket, tmp_path, None)
    job_runner.start_job(ctx, job.id)
    assert ctx.store.get(job.id).status == JobStatus.FAILED
    assert ctx.queue == [] and ctx.store.get(job.id).callback == {}


def test_a_succeeded_job_schedules_its_callback_after_the_assembly(ctx, bucket, tmp_path):
    job = submit(ctx, bucket, tmp_path, "https://hooks.example.com/hdrtv", write_clip(tmp_path / "src.mp4", frames=8))
    job_runner.start_job(ctx, job.id)
    steps = {CONVERT_CHUNK: job_runner.convert_chunk, ASSEMBLE_JOB: job_runner.assemble_job}
    while ctx.queue[-1][0] != DELIVER_CALLBACK:
        name, args = ctx.queue.pop(0)
        steps[name](ctx, *args)
    assert ctx.store.get(job.id).status == JobStatus.SUCCEEDED
    assert ctx.queue == [(DELIVER_CALLBACK, [job.id])]


@pytest.mark.parametrize("receiver", [[500, 200]], indirect=True)
def test_the_task_counts_each_attempt_by_outcome(store, settings, receiver, monkeypatch):
    """`hdrtv_worker_callback_deliveries_total{outcome}`, as the worker's deliver_callback task counts it."""
    from celery.exceptions import Retry
    from hdrtv.worker.jobs import tasks
    from prometheus_client import REGISTRY

    def counted() -> dict[str, float]:
        name = "hdrtv_worker_callback_deliveries_total"
        return {o: REGISTRY.get_sample_value(name, {"outcome": o}) for o in ("delivered", "retrying", "failed")}

    monkeypatch.setattr(tasks, "context", lambda app: SimpleNamespace(store=store, settings=settings))
    job = finished_job(store, receiver.url)
    before = counted()
    with pytest.raises(Retry):  # the receiver answered 500: the task schedules the next attempt
        tasks.deliver_callback(job.id)
    tasks.deliver_callback(job.id)
    tasks.deliver_callback(job.id)  # already delivered: skipped, not counted
    gone = finished_job(store, f"http://127.0.0.1:{free_port()}/hook")
    store.update(gone.id, callback=callbacks.initial_state() | {"attempts": MAX_ATTEMPTS - 1})
    tasks.deliver_callback(gone.id)  # unreachable at the last attempt: given up
    after = counted()
    assert {o: after[o] - before[o] for o in after} == {"delivered": 1, "retrying": 1, "failed": 1}
