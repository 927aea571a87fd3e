"""The checks a job passes before it is queued, each failing with one line that names the problem.

In order, cheapest first: both URIs have an allowed scheme and bucket and the output is .mkv or
.mp4; the input object exists, is not empty and not larger than `max_input_bytes`; the output's
bucket exists (else it would be found missing only when the converted video is uploaded) and the
output does not exist unless `overwrite`; the input's header probes as SDR video.

The header check reads the first `head_bytes` of the object into a temporary file. An MP4 or MOV
whose index (the `moov` box) follows the media data needs its tail as well: its top-level boxes
are walked in the head and, when `moov` lies beyond it, everything from there to the end is read
(up to `max_tail_bytes`) and written at its own offset into a sparse file of the object's size.
`hdrtv probe` then runs on that file in a child process, with a time limit: untrusted bytes are
parsed outside the API process, which also never loads the converter's libraries that the probe
module imports. A partial file may not probe although the video is fine (a first frame larger
than the head, a huge index): then a known video extension is enough and the worker, which
probes the whole file, decides; a file read whole that does not probe is refused.
"""

from __future__ import annotations

import json
import struct
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from fastapi import HTTPException, status
from hdrtv.worker.control.errors import InputError
from hdrtv.worker.control.options import output_suffix
from hdrtv.worker.control.storage import BucketNotFound, ObjectNotFound, ObjectStore

from .schemas import JobCreate

VIDEO_SUFFIXES = frozenset(".mp4 .m4v .mov .mkv .webm .avi .ts .m2ts .mts .mxf .mpg .mpeg .wmv .flv .3gp .y4m".split())
# Top-level box types of MP4/MOV files (ISO/IEC 14496-12 and QuickTime).
_MP4_BOXES = frozenset(b"ftyp styp moov mdat free skip wide pdin uuid meta sidx moof mfra".split())
_PROBE_ERROR = "hdrtv probe: error: "


@dataclass(frozen=True)
class SubmissionLimits:
    """Bounds of what the API accepts and how much of an input it reads to probe it."""

    max_input_bytes: int = 1 << 40  # 1 TiB: larger declared sizes are refused as absurd
    head_bytes: int = 8 << 20
    max_tail_bytes: int = 32 << 20
    probe_timeout_s: float = 60.0


def suffix(uri: str) -> str:
    return PurePosixPath(uri.rstrip("/")).suffix.lower()


def check_uris(store: ObjectStore, input_uri: str, output_uri: str) -> None:
    """Scheme, bucket and output container; InputError naming the URI at fault."""
    for uri in (input_uri, output_uri):
        store.check_bucket_allowed(store.parse(uri))
    output_suffix(output_uri)
    if input_uri == output_uri:
        raise InputError(f"{output_uri}: the output would overwrite the input")


def check_job(store: ObjectStore, body: JobCreate, limits: SubmissionLimits, probe: bool = True) -> None:
    """The checks of one job, cheapest first; InputError (422) or HTTPException (409). Without
    `probe` (batches, which may hold thousands of objects) the worker alone reads the header."""
    check_uris(store, body.input_uri, body.output_uri)
    try:
        size = store.head(body.input_uri).size
    except BucketNotFound:
        raise  # "no such bucket", already naming the URI
    except ObjectNotFound:
        raise InputError(f"{body.input_uri}: input object not found") from None
    if size == 0:
        raise InputError(f"{body.input_uri}: empty object (0 bytes)")
    if size > limits.max_input_bytes:
        raise InputError(f"{body.input_uri}: huge declared size {size} bytes; the limit is {limits.max_input_bytes}")
    store.check_bucket(body.output_uri)
    if not body.options.overwrite and store.exists(body.output_uri):
        raise HTTPException(status.HTTP_409_CONFLICT, f"{body.output_uri}: the output exists; set options.overwrite")
    if probe:
        check_header(store, body.input_uri, size, limits)


def moov_tail_start(head: bytes, size: int) -> int | None:
    """Where an MP4/MOV's index lies beyond `head` (the first bytes of a `size`-byte file), the
    offset of the first top-level box not wholly in the head; None when no tail is needed or
    the head is no MP4."""
    offset = 0
    while offset + 8 <= len(head):
        box_size, kind = struct.unpack_from(">I4s", head, offset)
        if kind not in _MP4_BOXES:
            return None
        if box_size == 1 and offset + 16 <= len(head):
            box_size = struct.unpack_from(">Q", head, offset + 8)[0]
        if box_size < 8:  # 0: the box runs to the end of the file; 1 with its size cut off
            return None
        if kind == b"moov":
            return offset if offset + box_size > len(head) else None
        offset += box_size
    return offset if offset < size else None


def check_header(store: ObjectStore, uri: str, size: int, limits: SubmissionLimits) -> None:
    """Refuse an input whose header is not a video's, or an HDR one (see the module docstring)."""
    head = store.read_range(uri, 0, min(size, limits.head_bytes))
    tail_start = moov_tail_start(head, size) if size > len(head) else None
    with tempfile.TemporaryDirectory(prefix="hdrtv-probe-") as scratch:
        path = Path(scratch) / f"input{suffix(uri)}"
        with path.open("wb") as file:
            file.write(head)
            if tail_start is not None and size - tail_start <= limits.max_tail_bytes:
                file.truncate(size)
                file.seek(tail_start)
                file.write(store.read_range(uri, tail_start, size - tail_start))
        partial = path.stat().st_size < size or tail_start is not None
        try:
            info = _probe(path, limits.probe_timeout_s)
        except InputError as error:
            if partial and suffix(uri) in VIDEO_SUFFIXES:
                return
            raise InputError(str(error).replace(str(path), uri)) from None
        except subprocess.TimeoutExpired:
            if suffix(uri) in VIDEO_SUFFIXES:
                return
            raise InputError(f"{uri}: probing its first bytes took over {limits.probe_timeout_s:g} s") from None
    if info["is_hdr"]:
        raise InputError(f"{uri}: already HDR (transfer {info['color_transfer']}); the input must be SDR")


def _probe(path: Path, timeout_s: float) -> dict:
    """`hdrtv probe --json` on `path` in a child process; InputError with its one-line message."""
    command = [sys.executable, "-m", "hdrtv.service.cli", "probe", "--json", str(path)]
    result = subprocess.run(command, capture_output=True, text=True, timeout=timeout_s)
    if result.returncode == 0:
        return json.loads(result.stdout)
    lines = result.stderr.strip().splitlines() or [f"probe exited with status {result.returncode}"]
    message = lines[-1].removeprefix(_PROBE_ERROR)
    if not lines[-1].startswith(_PROBE_ERROR):
        message = f"{path}: not a video the probe can read ({message})"
    raise InputError(message)
