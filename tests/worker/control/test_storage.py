"""The object store against a real S3 API over HTTP (moto's server) and the local disk."""

import ast
import os
import pickle
import socket
import time
from collections import Counter
from pathlib import Path

import pytest
import servers
from hdrtv.worker.control.errors import InputError
from hdrtv.worker.control.settings import Settings
from hdrtv.worker.control.storage import BucketNotFound, ObjectNotFound, ObjectStore, StorageUnavailable

MiB = 1024 * 1024
ROOT = Path(__file__).resolve().parents[3]
STORAGE = ROOT / "worker" / "control" / "storage"


@pytest.fixture(scope="module")
def embedded_store():
    """A store that accepts file:// URIs (embedded mode)."""
    return ObjectStore.from_settings(Settings(allow_file_uris=True))


def payload(size: int) -> bytes:
    return os.urandom(size)


def write(path, data: bytes):
    path.write_bytes(data)
    return path


def failing_from(call: int, message: str):
    """A botocore event handler that raises RuntimeError(message) from its `call`-th call on."""
    calls = []

    def handler(**_):
        calls.append(1)
        if len(calls) >= call:
            raise RuntimeError(message)

    return handler


@pytest.mark.parametrize("size, parts", [(1000, 0), (12 * MiB, 3)])
def test_upload_head_download_round_trip(object_store, bucket, tmp_path, size, parts):
    data = payload(size)
    uri = f"s3://{bucket}/in/clip.mkv"
    object_store.upload(write(tmp_path / "a.mkv", data), uri)
    info = object_store.head(uri)
    assert info.size == size
    # A multipart upload's ETag ends in "-<number of parts>".
    assert info.etag.endswith(f"-{parts}") if parts else "-" not in info.etag
    object_store.download(uri, tmp_path / "sub" / "b.mkv")
    assert (tmp_path / "sub" / "b.mkv").read_bytes() == data
    assert sorted(p.name for p in (tmp_path / "sub").iterdir()) == ["b.mkv"]


def test_a_multipart_object_appears_only_when_complete(object_store, bucket, tmp_path):
    uri = f"s3://{bucket}/out.mkv"
    seen = []
    object_store.client.meta.events.register(
        "after-call.s3.UploadPart", lambda **_: seen.append(object_store.exists(uri))
    )
    # 7 MiB: above the store's 5 MiB threshold, below boto3's default of 8 MiB.
    object_store.upload(write(tmp_path / "a.mkv", payload(7 * MiB)), uri)
    assert seen == [False, False]
    assert object_store.exists(uri)


def test_a_failed_multipart_upload_leaves_no_object_and_no_parts(object_store, bucket, tmp_path):
    object_store.client.meta.events.register("before-call.s3.UploadPart", failing_from(2, "connection lost"))
    with pytest.raises(RuntimeError, match="connection lost"):
        object_store.upload(write(tmp_path / "a.mkv", payload(7 * MiB)), f"s3://{bucket}/out.mkv")
    assert not object_store.exists(f"s3://{bucket}/out.mkv")
    assert object_store.client.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []


def test_a_failed_download_keeps_what_the_path_held(object_store, bucket, tmp_path):
    uri = f"s3://{bucket}/big.mkv"
    object_store.upload(write(tmp_path / "a.mkv", payload(12 * MiB)), uri)
    (tmp_path / "out").mkdir()
    target = write(tmp_path / "out" / "b.mkv", b"before")
    object_store.client.meta.events.register("after-call.s3.GetObject", failing_from(2, "connection reset"))
    with pytest.raises(RuntimeError, match="connection reset"):
        object_store.download(uri, target)
    assert target.read_bytes() == b"before"
    assert [p.name for p in target.parent.iterdir()] == ["b.mkv"]


def test_downloading_a_missing_object_leaves_no_file(object_store, bucket, tmp_path):
    uri = f"s3://{bucket}/nothing.mkv"
    with pytest.raises(ObjectNotFound, match=f"^{uri}: no such object$"):
        object_store.download(uri, tmp_path / "x.mkv")
    assert list(tmp_path.iterdir()) == []


