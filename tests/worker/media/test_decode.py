"""decode_frames(): real clips of every codec we take, decoded to full-range BT.709 R'G'B' with the
right matrix, range and primaries; chunks that start mid-stream are bit-exact with a full decode."""

import json
import subprocess
import warnings
from fractions import Fraction

import av
import numpy as np
import pytest
from hdrtv.worker.control.errors import InputError
from hdrtv.worker.media.decode import colour_plan, decode_frames, ycbcr_444
from hdrtv.worker.media.probe import probe
from video_factory import (
    LUMA_WEIGHTS,
    PATCH_COLOURS,
    flat_patches,
    moving_pattern,
    patch_centres,
    write_clip,
    ycbcr_codes,
)

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    import colour

BT709 = {"colorspace": "bt709", "color_primaries": "bt709", "color_trc": "bt709", "color_range": "tv"}
BT601 = {"colorspace": "smpte170m", "color_primaries": "smpte170m", "color_trc": "smpte170m", "color_range": "tv"}
PAL = {"colorspace": "bt470bg", "color_primaries": "bt470bg", "color_trc": "gamma28", "color_range": "tv"}
BT2020 = {"colorspace": "bt2020nc", "color_primaries": "bt2020", "color_trc": "bt2020-10", "color_range": "tv"}
X264 = {"codec": "libx264", "options": {"qp": "0"}}  # lossless
X265 = {"codec": "libx265", "options": {"x265-params": "lossless=1:log-level=error"}}
VP9 = {"codec": "libvpx-vp9", "options": {"lossless": "1", "deadline": "realtime", "cpu-used": "8"}}
SVT_AV1 = {"codec": "libsvtav1", "options": {"crf": "10", "preset": "12"}}
AV1 = pytest.mark.skipif(
    not {"libsvtav1", "libdav1d"} <= av.codecs_available, reason="needs libsvtav1 (encode) and libdav1d (decode)"
)
COLOURSPACES = {"smpte170m": "SMPTE C", "bt470bg": "ITU-R BT.470 - 625", "bt2020": "ITU-R BT.2020"}

# (file name, writer arguments, atol on R'G'B'). A wrong matrix moves the red patch by ~0.1, a wrong
# range any patch by up to ~0.07, SMPTE C primaries left unconverted red by 0.023: all above atol.
COLOUR_CASES = [
    pytest.param("a.mp4", {**X264, "pix_fmt": "yuv420p", **BT709}, 0.008, id="h264-420-8bit-limited-bt709"),
    pytest.param("a.mkv", {**X265, "pix_fmt": "yuv422p10le", **BT709}, 0.002, id="hevc-422-10bit"),
    pytest.param("a.mkv", {**X265, "pix_fmt": "yuv444p12le", **BT709}, 0.001, id="hevc-444-12bit"),
    pytest.param("a.webm", {**VP9, "pix_fmt": "yuv444p", **BT709}, 0.008, id="vp9-444"),
    pytest.param("a.mkv", {**SVT_AV1, "pix_fmt": "yuv420p10le", **BT709}, 0.01, id="av1-420-10bit", marks=AV1),
    pytest.param("a.mov", {"codec": "prores_ks", "pix_fmt": "yuv422p10le", **BT709}, 0.003, id="prores-422-10bit"),
    pytest.param(
        "a.mpg",
        {"codec": "mpeg2video", "pix_fmt": "yuv420p", **BT709, "options": {"qmin": "1", "qmax": "1"}},
        0.012,
        id="mpeg2-420",
    ),
    pytest.param("a.mkv", {**X264, "pix_fmt": "yuv420p", **BT709, "color_range": "pc"}, 0.008, id="full-range"),
    pytest.param("a.mkv", {**X264, "pix_fmt": "yuv420p", **BT601}, 0.008, id="bt601-smpte170m"),
    pytest.param("a.mkv", {**X264, "pix_fmt": "yuv420p", **PAL}, 0.008, id="bt601-bt470bg"),
    pytest.param("a.mkv", {**X264, "pix_fmt": "yuv420p", "matrix": "bt601"}, 0.008, id="untagged-sd-is-bt601"),
    pytest.param(
        "a.mkv",
        {**X264, "pix_fmt": "yuv420p", "matrix": "bt709", "width": 1280, "height": 32},
        0.008,
        id="untagged-hd-is-bt709",
    ),
    pytest.param("a.mkv", {**X265, "pix_fmt": "yuv420p10le", **BT2020}, 0.002, id="bt2020-sdr"),
]


