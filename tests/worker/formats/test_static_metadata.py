"""Static HDR metadata (HDR10's): x265 and SEI/box encodings of the mastering display, and the
CTA-861.3 MaxCLL/MaxFALL meter checked against a second implementation of the PQ EOTF."""

import json
import math
import struct

import numpy as np
import pytest
import torch
from hdrtv.worker.formats.static_metadata import ContentLightLevel, MasteringDisplay
from hdrtv.worker.media.light_level import LightLevelMeter


def st2084_eotf(code: np.ndarray) -> np.ndarray:
    """SMPTE ST 2084 EOTF in float64, written out from the standard's constants."""
    m1, m2 = 2610 / 16384, 2523 / 4096 * 128
    c1, c2, c3 = 3424 / 4096, 2413 / 4096 * 32, 2392 / 4096 * 32
    p = np.clip(np.asarray(code, np.float64), 0, 1) ** (1 / m2)
    return 10000 * (np.maximum(p - c1, 0) / (c2 - c3 * p)) ** (1 / m1)


def random_frames(n=3, h=6, w=10, seed=0):
    return np.random.default_rng(seed).uniform(0.0, 0.8, size=(n, h, w, 3)).astype(np.float32)


def test_default_mastering_display_is_p3_d65_1000_nits_in_sei_units():
    fields = (13250, 34500, 7500, 3000, 34000, 16000, 15635, 16450, 10000000, 1)
    assert struct.unpack(">8H2I", MasteringDisplay().payload()) == fields


def test_mastering_payload_is_the_sei_layout_green_blue_red_white_then_luminance():
    bt2020 = {"red": (0.708, 0.292), "green": (0.170, 0.797), "blue": (0.131, 0.046)}
    display = MasteringDisplay(**bt2020, max_luminance=4000, min_luminance=0.005)
    fields = (8500, 39850, 6550, 2300, 35400, 14600, 15635, 16450, 40000000, 50)
    assert struct.unpack(">8H2I", display.payload()) == fields


@pytest.mark.parametrize(
    "kwargs", [{"red": (1.2, 0.3)}, {"max_luminance": 0.0}, {"min_luminance": 2000.0}, {"white_point": (-0.1, 0.3)}]
)
def test_impossible_mastering_display_is_refused(kwargs):
    with pytest.raises(ValueError):
        MasteringDisplay(**kwargs)


def test_content_light_level_payload_and_range():
    assert ContentLightLevel(1000, 400).payload() == bytes.fromhex("03e80190")
    for bad in [(-1, 0), (65536, 0), (10, 2.5)]:
        with pytest.raises(ValueError):
            ContentLightLevel(*bad)


def test_meter_follows_cta_861_3_max_rgb_definition():
    frames = random_frames()
    meter = LightLevelMeter()
    for frame in frames:
        meter.add(frame)
    level = st2084_eotf(frames).max(axis=-1)  # per pixel max(R, G, B) of the linear light
    assert meter.max_cll == pytest.approx(level.max(), rel=1e-6)
    assert meter.max_fall == pytest.approx(level.mean(axis=(1, 2)).max(), rel=1e-4)  # float32 per pixel
    assert meter.frames == 3
    assert meter.result() == ContentLightLevel(math.ceil(meter.max_cll), math.ceil(meter.max_fall))


def test_meter_uses_the_brightest_component_not_luminance():
    blue = np.zeros((4, 4, 3), np.float32)
    blue[..., 2] = 0.75  # PQ 0.75 ~ 983 cd/m2 of blue; its luminance would be only ~58
    meter = LightLevelMeter()
    meter.add(blue)
    assert meter.result() == ContentLightLevel(math.ceil(st2084_eotf(0.75)), math.ceil(st2084_eotf(0.75)))


def test_frame_average_is_per_frame_and_values_round_up():
    dark, bright = np.zeros((1, 2, 2, 3), np.float32), np.zeros((1, 2, 2, 3), np.float32)
    bright[0, 0, 0] = 0.5  # one pixel of ~92.2 cd/m2, frame average ~23.05
    meter = LightLevelMeter()
    meter.add(torch.from_numpy(np.concatenate([dark, bright])))
    one = st2084_eotf(0.5)
    assert (meter.max_cll, meter.max_fall) == pytest.approx((one, one / 4), rel=1e-4)
    assert meter.result() == ContentLightLevel(math.ceil(one), math.ceil(one / 4))
    assert meter.result().max_cll == 93 and meter.result().max_fall == 24


def test_chunks_merged_through_json_equal_one_pass():
    frames = random_frames(n=5, seed=1)
    whole, first, second = LightLevelMeter(), LightLevelMeter(), LightLevelMeter()
    whole.add(frames)
    first.add(frames[:2])
    second.add(frames[2:])
    merged = LightLevelMeter.from_dict(json.loads(json.dumps(first.to_dict())))
    merged.merge(LightLevelMeter.from_dict(json.loads(json.dumps(second.to_dict()))))
    assert merged.to_dict() == pytest.approx(whole.to_dict())
    assert merged.result() == whole.result()


def test_black_video_and_signal_above_10000_nits():
    meter = LightLevelMeter()
    meter.add(np.zeros((2, 2, 3), np.float32))
    assert meter.result() == ContentLightLevel(0, 0)  # 0 also means "unknown" in CTA-861.3
    meter.add(np.full((2, 2, 3), 1.5, np.float32))  # clipped to PQ 1.0 = 10000 cd/m2
    assert meter.result() == ContentLightLevel(10000, 10000)


def test_meter_rejects_frames_without_three_channels():
    with pytest.raises(ValueError, match="R'G'B'"):
        LightLevelMeter().add(np.zeros((4, 4), np.float32))
