"""What a storage backend implements, so that `ObjectStore` can hand it work whatever the store is.

`ObjectStore` parses URIs and applies the policy once, for every backend; a backend only moves
bytes for parsed references and reports its failures as the store's own errors (`ObjectNotFound`,
`BucketNotFound` and other `InputError`s, `StorageUnavailable`), never as its library's. A new
kind of store (GCS, Azure Blob) is one class that satisfies `ObjectBackend` plus one entry in
`ObjectStore`'s backends by URI scheme; nothing outside this package learns its library.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Set
from pathlib import Path
from typing import BinaryIO, Literal, Protocol

from .object_refs import ObjectInfo, ObjectRef

Direction = Literal["download", "upload"]
TransferCallback = Callable[[Direction, int], None]
"""Called as `callback(direction, size_bytes)` for each transfer a backend makes (or each part of one)."""


class ObjectBackend(Protocol):
    """A store's operations on references of its scheme; `ObjectStore` has checked them already."""

    def head(self, ref: ObjectRef) -> ObjectInfo:
        """Size and version tag; ObjectNotFound when there is no such object."""
        ...

    def read_range(self, ref: ObjectRef, start: int, length: int) -> bytes:
        """Up to `length` bytes from offset `start` (fewer at the end, b"" past it)."""
        ...

    def download_to(self, ref: ObjectRef, file: BinaryIO) -> None:
        """Write the whole object to `file` (the store makes it appear whole at its path)."""
        ...

    def upload(self, path: Path, ref: ObjectRef) -> None:
        """Store the file at `path` as the object, which readers see only once complete."""
        ...

    def list(self, ref: ObjectRef) -> Iterator[str]:
        """URIs of the objects whose key starts with `ref.key`, in key order."""
        ...

    def delete(self, ref: ObjectRef) -> None:
        """Remove the object; nothing happens when it is already gone."""
        ...

    def delete_prefix(self, ref: ObjectRef) -> int:
        """Remove every object whose key starts with `ref.key`; returns how many."""
        ...

    def check_bucket(self, ref: ObjectRef) -> None:
        """Return when the reference's bucket exists; BucketNotFound when it does not."""
        ...

    def check_reachable(self, buckets: Set[str]) -> None:
        """Return when the store answers requests for `buckets` (the allowed ones; empty: any bucket may
        be used, so the store as a whole); raise the store's errors otherwise. For readiness probes."""
        ...

    def on_transfer(self, callback: TransferCallback) -> None:
        """Call `callback` with the bytes of every download and upload from now on (each call adds one)."""
        ...
