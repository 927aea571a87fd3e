"""Completion callbacks: a finished job is POSTed, signed, to its `callback_url`.

The body is JSON, a subset of the API's job (`PAYLOAD_FIELDS`). Each request carries
`X-Hdrtv-Timestamp` (unix seconds) and `X-Hdrtv-Signature: sha256=<hex>`, the HMAC-SHA256 of
`f"{timestamp}.{body}"` under `callback_signing_key`; receivers check both with `verify_signature`
and refuse old timestamps (replays).

A 2xx answer delivers, 410 gives up, anything else (other statuses, connection errors) is retried
after `RETRY_DELAYS_S`: 30 s doubling up to one hour, then hourly, 31 attempts over about 24 h.
URLs outside the tenant's callback grants are not sent to (checked at each attempt, with the
grants Redis holds then). URLs that resolve to private, loopback or link-local addresses are
refused (no requests into our own network) unless `allow_private_callbacks`; the request goes to
the address that was checked.
The job's `callback` field shows the delivery: state (pending, delivered, failed), attempts,
last_status, last_error, delivered_at, next_attempt_at.
"""

from __future__ import annotations

import hashlib
import hmac
import http.client
import ipaddress
import json
import socket
import ssl
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from ..control.grants import Grants, NotGranted
from ..control.job_record import Job
from ..control.job_store import JobStore
from ..control.settings import Settings

PAYLOAD_FIELDS = (
    "id batch_id status phase input_uri output_uri metadata error_code error_message output_format output_metadata "
    "timings finished_at"
).split()
"""The job fields a callback carries (times are epoch seconds, as in the record)."""

RETRY_FIRST_S = 30
RETRY_CAP_S = 3600
RETRY_SPAN_S = 86400


def _retry_delays() -> tuple[int, ...]:
    """Seconds before each retry: doubling from RETRY_FIRST_S, capped, until they span RETRY_SPAN_S."""
    delays: list[int] = []
    while sum(delays) < RETRY_SPAN_S:
        delays.append(min(RETRY_FIRST_S * 2 ** len(delays), RETRY_CAP_S))
    return tuple(delays)


RETRY_DELAYS_S = _retry_delays()
MAX_ATTEMPTS = len(RETRY_DELAYS_S) + 1


class RefusedURL(ValueError):
    """A callback URL we do not send to."""


@dataclass(frozen=True)
class Outcome:
    """What one delivery did: `state` delivered, failed, pending (retry in `retry_in_s`) or skipped."""

    state: str
    retry_in_s: float | None = None


def initial_state() -> dict[str, Any]:
    """The `callback` field of a job whose delivery is scheduled."""
    return {
        "state": "pending",
        "attempts": 0,
        "last_status": None,
        "last_error": None,
        "delivered_at": None,
        "next_attempt_at": None,
    }


def payload(job: Job) -> bytes:
    """The request body: the job's `PAYLOAD_FIELDS` as compact JSON."""
    return json.dumps({name: getattr(job, name) for name in PAYLOAD_FIELDS}, separators=(",", ":")).encode()


