"""The REST API on real parts for tests: redis-server, moto's S3, Celery sending to the real broker.

    api = ApiHarness.start(redis_server, s3_settings, bucket, tmp_path, allowed_buckets=[bucket])
    uri = api.put_video("in/a.mp4")
    response = api.client.post("/v1/jobs", json={...}, headers=api.auth("tenant-a"))
    assert api.queued(job_id) == [("hdrtv.start_job", [job_id], 4)]

Tenants get unique names per harness, so tests sharing one Redis never see each other's jobs.
"""

from __future__ import annotations

import base64
import json
import uuid
from dataclasses import dataclass
from pathlib import Path

import redis
from fastapi.testclient import TestClient
from hdrtv.service.app import create_app
from hdrtv.service.services import Services
from hdrtv.worker.control.settings import Settings
from hdrtv.worker.control.task_names import CPU_QUEUE
from servers import grant_every_bucket
from video_factory import write_clip

# kombu's Redis transport keeps priority p of queue q in the list q + SEP + p (q alone for 0).
PRIORITY_SEP = "\x06\x16"


@dataclass
class ApiHarness:
    client: TestClient
    services: Services
    bucket: str
    tmp_path: Path
    run: str  # this harness's tenant-name suffix

    @classmethod
    def start(
        cls,
        redis_url: str,
        s3: Settings,
        bucket: str,
        tmp_path: Path,
        **settings: object,
    ) -> ApiHarness:
        """The app on `redis_url` (job records and broker) and the store of `s3`, `settings` overriding."""
        app = create_app(s3.model_copy(update={"redis_url": redis_url, **settings}))
        return cls(TestClient(app), app.state.services, bucket, tmp_path, uuid.uuid4().hex[:8])

    def tenant(self, name: str) -> str:
        return f"{name}-{self.run}"

    def auth(self, name: str = "acme") -> dict[str, str]:
        """Headers with a new API key of the tenant `name`."""
        tenant = self.tenant(name)
        grant_every_bucket(self.services.redis, tenant, self.services.jobs.prefix)
        return {"Authorization": f"Bearer {self.services.keys.create(tenant)}"}

    def uri(self, key: str) -> str:
        return f"s3://{self.bucket}/{key}"

    def put(self, key: str, data: bytes) -> str:
        self.services.objects.client.put_object(Bucket=self.bucket, Key=key, Body=data)
        return self.uri(key)

    def put_video(self, key: str, **clip: object) -> str:
        """Upload a small clip made by `write_clip` (container from the key's suffix)."""
        path = write_clip(self.tmp_path / f"{uuid.uuid4().hex}{Path(key).suffix}", **clip)
        return self.put(key, path.read_bytes())

    def job_body(self, input_key: str, output_key: str = "out/a.mkv", **fields: object) -> dict:
        return {"input_uri": self.uri(input_key), "output_uri": self.uri(output_key), **fields}

    def queued(self, job_id: str) -> list[tuple[str, list, int]]:
        """(task name, args, broker priority) of every message on the CPU queue about `job_id`."""
        client = redis.Redis.from_url(self.services.settings.redis_url, decode_responses=True)
        found = []
        for priority in range(10):
            queue = CPU_QUEUE + (f"{PRIORITY_SEP}{priority}" if priority else "")
            for raw in client.lrange(queue, 0, -1):
                message = json.loads(raw)
                args = json.loads(base64.b64decode(message["body"]))[0]
                if job_id in args:
                    found.append((message["headers"]["task"], args, priority))
        return found
