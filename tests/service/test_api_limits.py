"""How much a request may carry: the body limit (`HDRTV_MAX_REQUEST_BYTES`, `BodySizeLimit` in
`service/app.py`) under uvicorn and in-process, and a job's metadata bounds (`service/schemas.py`)."""

from __future__ import annotations

import http.client
import json
import socket
from urllib.parse import urlsplit

import httpx
import pytest
import servers
from api_harness import ApiHarness

MiB = 1 << 20
TOO_LARGE = "the request body is over {} bytes, the limit (HDRTV_MAX_REQUEST_BYTES)"


@pytest.fixture
def api(redis_server, s3_settings, bucket, tmp_path) -> ApiHarness:
    return ApiHarness.start(redis_server, s3_settings, bucket, tmp_path, max_request_bytes=4096)


def unfinished_request(url: str, key: str, path: str, framing: str, body: bytes) -> tuple[int, dict]:
    """POST `path` with `body` as the start of a body that never ends: announced as 20 MiB by
    Content-Length, or as chunks with no last chunk. The server's status and JSON answer."""
    address = urlsplit(url)
    if framing == "content-length":
        length, data = b"Content-Length: %d" % (20 * MiB), body
    else:
        length, data = b"Transfer-Encoding: chunked", b"".join(b"%x\r\n%s\r\n" % (len(c), c) for c in _chunks(body))
    head = [b"POST %s HTTP/1.1" % path.encode(), b"Host: " + address.netloc.encode(), length]
    head += [b"Authorization: Bearer " + key.encode(), b"Content-Type: application/json"]
    with socket.create_connection((address.hostname, address.port), timeout=30) as sock:
        sock.sendall(b"\r\n".join(head) + b"\r\n\r\n" + data)
        response = http.client.HTTPResponse(sock)
        response.begin()
        return response.status, json.loads(response.read())


def _chunks(data: bytes, size: int = 64 * 1024) -> list[bytes]:
    return [data[start : start + size] for start in range(0, len(data), size)]


def test_uvicorn_refuses_a_body_over_the_limit_before_the_rest_of_it_arrives(s3_server, bucket, tmp_path):
    """The issue's 20 MiB metadata value, and bodies the server can only refuse unread: one that
    declares 20 MiB and sends none of it, and a chunked one stopped just past the 1 MiB default."""
    with servers.hdrtv_api(tmp_path, s3_server, "acme") as (url, key, _, _):
        job = {"input_uri": f"s3://{bucket}/in/a.mp4", "output_uri": f"s3://{bucket}/out/a.mkv"}
        huge = json.dumps(job | {"metadata": {"notes": "x" * (20 * MiB)}}).encode()
        headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
        whole = httpx.post(f"{url}/v1/jobs", content=huge, headers=headers, timeout=60)
        assert whole.status_code == 413 and whole.json() == {"detail": TOO_LARGE.format(MiB)}
        for path in ("/v1/jobs", "/v1/batches"):
            assert unfinished_request(url, key, path, "content-length", b"") == (413, {"detail": TOO_LARGE.format(MiB)})
            started = unfinished_request(url, key, path, "chunked", huge[: MiB + 1])
            assert started == (413, {"detail": TOO_LARGE.format(MiB)})
        assert httpx.get(f"{url}/v1/jobs", headers=headers).json()["items"] == []


def test_a_body_up_to_the_configured_limit_is_read_and_one_byte_more_is_not(api):
    api.put_video("in/a.mp4")
    headers = api.auth() | {"Content-Type": "application/json"}
    job = json.dumps(api.job_body("in/a.mp4")).encode()
    batch = json.dumps({"jobs": [api.job_body("in/a.mp4", "out/b.mkv")]}).encode()
    for path, body in (("/v1/jobs", job), ("/v1/batches", batch)):
        over = body.ljust(4097)  # JSON may end in whitespace
        assert api.client.post(path, content=over, headers=headers).json() == {"detail": TOO_LARGE.format(4096)}
        chunked = api.client.post(path, content=iter(_chunks(over, 1000)), headers=headers)  # no Content-Length
        assert chunked.status_code == 413 and chunked.json() == {"detail": TOO_LARGE.format(4096)}
        assert api.client.post(path, content=body.ljust(4096), headers=headers).status_code == 202


@pytest.mark.parametrize(
    ("metadata", "problem"),
    [
        ({f"k{i}": "v" for i in range(51)}, "body.metadata: Dictionary should have at most 50 items"),
        ({"k" * 65: "v"}, "String should have at most 64 characters"),
        ({"": "v"}, "body.metadata..[key]: String should have at least 1 character"),
        ({"title": "x" * 513}, "body.metadata.title: String should have at most 512 characters"),
    ],
    ids=["51 keys", "65-character key", "empty key", "513-character value"],
)
def test_metadata_beyond_its_bounds_is_refused_in_one_line(api, metadata, problem):
    api.put_video("in/a.mp4")
    headers = api.auth()
    response = api.client.post("/v1/jobs", json=api.job_body("in/a.mp4", metadata=metadata), headers=headers)
    assert response.status_code == 422 and problem in response.json()["detail"]
    assert "\n" not in response.json()["detail"] and len(response.json()["detail"]) < 200
    assert api.client.get("/v1/jobs", headers=headers).json()["items"] == []


def test_metadata_at_its_bounds_is_kept_and_returned_as_is(redis_server, s3_settings, bucket, tmp_path):
    api = ApiHarness.start(redis_server, s3_settings, bucket, tmp_path)
    api.put_video("in/a.mp4")
    metadata = {f"{i:02d}".ljust(64, "k"): "é" * 512 for i in range(50)}
    headers = api.auth()
    response = api.client.post("/v1/jobs", json=api.job_body("in/a.mp4", metadata=metadata), headers=headers)
    assert response.status_code == 202, response.text
    assert api.client.get(f"/v1/jobs/{response.json()['id']}", headers=headers).json()["metadata"] == metadata
