"""Storage grants: the URI prefixes each tenant may read from and may write to.

The API checks every input (read), output (write) and batch prefix against the tenant's grants
before it touches the store, and the worker checks a job's URIs again when the job starts, with
the grants Redis holds then: a job record can't widen them, and a revoked grant stops the jobs
not yet started. Because the check comes first, a URI outside the grants gets the same answer
whether or not an object is there: the API reveals nothing of other tenants' storage.

A grant is a URI prefix that ends in "/" (`s3://media-a/`, `s3://shared/tenant-a/`,
`file:///srv/media/`), or `s3://` alone for a tenant trusted with every bucket the service may
use (`HDRTV_ALLOWED_BUCKETS` still applies). A tenant without grants can use no storage. Redis
holds one set per tenant and mode: `<prefix>:grants:<tenant>:read|write`.
"""

from __future__ import annotations

from typing import Literal

import redis

from .errors import InputError
from .storage import ObjectRef
from .storage.object_refs import parse_uri

Mode = Literal["read", "write"]
MODES: tuple[Mode, ...] = ("read", "write")
EVERY_BUCKET = "s3://"


class NotGranted(InputError):
    """The URI lies outside the tenant's grants (the API answers 403)."""

    code = "forbidden"


def grant_prefix(text: str) -> str:
    """A grant as stored: `s3://`, or a URI prefix in the store's own spelling, ending in "/";
    ValueError naming the text otherwise."""
    if text == EVERY_BUCKET:
        return text
    try:
        ref = parse_uri(text, allow_files=True)
    except InputError as error:
        raise ValueError(str(error)) from None
    if ref.key and not ref.key.endswith("/"):
        raise ValueError(f"{text}: a grant is a prefix ending in '/' (a bucket is s3://bucket/)")
    return ref.uri


class Grants:
    """Read, change and check the storage grants of tenants; `client` decodes responses, as the
    job store's does (`decode_responses=True`)."""

    def __init__(self, client: redis.Redis, prefix: str = "hdrtv") -> None:
        self.redis = client
        self.prefix = prefix

    def _key(self, tenant: str, mode: Mode) -> str:
        return f"{self.prefix}:grants:{tenant}:{mode}"

    def grant(self, tenant: str, mode: Mode, prefix: str) -> str:
        """Let `tenant` `mode` under `prefix`; returns the grant as stored."""
        stored = grant_prefix(prefix)
        self.redis.sadd(self._key(tenant, mode), stored)
        return stored

    def grant_both(self, tenant: str, prefix: str) -> None:
        """Let `tenant` read and write under `prefix`."""
        for mode in MODES:
            self.grant(tenant, mode, prefix)

    def revoke(self, tenant: str, mode: Mode, prefix: str) -> bool:
        """Take a grant back; False if the tenant did not have it."""
        return self.redis.srem(self._key(tenant, mode), grant_prefix(prefix)) == 1

    def of(self, tenant: str) -> dict[Mode, list[str]]:
        """The tenant's grants by mode, sorted."""
        return {mode: sorted(self.redis.smembers(self._key(tenant, mode))) for mode in MODES}

    def check(self, tenant: str, mode: Mode, ref: ObjectRef) -> None:
        """NotGranted unless `ref` (an object or a prefix, parsed by the store) lies under one of
        the tenant's grants of `mode`."""
        _check(tenant, mode, ref, self.redis.smembers(self._key(tenant, mode)))

    def check_transfer(self, tenant: str, source: ObjectRef, target: ObjectRef) -> None:
        """NotGranted unless `tenant` may read `source` and write `target` (objects or prefixes);
        both sets read in one round trip (every submission asks)."""
        readable, writable = (
            self.redis.pipeline(transaction=False)
            .smembers(self._key(tenant, "read"))
            .smembers(self._key(tenant, "write"))
            .execute()
        )
        _check(tenant, "read", source, readable)
        _check(tenant, "write", target, writable)


def _check(tenant: str, mode: Mode, ref: ObjectRef, grants: set[str]) -> None:
    uri = ref.uri
    if not any(ref.scheme == "s3" if prefix == EVERY_BUCKET else uri.startswith(prefix) for prefix in grants):
        raise NotGranted(f"{uri}: tenant {tenant!r} may not {mode} there (no storage grant covers it)")
