"""Job records in Redis, shared by the API and the workers.

Keys (under `prefix`, default "hdrtv"): `job:<id>` a hash of JSON fields (see `job_record`),
`job:<id>:chunks` chunk index -> result, `job:<id>:plan`, `job:<id>:claim:<step>` once-only guards,
`tenant:<t>:jobs` a sorted set by creation time, `tenant:<t>:active` the queued and running ids,
`idem:<t>:<key>` idempotency keys, `batch:<id>` and `batch:<id>:jobs`, `output:<sha256 of URI>` the
active job that writes an output (taken with the job, released when it ends: no two jobs write one
output). Every read-modify-write is one Lua script, so API processes and workers never race on a
record.
"""

from __future__ import annotations

import hashlib
import json
import time
import uuid
from typing import Any

import redis

from . import job_scripts
from .job_record import Batch, Job, JobPhase, JobStatus, encode_fields

CLAIM_TTL_S = 7 * 86400

__all__ = ["Batch", "Job", "JobExists", "JobPhase", "JobStatus", "JobStore", "OutputReserved"]


class JobExists(ValueError):
    """A job with this id is already stored."""


class OutputReserved(ValueError):
    """Another active job writes this output."""


class JobStore:
    """Job records, chunk bookkeeping, idempotency keys and batches in one Redis database."""

    def __init__(self, client: redis.Redis, prefix: str = "hdrtv") -> None:
        """`client` must decode responses (`decode_responses=True`); see `from_url`."""
        if not client.get_connection_kwargs().get("decode_responses"):
            raise ValueError("JobStore needs a Redis client created with decode_responses=True")
        self.redis = client
        self.prefix = prefix
        self._create = client.register_script(job_scripts.CREATE)
        self._set_status = client.register_script(job_scripts.SET_STATUS)
        self._update = client.register_script(job_scripts.UPDATE)
        self._mark_chunk = client.register_script(job_scripts.MARK_CHUNK)
        self._remember = client.register_script(job_scripts.REMEMBER)

    @classmethod
    def from_url(cls, url: str, prefix: str = "hdrtv") -> JobStore:
        return cls(redis.Redis.from_url(url, decode_responses=True), prefix)

    def _key(self, *parts: str) -> str:
        return ":".join((self.prefix, *parts))

    # Records

    def create(self, job: Job, max_active: int | None = None, reserve_output: bool = False) -> bool:
        """Store a new job; False (nothing stored) when its tenant already has `max_active` active
        jobs. With `reserve_output` the job also takes its output for as long as it is active:
        OutputReserved (nothing stored) when another active job holds it."""
        reservation = [self._output_key(job.output_uri)] if reserve_output else []
        stored = self._create(
            keys=[
                self._key("job", job.id),
                self._key("tenant", job.tenant, "jobs"),
                self._key("tenant", job.tenant, "active"),
                *reservation,
            ],
            args=[job.id, job.created_at, max_active or 0, int(job.status.active), *_pairs(job.to_redis())],
        )
        if stored == -1:
            raise JobExists(job.id)
        if stored == -2:
            raise OutputReserved(job.output_uri)
        return stored == 1

    def output_writer(self, uri: str) -> str | None:
        """The id of the active job that writes the output `uri`, if any."""
        return self.redis.get(self._output_key(uri))

    def _output_key(self, uri: str) -> str:
        return self._key("output", hashlib.sha256(uri.encode()).hexdigest())

    def get(self, job_id: str) -> Job | None:
        stored = self.redis.hgetall(self._key("job", job_id))
        return Job.from_redis(stored) if stored else None

    def update(self, job_id: str, **fields: Any) -> bool:
        """Set fields other than the status (use `set_status`); False when the job is gone."""
        if "status" in fields:
            raise ValueError("change the status with set_status, which guards terminal states")
        fields["updated_at"] = time.time()
        return self._update(keys=[self._key("job", job_id)], args=_pairs(encode_fields(fields))) == 1

    def set_status(
        self,
        job_id: str,
        status: JobStatus,
        error_code: str | None = None,
        error_message: str | None = None,
        **fields: Any,
    ) -> bool:
        """Move a job to `status` (and set the given fields: `phase=None` clears the phase); False when
        it is gone or already final."""
        status = JobStatus(status)
        extra = {"error_code": error_code, "error_message": error_message}
        fields.update({k: v for k, v in extra.items() if v is not None})
        tenant, output_uri = self.redis.hmget(self._key("job", job_id), ["tenant", "output_uri"])
        if tenant is None:
            return False
        changed = self._set_status(
            keys=[
                self._key("job", job_id),
                self._key("tenant", json.loads(tenant), "active"),
                self._output_key(json.loads(output_uri)),
            ],
            args=[
                job_id,
                json.dumps(status),
                json.dumps(time.time()),
                int(status.terminal),
                *_pairs(encode_fields(fields)),
            ],
        )
        return changed == 1

    def request_cancel(self, job_id: str) -> bool:
        """Cancel a job now (workers notice between steps and clean up); False if gone or finished."""
        return self.set_status(
            job_id, JobStatus.CANCELLED, error_code="cancelled", error_message="cancelled on request"
        )

    def cancel_requested(self, job_id: str) -> bool:
        return self.redis.hget(self._key("job", job_id), "status") == json.dumps(JobStatus.CANCELLED)

    # Listing

    def list(
        self,
        tenant: str,
        status: JobStatus | None = None,
        created_from: float | None = None,
        created_to: float | None = None,
        cursor: str | None = None,
        limit: int = 50,
    ) -> tuple[list[Job], str | None]:
        """A page of the tenant's jobs, newest first, and the cursor of the next page (None: last page).

        Bounds are epoch seconds, inclusive; the cursor is opaque ("<created_at>:<id>" of the last
        job returned), so pages stay stable while new jobs arrive.
        """
        low = "-inf" if created_from is None else created_from
        high: float | str = "+inf" if created_to is None else created_to
        after: tuple[float, str] | None = None
        if cursor:
            score, _, after_id = cursor.partition(":")
            after = (float(score), after_id)
            high = min(float(high), after[0])
        found: list[Job] = []
        offset, step = 0, max(limit + 1, 100)
        while len(found) <= limit:
            scored = self.redis.zrevrangebyscore(
                self._key("tenant", tenant, "jobs"), high, low, start=offset, num=step, withscores=True
            )
            # Equal times list by id, descending: those up to the cursor's were on earlier pages.
            ids = [job_id for job_id, score in scored if after is None or (score, job_id) < after]
            for job in self._get_many(ids):
                if status is None or job.status == status:
                    found.append(job)
            if len(scored) < step:
                break
            offset += step
        page = found[:limit]
        more = len(found) > limit
        return page, (f"{page[-1].created_at!r}:{page[-1].id}" if more else None)

    def _get_many(self, job_ids: list[str]) -> list[Job]:
        pipe = self.redis.pipeline(transaction=False)
        for job_id in job_ids:
            pipe.hgetall(self._key("job", job_id))
        return [Job.from_redis(stored) for stored in pipe.execute() if stored]

    def count_active(self, tenant: str) -> int:
        """Queued and running jobs of the tenant."""
        return self.redis.scard(self._key("tenant", tenant, "active"))

    # Chunks and once-only steps

    def mark_chunk_done(self, job_id: str, index: int, result: dict[str, Any]) -> int:
        """Record a chunk's result (`result["frames"]` counts into frames_done) once; the chunks done so far.

        A chunk recorded again changes nothing; 0 when the job is gone.
        """
        now = json.dumps(time.time())
        args = [index, json.dumps(result), int(result.get("frames", 0)), now]
        return self._mark_chunk(keys=[self._key("job", job_id), self._key("job", job_id, "chunks")], args=args)

    def chunk_results(self, job_id: str) -> dict[int, dict[str, Any]]:
        stored = self.redis.hgetall(self._key("job", job_id, "chunks"))
        return {int(k): json.loads(v) for k, v in stored.items()}

    def set_plan(self, job_id: str, plan: dict[str, Any]) -> None:
        """Keep what every chunk task of the job needs (shot starts, chunk ranges) beside the record."""
        self.redis.set(self._key("job", job_id, "plan"), json.dumps(plan))

    def get_plan(self, job_id: str) -> dict[str, Any] | None:
        stored = self.redis.get(self._key("job", job_id, "plan"))
        return None if stored is None else json.loads(stored)

    def claim(self, job_id: str, step: str) -> bool:
        """True for the first caller only: who enqueues the assembly, who sends the callback."""
        return bool(self.redis.set(self._key("job", job_id, "claim", step), 1, nx=True, ex=CLAIM_TTL_S))

    def release(self, job_id: str, step: str) -> None:
        """Give a claim back (the claimed step could not be started)."""
        self.redis.delete(self._key("job", job_id, "claim", step))

    # Idempotency keys

    def remember_idempotency(
        self, tenant: str, key: str, body_hash: str, job_id: str, ttl: int = 86400
    ) -> tuple[str | None, str | None]:
        """Remember key -> (body_hash, job_id) unless known; (None, None) or the earlier (job_id, body_hash)."""
        value = json.dumps({"job_id": job_id, "body_hash": body_hash})
        existing = self._remember(keys=[self._key("idem", tenant, key)], args=[value, ttl])
        if existing is None:
            return None, None
        earlier = json.loads(existing)
        return earlier["job_id"], earlier["body_hash"]

    # Batches

    def create_batch(self, tenant: str, metadata: dict[str, Any] | None = None, batch_id: str | None = None) -> str:
        batch_id = batch_id or uuid.uuid4().hex
        record = {"tenant": tenant, "created_at": time.time(), "metadata": metadata or {}}
        self.redis.hset(self._key("batch", batch_id), mapping={k: json.dumps(v) for k, v in record.items()})
        return batch_id

    def add_to_batch(self, batch_id: str, job_id: str) -> None:
        self.redis.sadd(self._key("batch", batch_id, "jobs"), job_id)

    def get_batch(self, batch_id: str) -> Batch | None:
        stored = self.redis.hgetall(self._key("batch", batch_id))
        if not stored:
            return None
        values = {k: json.loads(v) for k, v in stored.items()}
        job_ids = sorted(self.redis.smembers(self._key("batch", batch_id, "jobs")))
        return Batch(id=batch_id, job_ids=job_ids, **values)

    def batch_counts(self, batch_id: str) -> dict[str, int]:
        """Jobs of the batch per status (every status present, gone jobs not counted)."""
        job_ids = self.redis.smembers(self._key("batch", batch_id, "jobs"))
        pipe = self.redis.pipeline(transaction=False)
        for job_id in job_ids:
            pipe.hget(self._key("job", job_id), "status")
        counts = {s.value: 0 for s in JobStatus}
        for status in pipe.execute():
            if status is not None:
                counts[json.loads(status)] += 1
        return counts


def _pairs(fields: dict[str, str]) -> list[str]:
    return [item for pair in fields.items() for item in pair]
