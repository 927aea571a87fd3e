"""Object storage by URI (`s3://`, `file://`): `ObjectStore` checks the policy and hands each
request to the backend of the URI's scheme (`ObjectBackend`); only the backends talk to boto3.
Import from here: the modules are how the package is built, not what it offers."""

from .backend import Direction, ObjectBackend, TransferCallback
from .object_refs import BucketNotFound, ObjectInfo, ObjectNotFound, ObjectRef, StorageUnavailable
from .object_store import ObjectStore

__all__ = [
    "BucketNotFound",
    "Direction",
    "ObjectBackend",
    "ObjectInfo",
    "ObjectNotFound",
    "ObjectRef",
    "ObjectStore",
    "StorageUnavailable",
    "TransferCallback",
]
