"""/v1/jobs on real Redis, S3 (moto) and the Celery broker: submit, checks, idempotency, limits,
read and cancel."""

from __future__ import annotations

import pytest
from api_harness import ApiHarness
from hdrtv.worker.control.job_record import Job, JobStatus
from hdrtv.worker.control.options import options_for_job
from servers import free_port


@pytest.fixture
def api(redis_server, s3_settings, bucket, tmp_path) -> ApiHarness:
    return ApiHarness.start(redis_server, s3_settings, bucket, tmp_path, max_queued_jobs_per_tenant=2)


def test_a_job_is_checked_stored_and_queued(api):
    api.put_video("in/a.mp4")
    body = api.job_body("in/a.mp4", model="bt2408", options={"crf": 20}, priority=7, metadata={"title": "A"})
    response = api.client.post("/v1/jobs", json=body, headers=api.auth())
    assert response.status_code == 202, response.text
    job = response.json()
    assert job["status"] == "queued" and job["model"] == "bt2408" and job["priority"] == 7
    assert job["options"] == {"crf": 20, "preset": "medium", "max_nits": 1000.0, "chunk_frames": 96}
    assert job["metadata"] == {"title": "A"} and job["error"] is None and job["progress"]["percent"] == 0
    assert response.headers["Location"] == f"/v1/jobs/{job['id']}"
    assert api.queued(job["id"]) == [("hdrtv.start_job", [job["id"]], 2)]  # job priority 7 -> broker 2
    stored = api.services.jobs.get(job["id"])
    assert stored.tenant == api.tenant("acme") and stored.input_uri == body["input_uri"]
    worker_options = options_for_job(api.services.settings, stored.model, stored.options)
    assert worker_options.crf == 20  # the worker takes the options as stored


def test_a_job_reads_back_with_progress_timings_and_error(api):
    headers = api.auth()
    api.put_video("in/a.mp4")
    job_id = api.client.post("/v1/jobs", json=api.job_body("in/a.mp4"), headers=headers).json()["id"]
    api.services.jobs.set_status(job_id, JobStatus.RUNNING, frames_total=200, frames_done=50, chunks_total=4)
    api.services.jobs.set_status(job_id, JobStatus.FAILED, error_code="decode", error_message="in/a.mp4: bad frame")
    job = api.client.get(f"/v1/jobs/{job_id}", headers=headers).json()
    assert job["status"] == "failed" and job["progress"]["percent"] == 25.0 and job["progress"]["chunks_total"] == 4
    assert job["error"] == {"code": "decode", "message": "in/a.mp4: bad frame"}
    timings = job["timings"]
    assert timings["created_at"] <= timings["started_at"] <= timings["finished_at"]
    assert api.client.get("/v1/jobs/nope", headers=headers).status_code == 404


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        ({"input_uri": "ftp://x/a.mp4"}, 422, "ftp://x/a.mp4"),
        ({"input_uri": "file:///etc/passwd"}, 422, "file:///etc/passwd"),
        ({"input_uri": "s3://other-bucket/in/a.mp4"}, 422, "bucket 'other-bucket' is not one this service may use"),
        ({"output_uri": "OUT/a.avi"}, 422, "the output must be .mkv or .mp4"),
        ({"output_uri": "IN/a.mp4"}, 422, "IN/a.mp4: the output would overwrite the input"),
        ({"model": "magic"}, 422, "dslnet"),
        ({"priority": 10}, 422, "less than or equal to 9"),
        ({"options": {"preset": "warp"}}, 422, "ultrafast"),
    ],
)
def test_each_check_refuses_with_a_message_that_names_the_problem(
    redis_server, s3_settings, bucket, tmp_path, body, status, message
):
    api = ApiHarness.start(redis_server, s3_settings, bucket, tmp_path, allowed_buckets=[bucket])
    full = api.job_body("in/a.mp4") | {
        k: v.replace("IN/", api.uri("in/")).replace("OUT/", api.uri("out/")) if isinstance(v, str) else v
        for k, v in body.items()
    }
    headers = api.auth()
    response = api.client.post("/v1/jobs", json=full, headers=headers)
    assert response.status_code == status, response.text
    assert message.replace("IN/", api.uri("in/")).replace("OUT/", api.uri("out/")) in response.text
    assert api.client.get("/v1/jobs", headers=headers).json()["items"] == []


def test_intake_asks_the_store_nothing(redis_server, s3_settings, bucket, tmp_path):
    """Jobs are taken at once with the object store down: whether the input is there (or even its
    bucket) and whether the output is free is the worker's to find out (tests/worker/jobs)."""
    down = s3_settings.model_copy(update={"s3_endpoint_url": f"http://127.0.0.1:{free_port()}"})
    api = ApiHarness.start(redis_server, down, bucket, tmp_path)
    headers = api.auth()
    for body in (
        api.job_body("in/missing.mp4", "out/a.mkv"),
        {"input_uri": "s3://no-such-bucket-here/a.mp4", "output_uri": api.uri("out/b.mkv")},
        api.job_body("in/missing.mp4", "out/c.mkv", options={"overwrite": True}),
    ):
        response = api.client.post("/v1/jobs", json=body, headers=headers)
        assert response.status_code == 202, response.text
        assert api.queued(response.json()["id"]) == [("hdrtv.start_job", [response.json()["id"]], 4)]


