"""HEVC SEI rewriting: hand-made NAL units (emulation prevention, extended payload types, hvcC
arrays) and real x265 packets, read back by FFmpeg's decoder through ffprobe."""

import json
import subprocess
from fractions import Fraction

import av
import numpy as np
import pytest
from hdrtv.worker.formats.static_metadata import CONTENT_LIGHT_LEVEL, MASTERING_DISPLAY
from hdrtv.worker.media.hevc_sei import (
    add_prefix_sei,
    build_sei,
    escape,
    hvcc_length_size,
    join_annex_b,
    join_nal_units,
    parse_sei,
    rewrite_hvcc,
    rewrite_packet,
    sei_payloads,
    split_annex_b,
    split_nal_units,
    unescape,
)

PREFIX_SEI_HEADER = bytes([39 << 1, 1])  # nal_unit_type 39, layer 0, temporal id plus 1 = 1


@pytest.mark.parametrize(
    "rbsp, ebsp",
    [
        ("000001", "00000301"),
        ("00000000", "000003000003"),  # data ending in 00 gets a final 03
        ("0000000001", "00000300000301"),
        ("00000380", "0000030380"),  # an 03 in the data itself is escaped too
        ("0100020000ff", "0100020000ff"),
    ],
)
def test_emulation_prevention_both_ways(rbsp, ebsp):
    assert escape(bytes.fromhex(rbsp)) == bytes.fromhex(ebsp)
    assert unescape(bytes.fromhex(ebsp)) == bytes.fromhex(rbsp)


def hand_made_sei() -> bytes:
    """A prefix SEI: payloadType 300 (FF 2D) with 2 bytes, then a CLL of (1000, 400), then trailing bits."""
    return PREFIX_SEI_HEADER + bytes.fromhex("ff2d02abcd900403e8019080")


def test_parse_extended_type_and_cll():
    messages, trailing = parse_sei(hand_made_sei())
    assert messages == [(300, bytes.fromhex("abcd")), (144, bytes.fromhex("03e80190"))]
    assert trailing == b"\x80"
    assert build_sei(PREFIX_SEI_HEADER, messages) == hand_made_sei()


def test_rewrite_inserts_emulation_prevention_and_packet_length_follows():
    other = PREFIX_SEI_HEADER[:1] + b"\x02" + b"\x26\x01\xaf"  # an unrelated NAL unit, left as is
    packet = join_nal_units([hand_made_sei(), other])
    rewritten, count = rewrite_packet(packet, {CONTENT_LIGHT_LEVEL: bytes.fromhex("00000003")})
    assert count == 1
    sei, kept = split_nal_units(rewritten)
    # payload 00 00 00 03 must be written as 00 00 03 00 03: one byte longer.
    assert sei == PREFIX_SEI_HEADER + bytes.fromhex("ff2d02abcd9004000003000380")
    assert int.from_bytes(rewritten[:4], "big") == len(hand_made_sei()) + 1
    assert kept == other
    assert sei_payloads([sei], CONTENT_LIGHT_LEVEL) == [bytes.fromhex("00000003")]
    # and back: the escape disappears again
    again, _ = rewrite_packet(rewritten, {CONTENT_LIGHT_LEVEL: bytes.fromhex("03e80190")})
    assert again == packet


def test_packet_without_the_message_is_returned_unchanged():
    packet = join_nal_units([hand_made_sei()])
    assert rewrite_packet(packet, {MASTERING_DISPLAY: bytes(24)}) == (packet, 0)


def test_truncated_packet_is_an_error():
    with pytest.raises(ValueError, match="NAL unit length"):
        split_nal_units(join_nal_units([hand_made_sei()])[:-3])


def test_hvcc_arrays_are_rewritten_and_other_arrays_kept():
    fixed = bytes([1]) + bytes(20) + bytes([0xF3])  # configurationVersion 1, lengthSizeMinusOne 3
    vps = bytes([32 << 1, 1, 0x0C, 0x01])
    arrays = [(0xA0, [vps]), (0x27, [hand_made_sei()])]
    hvcc = (
        fixed
        + bytes([len(arrays)])
        + b"".join(bytes([kind]) + len(nals).to_bytes(2, "big") + join_nal_units(nals, 2) for kind, nals in arrays)
    )
    assert hvcc_length_size(hvcc) == 4
    rewritten, count = rewrite_hvcc(hvcc, {CONTENT_LIGHT_LEVEL: bytes.fromhex("00000003")})
    assert count == 1
    expected_sei = PREFIX_SEI_HEADER + bytes.fromhex("ff2d02abcd9004000003000380")
    sei_array = bytes([0x27, 0, 1, 0, len(expected_sei)]) + expected_sei
    assert rewritten == fixed + bytes([2, 0xA0, 0, 1, 0, 4]) + vps + sei_array


