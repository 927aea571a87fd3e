"""Find and rewrite HEVC SEI messages inside encoded packets and the `hvcC` extradata.

Chunks are encoded before the video's MaxCLL/MaxFALL are known, so each carries a placeholder
content_light_level_info SEI; the assembly replaces the payloads without re-encoding. Syntax
followed (ITU-T H.265):

- packets in MP4/Matroska are NAL units each preceded by a big-endian length (4 bytes unless
  the `hvcC` says otherwise, ISO/IEC 14496-15 8.3.3); the `hvcC` holds arrays of NAL units with
  2-byte lengths; encoders hand FFmpeg's muxers the byte stream format of Annex B instead, each
  NAL unit after a start code 00 00 01 (or 00 00 00 01);
- a NAL unit is a 2-byte header then the payload with emulation prevention (7.4.2): in the RBSP
  any 0x00 0x00 followed by a byte <= 0x03 is written as 0x00 0x00 0x03 <byte>;
- a prefix (39) or suffix (40) SEI NAL unit holds sei_message()s (7.3.5): payloadType and
  payloadSize each coded as 0xFF bytes (255 each) plus a last byte, then the payload; the RBSP
  ends with the trailing bits 0x80 (then zero bytes).
"""

from __future__ import annotations

import re
import struct
from collections.abc import Mapping

PREFIX_SEI = 39
SUFFIX_SEI = 40

_EMULATED = re.compile(b"\x00\x00\x03")
_NEEDS_ESCAPE = re.compile(b"\x00\x00(?=[\x00-\x03])")
_START_CODE = re.compile(b"\x00?\x00\x00\x01")
_HVCC_ARRAYS_AT = 22


def nal_type(nal: bytes) -> int:
    """nal_unit_type from the first header byte (6 bits after forbidden_zero_bit)."""
    return (nal[0] >> 1) & 0x3F


def split_nal_units(data: bytes, length_size: int = 4) -> list[bytes]:
    """Length-prefixed NAL units (a packet's bytes) -> the NAL units, headers included."""
    nals, pos = [], 0
    while pos < len(data):
        size = int.from_bytes(data[pos : pos + length_size], "big")
        pos += length_size
        if size == 0 or pos + size > len(data):
            raise ValueError(f"bad NAL unit length {size} at byte {pos - length_size} of {len(data)}")
        nals.append(data[pos : pos + size])
        pos += size
    return nals


def join_nal_units(nals: list[bytes], length_size: int = 4) -> bytes:
    """Inverse of `split_nal_units`."""
    return b"".join(len(nal).to_bytes(length_size, "big") + nal for nal in nals)


def split_annex_b(data: bytes) -> list[bytes]:
    """Annex B byte stream (an encoder's packet) -> its NAL units, headers included."""
    nals = _START_CODE.split(data)
    if nals[0]:
        raise ValueError("an Annex B byte stream starts with a start code")
    return nals[1:]


def join_annex_b(nals: list[bytes]) -> bytes:
    """Inverse of `split_annex_b`, with 4-byte start codes."""
    return b"".join(b"\x00\x00\x00\x01" + nal for nal in nals)


def unescape(ebsp: bytes) -> bytes:
    """Drop emulation-prevention bytes: 00 00 03 -> 00 00."""
    return _EMULATED.sub(b"\x00\x00", ebsp)


def escape(rbsp: bytes) -> bytes:
    """Insert emulation-prevention bytes: 00 00 0x (x <= 3) -> 00 00 03 0x, and after a
    final 00 (7.4.2)."""
    ebsp = _NEEDS_ESCAPE.sub(b"\x00\x00\x03", rbsp)
    return ebsp + b"\x03" if ebsp.endswith(b"\x00") else ebsp


def _read_coded(rbsp: bytes, pos: int) -> tuple[int, int]:
    """A payloadType/payloadSize value (0xFF bytes add 255 each) -> (value, next position)."""
    value = 0
    while rbsp[pos] == 0xFF:
        value += 255
        pos += 1
    return value + rbsp[pos], pos + 1


