"""No two jobs on one output: an output URI is reserved by the active job that writes it, against
the real API and Redis, for one tenant or several."""

from __future__ import annotations

import pytest
from api_harness import ApiHarness
from hdrtv.worker.control.job_record import JobStatus


@pytest.fixture
def api(redis_server, s3_settings, bucket, tmp_path) -> ApiHarness:
    return ApiHarness.start(redis_server, s3_settings, bucket, tmp_path)


@pytest.mark.parametrize("second_tenant", ["acme", "rival"])
def test_an_output_is_written_by_one_active_job_at_a_time(api, second_tenant):
    api.put_video("in/a.mp4")
    api.put_video("in/b.mp4")
    first = api.client.post("/v1/jobs", json=api.job_body("in/a.mp4", "out/x.mkv"), headers=api.auth())
    assert first.status_code == 202, first.text
    body = api.job_body("in/b.mp4", "out/x.mkv", options={"overwrite": True})
    second = api.client.post("/v1/jobs", json=body, headers=api.auth(second_tenant))
    assert second.status_code == 409
    assert (
        second.json()["detail"]
        == f"{api.uri('out/x.mkv')}: another job is writing this output; submit again once it has ended"
    )
    assert first.json()["id"] not in second.text  # nothing of the other job shows
    api.services.jobs.set_status(first.json()["id"], JobStatus.FAILED, error_code="invalid_input")
    again = api.client.post("/v1/jobs", json=body, headers=api.auth(second_tenant))
    assert again.status_code == 202, again.text


def test_a_cancelled_job_lets_its_output_go(api):
    api.put_video("in/a.mp4")
    headers = api.auth()
    job_id = api.client.post("/v1/jobs", json=api.job_body("in/a.mp4", "out/y.mkv"), headers=headers).json()["id"]
    assert api.services.jobs.output_writer(api.uri("out/y.mkv")) == job_id
    assert api.client.post(f"/v1/jobs/{job_id}/cancel", headers=headers).status_code == 202
    assert api.services.jobs.output_writer(api.uri("out/y.mkv")) is None
    assert api.client.post("/v1/jobs", json=api.job_body("in/a.mp4", "out/y.mkv"), headers=headers).status_code == 202


def test_a_batch_with_an_output_in_use_queues_nothing(api):
    api.put_video("in/a.mp4")
    api.put_video("in/b.mp4")
    headers = api.auth()
    assert api.client.post("/v1/jobs", json=api.job_body("in/a.mp4", "out/z.mkv"), headers=headers).status_code == 202
    jobs = [api.job_body("in/b.mp4", "out/free.mkv"), api.job_body("in/b.mp4", "out/z.mkv")]
    response = api.client.post("/v1/batches", json={"jobs": jobs}, headers=headers)
    assert response.status_code == 409 and "jobs[1]: " in response.json()["detail"]
    assert api.services.jobs.output_writer(api.uri("out/free.mkv")) is None
