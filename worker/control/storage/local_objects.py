"""`file://` objects for embedded mode: the caller and the worker share a disk.

The same operations as `S3Objects`, with the key an absolute path. A prefix is a string prefix of
paths, as in S3: `file:///out/job1/` lists everything under that folder, `file:///out/job1`
also `/out/job1-old.mkv`. Writes go through a temporary file, so an object appears only whole.
Copies in and out are transfers as S3's are (the disk is embedded mode's store), reported to the
`on_transfer` callbacks with the bytes copied.
"""

from __future__ import annotations

import os
import shutil
import stat
from collections.abc import Iterator, Set
from pathlib import Path
from typing import BinaryIO

from .atomic_file import atomic_file
from .backend import Direction, TransferCallback
from .object_refs import ObjectInfo, ObjectNotFound, ObjectRef

_BLOCK = 1024 * 1024


class LocalObjects:
    """The store's operations on parsed `file://` references (an `ObjectBackend`)."""

    def __init__(self) -> None:
        self._callbacks: list[TransferCallback] = []

    def head(self, ref: ObjectRef) -> ObjectInfo:
        try:
            status = os.stat(ref.key)
        except (FileNotFoundError, NotADirectoryError):
            raise ObjectNotFound(ref.uri, "no such file") from None
        if not stat.S_ISREG(status.st_mode):
            raise ObjectNotFound(ref.uri, "not a regular file")
        return ObjectInfo(size=status.st_size, etag=f"{status.st_mtime_ns:x}-{status.st_size:x}")

    def read_range(self, ref: ObjectRef, start: int, length: int) -> bytes:
        with _open(ref) as file:
            file.seek(start)
            data = file.read(length)
        self._transferred("download", len(data))
        return data

    def download_to(self, ref: ObjectRef, file: BinaryIO) -> None:
        with _open(ref) as source:
            shutil.copyfileobj(source, file, _BLOCK)
            self._transferred("download", source.tell())

    def upload(self, path: Path, ref: ObjectRef) -> None:
        with open(path, "rb") as source, atomic_file(Path(ref.key)) as file:
            shutil.copyfileobj(source, file, _BLOCK)
            self._transferred("upload", source.tell())

    def list(self, ref: ObjectRef) -> Iterator[str]:
        for path in _paths(ref):
            yield ref.with_key(path).uri

    def delete(self, ref: ObjectRef) -> None:
        Path(ref.key).unlink(missing_ok=True)

    def delete_prefix(self, ref: ObjectRef) -> int:
        paths = _paths(ref)
        for path in paths:
            Path(path).unlink(missing_ok=True)
        return len(paths)

    def check_bucket(self, ref: ObjectRef) -> None:
        """Nothing to check: file URIs name no bucket, and an upload makes the folders it needs."""

    def check_reachable(self, buckets: Set[str]) -> None:
        """Nothing to reach: the disk is this process's own, and file URIs name no buckets."""

    def on_transfer(self, callback: TransferCallback) -> None:
        """Report the bytes each read_range, download and upload copied, once it is done."""
        self._callbacks.append(callback)

    def _transferred(self, direction: Direction, size: int) -> None:
        for callback in self._callbacks:
            callback(direction, size)


def _open(ref: ObjectRef) -> BinaryIO:
    try:
        return open(ref.key, "rb")
    except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
        raise ObjectNotFound(ref.uri, "no such file") from None


def _paths(ref: ObjectRef) -> list[str]:
    """Files whose path starts with the prefix, sorted as S3 sorts keys (by code point)."""
    folder = ref.key if ref.key.endswith("/") else os.path.dirname(ref.key)
    found = (os.path.join(root, name) for root, _, names in os.walk(folder) for name in names)
    return sorted(path for path in found if path.startswith(ref.key))