def _write_coded(value: int) -> bytes:
    return b"\xff" * (value // 255) + bytes([value % 255])


def parse_sei(nal: bytes) -> tuple[list[tuple[int, bytes]], bytes]:
    """SEI NAL unit -> ([(payloadType, payload)], trailing RBSP bytes from rbsp_trailing_bits)."""
    rbsp = unescape(nal[2:])
    messages, pos = [], 0
    # more_rbsp_data(): anything other than the trailing 0x80 (and zero bytes) is a message.
    while pos < len(rbsp) and rbsp[pos:].rstrip(b"\x00") != b"\x80":
        payload_type, pos = _read_coded(rbsp, pos)
        size, pos = _read_coded(rbsp, pos)
        if pos + size > len(rbsp):
            raise ValueError(f"SEI message {payload_type} runs past its NAL unit")
        messages.append((payload_type, rbsp[pos : pos + size]))
        pos += size
    return messages, rbsp[pos:] or b"\x80"


def build_sei(header: bytes, messages: list[tuple[int, bytes]], trailing: bytes = b"\x80") -> bytes:
    """Inverse of `parse_sei`: 2-byte NAL header + messages + trailing bits, escaped."""
    body = b"".join(_write_coded(t) + _write_coded(len(p)) + p for t, p in messages)
    return header + escape(body + trailing)


def sei_payloads(nals: list[bytes], payload_type: int) -> list[bytes]:
    """Every payload of `payload_type` in the SEI NAL units among `nals`, in order."""
    return [
        payload
        for nal in nals
        if nal_type(nal) in (PREFIX_SEI, SUFFIX_SEI)
        for kind, payload in parse_sei(nal)[0]
        if kind == payload_type
    ]


def add_prefix_sei(nals: list[bytes], messages: list[tuple[int, bytes]]) -> list[bytes]:
    """An access unit's NAL units with one prefix SEI NAL unit (layer 0, temporal id 0) holding
    `messages`, placed where H.265 (7.4.2.4.4) wants it: after the parameter sets, before the
    first VCL NAL unit (types 0..31). Unchanged if a message of any of those types is already
    there, or if the access unit has no picture."""
    kinds = {kind for kind, _ in messages}
    if any(kinds & {kind for kind, _ in parse_sei(nal)[0]} for nal in nals if nal_type(nal) == PREFIX_SEI):
        return nals
    first_vcl = next((i for i, nal in enumerate(nals) if nal_type(nal) < 32), None)
    if first_vcl is None:
        return nals
    sei = build_sei(bytes([PREFIX_SEI << 1, 1]), messages)
    return [*nals[:first_vcl], sei, *nals[first_vcl:]]


def replace_payloads(nals: list[bytes], payloads: Mapping[int, bytes]) -> tuple[list[bytes], int]:
    """Replace the payload of every prefix SEI message whose type is a key of `payloads`.

    Returns the NAL units (untouched ones are the same objects) and how many messages changed.
    """
    out, count = [], 0
    for nal in nals:
        if nal_type(nal) == PREFIX_SEI:
            messages, trailing = parse_sei(nal)
            if any(kind in payloads for kind, _ in messages):
                count += sum(kind in payloads for kind, _ in messages)
                messages = [(kind, payloads.get(kind, payload)) for kind, payload in messages]
                nal = build_sei(nal[:2], messages, trailing)
        out.append(nal)
    return out, count


def rewrite_packet(data: bytes, payloads: Mapping[int, bytes], length_size: int = 4) -> tuple[bytes, int]:
    """Length-prefixed packet bytes -> (rewritten bytes, messages changed); see `replace_payloads`."""
    nals, count = replace_payloads(split_nal_units(data, length_size), payloads)
    return (join_nal_units(nals, length_size) if count else data), count


def hvcc_length_size(hvcc: bytes) -> int:
    """NAL length size of the samples, from lengthSizeMinusOne (14496-15 8.3.3.1)."""
    return (hvcc[21] & 0x03) + 1


def rewrite_hvcc(hvcc: bytes, payloads: Mapping[int, bytes]) -> tuple[bytes, int]:
    """HEVCDecoderConfigurationRecord -> (same record with SEI payloads replaced, messages changed).

    Layout after the 22 fixed bytes: numOfArrays, then per array one byte (completeness and
    NAL type), numNalus (16 bits) and numNalus x (16-bit length, NAL unit).
    """
    if len(hvcc) < _HVCC_ARRAYS_AT + 1 or hvcc[0] != 1:
        raise ValueError("not an hvcC record (configurationVersion must be 1)")
    out, pos, total = [hvcc[: _HVCC_ARRAYS_AT + 1]], _HVCC_ARRAYS_AT + 1, 0
    for _ in range(hvcc[_HVCC_ARRAYS_AT]):
        kind_byte, count = hvcc[pos], int.from_bytes(hvcc[pos + 1 : pos + 3], "big")
        pos += 3
        nals = []
        for _ in range(count):
            size = int.from_bytes(hvcc[pos : pos + 2], "big")
            nals.append(hvcc[pos + 2 : pos + 2 + size])
            pos += 2 + size
        nals, changed = replace_payloads(nals, payloads)
        total += changed
        out.append(struct.pack(">BH", kind_byte, count) + join_nal_units(nals, 2))
    return b"".join(out) + hvcc[pos:], total