def x265_clip(path, frames=8):
    """A tiny HEVC MP4 straight from PyAV's libx265, CLL (1000, 400) in its SEI, keyframe every 4."""
    params = "log-level=error:pools=1:keyint=4:min-keyint=4:repeat-headers=1:hdr10=1:max-cll=1000,400:" + (
        "master-display=G(13250,34500)B(7500,3000)R(34000,16000)WP(15635,16450)L(10000000,1)"
    )
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx265", rate=25, options={"preset": "ultrafast", "x265-params": params})
        stream.width, stream.height, stream.pix_fmt = 64, 64, "yuv420p10le"
        for i in range(frames):
            frame = av.VideoFrame.from_ndarray(np.full((96, 64), 100 + 60 * i, np.uint16), format="yuv420p10le")
            frame.pts, frame.time_base = i, Fraction(1, 25)
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    return path


def frames_cll(path):
    """(max_content, max_average) of every decoded frame, by ffprobe."""
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-select_streams", "v", "-show_frames", "-of", "json", str(path)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return [
        (side["max_content"], side["max_average"])
        for frame in json.loads(out)["frames"]
        for side in frame.get("side_data_list", [])
        if side["side_data_type"] == "Content light level metadata"
    ]


def test_x265_packets_rewritten_decode_with_the_new_values(tmp_path):
    source = x265_clip(tmp_path / "x265.mp4")
    assert set(frames_cll(source)) == {(1000, 400)}
    new = {CONTENT_LIGHT_LEVEL: bytes.fromhex("00000003")}  # (0, 3): needs emulation prevention
    with av.open(str(source)) as inp, av.open(str(tmp_path / "out.mp4"), "w") as out:
        video = inp.streams.video[0]
        copy = out.add_stream_from_template(video)
        hvcc, in_hvcc = rewrite_hvcc(video.codec_context.extradata, new)
        copy.codec_context.extradata = hvcc
        rewritten = 0
        for packet in inp.demux(video):
            if packet.dts is None:
                continue
            data, count = rewrite_packet(bytes(packet), new, hvcc_length_size(hvcc))
            rewritten += count
            assert sei_payloads(split_nal_units(data), CONTENT_LIGHT_LEVEL) == [new[CONTENT_LIGHT_LEVEL]] * count
            fresh = av.Packet(data)
            fresh.pts, fresh.dts, fresh.time_base = packet.pts, packet.dts, packet.time_base
            fresh.is_keyframe = packet.is_keyframe
            fresh.stream = copy
            out.mux(fresh)
    assert in_hvcc == 1 and rewritten == 2  # one per keyframe (frames 0 and 4)
    assert frames_cll(tmp_path / "out.mp4") == [(0, 3)] * 8


VPS, SPS, PPS, IDR, TRAIL = (bytes([kind << 1, 1]) + b"\x0c\x01\xff" for kind in (32, 33, 34, 19, 1))
HDR10 = [(MASTERING_DISPLAY, bytes(24)), (CONTENT_LIGHT_LEVEL, bytes.fromhex("03e80190"))]


def test_annex_b_byte_streams_split_on_three_and_four_byte_start_codes_and_join_back():
    stream = b"\x00\x00\x00\x01" + VPS + b"\x00\x00\x01" + SPS + b"\x00\x00\x00\x01" + IDR
    assert split_annex_b(stream) == [VPS, SPS, IDR]
    assert split_annex_b(join_annex_b([VPS, SPS, IDR])) == [VPS, SPS, IDR]
    with pytest.raises(ValueError, match="start code"):
        split_annex_b(VPS)


def test_prefix_sei_goes_after_the_parameter_sets_and_before_the_picture_once():
    nals = add_prefix_sei([VPS, SPS, PPS, IDR], HDR10)
    assert nals[:3] == [VPS, SPS, PPS] and nals[4] == IDR
    assert parse_sei(nals[3])[0] == HDR10 and nals[3][:2] == PREFIX_SEI_HEADER
    assert add_prefix_sei(nals, HDR10) == nals  # already there: not twice
    assert add_prefix_sei([TRAIL], HDR10)[0][:2] == PREFIX_SEI_HEADER
    assert add_prefix_sei([VPS, SPS], HDR10) == [VPS, SPS]  # no picture, no SEI


def test_chunks_of_the_encoder_carry_the_hdr10_sei_on_every_keyframe_for_ffmpeg(tmp_path):
    """The HDR10 SEI comes from `add_prefix_sei` for every encoder (x265 here, NVENC on a GPU):
    FFmpeg's decoder reads it back on every frame."""
    from hdrtv.worker.formats.static_metadata import MasteringDisplay
    from hdrtv.worker.media.encode import HevcChunkEncoder

    display = MasteringDisplay(max_luminance=2000.0)
    path = tmp_path / "chunk.mp4"
    with HevcChunkEncoder(path, 64, 48, Fraction(1, 25), Fraction(25), preset="ultrafast", mastering=display) as out:
        for i in range(6):
            out.write(np.full((48, 64, 3), 0.2 + 0.05 * i, np.float32), i)
    with av.open(str(path)) as container:
        video = container.streams.video[0]
        length_size = hvcc_length_size(video.codec_context.extradata)
        keyframes = [split_nal_units(bytes(p), length_size) for p in container.demux(video) if p.is_keyframe]
    assert keyframes and all(sei_payloads(nals, MASTERING_DISPLAY) == [display.payload()] for nals in keyframes)
    assert frames_cll(path) == [(0, 0)] * 6  # the placeholder the assembly replaces
