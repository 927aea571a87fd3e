"""`hdrtv convert` end to end: real files in, real HDR10 files out, read back by ffprobe,
MediaInfo and PyAV; chunked conversion equals one-pass conversion; bad input fails cleanly."""

import json
import subprocess
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
import torch
from hdrtv.model import build_dslnet, load_converter, save_checkpoint
from hdrtv.worker.media.chunks import plan_chunks
from hdrtv.worker.media.decode import decode_frames
from hdrtv.worker.media.probe import probe
from hdrtv.worker.media.scenes import detect_shot_starts
from hdrtv.worker.pipeline import chunk_hdr_frames
from video_factory import flat_patches, moving_pattern, write_audio_only, write_clip

SHOT = 14


def _two_shots(frames=2 * SHOT, height=64, width=96):
    rgb = moving_pattern(frames, height, width)
    rgb[SHOT:] = np.roll(flat_patches(frames - SHOT, height, width), 1, axis=2) * 0.8
    return rgb


@pytest.fixture(scope="module")
def source(tmp_path_factory):
    path = tmp_path_factory.mktemp("src") / "two_shots.mp4"
    return write_clip(
        path,
        width=96,
        height=64,
        frames=2 * SHOT,
        rgb=_two_shots(),
        colorspace="bt709",
        color_primaries="bt709",
        color_trc="bt709",
        color_range="tv",
        audio_language="eng",
    )


def _hdrtv(*args, cwd=None):
    return subprocess.run(["hdrtv", *map(str, args)], capture_output=True, text=True, timeout=600, cwd=cwd)


def _ffprobe(path, *args):
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-of", "json", *args, str(path)], capture_output=True, text=True, check=True
    )
    return json.loads(out.stdout)


def _audio_packets(path):
    """(payloads, start times in seconds) of the first audio stream's packets."""
    with av.open(str(path)) as container:
        packets = [p for p in container.demux(container.streams.audio[0]) if p.size]
        return [bytes(p) for p in packets], np.array([float(p.pts * p.time_base) for p in packets])


@pytest.mark.parametrize("suffix", [".mkv", ".mp4"])
def test_convert_writes_a_real_hdr10_file(source, tmp_path, suffix):
    out = tmp_path / f"hdr{suffix}"
    result = _hdrtv("convert", source, out, "--model", "bt2408", "--preset", "ultrafast", "--quiet")
    assert result.returncode == 0, result.stderr
    assert out.stat().st_mode & 0o777 == 0o644  # an ordinary file, not the temporary file's 0600
    streams = _ffprobe(out, "-show_streams", "-show_format")
    video = next(s for s in streams["streams"] if s["codec_type"] == "video")
    assert (video["codec_name"], video["profile"], video["pix_fmt"]) == ("hevc", "Main 10", "yuv420p10le")
    assert (video["color_primaries"], video["color_transfer"], video["color_space"], video["color_range"]) == (
        "bt2020",
        "smpte2084",
        "bt2020nc",
        "tv",
    )
    side = {d["side_data_type"]: d for d in video.get("side_data_list", [])}
    light = side["Content light level metadata"]
    assert f"MaxCLL {light['max_content']} cd/m2, MaxFALL {light['max_average']} cd/m2" in result.stdout
    assert Fraction(side["Mastering display metadata"]["max_luminance"]) == 1000
    # The bitstream carries the same values (SEI on the first frame).
    frame = _ffprobe(out, "-select_streams", "v", "-show_frames", "-read_intervals", "%+#1")["frames"][0]
    frame_side = {d["side_data_type"]: d for d in frame["side_data_list"]}
    assert frame_side["Content light level metadata"]["max_content"] == light["max_content"]
    assert Fraction(frame_side["Mastering display metadata"]["max_luminance"]) == 1000
    # Frames, timing and audio as in the source.
    src, dst = probe(source), probe(out)
    assert dst.frame_count == src.frame_count and dst.frame_rate == src.frame_rate
    assert [p * dst.time_base for p in dst.frame_pts] == [p * src.time_base for p in src.frame_pts]
    (out_audio, out_times), (src_audio, src_times) = _audio_packets(out), _audio_packets(source)
    assert out_audio == src_audio  # copied, not re-encoded
    np.testing.assert_allclose(out_times, src_times, atol=1e-3)  # Matroska keeps milliseconds
    info = subprocess.run(["mediainfo", "--Output=JSON", str(out)], capture_output=True, text=True, check=True)
    video_track = next(t for t in json.loads(info.stdout)["media"]["track"] if t["@type"] == "Video")
    assert video_track["HDR_Format"].startswith("SMPTE ST 2086")


