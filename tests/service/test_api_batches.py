"""/v1/batches: jobs listed one by one or every video under a prefix, idempotent by content."""

from __future__ import annotations

import pytest
from api_harness import ApiHarness
from hdrtv.worker.control.job_record import JobStatus


@pytest.fixture
def api(redis_server, s3_settings, bucket, tmp_path) -> ApiHarness:
    return ApiHarness.start(redis_server, s3_settings, bucket, tmp_path, max_queued_jobs_per_tenant=5)


def outputs(api, batch) -> dict[str, str]:
    jobs = [api.services.jobs.get(job_id) for job_id in batch["job_ids"]]
    return {job.input_uri.removeprefix(api.uri("")): job.output_uri.removeprefix(api.uri("")) for job in jobs}


def test_a_prefix_batch_makes_one_job_per_video_and_is_not_duplicated_when_sent_again(api):
    for key in ("in/a.mp4", "in/b.mov", "in/sub/c.mkv", "in/readme.txt", "other/d.mp4"):
        api.put(key, b"video bytes")
    headers = api.auth()
    body = {"input_prefix": api.uri("in/"), "output_prefix": api.uri("out/"), "model": "bt2408", "priority": 9}
    first = api.client.post("/v1/batches", json=body, headers=headers)
    assert first.status_code == 202, first.text
    batch = first.json()
    assert outputs(api, batch) == {"in/a.mp4": "out/a.mp4", "in/b.mov": "out/b.mkv", "in/sub/c.mkv": "out/sub/c.mkv"}
    assert batch["total"] == 3 and batch["counts"]["queued"] == 3
    assert all(api.queued(job_id) == [("hdrtv.start_job", [job_id], 0)] for job_id in batch["job_ids"])
    job = api.services.jobs.get(batch["job_ids"][0])
    assert job.batch_id == batch["id"] and job.model == "bt2408" and job.priority == 9

    again = api.client.post("/v1/batches", json=body, headers=headers).json()
    assert again["id"] == batch["id"] and again["job_ids"] == batch["job_ids"]
    assert all(len(api.queued(job_id)) == 1 for job_id in batch["job_ids"])

    api.put("in/e.mp4", b"video bytes")
    grown = api.client.post("/v1/batches", json=body, headers=headers).json()
    assert grown["id"] == batch["id"] and set(grown["job_ids"]) > set(batch["job_ids"]) and grown["total"] == 4


def test_a_batch_of_listed_jobs_is_all_or_nothing_and_counts_its_jobs_by_status(api):
    api.put("in/a.mp4", b"video bytes")
    headers = api.auth()
    jobs = [api.job_body("in/a.mp4", "out/a.mkv"), api.job_body("in/a.mp4", "out/b.avi")]
    refused = api.client.post("/v1/batches", json={"jobs": jobs}, headers=headers)
    assert refused.status_code == 422 and refused.json()["detail"].startswith("jobs[1]: ")
    assert "out/b.avi: the output must be .mkv or .mp4" in refused.json()["detail"]
    assert api.client.get("/v1/jobs", headers=headers).json()["items"] == []

    jobs[1] = api.job_body("in/a.mp4", "out/b.mkv")
    batch = api.client.post("/v1/batches", json={"jobs": jobs}, headers=headers).json()
    assert batch["total"] == 2
    api.services.jobs.set_status(batch["job_ids"][0], JobStatus.SUCCEEDED)
    counts = api.client.get(f"/v1/batches/{batch['id']}", headers=headers).json()["counts"]
    assert counts == {"queued": 1, "running": 0, "succeeded": 1, "failed": 0, "cancelled": 0}
    assert api.client.get(f"/v1/batches/{batch['id']}", headers=api.auth("rival")).status_code == 404


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        ({"input_prefix": "in/", "output_prefix": "in/hdr/"}, 422, "the output prefix lies under the input prefix"),
        ({"input_prefix": "empty/", "output_prefix": "out/"}, 422, "no video objects under this prefix"),
        ({"input_prefix": "in/", "output_prefix": "busy/"}, 409, "busy/a.mkv: another job is writing this output"),
        ({"input_prefix": "many/", "output_prefix": "out/"}, 429, "limit is 5"),
        ({"jobs": []}, 422, "at least 1 item"),
        ({"input_prefix": "in/", "output_prefix": "out/", "jobs": []}, 422, "jobs"),
    ],
)
def test_bad_batches_are_refused_whole(api, body, status, message):
    api.put("in/a.mov", b"video bytes")
    for i in range(6):
        api.put(f"many/{i}.mp4", b"video bytes")
    writer = api.client.post("/v1/jobs", json=api.job_body("other.mp4", "busy/a.mkv"), headers=api.auth("rival"))
    assert writer.status_code == 202, writer.text
    body = {k: api.uri(v) if k.endswith("prefix") else v for k, v in body.items()}
    headers = api.auth()
    response = api.client.post("/v1/batches", json=body, headers=headers)
    assert response.status_code == status, response.text
    assert message.replace("busy/", api.uri("busy/")) in response.text
    assert api.client.get("/v1/jobs", headers=headers).json()["items"] == []
