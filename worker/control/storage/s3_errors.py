"""botocore's failures, sorted into what the caller can act on.

Missing objects become `ObjectNotFound` and missing buckets `BucketNotFound`, refused access an
`InputError` (the user's bucket policy); a store that is down, slow, silent past the read timeout
or throttling becomes `StorageUnavailable`, which tasks retry with backoff. Anything else (bad
credentials configuration, our own bugs) passes unchanged.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from boto3.exceptions import S3UploadFailedError
from botocore.exceptions import BotoCoreError, ClientError, HTTPClientError, IncompleteReadError
from botocore.exceptions import ConnectionError as BotoConnectionError
from s3transfer.exceptions import RetriesExceededError

from ..errors import InputError
from .object_refs import BucketNotFound, ObjectNotFound, StorageUnavailable

_NOT_FOUND = {"404", "NoSuchKey", "NotFound"}
# Codes S3 and its look-alikes send for "try later", some with a 4xx status (or none: DeleteObjects).
_TRY_LATER = {"SlowDown", "Throttling", "ThrottlingException", "RequestTimeout", "InternalError", "ServiceUnavailable"}
# Failures of the connection itself (refused, reset, timed out); s3transfer's give-up included.
_TRANSPORT = (BotoConnectionError, HTTPClientError, IncompleteReadError, RetriesExceededError)


@contextmanager
def translated(uri: str) -> Iterator[None]:
    """Re-raise the store's errors inside the block as ObjectNotFound (BucketNotFound), InputError or
    StorageUnavailable."""
    try:
        yield
    except (BotoCoreError, ClientError, S3UploadFailedError, RetriesExceededError) as error:
        better = _translate(error, uri)
        if better is None:
            raise
        raise better from error


def _translate(error: Exception, uri: str) -> Exception | None:
    if isinstance(error, S3UploadFailedError) and isinstance(error.__context__, ClientError):
        error = error.__context__  # boto3's upload_file hides the ClientError's code in a string
    if isinstance(error, _TRANSPORT):
        return StorageUnavailable(f"{uri}: object store unreachable ({error})")
    if not isinstance(error, ClientError):
        return None
    code = str(error.response.get("Error", {}).get("Code", ""))
    status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
    # A HEAD's 404 has no body, so no code to tell a missing bucket from a missing object: HeadBucket's
    # is the bucket's; HeadObject's may be either (`S3Objects` asks the bucket then).
    if code == "NoSuchBucket" or (status == 404 and error.operation_name == "HeadBucket"):
        return BucketNotFound(uri)
    if code in _NOT_FOUND or status == 404:
        return ObjectNotFound(uri)
    if status == 403 or code == "AccessDenied":
        return InputError(f"{uri}: access denied ({code})")
    if code in _TRY_LATER or status == 429 or status >= 500:
        return StorageUnavailable(f"{uri}: object store unavailable ({code or status})")
    return None
