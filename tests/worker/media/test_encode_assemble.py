"""Chunks encoded with x265 and assembled into .mp4 / .mkv, read back with ffprobe, mediainfo and
PyAV: HDR10 signalling in the bitstream and the container, source timing (also VFR), untouched
audio and subtitles, and files that are only ever complete."""

import json
import subprocess
from fractions import Fraction

import av
import numpy as np
import pytest
import torch
from hdrtv.worker.control.errors import InputError
from hdrtv.worker.formats.static_metadata import CONTENT_LIGHT_LEVEL, MASTERING_DISPLAY, MasteringDisplay
from hdrtv.worker.media.assemble import assemble, decode_timestamps
from hdrtv.worker.media.encode import HevcChunkEncoder, chroma_420, to_yuv420p10
from hdrtv.worker.media.hevc_sei import nal_type, sei_payloads, split_nal_units
from hdrtv.worker.media.light_level import LightLevelMeter
from video_factory import write_clip

DISPLAY = MasteringDisplay(max_luminance=4000.0, min_luminance=0.005)
VFR_PTS = [0, 40, 80, 130, 170, 200, 260, 300, 340, 400]


def ffprobe(path, *args):
    command = ["ffprobe", "-v", "error", "-of", "json", *args, str(path)]
    return json.loads(subprocess.run(command, capture_output=True, text=True, check=True).stdout)


def mediainfo_video(path):
    out = subprocess.run(["mediainfo", "--Output=JSON", str(path)], capture_output=True, text=True, check=True).stdout
    return next(track for track in json.loads(out)["media"]["track"] if track["@type"] == "Video")


def frame_times(path):
    frames = ffprobe(path, "-select_streams", "v", "-show_entries", "frame=pts_time")["frames"]
    return [frame["pts_time"] for frame in frames]


def packets(path, kind):
    """(payload, pts in seconds) of every packet of the first `kind` stream, via PyAV. Durations are
    left out: MP4 stores dts differences and Matroska may omit the first block's."""
    with av.open(str(path)) as container:
        streams = [s for s in container.streams if s.type == kind][:1]
        return [(bytes(p), p.pts * p.time_base) for p in container.demux(streams) if p.size] if streams else []


def decode(path):
    with av.open(str(path)) as container:
        return [frame.to_ndarray() for frame in container.decode(video=0)]


def convert(source, directory, splits):
    """Stand-in for the model: SDR R'G'B' scaled into PQ codes, encoded as one chunk per split."""
    with av.open(str(source)) as container:
        stream = container.streams.video[0]
        frames = [(f.to_ndarray(format="rgb24"), f.pts, f.duration) for f in container.decode(stream)]
        time_base, rate = stream.time_base, stream.average_rate
    meter, chunks = LightLevelMeter(), []
    for index, (start, stop) in enumerate(splits):
        chunks.append(directory / f"chunk{index}.mp4")
        options = {"crf": 30, "preset": "ultrafast", "mastering": DISPLAY, "threads": 1}
        with HevcChunkEncoder(chunks[-1], 64, 48, time_base, rate, **options) as encoder:
            for rgb, pts, duration in frames[start:stop]:
                encoder.write(rgb.astype(np.float32) / 255 * 0.75, pts, duration)
        meter.merge(encoder.meter)
    return chunks, meter.result()


@pytest.fixture(scope="module")
def cfr(tmp_path_factory):
    directory = tmp_path_factory.mktemp("cfr")
    source = write_clip(directory / "source.mkv", frames=12, audio_language="eng", subtitle_language="fre")
    chunks, light = convert(source, directory, [(0, 5), (5, 12)])
    outputs = {}
    for suffix in (".mp4", ".mkv"):
        outputs[suffix] = directory / f"out{suffix}"
        assemble(chunks, outputs[suffix], source, light, DISPLAY)
    return source, chunks, light, outputs