def test_read_range_reads_only_the_bytes_asked_for(object_store, bucket, tmp_path):
    data = payload(5000)
    uri = f"s3://{bucket}/a.mp4"
    object_store.upload(write(tmp_path / "a.mp4", data), uri)
    assert object_store.read_range(uri, 0, 8) == data[:8]
    assert object_store.read_range(uri, 1000, 300) == data[1000:1300]
    assert object_store.read_range(uri, 4990, 100) == data[4990:]
    assert object_store.read_range(uri, 5000, 10) == b""
    with pytest.raises(ValueError):
        object_store.read_range(uri, 0, 0)


def test_missing_objects_and_buckets_are_named(object_store, bucket):
    uri = f"s3://{bucket}/no/such.mkv"
    with pytest.raises(ObjectNotFound, match=f"^{uri}: no such object$") as caught:
        object_store.head(uri)
    assert not isinstance(caught.value, BucketNotFound) and caught.value.uri == uri
    with pytest.raises(ObjectNotFound, match=uri):
        object_store.read_range(uri, 0, 10)
    assert not object_store.exists(uri)
    with pytest.raises(BucketNotFound, match="s3://no-such-bucket-here/a: no such bucket"):
        object_store.read_range("s3://no-such-bucket-here/a", 0, 10)
    assert str(pickle.loads(pickle.dumps(caught.value))) == str(caught.value)  # as Celery's pool sends it


def test_a_bucket_deleted_is_told_from_a_missing_object(object_store, bucket, tmp_path):
    """A HEAD's 404 has no body to say which is missing; the store asks the bucket, so the job runner
    can tell a vanished bucket (the store's fault) from a missing input (the user's)."""
    uri = f"s3://{bucket}/in/a.mkv"
    object_store.upload(write(tmp_path / "a.mkv", b"a"), uri)
    object_store.check_bucket(uri)
    object_store.delete(uri)
    object_store.client.delete_bucket(Bucket=bucket)
    operations = [
        lambda: object_store.head(uri),
        lambda: object_store.download(uri, tmp_path / "b.mkv"),
        lambda: object_store.upload(tmp_path / "a.mkv", uri),
        lambda: list(object_store.list(f"s3://{bucket}/in/")),
        lambda: object_store.check_bucket(uri),
    ]
    for call in operations:
        with pytest.raises(BucketNotFound, match=f"^s3://{bucket}/in/(a.mkv)?: no such bucket$"):
            call()
    assert not object_store.exists(uri)
    ObjectStore.from_settings(Settings(allow_file_uris=True)).check_bucket((tmp_path / "new" / "a.mkv").as_uri())


def test_list_follows_pages_in_key_order(s3_settings, bucket, tmp_path):
    store = ObjectStore.from_settings(s3_settings, page_size=4)
    source = write(tmp_path / "x", b"x")
    keys = [f"job/{i:02d}.mkv" for i in range(11)] + ["job/a/b.mkv", "job2.mkv", "other/c.mkv"]
    for key in keys:
        store.upload(source, f"s3://{bucket}/{key}")
    requests = []
    store.client.meta.events.register("before-call.s3.ListObjectsV2", lambda **_: requests.append(1))
    assert list(store.list(f"s3://{bucket}/job/")) == [f"s3://{bucket}/{k}" for k in sorted(keys[:12])]
    assert len(requests) == 3
    assert len(list(store.list(f"s3://{bucket}/job"))) == 13
    assert list(store.list(f"s3://{bucket}/none/")) == []


def test_delete_prefix_removes_that_prefix_only(s3_settings, bucket, tmp_path):
    store = ObjectStore.from_settings(s3_settings, page_size=3)
    source = write(tmp_path / "x", b"x")
    for key in [f"job/1/{i}" for i in range(8)] + ["job/10/a", "job/1.mkv"]:
        store.upload(source, f"s3://{bucket}/{key}")
    assert store.delete_prefix(f"s3://{bucket}/job/1/") == 8
    assert list(store.list(f"s3://{bucket}/")) == [f"s3://{bucket}/job/1.mkv", f"s3://{bucket}/job/10/a"]
    store.delete(f"s3://{bucket}/job/1.mkv")
    store.delete(f"s3://{bucket}/job/1.mkv")  # already gone: no error
    assert list(store.list(f"s3://{bucket}/")) == [f"s3://{bucket}/job/10/a"]
    with pytest.raises(InputError, match="whole bucket"):
        store.delete_prefix(f"s3://{bucket}/")