def test_chunked_conversion_equals_one_pass(source, tmp_path):
    torch.manual_seed(0)
    model = build_dslnet("M7", width=8, condition_channels=8)
    torch.nn.init.normal_(model.dmfa.offsets.head.weight, std=0.05)
    save_checkpoint(model, tmp_path / "tiny.pt")
    converter = load_converter("dslnet", weights=tmp_path / "tiny.pt", batch_size=3)
    info = probe(source)
    shots = detect_shot_starts(decode_frames(info))
    assert shots == [0, SHOT]

    def convert(target):
        chunks = plan_chunks(info.frame_count, shots, target, converter.radius)
        frames = [f for chunk in chunks for f in chunk_hdr_frames(info, chunk, shots, converter)]
        return [(c.start, c.stop) for c in chunks], torch.stack(frames)

    one_chunk, whole = convert(info.frame_count)
    at_cut, cut_at_edge = convert(SHOT)
    inside, cut_inside = convert(10)
    assert one_chunk == [(0, 28)]
    assert at_cut == [(0, SHOT), (SHOT, 28)]  # the cut is a chunk edge
    assert inside == [(0, 10), (10, 20), (20, 28)]  # the cut lies inside the second chunk
    assert torch.equal(cut_at_edge, whole) and torch.equal(cut_inside, whole)


def test_probe_prints_text_and_json(source):
    text = _hdrtv("probe", source)
    assert text.returncode == 0 and "h264" in text.stdout and "96x64" in text.stdout
    data = json.loads(_hdrtv("probe", source, "--json").stdout)
    assert data["frame_count"] == 2 * SHOT and data["color_primaries"] == "bt709" and data["is_hdr"] is False


def _bad_inputs(tmp: Path) -> dict[str, Path]:
    good = write_clip(tmp / "good.mp4", frames=4)
    truncated = tmp / "truncated.mp4"
    truncated.write_bytes(good.read_bytes()[: good.stat().st_size // 3])
    empty = tmp / "empty.mp4"
    empty.write_bytes(b"")
    text = tmp / "notes.mp4"
    text.write_text("not a video\n" * 100)
    hdr = write_clip(
        tmp / "hdr.mkv",
        codec="libx265",
        pix_fmt="yuv420p10le",
        frames=3,
        colorspace="bt2020nc",
        color_primaries="bt2020",
        color_trc="smpte2084",
    )
    tiny = write_clip(tmp / "tiny.mkv", codec="ffv1", pix_fmt="yuv444p", width=1, height=1, frames=2)
    return {
        "truncated": truncated,
        "zero bytes": empty,
        "audio only": write_audio_only(tmp / "audio.m4a"),
        "not a video": text,
        "already HDR": hdr,
        "1x1": tiny,
    }


@pytest.mark.parametrize("case", ["truncated", "zero bytes", "audio only", "not a video", "already HDR", "1x1"])
def test_bad_input_fails_in_one_line_without_output(tmp_path, case):
    bad = _bad_inputs(tmp_path)[case]
    out = tmp_path / "out.mkv"
    result = _hdrtv("convert", bad, out, "--model", "bt2408", "--quiet")
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "error" in lines[0] and "Traceback" not in result.stderr, result.stderr
    assert not out.exists() and not list(tmp_path.glob(".out.mkv*"))


def test_existing_output_is_kept_without_overwrite(source, tmp_path):
    out = tmp_path / "hdr.mkv"
    out.write_bytes(b"precious")
    result = _hdrtv("convert", source, out, "--model", "bt2408", "--quiet")
    assert result.returncode != 0 and "--overwrite" in result.stderr
    assert out.read_bytes() == b"precious"


def test_unwritable_output_directory_is_refused(source, tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    result = _hdrtv("convert", source, locked / "hdr.mkv", "--model", "bt2408", "--quiet")
    if result.returncode == 0:  # root ignores directory permissions: use a missing directory instead
        result = _hdrtv("convert", source, tmp_path / "missing" / "hdr.mkv", "--model", "bt2408", "--quiet")
    assert result.returncode != 0 and len(result.stderr.strip().splitlines()) == 1


def test_odd_sized_input_converts_to_the_next_even_size(tmp_path):
    odd = write_clip(tmp_path / "odd.mkv", codec="libx264", pix_fmt="yuv444p", width=63, height=47, frames=5)
    out = tmp_path / "hdr.mkv"
    result = _hdrtv("convert", odd, out, "--model", "bt2446a", "--preset", "ultrafast", "--quiet")
    assert result.returncode == 0, result.stderr
    info = probe(out)
    assert (info.width, info.height, info.frame_count) == (64, 48, 5)