def test_chunk_is_main10_pq_bt2020_and_starts_with_an_idr(cfr):
    _, chunks, _, _ = cfr
    for chunk in chunks:
        stream = ffprobe(chunk, "-show_streams")["streams"][0]
        assert (stream["codec_name"], stream["profile"], stream["pix_fmt"]) == ("hevc", "Main 10", "yuv420p10le")
        colour = ("color_primaries", "color_transfer", "color_space", "color_range", "chroma_location")
        assert [stream[key] for key in colour] == ["bt2020", "smpte2084", "bt2020nc", "tv", "left"]
        first = split_nal_units(packets(chunk, "video")[0][0])
        assert {nal_type(nal) for nal in first} & {19, 20}  # IDR_W_RADL / IDR_N_LP
        assert sei_payloads(first, MASTERING_DISPLAY) == [DISPLAY.payload()]
        assert sei_payloads(first, CONTENT_LIGHT_LEVEL) == [bytes(4)]  # placeholder: unknown


def test_yuv_codes_and_left_sited_chroma():
    white_black = np.zeros((2, 4, 3), np.float32)
    white_black[:, :2] = 1.0
    planes = to_yuv420p10(white_black)
    assert planes[:2].tolist() == [[940, 940, 64, 64]] * 2 and planes[2:].tolist() == [[512, 512, 512, 512]]
    plane = torch.tensor([[0.0, 4.0, 8.0, 4.0], [2.0, 2.0, 2.0, 2.0]])
    # column 0: (0 + 2*0 + 4) / 4 = 1 (edge repeated), column 2: (4 + 16 + 4) / 4 = 6; rows averaged with 2
    assert chroma_420(plane).tolist() == [[1.5, 4.0]]


def test_decode_timestamps_never_pass_pts_across_a_join():
    pts = [0, 3, 1, 2, 4, 7, 5, 6]  # two chunks, one B-frame pyramid each
    dts = decode_timestamps(pts)
    assert all(a < b for a, b in zip(dts, dts[1:])) and all(d <= p for d, p in zip(dts, pts))


@pytest.mark.parametrize("suffix", [".mp4", ".mkv"])
def test_output_is_hdr10_in_container_and_bitstream(cfr, suffix):
    _, _, light, outputs = cfr
    stream = ffprobe(outputs[suffix], "-show_streams", "-select_streams", "v")["streams"][0]
    assert (stream["codec_name"], stream["profile"], stream["pix_fmt"]) == ("hevc", "Main 10", "yuv420p10le")
    assert (stream["color_primaries"], stream["color_transfer"], stream["color_space"], stream["color_range"]) == (
        "bt2020",
        "smpte2084",
        "bt2020nc",
        "tv",
    )
    side = {s["side_data_type"]: s for s in stream["side_data_list"]}  # container boxes / elements
    cll = side["Content light level metadata"]
    assert (cll["max_content"], cll["max_average"]) == (light.max_cll, light.max_fall)
    mdcv = side["Mastering display metadata"]
    assert Fraction(mdcv["red_x"]) == Fraction(DISPLAY.red[0]).limit_denominator(50000)
    assert (Fraction(mdcv["max_luminance"]), Fraction(mdcv["min_luminance"])) == (4000, Fraction(5, 1000))
    # Bitstream: every CLL / mastering SEI rewritten, one per chunk, read by FFmpeg from raw HEVC.
    units = [nal for data, _ in packets(outputs[suffix], "video") for nal in split_nal_units(data)]
    assert sei_payloads(units, CONTENT_LIGHT_LEVEL) == [light.payload()] * 2
    assert sei_payloads(units, MASTERING_DISPLAY) == [DISPLAY.payload()] * 2
    raw = outputs[suffix].with_suffix(suffix + ".hevc")
    with av.open(str(outputs[suffix])) as inp, av.open(str(raw), "w", format="hevc") as out:
        copy = out.add_stream_from_template(inp.streams.video[0])
        for packet in inp.demux(inp.streams.video[0]):
            if packet.size:
                packet.stream = copy
                out.mux(packet)
    frames = ffprobe(raw, "-show_frames")["frames"]
    assert len(frames) == 12
    for frame in frames:
        side = {s["side_data_type"]: s for s in frame["side_data_list"]}
        assert side["Content light level metadata"]["max_content"] == light.max_cll
        assert Fraction(side["Mastering display metadata"]["max_luminance"]) == 4000