def test_an_idempotency_key_gives_the_same_job_for_the_same_body_and_409_for_another(api):
    api.put_video("in/a.mp4")
    headers = api.auth() | {"Idempotency-Key": "order-1"}
    first = api.client.post("/v1/jobs", json=api.job_body("in/a.mp4"), headers=headers)
    again = api.client.post("/v1/jobs", json=api.job_body("in/a.mp4"), headers=headers)
    assert first.status_code == again.status_code == 202
    assert again.json()["id"] == first.json()["id"] and again.headers["Idempotent-Replayed"] == "true"
    assert len(api.queued(first.json()["id"])) == 1
    other = api.client.post("/v1/jobs", json=api.job_body("in/a.mp4", priority=9), headers=headers)
    assert other.status_code == 409 and "Idempotency-Key" in other.json()["detail"]
    fresh_body = api.job_body("in/a.mp4", "out/b.mkv")  # another output: one job at a time writes out/a.mkv
    fresh = api.client.post("/v1/jobs", json=fresh_body, headers=headers | {"Idempotency-Key": "2"})
    assert fresh.json()["id"] != first.json()["id"]


def test_a_key_whose_request_failed_its_checks_can_be_retried(api):
    body = api.job_body("in/a.mp4", "out/busy.mkv")
    writer = api.client.post("/v1/jobs", json=body, headers=api.auth("rival")).json()["id"]
    headers = api.auth() | {"Idempotency-Key": "retry-me"}
    assert api.client.post("/v1/jobs", json=body, headers=headers).status_code == 409  # the output is taken
    api.services.jobs.set_status(writer, JobStatus.SUCCEEDED)
    retried = api.client.post("/v1/jobs", json=body, headers=headers)
    assert retried.status_code == 202 and "Idempotent-Replayed" not in retried.headers


def test_a_tenant_beyond_its_active_job_limit_gets_429(api):
    api.put_video("in/a.mp4")
    headers, other = api.auth("busy"), api.auth("calm")
    ids = [
        api.client.post("/v1/jobs", json=api.job_body("in/a.mp4", f"out/{i}.mkv"), headers=headers).json()["id"]
        for i in range(2)
    ]
    refused = api.client.post("/v1/jobs", json=api.job_body("in/a.mp4", "out/2.mkv"), headers=headers)
    assert refused.status_code == 429 and "limit is 2" in refused.json()["detail"] and refused.headers["Retry-After"]
    batch = {"jobs": [api.job_body("in/a.mp4", "out/3.mkv")]}  # another tenant's count (a batch: no probe)
    assert api.client.post("/v1/batches", json=batch, headers=other).status_code == 202
    api.services.jobs.set_status(ids[0], JobStatus.SUCCEEDED)
    assert api.client.post("/v1/jobs", json=api.job_body("in/a.mp4", "out/2.mkv"), headers=headers).status_code == 202


def test_cancel_ends_an_active_job_and_409s_a_finished_one(api):
    api.put_video("in/a.mp4")
    headers = api.auth()
    job_id = api.client.post("/v1/jobs", json=api.job_body("in/a.mp4"), headers=headers).json()["id"]
    cancelled = api.client.post(f"/v1/jobs/{job_id}/cancel", headers=headers)
    assert cancelled.status_code == 202 and cancelled.json()["status"] == "cancelled"
    assert api.services.jobs.cancel_requested(job_id)
    again = api.client.post(f"/v1/jobs/{job_id}/cancel", headers=headers)
    assert again.status_code == 409 and "already ended (cancelled)" in again.json()["detail"]


def test_listing_filters_by_status_and_creation_time_a_page_at_a_time(api):
    tenant, headers = api.tenant("acme"), api.auth()
    base = 1_700_000_000.0
    for i in range(7):
        job = Job(tenant=tenant, input_uri=api.uri(f"{i}.mp4"), output_uri=api.uri(f"{i}.mkv"), created_at=base + i)
        api.services.jobs.create(job)
        if i % 2:
            api.services.jobs.set_status(job.id, JobStatus.SUCCEEDED)
    api.services.jobs.create(Job(tenant=api.tenant("rival"), input_uri="s3://x/y.mp4", output_uri="s3://x/y.mkv"))

    def inputs(**query) -> tuple[list[str], str | None]:
        page = api.client.get("/v1/jobs", params=query, headers=headers)
        assert page.status_code == 200, page.text
        return [job["input_uri"].rsplit("/", 1)[1] for job in page.json()["items"]], page.json()["next_cursor"]

    assert inputs()[0] == [f"{i}.mp4" for i in range(6, -1, -1)]
    assert inputs(status="succeeded")[0] == ["5.mp4", "3.mp4", "1.mp4"]
    window = {"created_from": "2023-11-14T22:13:22Z", "created_to": "2023-11-14T22:13:24"}  # base+2 .. base+4 (UTC)
    assert inputs(**window)[0] == ["4.mp4", "3.mp4", "2.mp4"]
    seen, cursor = [], None
    while True:
        page, cursor = inputs(limit=3, **({"cursor": cursor} if cursor else {}))
        seen += page
        if cursor is None:
            break
    assert seen == inputs()[0] and len(seen) == 7
    assert api.client.get("/v1/jobs", params={"cursor": "garbage"}, headers=headers).status_code == 422
    assert api.client.get("/v1/jobs", params={"status": "lost"}, headers=headers).status_code == 422
