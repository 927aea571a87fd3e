"""Where a job's files live while it runs: a worker's local scratch and the store's temporary prefix.

Local: `<scratch>/<job id>/` holds the downloaded source (fetched once per machine and job, then
shared by the chunk tasks that land there) and files being written. Remote: chunk files wait
under `.hdrtv-tmp/<job id>/` (at the root of the output's bucket; beside the output for file
URIs) until the assembly, so the output URI only ever names a complete file.

The steps remove a job's files when it ends; what they leave behind (a failed clean-up, a chunk
uploaded after a cancellation, jobs whose records were lost with a Redis restored from an older
snapshot) is removed by `sweep` (local) and `remove_orphans` (remote). Keys (under the job
store's prefix): `tmp:roots` the temporary folders jobs have written to, `tmp:orphans` prefix ->
epoch seconds the janitor first saw it orphaned.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
import time
from collections.abc import Iterable, Iterator
from pathlib import Path, PurePosixPath

from ..control.errors import InputError
from ..control.job_record import Job
from ..control.job_store import JobStore
from ..control.storage import ObjectStore

TEMP_DIR = ".hdrtv-tmp"

log = logging.getLogger(__name__)


def scratch_root(configured: str | None) -> Path:
    """The job folders' parent, inside the configured scratch dir (else the system's temp dir); `sweep`
    deletes what it holds, so it is ours alone."""
    root = Path(configured or tempfile.gettempdir()) / "hdrtv-jobs"
    root.mkdir(parents=True, exist_ok=True)
    return root


def job_dir(root: Path, job_id: str) -> Path:
    path = root / job_id
    path.mkdir(parents=True, exist_ok=True)
    return path


def temp_root(objects: ObjectStore, output_uri: str) -> str:
    """The URI prefix (ending in "/") of the temporary folder of jobs writing `output_uri`."""
    ref = objects.parse(output_uri)
    base = PurePosixPath(ref.key).parent / TEMP_DIR if ref.scheme == "file" else PurePosixPath(TEMP_DIR)
    return ref.with_key(f"{base}/").uri


def temp_prefix(objects: ObjectStore, job: Job) -> str:
    """The URI prefix (ending in "/") of the job's chunk files."""
    return f"{temp_root(objects, job.output_uri)}{job.id}/"


def remember_temp_root(store: JobStore, objects: ObjectStore, job: Job) -> None:
    """Note the job's temporary folder before anything is written there, for `remove_orphans`."""
    store.redis.sadd(f"{store.prefix}:tmp:roots", temp_root(objects, job.output_uri))


def chunk_uri(objects: ObjectStore, job: Job, index: int) -> str:
    return f"{temp_prefix(objects, job)}chunk{index:05d}.mp4"


def fetch(objects: ObjectStore, uri: str, path: Path) -> Path:
    """Download `uri` to `path` unless it is there (downloads are whole or absent)."""
    if not path.exists():
        objects.download(uri, path)
    return path


def local_source(objects: ObjectStore, root: Path, job: Job) -> Path:
    """Where the job's source lies on this machine once fetched."""
    suffix = PurePosixPath(objects.parse(job.input_uri).key).suffix.lower()
    return root / job.id / f"source{suffix}"


def fetch_source(objects: ObjectStore, root: Path, job: Job) -> Path:
    """The job's source on this machine, downloaded on first use."""
    return fetch(objects, job.input_uri, job_dir(root, job.id) / local_source(objects, root, job).name)


def discard(objects: ObjectStore, root: Path, job: Job) -> None:
    """Remove the job's local scratch folder, then its chunk files from the store (which may fail)."""
    shutil.rmtree(root / job.id, ignore_errors=True)
    objects.delete_prefix(temp_prefix(objects, job))


def sweep(store: JobStore, root: Path) -> None:
    """Remove local folders of jobs that are finished or gone (other machines' tasks ended them)."""
    for path in root.iterdir():
        if path.is_dir() and _over(store, path.name):
            shutil.rmtree(path, ignore_errors=True)


def remove_orphans(
    store: JobStore, objects: ObjectStore, buckets: Iterable[str], min_age_s: float, now: float | None = None
) -> list[str]:
    """Remove the temporary prefixes of jobs that are finished or gone once this janitor has seen them
    so for `min_age_s` (a safety margin: it needs no object dates, and a straggling step's late
    upload is caught next time); the prefixes removed. It looks in the temporary folders jobs have
    written to and in those of `buckets` (the allowed ones), which a restored Redis cannot forget."""
    now = time.time() if now is None else now
    roots = store.redis.smembers(f"{store.prefix}:tmp:roots") | {temp_root(objects, f"s3://{b}/") for b in buckets}
    orphans: list[str] = []
    for root in sorted(roots):
        try:
            orphans += [prefix for prefix, job_id in _job_prefixes(objects, root) if _over(store, job_id)]
        except InputError as error:  # a bucket no longer allowed, file URIs turned off
            log.warning("not looking for orphaned temporary objects under %s: %s", root, error)
    seen_key = f"{store.prefix}:tmp:orphans"
    first_seen = {prefix: float(at) for prefix, at in store.redis.hgetall(seen_key).items()}
    removed = []
    for prefix in orphans:
        if now - first_seen.setdefault(prefix, now) >= min_age_s:
            log.info("removing %d orphaned temporary objects under %s", objects.delete_prefix(prefix), prefix)
            removed.append(prefix)
    pipe = store.redis.pipeline()
    pipe.delete(seen_key)
    waiting = {prefix: first_seen[prefix] for prefix in orphans if prefix not in removed}
    if waiting:
        pipe.hset(seen_key, mapping=waiting)
    pipe.execute()
    return removed


def _job_prefixes(objects: ObjectStore, root: str) -> Iterator[tuple[str, str]]:
    """(prefix, job id) of each job folder under the temporary folder `root`."""
    found: set[str] = set()
    for uri in objects.list(root):
        job_id, slash, _ = uri.removeprefix(root).partition("/")
        if slash and job_id not in found:
            found.add(job_id)
            yield f"{root}{job_id}/", job_id


def _over(store: JobStore, job_id: str) -> bool:
    """Whether the job is finished or gone: its files are no longer needed."""
    job = store.get(job_id)
    return job is None or job.status.terminal
