"""Storage and callback grants: the URI prefixes each tenant may read from and may write to, and
the URL prefixes its jobs may send callbacks to.

The API checks every input (read), output (write) and batch prefix against the tenant's grants
before it touches the store, and the worker checks a job's URIs again when the job starts, with
the grants Redis holds then: a job record can't widen them, and a revoked grant stops the jobs
not yet started. Because the check comes first, a URI outside the grants gets the same answer
whether or not an object is there: the API reveals nothing of other tenants' storage.

A grant is a URI prefix that ends in "/" (`s3://media-a/`, `s3://shared/tenant-a/`,
`file:///srv/media/`), or `s3://` alone for a tenant trusted with every bucket the service may
use (`HDRTV_ALLOWED_BUCKETS` still applies). A tenant without grants can use no storage.

A callback grant is an http(s) URL prefix whose path ends in "/" (`https://hooks.example.com/`,
`https://example.com/hdrtv/`), or `https://` alone for any receiver: a job's `callback_url` must
lie under one (the API answers 403 otherwise), and the worker checks again before each delivery,
so a grant taken back stops callbacks not yet sent. The addresses callbacks may reach are limited
as before (no private addresses unless `HDRTV_ALLOW_PRIVATE_CALLBACKS`). Redis holds one set per
tenant and mode: `<prefix>:grants:<tenant>:read|write|callback`.
"""

from __future__ import annotations

from typing import Literal
from urllib.parse import urlsplit

import redis

from .errors import InputError
from .storage import ObjectRef
from .storage.object_refs import parse_uri

Mode = Literal["read", "write", "callback"]
STORAGE_MODES: tuple[Mode, ...] = ("read", "write")
MODES: tuple[Mode, ...] = (*STORAGE_MODES, "callback")
EVERY_BUCKET = "s3://"
EVERY_RECEIVER = "https://"


class NotGranted(InputError):
    """The URI lies outside the tenant's grants (the API answers 403)."""

    code = "forbidden"


def grant_prefix(text: str, mode: Mode = "read") -> str:
    """A grant as stored: for storage `s3://`, or a URI prefix in the store's own spelling, ending
    in "/"; for callbacks `callback_prefix(text)`. ValueError naming the text otherwise."""
    if mode == "callback":
        return callback_prefix(text)
    if text == EVERY_BUCKET:
        return text
    try:
        ref = parse_uri(text, allow_files=True)
    except InputError as error:
        raise ValueError(str(error)) from None
    if ref.key and not ref.key.endswith("/"):
        raise ValueError(f"{text}: a grant is a prefix ending in '/' (a bucket is s3://bucket/)")
    return ref.uri


def callback_prefix(text: str) -> str:
    """A callback grant as stored: `https://` or `http://` alone, or scheme, lower-cased host (and
    port) and a path ending in "/"; ValueError naming the text otherwise."""
    if text in (EVERY_RECEIVER, "http://"):
        return text
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.hostname or "@" in parts.netloc:
        raise ValueError(f"{text}: a callback grant is an http(s) URL prefix such as https://hooks.example.com/")
    if parts.query or parts.fragment or not (parts.path or "/").endswith("/"):
        raise ValueError(f"{text}: a callback grant is a prefix ending in '/' with no query")
    return f"{parts.scheme}://{parts.netloc.lower()}{parts.path or '/'}"


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
        stored = grant_prefix(prefix, mode)
        self.redis.sadd(self._key(tenant, mode), stored)
        return stored

    def grant_both(self, tenant: str, prefix: str) -> None:
        """Let `tenant` read and write under `prefix`."""
        for mode in STORAGE_MODES:
            self.grant(tenant, mode, prefix)

    def revoke(self, tenant: str, mode: Mode, prefix: str) -> bool:
        """Take a grant back; False if the tenant did not have it."""
        return self.redis.srem(self._key(tenant, mode), grant_prefix(prefix, mode)) == 1

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

    def check_callback(self, tenant: str, url: str) -> None:
        """NotGranted unless the callback URL `url` lies under one of the tenant's callback grants
        (compared with its scheme and host as `callback_prefix` spells them)."""
        parts = urlsplit(url)
        spelled = f"{parts.scheme}://{parts.netloc.lower()}{parts.path or '/'}"
        if not any(spelled.startswith(prefix) for prefix in self.redis.smembers(self._key(tenant, "callback"))):
            raise NotGranted(f"{url}: tenant {tenant!r} may not send callbacks there (no callback grant covers it)")


def _check(tenant: str, mode: Mode, ref: ObjectRef, grants: set[str]) -> None:
    uri = ref.uri
    if not any(ref.scheme == "s3" if prefix == EVERY_BUCKET else uri.startswith(prefix) for prefix in grants):
        raise NotGranted(f"{uri}: tenant {tenant!r} may not {mode} there (no storage grant covers it)")
