"""probe(): what a real file holds, checked against ffprobe and mediainfo; one clear InputError for
each kind of bad input; HDR input refused unless forced."""

import json
import subprocess
from fractions import Fraction

import av
import pytest
from hdrtv.worker.control.errors import InputError
from hdrtv.worker.media.probe import probe, refuse_hdr
from video_factory import write_audio_only, write_clip

BT709 = {"colorspace": "bt709", "color_primaries": "bt709", "color_trc": "bt709", "color_range": "tv"}
AV1 = pytest.mark.skipif(
    not {"libsvtav1", "libdav1d"} <= av.codecs_available, reason="needs libsvtav1 (encode) and libdav1d (decode)"
)
FORMATS = [
    pytest.param("h264.mp4", "libx264", "yuv420p", {}, id="h264-420"),
    pytest.param("hevc.mkv", "libx265", "yuv422p10le", {"x265-params": "log-level=error"}, id="hevc-422-10bit"),
    pytest.param("vp9.webm", "libvpx-vp9", "yuv444p", {"deadline": "realtime", "cpu-used": "8"}, id="vp9-444"),
    pytest.param("av1.mkv", "libsvtav1", "yuv420p10le", {"preset": "12"}, id="av1-420-10bit", marks=AV1),
    pytest.param("prores.mov", "prores_ks", "yuv422p10le", {}, id="prores-422-10bit"),
    pytest.param("mpeg2.mpg", "mpeg2video", "yuv420p", {}, id="mpeg2-ps"),
]


def ffprobe(path, *entries):
    command = ["ffprobe", "-v", "error", "-of", "json", *entries, str(path)]
    return json.loads(subprocess.run(command, capture_output=True, check=True, text=True).stdout)


def mediainfo_video(path):
    result = subprocess.run(["mediainfo", "--Output=JSON", str(path)], capture_output=True, check=True)
    tracks = json.loads(result.stdout)
    return next(t for t in tracks["media"]["track"] if t["@type"] == "Video")


@pytest.mark.parametrize(("name", "codec", "pix_fmt", "options"), FORMATS)
def test_probe_agrees_with_ffprobe_and_mediainfo(tmp_path, name, codec, pix_fmt, options):
    path = write_clip(tmp_path / name, codec=codec, pix_fmt=pix_fmt, frames=8, options=options, **BT709)
    info = probe(path)
    stream = ffprobe(path, "-select_streams", "v", "-count_frames", "-show_streams")["streams"][0]
    assert (info.codec, info.width, info.height, info.pix_fmt) == (stream["codec_name"], 64, 48, pix_fmt)
    assert info.profile == stream.get("profile")
    assert (info.color_space, info.color_primaries, info.color_transfer, info.color_range) == (
        stream["color_space"],
        stream["color_primaries"],
        stream["color_transfer"],
        stream["color_range"],
    )
    assert info.frame_rate == Fraction(stream["avg_frame_rate"]) == 25
    assert info.time_base == Fraction(stream["time_base"])
    assert info.frame_count == int(stream["nb_read_frames"]) == 8
    assert info.duration == pytest.approx(8 / 25, abs=1e-3)
    assert not info.is_hdr and not info.audio and not info.subtitles
    media = mediainfo_video(path)
    assert info.chroma_subsampling == media.get("ChromaSubsampling", info.chroma_subsampling)
    assert info.bit_depth == int(media.get("BitDepth", info.bit_depth)) == (10 if "10" in pix_fmt else 8)
    step = info.frame_pts[1] - info.frame_pts[0]
    assert info.frame_pts == tuple(info.frame_pts[0] + i * step for i in range(8))  # MPEG-PS: gaps filled
    assert step * info.time_base == Fraction(1, 25)


def test_tracks_and_vfr_timestamps_are_exact(tmp_path):
    pts = [0, 33, 50, 117, 120, 200, 251, 300]
    path = write_clip(
        tmp_path / "vfr.mkv",
        frames=len(pts),
        pts=pts,
        time_base=Fraction(1, 1000),
        audio_language="eng",
        subtitle_language="fra",
        **BT709,
    )
    info = probe(path)
    assert info.frame_pts == tuple(pts)
    frames = ffprobe(path, "-select_streams", "v", "-show_entries", "frame=pts")["frames"]
    assert [f["pts"] for f in frames] == pts
    assert info.duration == pytest.approx(0.340)  # the last frame lasts one nominal frame (40 ms)
    _, sound, text = ffprobe(path, "-show_streams")["streams"]
    (audio,), (subtitle,) = info.audio, info.subtitles
    assert (audio.index, audio.codec, audio.language, audio.channels, audio.sample_rate) == (
        1,
        sound["codec_name"],
        sound["tags"]["language"],
        sound["channels"],
        int(sound["sample_rate"]),
    )
    assert (subtitle.index, subtitle.codec, subtitle.language) == (2, text["codec_name"], "fra")
    data = json.loads(json.dumps(info.to_dict()))
    assert data["frame_pts"] == pts and data["frame_rate"] == "25/1" and data["time_base"] == "1/1000"
    assert data["audio"][0]["language"] == "eng" and data["is_hdr"] is False


