"""The OpenAPI document tells the truth: every status a route answers is declared for it, with the
body it answers (`ErrorPublic` for errors, 422 included), by a walk over the app's routes and by
schemathesis's generated requests, on real Redis and S3 (moto)."""

from __future__ import annotations

import jsonschema
import pytest
import schemathesis
from api_harness import ApiHarness
from fastapi.routing import APIRoute, iter_route_contexts
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode, checks
from servers import free_port

UNKNOWN = {"job_id": "0" * 32, "batch_id": "0" * 32}


@pytest.fixture
def api(redis_server, s3_settings, bucket, tmp_path) -> ApiHarness:
    return ApiHarness.start(
        redis_server,
        s3_settings,
        bucket,
        tmp_path,
        allowed_buckets=[bucket],
        max_queued_jobs_per_tenant=1,
        max_request_bytes=4096,
    )


def test_each_route_declares_every_status_it_answers_with_the_body_it_answers(api, s3_settings, bucket, tmp_path):
    """Each route of the app is driven into each of its answers (a route left out fails the test);
    each answer must be declared for the route, its body valid against the declared schema."""
    openapi = api.client.get("/openapi.json").json()
    down = ApiHarness.start(f"redis://127.0.0.1:{free_port()}/0", s3_settings, bucket, tmp_path)  # no Redis there
    routes = {
        (method, route.path)
        for route in iter_route_contexts(api.client.app.routes)  # included routers' routes too
        if isinstance(route.original_route, APIRoute) and route.include_in_schema
        for method in route.methods
    }
    answered = set()

    def check(status: int, method: str, template: str, client=api.client, path=UNKNOWN, **request) -> dict:
        response = client.request(method, template.format(**path), **request)
        assert response.status_code == status, (method, template, response.text)
        declared = openapi["paths"][template][method.lower()]["responses"]
        assert str(status) in declared, f"{method} {template} answers {status}, which it does not declare"
        schema = declared[str(status)]["content"]["application/json"]["schema"]
        jsonschema.validate(response.json(), schema | {"components": openapi["components"]})
        answered.add((method, template))
        return response.json()

    api.put_video("in/a.mp4")
    acme, other = api.auth("acme"), api.auth("other")
    writer = api.client.post("/v1/jobs", headers=api.auth("writer"), json=api.job_body("in/a.mp4", "out/taken.mkv"))
    assert writer.status_code == 202, writer.text  # holds out/taken.mkv while active
    json_body = {"Content-Type": "application/json"}
    for method, template in sorted(routes):
        if template.startswith("/v1/"):
            check(401, method, template)
            check(503, method, template, client=down.client, headers=acme)
        if "{" in template:
            check(404, method, template, headers=acme)
        if method == "POST" and "{" not in template:  # the routes that take a body
            check(413, method, template, headers=acme | json_body, content=b"{}".ljust(4097))
            check(422, method, template, headers=acme | json_body, content=b'{"priority": NaN}')
            check(422, method, template, headers=acme, json={"priority": 10})
    check(200, "GET", "/healthz")
    check(200, "GET", "/readyz")
    check(503, "GET", "/readyz", client=down.client)

    job = check(202, "POST", "/v1/jobs", headers=acme, json=api.job_body("in/a.mp4", "out/a.mkv"))
    check(200, "GET", "/v1/jobs/{job_id}", headers=acme, path={"job_id": job["id"]})
    check(200, "GET", "/v1/jobs", headers=acme)
    check(422, "GET", "/v1/jobs", headers=acme, params={"cursor": "garbage"})
    check(422, "GET", "/v1/jobs", headers=acme, params={"limit": 0})
    check(202, "POST", "/v1/jobs/{job_id}/cancel", headers=acme, path={"job_id": job["id"]})
    check(409, "POST", "/v1/jobs/{job_id}/cancel", headers=acme, path={"job_id": job["id"]})
    batch = check(202, "POST", "/v1/batches", headers=acme, json={"jobs": [api.job_body("in/a.mp4", "out/b.mkv")]})
    check(200, "GET", "/v1/batches/{batch_id}", headers=acme, path={"batch_id": batch["id"]})
    check(429, "POST", "/v1/jobs", headers=acme, json=api.job_body("in/a.mp4", "out/c.mkv"))  # at its limit of 1
    check(429, "POST", "/v1/batches", headers=acme, json={"jobs": [api.job_body("in/a.mp4", "out/c.mkv")]})
    check(409, "POST", "/v1/jobs", headers=other, json=api.job_body("in/a.mp4", "out/taken.mkv"))
    check(409, "POST", "/v1/batches", headers=other, json={"jobs": [api.job_body("in/a.mp4", "out/taken.mkv")]})
    ungranted = {"Authorization": f"Bearer {api.services.keys.create(api.tenant('ungranted'))}"}
    check(403, "POST", "/v1/jobs", headers=ungranted, json=api.job_body("in/a.mp4", "out/d.mkv"))
    check(403, "POST", "/v1/batches", headers=ungranted, json={"jobs": [api.job_body("in/a.mp4", "out/d.mkv")]})
    prefixes = {"input_prefix": api.uri("in/"), "output_prefix": api.uri("out/")}
    check(403, "POST", "/v1/batches", headers=ungranted, json=prefixes)
    check(422, "POST", "/v1/jobs", headers=other, json=api.job_body("in/a.mp4", "out/a.avi"))
    check(422, "POST", "/v1/batches", headers=other, json={"jobs": [api.job_body("in/a.mp4", "out/a.avi")]})

    assert answered == routes
    assert "HTTPValidationError" not in openapi["components"]["schemas"]  # FastAPI's list-form 422


# Every check that compares an answer with the document; not `positive_data_acceptance` (a request
# the schema allows may still be refused: a URI outside the tenant's grants, 403) nor `negative_data_rejection` (unknown
# query parameters are ignored by design; 413 is a rejection it does not count).
CONFORMANCE = [
    checks.not_a_server_error,
    checks.status_code_conformance,
    checks.content_type_conformance,
    checks.response_schema_conformance,
    checks.response_headers_conformance,
]


def test_generated_requests_get_only_answers_the_openapi_document_declares(api):
    """Schemathesis makes requests from the document, valid ones and (for operations that take
    input) invalid ones, and checks each answer against the document: some 20 s on two cores."""
    schema = schemathesis.openapi.from_asgi("/openapi.json", api.client.app)
    headers = api.auth()
    for result in schema.get_all_operations():
        operation = result.ok()
        takes_input = any((operation.path_parameters, operation.query, operation.headers, operation.body))
        for mode in [GenerationMode.POSITIVE, GenerationMode.NEGATIVE][: 1 + takes_input]:

            @given(case=operation.as_strategy(generation_mode=mode))
            @settings(max_examples=60, deadline=None, database=None, suppress_health_check=list(HealthCheck))
            def answers_as_declared(case) -> None:
                case.call_and_validate(headers=headers, checks=CONFORMANCE)

            answers_as_declared()
