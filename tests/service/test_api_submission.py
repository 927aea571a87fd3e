"""The checks of `service/submission.py`: buckets that do not exist, and the header probe on partial
objects (MP4 indexes at the end, the fallback to the extension when a partial file cannot be probed)."""

from __future__ import annotations

from pathlib import Path

import pytest
from api_harness import ApiHarness
from hdrtv.service.submission import SubmissionLimits, check_header, moov_tail_start
from hdrtv.worker.control.errors import InputError
from video_factory import write_audio_only, write_clip

HEAD = 4 << 10


def upload(object_store, bucket, key, path) -> tuple[str, int]:
    data = path.read_bytes()
    object_store.client.put_object(Bucket=bucket, Key=key, Body=data)
    return f"s3://{bucket}/{key}", len(data)


@pytest.fixture(scope="module")
def clips(tmp_path_factory) -> dict[str, Path]:
    """MP4s larger than HEAD, their first frame inside it, their moov box at the end (FFmpeg's default)."""
    folder = tmp_path_factory.mktemp("clips")
    return {
        name: write_clip(folder / f"{name}.mp4", width=160, height=120, frames=100, color_trc=trc)
        for name, trc in (("sdr", None), ("hlg", "arib-std-b67"))
    }


def test_a_bucket_that_does_not_exist_is_refused_at_submission(redis_server, s3_settings, bucket, tmp_path):
    """The user's mistake, told at once (422): a missing output bucket would otherwise be found only
    when the converted video is uploaded, and by then the job could not tell whose fault it was."""
    api = ApiHarness.start(redis_server, s3_settings, bucket, tmp_path)
    api.put_video("in/a.mp4")
    headers = api.auth()
    output, input_ = "s3://no-such-bucket-here/out/a.mkv", "s3://no-such-bucket-here/in/a.mp4"
    for body, named in (
        ({"input_uri": api.uri("in/a.mp4"), "output_uri": output}, output),
        ({"input_uri": input_, "output_uri": api.uri("out/a.mkv")}, input_),
    ):
        response = api.client.post("/v1/jobs", json=body, headers=headers)
        assert (response.status_code, response.json()["detail"]) == (422, f"{named}: no such bucket")
    batch = {"jobs": [{"input_uri": api.uri("in/a.mp4"), "output_uri": output}]}
    response = api.client.post("/v1/batches", json=batch, headers=headers)
    assert (response.status_code, response.json()["detail"]) == (422, f"jobs[0]: {output}: no such bucket")
    assert api.client.get("/v1/jobs", headers=headers).json()["items"] == []


def test_the_index_after_the_media_data_is_found_in_the_head(clips, tmp_path):
    data = clips["sdr"].read_bytes()
    assert len(data) > HEAD
    start = moov_tail_start(data[:HEAD], len(data))
    assert start is not None and data[start + 4 : start + 8] == b"moov"
    assert moov_tail_start(data[: start + 8], len(data)) == start  # moov's header in the head, its body not
    assert moov_tail_start(write_clip(tmp_path / "b.mkv").read_bytes()[:64], 10**6) is None
    assert moov_tail_start(b"\0\0\0\x08junk" * 4, 10**6) is None


def test_an_hdr_mp4_with_its_index_at_the_end_is_refused_from_head_and_tail(object_store, bucket, clips):
    uri, size = upload(object_store, bucket, "hlg.mp4", clips["hlg"])
    limits = SubmissionLimits(head_bytes=HEAD)
    with pytest.raises(InputError, match=f"^{uri}: already HDR"):
        check_header(object_store, uri, size, limits)
    # Without the tail the index is missing: the fallback lets a .mp4 through for the worker to judge.
    check_header(object_store, uri, size, SubmissionLimits(head_bytes=HEAD, max_tail_bytes=0))


def test_an_sdr_mp4_with_its_index_at_the_end_passes(object_store, bucket, clips):
    uri, size = upload(object_store, bucket, "sdr.mp4", clips["sdr"])
    check_header(object_store, uri, size, SubmissionLimits(head_bytes=HEAD))


def test_a_partial_file_that_does_not_probe_passes_only_with_a_video_extension(object_store, bucket, tmp_path):
    noise = tmp_path / "noise"
    noise.write_bytes(bytes(range(256)) * 200)
    limits = SubmissionLimits(head_bytes=1024)
    uri, size = upload(object_store, bucket, "noise.mkv", noise)
    check_header(object_store, uri, size, limits)
    uri, size = upload(object_store, bucket, "noise.bin", noise)
    with pytest.raises(InputError, match=f"^{uri}: not a media file"):
        check_header(object_store, uri, size, limits)


def test_a_file_read_whole_that_does_not_probe_is_refused(object_store, bucket, tmp_path):
    audio = tmp_path / "audio.mkv"

    write_audio_only(audio)
    uri, size = upload(object_store, bucket, "audio.mkv", audio)
    with pytest.raises(InputError, match=f"^{uri}: no video stream"):
        check_header(object_store, uri, size, SubmissionLimits())
