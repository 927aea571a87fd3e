"""Objects in an S3-compatible store (AWS, MinIO, Ceph, moto) through one boto3 client.

Credentials come from boto3's usual chain (environment, shared files, instance roles); the
endpoint, region, addressing style and timeouts from the settings. Retries are botocore's standard
mode with few attempts, each bounded by the connect and read timeouts (a few seconds), so a store
that is down or does not answer (stopped, overloaded) fails within seconds as `StorageUnavailable`:
the API answers 503 rather than hanging, and the Celery task retries later with its own, longer
backoff.

Transfers are counted from botocore's events on the client, so every request is seen: ranged
reads and each part of a multipart transfer.
"""

from __future__ import annotations

from collections.abc import Iterator, Set
from contextlib import closing, contextmanager
from pathlib import Path
from typing import Any, BinaryIO

import boto3
from boto3.s3.transfer import TransferConfig
from botocore.client import BaseClient
from botocore.config import Config
from botocore.exceptions import ClientError

from ..settings import Settings
from .backend import TransferCallback
from .object_refs import BucketNotFound, ObjectInfo, ObjectNotFound, ObjectRef
from .s3_errors import translated

MiB = 1024 * 1024
DEFAULT_MULTIPART_THRESHOLD = 64 * MiB  # also the part size; s3transfer grows it past 10,000 parts
_RETRIES = {"mode": "standard", "max_attempts": 3}
_DELETE_BATCH = 1000  # DeleteObjects' limit


def s3_client(settings: Settings) -> BaseClient:
    """A client of the settings' store, of its own session (boto3's default session is shared process state)."""
    config = Config(
        region_name=settings.s3_region,
        s3={"addressing_style": settings.s3_addressing},
        retries=_RETRIES,
        connect_timeout=settings.s3_connect_timeout_s,
        read_timeout=settings.s3_read_timeout_s,
    )
    return boto3.session.Session().client("s3", endpoint_url=settings.s3_endpoint_url, config=config)


class S3Objects:
    """The store's operations on parsed `s3://` references (an `ObjectBackend`); errors come out translated."""

    def __init__(
        self, client: BaseClient, *, multipart_threshold: int = DEFAULT_MULTIPART_THRESHOLD, page_size: int = 1000
    ) -> None:
        self.client = client
        self._transfer = TransferConfig(
            multipart_threshold=multipart_threshold, multipart_chunksize=multipart_threshold
        )
        self._page_size = page_size

    def head(self, ref: ObjectRef) -> ObjectInfo:
        with self._telling_the_bucket(ref):
            response = self.client.head_object(Bucket=ref.bucket, Key=ref.key)
        return ObjectInfo(size=response["ContentLength"], etag=response["ETag"].strip('"'))

    def read_range(self, ref: ObjectRef, start: int, length: int) -> bytes:
        with translated(ref.uri):
            try:
                response = self.client.get_object(
                    Bucket=ref.bucket, Key=ref.key, Range=f"bytes={start}-{start + length - 1}"
                )
            except ClientError as error:
                if error.response.get("Error", {}).get("Code") == "InvalidRange":
                    return b""  # the range starts at or past the end
                raise
            with closing(response["Body"]) as body:
                return body.read()

    def download_to(self, ref: ObjectRef, file: BinaryIO) -> None:
        with self._telling_the_bucket(ref):  # s3transfer HEADs the object first
            self.client.download_fileobj(ref.bucket, ref.key, file, Config=self._transfer)

    def upload(self, path: Path, ref: ObjectRef) -> None:
        with translated(ref.uri):
            self.client.upload_file(str(path), ref.bucket, ref.key, Config=self._transfer)

    def list(self, ref: ObjectRef) -> Iterator[str]:
        for key in self._keys(ref):
            yield ref.with_key(key).uri

    def delete(self, ref: ObjectRef) -> None:
        with translated(ref.uri):
            self.client.delete_object(Bucket=ref.bucket, Key=ref.key)

    def delete_prefix(self, ref: ObjectRef) -> int:
        # All keys first: deleting while paginating relies on how a store encodes its page tokens.
        keys = list(self._keys(ref))
        for first in range(0, len(keys), _DELETE_BATCH):
            batch = [{"Key": key} for key in keys[first : first + _DELETE_BATCH]]
            with translated(ref.uri):
                response = self.client.delete_objects(Bucket=ref.bucket, Delete={"Objects": batch, "Quiet": True})
                if response.get("Errors"):
                    error = response["Errors"][0]
                    raise ClientError({"Error": error}, "DeleteObjects")
        return len(keys)

    def check_bucket(self, ref: ObjectRef) -> None:
        with translated(ref.uri):
            self.client.head_bucket(Bucket=ref.bucket)

    def check_reachable(self, buckets: Set[str]) -> None:
        """HEAD each bucket, or list the buckets when `buckets` is empty (any bucket allowed)."""
        for bucket in sorted(buckets):
            self.check_bucket(ObjectRef("s3", bucket, ""))
        if not buckets:
            with translated("s3://"):
                self.client.list_buckets()

    def on_transfer(self, callback: TransferCallback) -> None:
        """Report the body of each GetObject as downloaded, and of each PutObject and UploadPart as uploaded."""

        def downloaded(parsed: dict[str, Any], **_: Any) -> None:
            callback("download", parsed.get("ContentLength", 0))

        def uploading(request: Any, **_: Any) -> None:
            headers = request.headers  # the decoded length is the payload's when it is sent aws-chunked
            callback("upload", int(headers.get("x-amz-decoded-content-length") or headers.get("Content-Length") or 0))

        self.client.meta.events.register("after-call.s3.GetObject", downloaded)
        for operation in ("PutObject", "UploadPart"):
            self.client.meta.events.register(f"before-send.s3.{operation}", uploading)

    @contextmanager
    def _telling_the_bucket(self, ref: ObjectRef) -> Iterator[None]:
        """`translated`, with a HeadObject's bodiless 404 told apart: BucketNotFound when the bucket is gone."""
        try:
            with translated(ref.uri):
                yield
        except ObjectNotFound as error:
            if not isinstance(error, BucketNotFound):
                self.check_bucket(ref)
            raise

    def _keys(self, ref: ObjectRef) -> Iterator[str]:
        paginator = self.client.get_paginator("list_objects_v2")
        pages = paginator.paginate(Bucket=ref.bucket, Prefix=ref.key, PaginationConfig={"PageSize": self._page_size})
        with translated(ref.uri):
            for page in pages:
                for item in page.get("Contents", []):
                    yield item["Key"]