def sign(body: bytes, timestamp: int, key: str) -> str:
    """The `X-Hdrtv-Signature` value of `body` sent at `timestamp`."""
    digest = hmac.new(key.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def verify_signature(body: bytes, timestamp: str | int, signature: str, key: str, max_age_s: float, now: float) -> bool:
    """Whether `signature` signs `body` at `timestamp` under `key`, sent at most `max_age_s` from `now`."""
    try:
        sent = int(timestamp)
    except ValueError:
        return False
    if abs(now - sent) > max_age_s:
        return False
    return hmac.compare_digest(sign(body, sent, key), signature)


def resolve(url: str, allow_private: bool) -> tuple[str, str, int, str]:
    """(scheme, host, port, address to connect to) of an http(s) URL; RefusedURL for a non-public one."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise RefusedURL(f"{url}: not an http(s) URL")
    port = parts.port or (443 if parts.scheme == "https" else 80)
    found = socket.getaddrinfo(parts.hostname, port, type=socket.SOCK_STREAM)  # gaierror: retried, as OSError
    addresses = [ipaddress.ip_address(info[4][0].partition("%")[0]) for info in found]
    if not allow_private:
        for address in addresses:
            mapped = getattr(address, "ipv4_mapped", None) or address
            if not mapped.is_global or mapped.is_multicast:
                raise RefusedURL(f"{parts.hostname} resolves to {address}, not a public address")
    return parts.scheme, parts.hostname, port, str(addresses[0])


def post(url: str, body: bytes, headers: dict[str, str], timeout_s: float, allow_private: bool) -> int:
    """POST `body` to `url` (at the address `resolve` checked); the response status."""
    scheme, host, port, address = resolve(url, allow_private)
    connection_type = _PinnedHTTPSConnection if scheme == "https" else _PinnedHTTPConnection
    connection = connection_type(host, port, address, timeout_s)
    parts = urlsplit(url)
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    try:
        connection.request("POST", target, body=body, headers=headers)
        return connection.getresponse().status
    finally:
        connection.close()


def deliver(store: JobStore, job_id: str, settings: Settings, now: float) -> Outcome:
    """Make the next delivery attempt of the job's callback and record it on the job.

    Skipped when the job is gone, has no callback, is not finished, its delivery has ended, or this
    attempt was already made: Redis redelivers a message whose countdown outlasts the broker's
    visibility timeout, and each attempt number is claimed once.
    """
    job = store.get(job_id)
    if job is None or not job.callback_url or not job.status.terminal:
        return Outcome("skipped")
    state = job.callback or initial_state()
    if state["state"] != "pending":
        return Outcome("skipped")
    attempts = state["attempts"] + 1
    if not store.claim(job_id, f"callback:{attempts}"):
        return Outcome("skipped")
    try:  # the grants Redis holds now: a job record can't widen them, a grant taken back stops it
        Grants(store.redis, store.prefix).check_callback(job.tenant, job.callback_url)
    except NotGranted as refused:
        return _record(store, job_id, state, now, attempts, "failed", None, str(refused))
    body = payload(job)
    timestamp = int(now)
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "hdrtv-callback",
        "X-Hdrtv-Timestamp": str(timestamp),
        "X-Hdrtv-Signature": sign(body, timestamp, settings.callback_signing_key),
    }
    status, error = None, None
    try:
        status = post(job.callback_url, body, headers, settings.callback_timeout_s, settings.allow_private_callbacks)
    except RefusedURL as refused:
        return _record(store, job_id, state, now, attempts, "failed", None, str(refused))
    except (OSError, http.client.HTTPException) as failed:
        error = f"{type(failed).__name__}: {failed}"
    if status is not None and 200 <= status < 300:
        return _record(store, job_id, state, now, attempts, "delivered", status, None)
    if status == 410:
        return _record(store, job_id, state, now, attempts, "failed", status, "the receiver answered 410 Gone")
    error = error or f"the receiver answered {status}"
    if attempts >= MAX_ATTEMPTS:
        error = f"{error}; gave up after {attempts} attempts"
        return _record(store, job_id, state, now, attempts, "failed", status, error)
    return _record(store, job_id, state, now, attempts, "pending", status, error, RETRY_DELAYS_S[attempts - 1])


def _record(
    store: JobStore,
    job_id: str,
    state: dict[str, Any],
    now: float,
    attempts: int,
    outcome: str,
    status: int | None,
    error: str | None,
    retry_in_s: float | None = None,
) -> Outcome:
    """Write the attempt's result into the job's `callback` field."""
    result = {
        "state": outcome,
        "attempts": attempts,
        "last_status": status,
        "last_error": error,
        "delivered_at": now if outcome == "delivered" else None,
        "next_attempt_at": None if retry_in_s is None else now + retry_in_s,
    }
    store.update(job_id, callback=state | result)
    return Outcome(outcome, retry_in_s)


class _PinnedHTTPConnection(http.client.HTTPConnection):
    """HTTP to a fixed address: a second DNS lookup cannot send the request elsewhere."""

    def __init__(self, host: str, port: int, address: str, timeout_s: float) -> None:
        super().__init__(host, port, timeout=timeout_s)
        self.address = address

    def connect(self) -> None:
        self.sock = socket.create_connection((self.address, self.port), self.timeout)


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    """HTTPS to a fixed address, the certificate checked against the URL's host name."""

    def __init__(self, host: str, port: int, address: str, timeout_s: float) -> None:
        self.tls = ssl.create_default_context()
        super().__init__(host, port, timeout=timeout_s, context=self.tls)
        self.address = address

    def connect(self) -> None:
        sock = socket.create_connection((self.address, self.port), self.timeout)
        self.sock = self.tls.wrap_socket(sock, server_hostname=self.host)
