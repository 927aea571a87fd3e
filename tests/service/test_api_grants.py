"""Storage grants per tenant, against the real API, Redis and S3: a tenant reads and writes only
under its grants, and a URI outside them gets the same answer whether or not an object is there."""

from __future__ import annotations

import pytest
from api_harness import ApiHarness
from hdrtv.service.cli import main
from hdrtv.worker.control.settings import get_settings


@pytest.fixture
def api(redis_server, s3_settings, bucket, tmp_path) -> ApiHarness:
    return ApiHarness.start(redis_server, s3_settings, bucket, tmp_path)


def _tenant(api: ApiHarness, name: str, read: str, write: str) -> dict[str, str]:
    """Headers of a new key of tenant `name`, granted to read under `read` and write under `write`."""
    tenant = api.tenant(name)
    api.services.grants.grant(tenant, "read", api.uri(read))
    api.services.grants.grant(tenant, "write", api.uri(write))
    return {"Authorization": f"Bearer {api.services.keys.create(tenant)}"}


@pytest.fixture
def tenants(api) -> tuple[dict[str, str], dict[str, str]]:
    """Tenants a (a/in/ -> a/out/) and b (b/in/ -> b/out/) in one bucket; b has an input and an output."""
    api.put_video("b/in/secret.mp4")
    api.put("b/out/done.mkv", b"b's output")
    return _tenant(api, "a", "a/in/", "a/out/"), _tenant(api, "b", "b/in/", "b/out/")


def test_a_tenant_converts_within_its_grants(api, tenants):
    a, _ = tenants
    api.put_video("a/in/mine.mp4")
    response = api.client.post("/v1/jobs", json=api.job_body("a/in/mine.mp4", "a/out/mine.mkv"), headers=a)
    assert response.status_code == 202, response.text


def test_another_tenants_objects_cannot_be_read_and_their_existence_does_not_show(api, tenants):
    a, _ = tenants
    answers = [
        api.client.post("/v1/jobs", json=api.job_body(key, "a/out/x.mkv"), headers=a)
        for key in ("b/in/secret.mp4", "b/in/no-such-object.mp4")
    ]
    assert [answer.status_code for answer in answers] == [403, 403]
    details = [answer.json()["detail"] for answer in answers]
    assert details[0].replace("secret", "no-such-object") == details[1]
    assert "may not read" in details[0]


def test_another_tenants_output_cannot_be_replaced(api, tenants):
    a, _ = tenants
    api.put_video("a/in/mine.mp4")
    body = api.job_body("a/in/mine.mp4", "b/out/done.mkv", options={"overwrite": True})
    response = api.client.post("/v1/jobs", json=body, headers=a)
    assert response.status_code == 403 and "may not write" in response.json()["detail"]
    assert api.services.objects.client.get_object(Bucket=api.bucket, Key="b/out/done.mkv")["Body"].read() == (
        b"b's output"
    )


def test_a_prefix_batch_cannot_list_another_tenants_keys(api, tenants):
    a, _ = tenants
    listed = []
    api.services.objects.client.meta.events.register("before-call.s3.ListObjectsV2", lambda **_: listed.append(1))
    for source, target in (("b/in/", "a/out/"), ("a/in/", "b/out/"), ("a/", "a/out/")):
        body = {"input_prefix": api.uri(source), "output_prefix": api.uri(target)}
        response = api.client.post("/v1/batches", json=body, headers=a)
        assert response.status_code == 403, (source, target, response.text)
    assert listed == []  # refused before the store was asked


def test_a_tenant_without_grants_can_use_no_storage(api):
    api.put_video("in/a.mp4")
    headers = {"Authorization": f"Bearer {api.services.keys.create(api.tenant('new'))}"}
    assert api.client.post("/v1/jobs", json=api.job_body("in/a.mp4"), headers=headers).status_code == 403


def test_hdrtv_keys_grants_and_takes_back_prefixes(api, monkeypatch, capsys):
    monkeypatch.setenv("HDRTV_REDIS_URL", api.services.settings.redis_url)
    get_settings.cache_clear()
    tenant, inputs, outputs = api.tenant("cli"), api.uri("cli/in/"), api.uri("cli/out/")
    try:
        hooks = "https://Hooks.Example.com/hdrtv/"
        assert main(["keys", "create", tenant, "--read", inputs, "--write", outputs, "--callback", hooks]) == 0
        key = capsys.readouterr().out.strip()
        granted = {"read": [inputs], "write": [outputs], "callback": ["https://hooks.example.com/hdrtv/"]}
        assert api.services.grants.of(tenant) == granted
        api.put_video("cli/in/a.mp4")
        body = api.job_body("cli/in/a.mp4", "cli/out/a.mkv", callback_url="https://hooks.example.com/hdrtv/done")
        headers = {"Authorization": f"Bearer {key}"}
        assert api.client.post("/v1/jobs", json=body, headers=headers).status_code == 202
        assert main(["keys", "ungrant", tenant, "--write", outputs]) == 0
        assert capsys.readouterr().out == f"read: {inputs}\nwrite: (none)\ncallback: {granted['callback'][0]}\n"
        assert main(["keys", "grant", tenant, "--callback", "ftp://hooks.example.com/"]) == 2
        assert "a callback grant is an http(s) URL prefix" in capsys.readouterr().err
        body = api.job_body("cli/in/a.mp4", "cli/out/b.mkv")
        assert api.client.post("/v1/jobs", json=body, headers=headers).status_code == 403
        assert main(["keys", "grant", tenant, "--write", api.uri("cli/out")]) == 2  # not a prefix
        assert "a grant is a prefix ending in '/'" in capsys.readouterr().err
    finally:
        get_settings.cache_clear()


@pytest.mark.parametrize(
    ("url", "status"),
    [
        ("https://hooks.example.com/a/done", 202),
        ("https://HOOKS.example.com/a/done?job=1", 202),
        ("https://hooks.example.com/b/done", 403),
        ("https://hooks.example.com.attacker.io/a/done", 403),
        ("http://hooks.example.com/a/done", 403),
    ],
)
def test_a_callback_url_must_lie_under_the_tenants_callback_grants(api, url, status):
    tenant = api.tenant("hooked")
    api.services.grants.grant_both(tenant, api.uri(""))
    api.services.grants.grant(tenant, "callback", "https://hooks.example.com/a/")
    headers = {"Authorization": f"Bearer {api.services.keys.create(tenant)}"}
    response = api.client.post("/v1/jobs", json=api.job_body("in/a.mp4", callback_url=url), headers=headers)
    assert response.status_code == status, response.text
    if status == 403:
        assert response.json()["detail"].endswith("may not send callbacks there (no callback grant covers it)")