@pytest.mark.parametrize("suffix", [".mp4", ".mkv"])
def test_mediainfo_sees_hdr10_in_container_and_stream(cfr, suffix):
    _, _, light, outputs = cfr
    info = mediainfo_video(outputs[suffix])
    assert info["HDR_Format"] == "SMPTE ST 2086" and "HDR10" in info["HDR_Format_Compatibility"]
    assert info["MasteringDisplay_ColorPrimaries"] == "Display P3"
    assert info["MasteringDisplay_Luminance"] == "min: 0.0050 cd/m2, max: 4000 cd/m2"
    assert info["MasteringDisplay_Luminance_Source"] == "Container / Stream"
    for name, value in (("MaxCLL", light.max_cll), ("MaxFALL", light.max_fall)):
        found = {key: info[key] for key in (name, name + "_Original") if key in info}
        assert {int(text.split()[0]) for text in found.values()} == {value}
        sources = " / ".join(info[key + "_Source"] for key in found)
        assert "Container" in sources and "Stream" in sources


@pytest.mark.parametrize("suffix", [".mp4", ".mkv"])
def test_frames_timing_and_audio_match_the_source(cfr, suffix):
    source, chunks, _, outputs = cfr
    assert frame_times(outputs[suffix]) == frame_times(source)
    for path in (source, outputs[suffix]):
        assert ffprobe(path, "-show_streams", "-select_streams", "v")["streams"][0]["avg_frame_rate"] == "25/1"
    assert packets(outputs[suffix], "audio") == packets(source, "audio")
    decoded = [decode(path) for path in (*chunks, outputs[suffix])]
    assert len(decoded[2]) == 12 and all(np.array_equal(a, b) for a, b in zip(decoded[0] + decoded[1], decoded[2]))


def test_subtitles_copied_to_mkv_and_left_out_of_mp4(cfr):
    source, _, _, outputs = cfr
    assert packets(outputs[".mkv"], "subtitle") == packets(source, "subtitle") != []
    with av.open(str(outputs[".mkv"])) as out, av.open(str(source)) as inp:
        assert out.streams.subtitles[0].metadata["language"] == "fre"
        cues = [[p.duration * p.time_base for p in c.demux(c.streams.subtitles[0]) if p.size] for c in (out, inp)]
        assert cues[0] == cues[1] == [Fraction(12, 25)]
    assert packets(outputs[".mp4"], "subtitle") == []  # SubRip has no MP4 mapping; mov_text would


@pytest.mark.parametrize("suffix", [".mp4", ".mkv"])
def test_variable_frame_rate_survives(tmp_path, suffix):
    source = write_clip(tmp_path / "vfr.mp4", frames=10, pts=VFR_PTS, time_base=Fraction(1, 1000))
    chunks, light = convert(source, tmp_path, [(0, 4), (4, 10)])
    assemble(chunks, tmp_path / f"out{suffix}", source, light, DISPLAY)
    assert frame_times(tmp_path / f"out{suffix}") == [f"{t / 1000:.6f}" for t in VFR_PTS] == frame_times(source)
    durations = [ffprobe(p, "-show_format")["format"]["duration"] for p in (source, tmp_path / f"out{suffix}")]
    assert durations[0] == durations[1]


def test_failed_assembly_leaves_nothing_and_existing_output_is_kept(cfr, tmp_path):
    source, chunks, light, _ = cfr
    with pytest.raises(ValueError, match="out of order"):
        assemble(chunks[::-1], tmp_path / "out.mkv", source, light, DISPLAY)
    (tmp_path / "junk.mp4").write_bytes(b"not a video")
    with pytest.raises(av.error.FFmpegError):
        assemble([chunks[0], tmp_path / "junk.mp4"], tmp_path / "out.mp4", source, light, DISPLAY)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["junk.mp4"]
    existing = tmp_path / "kept.mkv"
    existing.write_bytes(b"keep me")
    with pytest.raises(InputError, match="kept.mkv"):
        assemble(chunks, existing, source, light, DISPLAY)
    assert existing.read_bytes() == b"keep me"
    assemble(chunks, existing, source, light, DISPLAY, overwrite=True)
    assert len(frame_times(existing)) == 12


