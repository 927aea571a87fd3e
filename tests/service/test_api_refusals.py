"""Requests the API refuses with a one-line 422 and never a 500, on real Redis and S3 (moto): JSON
that Python's json takes but RFC 8259 does not, a callback URL with credentials, a text file given
as the input video."""

from __future__ import annotations

import json

import pytest
from api_harness import ApiHarness

BAD = "@BAD@"  # the value a case's raw JSON text replaces

NOT_JSON = "the body is not valid JSON"
CASES = {
    "NaN option": ({"options": {"crf": BAD}}, b"NaN", NOT_JSON),
    "Infinity field": ({"max_nits": BAD}, b"Infinity", NOT_JSON),
    "-Infinity option": ({"options": {"max_nits": BAD}}, b"-Infinity", NOT_JSON),
    "number too large for a float": ({"options": {"max_nits": BAD}}, b"1e999", "Input should be less than or equal"),
    "lone surrogate in a URI": ({"input_uri": BAD}, b'"s3://media/in/\\ud800.mp4"', NOT_JSON),
    "lone surrogate in metadata": ({"metadata": {"title": BAD}}, b'"\\udc00"', NOT_JSON),
    "bytes that are not UTF-8": ({"metadata": {"title": BAD}}, b'"\xff\xfe"', NOT_JSON),
}


@pytest.fixture
def api(redis_server, s3_settings, bucket, tmp_path) -> ApiHarness:
    return ApiHarness.start(redis_server, s3_settings, bucket, tmp_path, allowed_buckets=[bucket])


def bodies(api: ApiHarness, fields: dict) -> dict[str, dict]:
    """`fields` in a job, a batch of listed jobs and a prefix batch: every route that takes a body."""
    job = api.job_body("in/a.mp4") | fields
    return {
        "/v1/jobs": job,
        "/v1/batches (jobs)": {"jobs": [job]},
        "/v1/batches (prefix)": {"input_prefix": api.uri("in/"), "output_prefix": api.uri("out/")} | fields,
    }


@pytest.mark.parametrize("case", CASES)
def test_json_python_takes_but_rfc_8259_does_not_is_refused_422_on_every_body_route(api, case):
    fields, raw, problem = CASES[case]
    api.put_video("in/a.mp4")
    headers = api.auth() | {"Content-Type": "application/json"}
    for route, body in bodies(api, fields).items():
        content = json.dumps(body).encode().replace(json.dumps(BAD).encode(), raw)
        response = api.client.post(route.split()[0], content=content, headers=headers)  # a 500 would raise here
        assert response.status_code == 422, (route, response.text)
        detail = response.json()["detail"]
        assert problem in detail and "\n" not in detail, (route, detail)
    assert api.client.get("/v1/jobs", headers=headers).json()["items"] == []


@pytest.mark.parametrize("credentials", ["user:secret-pw@", "secret-token@"])
def test_a_callback_url_with_credentials_is_refused_and_never_echoed(api, credentials):
    api.put_video("in/a.mp4")
    headers = api.auth()
    for route, body in bodies(api, {"callback_url": f"https://{credentials}hooks.example.com/done"}).items():
        response = api.client.post(route.split()[0], json=body, headers=headers)
        assert response.status_code == 422, (route, response.text)
        assert "callback_url: a callback URL may not hold credentials (user:password@)" in response.json()["detail"]
        assert "secret" not in response.text
    assert api.client.get("/v1/jobs", headers=headers).json()["items"] == []
    accepted = api.client.post(
        "/v1/jobs", json=api.job_body("in/a.mp4", callback_url="https://hooks.example.com/done"), headers=headers
    )
    assert accepted.status_code == 202 and accepted.json()["callback_url"] == "https://hooks.example.com/done"