def expected_bt709(rgb, primaries):
    """Reference with colour-science: R'G'B' on `primaries` -> BT.709 R'G'B' via 2.4-power linear light."""
    if primaries not in COLOURSPACES:
        return rgb
    matrix = colour.matrix_RGB_to_RGB(
        colour.RGB_COLOURSPACES[COLOURSPACES[primaries]],
        colour.RGB_COLOURSPACES["ITU-R BT.709"],
        chromatic_adaptation_transform=None,
    )
    return np.clip(np.clip(rgb**2.4 @ matrix.T, 0, 1) ** (1 / 2.4), 0, 1)


def nearest_source(frame, rgb):
    """Index of the source frame (rgb: (n, h, w, 3)) that a decoded uint16 frame shows."""
    return int(np.argmin(np.abs(rgb - frame / 65535.0).mean(axis=(1, 2, 3))))


@pytest.mark.parametrize(("name", "kwargs", "atol"), COLOUR_CASES)
def test_flat_patches_decode_to_bt709_rgb(tmp_path, name, kwargs, atol):
    width, height = kwargs.pop("width", 64), kwargs.pop("height", 48)
    rgb = flat_patches(2, height, width)
    path = write_clip(tmp_path / name, rgb=rgb, frames=2, width=width, height=height, **kwargs)
    frame = next(decode_frames(probe(path)))
    assert frame.dtype == np.uint16 and frame.shape == (height, width, 3)
    got = np.array([frame[row, column] for row, column in patch_centres(height, width)]) / 65535.0
    np.testing.assert_allclose(got, expected_bt709(np.array(PATCH_COLOURS), kwargs.get("color_primaries")), atol=atol)


def test_wrong_matrix_or_range_would_fail_the_tolerances():
    patches = np.array(PATCH_COLOURS)
    codes = ycbcr_codes(patches, "bt709", 8, False)
    as_601 = colour.YCbCr_to_RGB(codes, K=LUMA_WEIGHTS["bt601"], in_bits=8, in_legal=True, in_int=True)
    as_full = colour.YCbCr_to_RGB(codes, K=LUMA_WEIGHTS["bt709"], in_bits=8, in_legal=False, in_int=True)
    assert np.abs(as_601 - patches).max() > 0.08 and np.abs(as_full - patches).max() > 0.05
    assert np.abs(expected_bt709(patches, "smpte170m") - patches).max() > 0.02


@pytest.mark.parametrize(
    ("codec", "pix_fmt", "options", "color_range"),
    [
        ("libx264", "yuv420p", {"qp": "0"}, "tv"),
        ("libx264", "yuv420p", {"qp": "0"}, "pc"),  # decodes as yuvj420p, which swscale treats apart
        ("libx265", "yuv422p10le", {"x265-params": "lossless=1:log-level=error"}, "tv"),
    ],
)
def test_chroma_upsampling_keeps_code_values(tmp_path, codec, pix_fmt, options, color_range):
    """swscale only upsamples chroma: luma stays bit-exact and no value is rescaled or range-converted."""
    rgb = np.concatenate([moving_pattern(2, 48, 64), flat_patches(1, 48, 64)])
    tags = {**BT709, "color_range": color_range}
    path = write_clip(tmp_path / "a.mkv", codec=codec, pix_fmt=pix_fmt, rgb=rgb, frames=3, options=options, **tags)
    info = probe(path)
    plan = colour_plan(info)
    with av.open(str(path)) as container:
        frames = [ycbcr_444(frame, plan).numpy() for frame in container.decode(video=0)]
    written = ycbcr_codes(rgb, "bt709", info.bit_depth, color_range == "pc")
    for got, codes in zip(frames, written):
        np.testing.assert_array_equal(got[..., 0], codes[..., 0])
    centres = tuple(np.array(patch_centres(48, 64)).T)
    np.testing.assert_array_equal(frames[2][centres], written[2][centres])


def test_monochrome_decodes_to_grey(tmp_path):
    path = write_clip(tmp_path / "bw.mkv", **X265, pix_fmt="gray", rgb=flat_patches(2, 48, 64), frames=2, **BT709)
    info = probe(path)
    assert (info.pix_fmt, info.chroma_subsampling) == ("gray", "4:0:0")
    frame = next(decode_frames(info)) / 65535.0
    luma = np.array(PATCH_COLOURS) @ np.array([0.2126, 0.7152, 0.0722])
    got = np.array([frame[row, column] for row, column in patch_centres(48, 64)])
    np.testing.assert_allclose(got, np.repeat(luma[:, None], 3, axis=1), atol=0.008)


