"""The object store jobs read their inputs from and write their outputs to.

`ObjectStore` takes URIs (`s3://bucket/key`; `file:///abs/path` in embedded mode only), checks
them against the settings' policy (allowed buckets, file URIs on or off) and hands the work to the
backend of the URI's scheme (`S3Objects`, `LocalObjects`: see `backend.ObjectBackend`), so the
policy is applied once and a new store is one backend more. Failures come out as:

- `InputError` (bad URI, bucket not allowed, access denied) and its `ObjectNotFound` and
  `BucketNotFound`: the user's to fix when the user named what is missing (the job runner tells
  which missing things are the store's fault: `worker/jobs/runner.py`);
- `StorageUnavailable` (store down, timing out, 5xx, throttling): transient, retry with backoff.

Downloads and uploads are whole or absent: a download writes a temporary file beside the target
and renames it; an upload is one PUT or a multipart upload that S3 shows only when completed.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import cast

from botocore.client import BaseClient

from ..errors import InputError
from ..settings import Settings
from .atomic_file import atomic_file
from .backend import ObjectBackend, TransferCallback
from .local_objects import LocalObjects
from .object_refs import ObjectInfo, ObjectNotFound, ObjectRef, parse_uri
from .s3_objects import DEFAULT_MULTIPART_THRESHOLD, S3Objects, s3_client


class ObjectStore:
    """Objects named by URI, under the settings' policy. Thread-safe (one boto3 client)."""

    def __init__(
        self,
        backends: Mapping[str, ObjectBackend],
        *,
        allowed_buckets: list[str] | None = None,
        allow_file_uris: bool = False,
    ):
        self._backends = dict(backends)  # URI scheme -> backend
        self._allowed_buckets = frozenset(allowed_buckets or ())
        self._allow_file_uris = allow_file_uris

    @classmethod
    def from_settings(
        cls, settings: Settings, *, multipart_threshold: int = DEFAULT_MULTIPART_THRESHOLD, page_size: int = 1000
    ) -> ObjectStore:
        """The store the settings describe; uploads above `multipart_threshold` bytes go in parts of that size."""
        s3 = S3Objects(s3_client(settings), multipart_threshold=multipart_threshold, page_size=page_size)
        backends = {"s3": s3, "file": LocalObjects()}
        return cls(backends, allowed_buckets=settings.allowed_buckets, allow_file_uris=settings.allow_file_uris)

    @property
    def client(self) -> BaseClient:
        """The S3 backend's boto3 client, for tests and tools (creating buckets, injecting faults); the
        service and the workers go through the methods below."""
        return cast(S3Objects, self._backends["s3"]).client

    def parse(self, uri: str) -> ObjectRef:
        """The URI's parts; InputError naming the URI when it is malformed or a disabled file URI."""
        return parse_uri(uri, allow_files=self._allow_file_uris)

    def check_bucket_allowed(self, ref: ObjectRef) -> None:
        """InputError unless the settings allow the bucket (all buckets when the list is empty)."""
        if ref.scheme == "s3" and self._allowed_buckets and ref.bucket not in self._allowed_buckets:
            raise InputError(f"{ref.uri}: bucket {ref.bucket!r} is not one this service may use")

    def check_bucket(self, uri: str) -> None:
        """BucketNotFound unless the URI's bucket exists (file URIs name none); one cheap request, so a
        missing bucket is found before work that would end in writing to it."""
        ref = self._ref(uri)
        self._backend(ref).check_bucket(ref)

    def check_reachable(self) -> None:
        """Return when every backend answers for the allowed buckets (S3: HEAD each, or list the buckets
        where any bucket is allowed); raise the failure otherwise. For readiness probes."""
        for backend in self._backends.values():
            backend.check_reachable(self._allowed_buckets)

    def on_transfer(self, callback: TransferCallback) -> None:
        """Call `callback(direction, size_bytes)` for the bytes every backend downloads and uploads from now on."""
        for backend in self._backends.values():
            backend.on_transfer(callback)

    def head(self, uri: str) -> ObjectInfo:
        """Size and ETag; ObjectNotFound when there is no such object."""
        ref = self._object(uri)
        return self._backend(ref).head(ref)

    def exists(self, uri: str) -> bool:
        try:
            self.head(uri)
        except ObjectNotFound:
            return False
        return True

    def read_range(self, uri: str, start: int, length: int) -> bytes:
        """Up to `length` bytes from offset `start` (fewer at the end, b"" past it)."""
        if start < 0 or length < 1:
            raise ValueError(f"invalid range: start {start}, length {length}")
        ref = self._object(uri)
        return self._backend(ref).read_range(ref, start, length)

    def download(self, uri: str, path: str | Path) -> None:
        """Stream the object to `path`, which holds either the whole object or what it held before."""
        ref = self._object(uri)
        with atomic_file(Path(path)) as file:
            self._backend(ref).download_to(ref, file)

    def upload(self, path: str | Path, uri: str) -> None:
        """Store the file at `path` as the object; the object appears only once complete."""
        ref = self._object(uri)
        self._backend(ref).upload(Path(path), ref)

    def list(self, prefix_uri: str) -> Iterator[str]:
        """URIs of the objects whose key starts with the prefix, in key order (pages fetched lazily)."""
        ref = self._ref(prefix_uri)
        return self._backend(ref).list(ref)

    def delete(self, uri: str) -> None:
        """Remove the object; nothing happens when it is already gone."""
        ref = self._object(uri)
        self._backend(ref).delete(ref)

    def delete_prefix(self, prefix_uri: str) -> int:
        """Remove every object under the prefix (never a whole bucket); returns how many."""
        ref = self._ref(prefix_uri)
        if not ref.key.strip("/"):
            raise InputError(f"{prefix_uri}: refusing to delete a whole bucket or file system")
        return self._backend(ref).delete_prefix(ref)

    def _ref(self, uri: str) -> ObjectRef:
        ref = self.parse(uri)
        self.check_bucket_allowed(ref)
        return ref

    def _object(self, uri: str) -> ObjectRef:
        ref = self._ref(uri)
        if not ref.key or ref.key.endswith("/"):
            raise InputError(f"{uri}: names a bucket or folder, not an object")
        return ref

    def _backend(self, ref: ObjectRef) -> ObjectBackend:
        return self._backends[ref.scheme]