def test_bad_output_paths_are_input_errors_before_any_work(cfr, tmp_path):
    source, _, light, _ = cfr
    missing_chunks = [tmp_path / "no-such-chunk.mp4"]
    with pytest.raises(InputError, match="cannot write"):
        assemble(missing_chunks, tmp_path / "no-such-dir" / "out.mkv", source, light, DISPLAY)
    with pytest.raises(InputError, match=r"\.mp4 or \.mkv"):
        assemble(missing_chunks, tmp_path / "out.avi", source, light, DISPLAY)


def test_odd_frames_gain_a_replicated_row_and_column(tmp_path):
    frame = np.zeros((47, 63, 3), np.float32)
    frame[:, -1] = 0.6  # last column bright: its copy must be bright too
    timing = {"time_base": Fraction(1, 25), "frame_rate": Fraction(25)}
    with HevcChunkEncoder(tmp_path / "odd.mp4", 63, 47, **timing, preset="ultrafast", threads=1) as encoder:
        for pts in range(3):
            encoder.write(frame, pts)
    with av.open(str(tmp_path / "odd.mp4")) as container:
        decoded = next(container.decode(video=0)).to_ndarray(format="gray16le")
    assert decoded.shape == (48, 64)
    assert abs(int(decoded[10, 63]) - int(decoded[10, 62])) < 600 and decoded[10, 63] > 20000


def test_encoder_refuses_unordered_pts_and_removes_a_failed_chunk(tmp_path):
    frame = np.zeros((48, 64, 3), np.float32)
    timing = {"time_base": Fraction(1, 25), "frame_rate": Fraction(25)}
    with pytest.raises(ValueError, match="increase"):
        with HevcChunkEncoder(tmp_path / "c.mp4", 64, 48, **timing, preset="ultrafast", threads=1) as encoder:
            encoder.write(frame, 1)
            encoder.write(frame, 1)
    assert not (tmp_path / "c.mp4").exists()


@pytest.mark.parametrize("suffix", [".mkv", ".mp4"])
@pytest.mark.parametrize("frames", [1, 2])
def test_one_and_two_frame_videos_convert(tmp_path, frames, suffix):
    # libx265 leaves such short streams' decode timestamps unset; the MP4 chunk muxer refused them.
    from hdrtv.worker.control.options import ConversionOptions
    from hdrtv.worker.pipeline import convert_file

    source = write_clip(tmp_path / "short.mp4", frames=frames)
    output = tmp_path / f"hdr{suffix}"
    convert_file(source, output, ConversionOptions(model="bt2446a", preset="ultrafast"))
    stream = ffprobe(output, "-count_frames", "-show_streams", "-select_streams", "v")["streams"][0]
    assert (stream["codec_name"], stream["color_transfer"]) == ("hevc", "smpte2084")
    assert int(stream["nb_read_frames"]) == frames


def test_nvenc_is_refused_in_one_line_where_it_cannot_run_and_presets_map_by_speed(tmp_path):
    from hdrtv.worker.media.encode import check_encoder, nvenc_preset

    assert [nvenc_preset(p) for p in ("ultrafast", "fast", "medium", "placebo", "p3")] == ["p1", "p4", "p5", "p7", "p3"]
    with pytest.raises(InputError, match="unknown preset 'quick'"):
        nvenc_preset("quick")
    with pytest.raises(InputError, match="unknown encoder 'x264'; choose from libx265, hevc_nvenc"):
        check_encoder("x264")
    try:
        check_encoder("hevc_nvenc")
    except InputError as error:  # no NVENC here: say so, leave no file
        assert "needs an NVIDIA GPU with NVENC" in str(error) and "\n" not in str(error)
        with pytest.raises(InputError, match="hevc_nvenc cannot start"):
            HevcChunkEncoder(tmp_path / "c.mp4", 64, 48, Fraction(1, 25), Fraction(25), encoder="hevc_nvenc")
        assert not (tmp_path / "c.mp4").exists()
    else:
        pytest.skip("this machine has NVENC: tests/model/test_gpu.py encodes with it")


def test_p010_repacking_for_nvenc_is_lossless():
    codes = np.random.default_rng(0).integers(0, 1024, (96, 64), dtype=np.uint16)
    frame = av.VideoFrame.from_ndarray(codes, format="yuv420p10le")
    back = frame.reformat(format="p010le").reformat(format="yuv420p10le")
    assert np.array_equal(back.to_ndarray(), codes)
