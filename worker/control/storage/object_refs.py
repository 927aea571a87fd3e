"""What the object store's URIs name, what it tells about an object, and how it fails.

Two kinds of URI: `s3://bucket/key` (any S3-compatible store) and `file:///abs/path` (embedded
mode only: the caller and the worker share a disk). A file URI's path percent-decodes as in RFC
8089; an S3 key is taken as written, since `?`, `#` and `%` are legal in keys.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Literal
from urllib.parse import quote, unquote, urlsplit

from ..errors import InputError

# S3's rules for new bucket names: 3-63 lowercase letters, digits, dots and hyphens.
_BUCKET = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")
_MAX_KEY_BYTES = 1024


class ObjectNotFound(InputError):
    """The URI names no object (or its bucket does not exist); `uri` is the one not found, so callers can
    tell whose object is missing."""

    def __init__(self, uri: str, reason: str = "no such object") -> None:
        super().__init__(uri, reason)  # both in `args`, so the error pickles
        self.uri = uri

    def __str__(self) -> str:
        return f"{self.args[0]}: {self.args[1]}"


class BucketNotFound(ObjectNotFound):
    """The URI's bucket does not exist: the user's mistake when they name it, the store's fault once the
    API has seen the bucket and taken the job (deleted since, or the store lost its state)."""

    def __init__(self, uri: str, reason: str = "no such bucket") -> None:
        super().__init__(uri, reason)


class StorageUnavailable(Exception):
    """The store could not be reached or answered "try later" (5xx, throttling): retry with backoff."""


@dataclass(frozen=True)
class ObjectInfo:
    """Size in bytes and an opaque version tag (S3's ETag; mtime and size for files)."""

    size: int
    etag: str


@dataclass(frozen=True)
class ObjectRef:
    """A parsed URI. For `file` the bucket is "" and the key is the absolute path."""

    scheme: Literal["s3", "file"]
    bucket: str
    key: str

    @property
    def uri(self) -> str:
        if self.scheme == "file":
            return "file://" + quote(self.key)
        return f"s3://{self.bucket}/{self.key}"

    def with_key(self, key: str) -> ObjectRef:
        return ObjectRef(self.scheme, self.bucket, key)


def parse_uri(uri: str, *, allow_files: bool) -> ObjectRef:
    """`s3://bucket/key` or `file:///abs/path` -> ObjectRef. The key may be empty (a prefix)."""
    if uri.startswith("s3://"):
        return _parse_s3(uri)
    if uri.startswith("file:"):
        if not allow_files:
            raise InputError(f"{uri}: file:// URIs are disabled (use s3://bucket/key)")
        return _parse_file(uri)
    raise InputError(f"{uri}: not an object URI (expected s3://bucket/key)")


def _parse_s3(uri: str) -> ObjectRef:
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    if not _BUCKET.fullmatch(bucket) or ".." in bucket:
        raise InputError(f"{uri}: invalid bucket name {bucket!r}")
    if len(key.encode()) > _MAX_KEY_BYTES:
        raise InputError(f"{uri}: key longer than {_MAX_KEY_BYTES} bytes")
    return ObjectRef("s3", bucket, key)


def _parse_file(uri: str) -> ObjectRef:
    parts = urlsplit(uri)
    path = unquote(parts.path)
    if parts.netloc not in ("", "localhost") or not path.startswith("/") or parts.query or parts.fragment:
        raise InputError(f"{uri}: file URIs must name an absolute path (file:///abs/path)")
    if ".." in PurePosixPath(path).parts:
        raise InputError(f"{uri}: file URIs must not contain '..'")
    return ObjectRef("file", "", path)