def test_only_allowed_buckets_are_used(s3_settings, bucket, tmp_path):
    settings = s3_settings.model_copy(update={"allowed_buckets": [bucket]})
    store = ObjectStore.from_settings(settings)
    store.upload(write(tmp_path / "x", b"x"), f"s3://{bucket}/x")
    assert store.exists(f"s3://{bucket}/x")
    for call in (lambda: store.head("s3://elsewhere/x"), lambda: list(store.list("s3://elsewhere/"))):
        with pytest.raises(InputError, match="^s3://elsewhere/x?: bucket 'elsewhere' is not one"):
            call()


@pytest.mark.parametrize(
    "uri",
    [
        "bucket/key",
        "http://example.com/key",
        "s3://",
        "s3:///key",
        "s3://ab/key",
        "s3://Upper_Case/key",
        "s3://a..b/key",
        "s3://bucket/" + "k" * 1025,
        "file://host/etc/passwd",
        "file:relative/path",
        "file:///srv/../etc/passwd",
        "file:///srv/a?b",
    ],
)
def test_bad_uris_are_named(embedded_store, uri):
    with pytest.raises(InputError) as caught:
        embedded_store.parse(uri)
    assert str(caught.value).startswith(f"{uri}: ")
    assert "\n" not in str(caught.value)


def test_object_operations_need_a_key(object_store, bucket):
    for uri in (f"s3://{bucket}", f"s3://{bucket}/", f"s3://{bucket}/folder/"):
        with pytest.raises(InputError, match="not an object"):
            object_store.head(uri)


def test_file_uris_are_refused_unless_enabled(object_store, tmp_path):
    uri = (tmp_path / "a.mkv").as_uri()
    with pytest.raises(InputError, match="file:// URIs are disabled"):
        object_store.head(uri)


def test_file_uris_work_when_enabled(embedded_store, tmp_path):
    store = embedded_store
    data = payload(3 * MiB)
    root = tmp_path / "store dir"
    uri = (root / "job" / "in.mkv").as_uri()
    store.upload(write(tmp_path / "src.mkv", data), uri)
    assert store.parse(uri).key == str(root / "job" / "in.mkv")
    assert store.head(uri).size == len(data)
    assert store.read_range(uri, 10, 5) == data[10:15]
    store.download(uri, tmp_path / "copy.mkv")
    assert (tmp_path / "copy.mkv").read_bytes() == data
    store.upload(tmp_path / "src.mkv", (root / "job-2.mkv").as_uri())
    assert list(store.list(root.as_uri() + "/job")) == [(root / "job-2.mkv").as_uri(), uri]
    assert store.delete_prefix(root.as_uri() + "/job/") == 1
    assert not store.exists(uri)
    with pytest.raises(ObjectNotFound, match="no such file"):
        store.download(uri, tmp_path / "gone.mkv")
    assert not (tmp_path / "gone.mkv").exists()


@pytest.mark.parametrize("operation", ["head", "download", "upload", "list"])
def test_an_unreachable_store_fails_fast_as_unavailable(aws_credentials, tmp_path, operation):
    store = ObjectStore.from_settings(Settings(s3_endpoint_url=f"http://127.0.0.1:{servers.free_port()}"))
    uri = "s3://bucket/a.mkv"
    calls = {
        "head": lambda: store.head(uri),
        "download": lambda: store.download(uri, tmp_path / "a.mkv"),
        "upload": lambda: store.upload(write(tmp_path / "b.mkv", b"b"), uri),
        "list": lambda: list(store.list("s3://bucket/")),
    }
    start = time.monotonic()
    with pytest.raises(StorageUnavailable, match="^s3://bucket/(a.mkv)?: object store unreachable"):
        calls[operation]()
    assert time.monotonic() - start < 5
    assert not (tmp_path / "a.mkv").exists()
    assert not issubclass(StorageUnavailable, InputError)


