"""Where a job's files live while it runs: a worker's local scratch and the store's temporary prefix.

Local: `<scratch>/<job id>/` holds the downloaded source (fetched once per machine and job, then
shared by the chunk tasks that land there) and files being written. Remote: chunk files wait
under `.hdrtv-tmp/<job id>/` (at the root of the output's bucket; beside the output for file
URIs) until the assembly, so the output URI only ever names a complete file.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path, PurePosixPath

from ..control.job_record import Job
from ..control.job_store import JobStore
from ..control.storage import ObjectStore

TEMP_DIR = ".hdrtv-tmp"


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


def temp_prefix(objects: ObjectStore, job: Job) -> str:
    """The URI prefix (ending in "/") of the job's chunk files."""
    ref = objects.parse(job.output_uri)
    base = PurePosixPath(ref.key).parent / TEMP_DIR if ref.scheme == "file" else PurePosixPath(TEMP_DIR)
    return ref.with_key(f"{base / job.id}/").uri


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
        if path.is_dir():
            job = store.get(path.name)
            if job is None or job.status.terminal:
                shutil.rmtree(path, ignore_errors=True)