SEEK_CASES = [
    pytest.param("a.mp4", "libx264", {}, id="h264-mp4"),
    pytest.param("a.ts", "libx264", {}, id="h264-ts"),
    pytest.param("a.mkv", "libx265", {"x265-params": "log-level=error"}, id="hevc-mkv"),
    pytest.param("a.mpg", "mpeg2video", {"bf": "2"}, id="mpeg2-ps"),
]


@pytest.mark.parametrize(("name", "codec", "options"), SEEK_CASES)
def test_chunk_from_mid_stream_is_bit_exact(tmp_path, name, codec, options):
    rgb = moving_pattern(20, 48, 64)
    path = write_clip(tmp_path / name, codec=codec, rgb=rgb, frames=20, gop=4, options=options, **BT709)
    packets = json.loads(
        subprocess.run(
            [
                "ffprobe",
                "-v",
                "error",
                "-select_streams",
                "v",
                "-show_entries",
                "packet=flags",
                "-of",
                "json",
                str(path),
            ],
            capture_output=True,
            check=True,
            text=True,
        ).stdout
    )["packets"]
    assert sum(p["flags"].startswith("K") for p in packets) >= 5  # keyframe every 4 frames
    info = probe(path)
    full = list(decode_frames(info))
    assert [nearest_source(f, rgb) for f in full] == list(range(20))
    chunk = list(decode_frames(info, 7, 12))
    assert len(chunk) == 5 and all(np.array_equal(a, b) for a, b in zip(chunk, full[7:12]))
    assert [np.array_equal(a, b) for a, b in zip(decode_frames(info, 19), full[19:])] == [True]


class CountingContainer:
    """A PyAV input container that records the pts of every frame its decoder hands out."""

    def __init__(self, container, seen):
        self._container, self._seen = container, seen

    def __getattr__(self, name):
        return getattr(self._container, name)

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self._container.close()

    def decode(self, *args, **kwargs):
        for frame in self._container.decode(*args, **kwargs):
            self._seen.append(frame.pts)
            yield frame


def test_chunk_decodes_from_the_nearest_keyframe(tmp_path, monkeypatch):
    path = write_clip(tmp_path / "a.mp4", frames=20, gop=4, **BT709)
    info = probe(path)
    seen, real_open = [], av.open
    monkeypatch.setattr(av, "open", lambda *args, **kwargs: CountingContainer(real_open(*args, **kwargs), seen))
    assert len(list(decode_frames(info, 14, 16))) == 2
    key = max(k for k in info.keyframe_pts if k <= info.frame_pts[14])
    assert min(seen) == key > info.frame_pts[0] and len(seen) <= 14 - info.frame_pts.index(key) + 2


def test_variable_frame_rate_chunks_follow_pts(tmp_path):
    pts = [0, 33, 50, 117, 120, 200, 251, 300, 302, 390]
    rgb = moving_pattern(len(pts), 48, 64)
    path = write_clip(
        tmp_path / "vfr.mkv", rgb=rgb, frames=len(pts), pts=pts, time_base=Fraction(1, 1000), gop=3, **BT709
    )
    info = probe(path)
    assert info.frame_pts == tuple(pts)
    full = list(decode_frames(info))
    assert [nearest_source(f, rgb) for f in full] == list(range(len(pts)))
    chunk = list(decode_frames(info, 4, 8))
    assert len(chunk) == 4 and all(np.array_equal(a, b) for a, b in zip(chunk, full[4:8]))


def test_odd_frame_size_keeps_decoded_size(tmp_path):
    rgb = moving_pattern(3, 47, 63)
    path = write_clip(tmp_path / "odd.webm", **VP9, rgb=rgb, width=63, height=47, frames=3, **BT709)
    frames = list(decode_frames(probe(path)))
    assert [f.shape for f in frames] == [(47, 63, 3)] * 3
    assert np.abs(frames[2] / 65535.0 - rgb[2]).mean() < 0.01


def test_bad_ranges_and_unsupported_tags_fail_before_decoding(tmp_path):
    info = probe(write_clip(tmp_path / "a.mkv", frames=3, **BT709))
    with pytest.raises(ValueError, match="outside"):
        decode_frames(info, 2, 4)
    assert list(decode_frames(info, 1, 1)) == []
    ycgco = probe(write_clip(tmp_path / "ycgco.mkv", frames=2, **{**BT709, "colorspace": "ycgco"}))
    with pytest.raises(InputError, match=r"ycgco\.mkv: colour matrix ycgco is not supported"):
        decode_frames(ycgco)
    ntsc = probe(write_clip(tmp_path / "ntsc.mkv", frames=2, **{**BT709, "color_primaries": "bt470m"}))
    with pytest.raises(InputError, match=r"ntsc\.mkv: colour primaries bt470m are not supported"):
        decode_frames(ntsc)