def test_the_readiness_check_of_an_unreachable_store_fails_fast_as_unavailable(aws_credentials):
    store = ObjectStore.from_settings(Settings(s3_endpoint_url=f"http://127.0.0.1:{servers.free_port()}"))
    start = time.monotonic()
    with pytest.raises(StorageUnavailable, match="object store unreachable"):
        store.check_reachable()
    assert time.monotonic() - start < 5


def test_a_store_that_does_not_answer_fails_within_its_timeouts(aws_credentials):
    """A store that accepts connections but never answers (stopped, overloaded) fails as unavailable
    after the settings' read timeout on each of the 3 attempts, not boto3's minute."""
    with socket.create_server(("127.0.0.1", 0)) as silent:  # listens, never accepts nor answers
        url = f"http://127.0.0.1:{silent.getsockname()[1]}"
        store = ObjectStore.from_settings(Settings(s3_endpoint_url=url, s3_read_timeout_s=0.5))
        for call in (lambda: store.head("s3://bucket/a.mkv"), store.check_reachable):
            start = time.monotonic()
            with pytest.raises(StorageUnavailable, match="object store unreachable .*Read timeout"):
                call()
            assert 1.5 <= time.monotonic() - start < 6  # 3 x 0.5 s, and botocore's backoff (< 3 s)


def test_virtual_addressing_puts_the_bucket_in_the_host_name(aws_credentials):
    # botocore keeps the bucket in the path for endpoints given as IP addresses.
    store = ObjectStore.from_settings(Settings(s3_endpoint_url="http://localhost:9000", s3_addressing="virtual"))
    urls = []

    def record(request, **_):
        urls.append(request.url)
        raise RuntimeError("recorded")

    store.client.meta.events.register("before-send.s3.HeadObject", record)
    with pytest.raises(RuntimeError, match="recorded"):
        store.head("s3://my-bucket/a.mkv")
    assert urls == ["http://my-bucket.localhost:9000/a.mkv"]


def test_check_reachable_heads_the_allowed_buckets_or_lists_them_all(object_store, s3_settings, bucket):
    object_store.check_reachable()  # any bucket allowed: the store lists its buckets
    ObjectStore.from_settings(s3_settings.model_copy(update={"allowed_buckets": [bucket]})).check_reachable()
    missing = s3_settings.model_copy(update={"allowed_buckets": [bucket, "no-such-bucket-here"]})
    with pytest.raises(ObjectNotFound, match="^s3://no-such-bucket-here/: no such bucket$"):
        ObjectStore.from_settings(missing).check_reachable()


@pytest.mark.parametrize("size", [1000, 7 * MiB])
def test_on_transfer_reports_the_bytes_of_each_upload_and_download(object_store, bucket, tmp_path, size):
    moved = Counter()
    object_store.on_transfer(lambda direction, size_bytes: moved.update({direction: size_bytes}))
    uri = f"s3://{bucket}/a.mkv"
    object_store.upload(write(tmp_path / "a.mkv", payload(size)), uri)  # 7 MiB: two parts
    assert moved == {"upload": size}
    object_store.download(uri, tmp_path / "b.mkv")
    assert moved == {"upload": size, "download": size}


def test_on_transfer_reports_the_bytes_of_file_copies(tmp_path):
    moved = Counter()
    store = ObjectStore.from_settings(Settings(allow_file_uris=True))
    store.on_transfer(lambda direction, size_bytes: moved.update({direction: size_bytes}))
    uri = (tmp_path / "store" / "a.mkv").as_uri()
    store.upload(write(tmp_path / "a.mkv", payload(3000)), uri)
    store.download(uri, tmp_path / "b.mkv")
    store.read_range(uri, 2900, 500)
    assert moved == {"upload": 3000, "download": 3100}


def test_only_the_storage_package_imports_boto3():
    """Everything else goes through ObjectStore, so a new backend changes no caller."""
    libraries = {"boto3", "botocore", "s3transfer"}
    offenders = []
    for path in sorted([*(ROOT / "worker").rglob("*.py"), *(ROOT / "service").rglob("*.py")]):
        if path.is_relative_to(STORAGE):
            continue
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            if any(name.partition(".")[0] in libraries for name in names):
                offenders.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert offenders == []