def test_hdr10_metadata_and_refusal(tmp_path):
    master = "G(13250,34500)B(7500,3000)R(34000,16000)WP(15635,16450)L(10000000,1)"
    path = write_clip(
        tmp_path / "pq.mkv",
        codec="libx265",
        pix_fmt="yuv420p10le",
        frames=3,
        colorspace="bt2020nc",
        color_primaries="bt2020",
        color_trc="smpte2084",
        color_range="tv",
        options={"x265-params": f"log-level=error:hdr10=1:master-display={master}:max-cll=1000,400"},
    )
    info = probe(path)
    assert info.is_hdr and info.color_transfer == "smpte2084"
    first = ffprobe(path, "-select_streams", "v", "-read_intervals", "%+#1", "-show_frames")["frames"][0]
    side = first["side_data_list"]
    mastering = next(s for s in side if s["side_data_type"] == "Mastering display metadata")
    display = info.mastering_display
    assert display.red == pytest.approx((float(Fraction(mastering["red_x"])), float(Fraction(mastering["red_y"]))))
    assert display.red == pytest.approx((0.68, 0.32)) and display.blue == pytest.approx((0.15, 0.06))
    assert display.white_point == pytest.approx((0.3127, 0.329))
    assert (display.max_luminance, display.min_luminance) == (1000.0, 0.0001)
    assert (info.content_light.max_cll, info.content_light.max_fall) == (1000, 400)
    with pytest.raises(InputError, match=r"pq\.mkv: already HDR \(PQ\); use --force to convert anyway"):
        refuse_hdr(info)
    refuse_hdr(info, force=True)


def test_hlg_refused_and_sdr_accepted(tmp_path):
    hlg = probe(write_clip(tmp_path / "hlg.mp4", frames=2, color_trc="arib-std-b67"))
    with pytest.raises(InputError, match=r"already HDR \(HLG\)"):
        refuse_hdr(hlg)
    sdr = probe(write_clip(tmp_path / "sdr.mp4", frames=2, **BT709))
    refuse_hdr(sdr)
    assert sdr.mastering_display is None and sdr.content_light is None


def _truncated_in_first_frame(tmp_path):
    path = write_clip(tmp_path / "cut.mkv", frames=5)
    with av.open(str(path)) as container:
        first = next(p for p in container.demux(video=0) if p.size)
        cut = first.pos + first.size // 2
    path.write_bytes(path.read_bytes()[:cut])
    return path


def _file(path, data):
    path.write_bytes(data)
    return path


BAD_INPUTS = {
    "missing": (lambda tmp: tmp / "nothing.mp4", r"nothing\.mp4: no such file"),
    "empty": (lambda tmp: _file(tmp / "empty.mp4", b""), r"empty\.mp4: empty file \(0 bytes\)"),
    "text": (lambda tmp: _file(tmp / "notes.mp4", b"not video\n" * 50), r"notes\.mp4: not a media file"),
    "text FFmpeg reads as ANSI art": (
        lambda tmp: _file(tmp / "notes.nfo", b"not video\n" * 50),
        r"notes\.nfo: not a video but a text file \(FFmpeg would draw it as ASCII/ANSI art\)$",
    ),
    "audio only": (lambda tmp: write_audio_only(tmp / "song.m4a"), r"song\.m4a: no video stream \(audio only\)"),
    "audio and cover picture": (
        lambda tmp: write_audio_only(tmp / "album.mp4", cover=True),
        r"album\.mp4: no video stream \(audio only\)",
    ),
    "1x1": (
        lambda tmp: write_clip(tmp / "dot.mkv", pix_fmt="yuv444p", width=1, height=1, frames=2),
        r"dot\.mkv: frame size 1x1 is below the minimum 16x16",
    ),
    "truncated": (_truncated_in_first_frame, r"cut\.mkv: first video frame cannot be decoded"),
}


@pytest.mark.parametrize("case", BAD_INPUTS)
def test_bad_input_is_one_clear_input_error(tmp_path, case):
    make, message = BAD_INPUTS[case]
    path = make(tmp_path)
    with pytest.raises(InputError, match=message) as error:
        probe(path)
    assert "\n" not in str(error.value) and str(error.value).startswith(str(path))
