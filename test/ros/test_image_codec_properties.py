"""Property-based tests of image conversion: encodings x sizes x steps x endianness x data lengths.

Contract: the result is an (H, W, 3) uint8 BGR image with the right values, or ``ImageDecodeError``;
never another exception, whatever the message fields say.
"""

from __future__ import annotations

import cv2
import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from lepton_perception.ros.image_codec import (
    ImageDecodeError,
    decode_compressed,
    decode_image,
    supported_encodings,
)

# Encodings whose BGR values follow exactly from the samples: name -> (channels, bytes per sample).
EXACT = {
    "bgr8": (3, 1),
    "rgb8": (3, 1),
    "bgra8": (4, 1),
    "rgba8": (4, 1),
    "mono8": (1, 1),
    "bgr16": (3, 2),
    "rgb16": (3, 2),
    "bgra16": (4, 2),
    "rgba16": (4, 2),
    "mono16": (1, 2),
}
# Encodings checked against the same image stored compactly (step = row, little-endian, 8 bits) for
# bayer, and compactly for the YUV ones: padding and endianness must not change a single value.
OTHER = {
    "bayer_rggb8": (1, 1),
    "bayer_bggr8": (1, 1),
    "bayer_gbrg8": (1, 1),
    "bayer_grbg8": (1, 1),
    "bayer_rggb16": (1, 2),
    "bayer_bggr16": (1, 2),
    "bayer_gbrg16": (1, 2),
    "bayer_grbg16": (1, 2),
    "yuv422": (2, 1),
    "uyvy": (2, 1),
    "yuyv": (2, 1),
    "yuv422_yuy2": (2, 1),
    "nv12": (1, 1),
    "nv21": (1, 1),
}
assert set(EXACT) | set(OTHER) == set(supported_encodings())
PAD_BYTE = 0xAB  # padding is garbage that must never show up in the image


def _expected_exact(enc: str, samples8: np.ndarray) -> np.ndarray:
    """BGR from 8-bit samples (H, W, C), written independently of the codec."""
    if enc.startswith("mono"):
        return np.repeat(samples8[..., :1], 3, axis=2)
    if enc.startswith(("rgb", "rgba")):
        return samples8[..., 2::-1]
    return samples8[..., :3]


def _raw(samples: np.ndarray, itemsize: int, bigendian: bool, pad: int) -> tuple[int, bytes]:
    """(step, data) of H rows of samples (16-bit in the given byte order) plus ``pad`` garbage bytes."""
    rows = samples.reshape(samples.shape[0], -1)
    rows = rows.astype((">u2" if bigendian else "<u2") if itemsize == 2 else np.uint8)
    packed = np.ascontiguousarray(rows).view(np.uint8)
    padded = np.concatenate([packed, np.full((packed.shape[0], pad), PAD_BYTE, np.uint8)], axis=1)
    return padded.shape[1], padded.tobytes()


@st.composite
def raw_frames(draw: st.DrawFn) -> dict[str, object]:
    enc = draw(st.sampled_from(sorted({**EXACT, **OTHER})))
    return {
        "enc": enc,
        "width": draw(st.integers(1, 24)),
        "height": draw(st.integers(1, 12)),
        "pad": draw(st.integers(0, 9)),
        "bigendian": draw(st.booleans()),
        # 0: data exactly step x rows; otherwise bytes missing or trailing
        "delta": draw(st.sampled_from([0, 0, 0, -1, 1, -7])),
        "short_step": draw(st.booleans()) and draw(st.booleans()),  # step one byte short of a row
        "seed": draw(st.integers(0, 2**32 - 1)),
    }


def _layout_is_valid(enc: str, width: int, height: int, delta: int, short_step: bool) -> bool:
    """The sensor_msgs/Image rules, restated: what must convert and what must be refused."""
    if enc in ("yuv422", "uyvy", "yuyv", "yuv422_yuy2") and width % 2:
        return False
    if enc in ("nv12", "nv21") and (width % 2 or height % 2):
        return False
    return delta == 0 and not short_step


@settings(max_examples=300, deadline=None)
@given(raw_frames())
def test_raw_frames_convert_exactly_or_are_refused(f: dict) -> None:
    enc, width, height = str(f["enc"]), int(f["width"]), int(f["height"])
    channels, itemsize = {**EXACT, **OTHER}[enc]
    rows = height * 3 // 2 if enc.startswith("nv") else height
    rng = np.random.default_rng(int(f["seed"]))
    samples = rng.integers(0, 256**itemsize, (rows, width, channels), dtype=np.uint32)
    step, data = _raw(samples, itemsize, bool(f["bigendian"]), int(f["pad"]))
    if f["short_step"]:
        step = width * channels * itemsize - 1  # a declared step that cannot hold a row of pixels
        data = data[: step * rows]
    delta = int(f["delta"])
    data = data[: len(data) + delta] if delta < 0 else data + bytes(delta)
    valid = _layout_is_valid(enc, width, height, delta, bool(f["short_step"]))
    try:
        out = decode_image(enc, width, height, step, data, bool(f["bigendian"]))
    except ImageDecodeError:
        assert not valid, f"refused a valid {enc} {width}x{height} step {step}"
        return
    assert valid, f"accepted an invalid {enc} {width}x{height} step {step} ({len(data)} bytes)"
    assert out.shape == (height, width, 3) and out.dtype == np.uint8
    samples8 = (samples >> 8 * (itemsize - 1)).astype(np.uint8)  # 16 bits -> high byte
    if enc in EXACT:
        np.testing.assert_array_equal(out, _expected_exact(enc, samples8))
    else:  # same image, stored compactly in 8 bits: identical BGR
        compact = enc.replace("16", "8")
        c_step, c_data = _raw(samples8, 1, False, 0)
        np.testing.assert_array_equal(out, decode_image(compact, width, height, c_step, c_data))


ENCODING_NAMES = st.one_of(
    st.sampled_from([*supported_encodings(), "32FC1", "16UC1", "8UC3", "BGR8", " mono8 "]),
    st.text(max_size=12),
)


@settings(max_examples=200, deadline=None)
@given(
    ENCODING_NAMES,
    st.one_of(st.integers(-3, 40), st.just(20000), st.just(2**32 - 1)),
    st.one_of(st.integers(-3, 40), st.just(20000)),
    st.integers(-5, 200),
    st.binary(max_size=3000),
    st.booleans(),
)
def test_any_raw_message_gives_an_image_or_a_decode_error(
    encoding: str, width: int, height: int, step: int, data: bytes, bigendian: bool
) -> None:
    try:
        out = decode_image(encoding, width, height, step, data, bigendian)
    except ImageDecodeError as exc:
        assert str(exc)  # says why
        return
    assert out.shape == (height, width, 3) and out.dtype == np.uint8


_IMG = cv2.GaussianBlur(np.random.default_rng(1).integers(0, 255, (24, 32, 3), dtype=np.uint8), (5, 5), 2)
REAL = [cv2.imencode(ext, _IMG)[1].tobytes() for ext in (".jpg", ".png")]


@st.composite
def compressed_payloads(draw: st.DrawFn) -> bytes:
    """Random bytes, or a real JPEG/PNG truncated and with a few bytes overwritten."""
    if draw(st.booleans()):
        return draw(st.binary(max_size=400))
    data = bytearray(draw(st.sampled_from(REAL)))
    for _ in range(draw(st.integers(0, 4))):
        data[draw(st.integers(0, len(data) - 1))] = draw(st.integers(0, 255))
    return bytes(data[: draw(st.integers(0, len(data)))])


@settings(max_examples=200, deadline=None)
@given(compressed_payloads(), st.sampled_from(["jpeg", "png", "bgr8; jpeg compressed bgr8", ""]))
def test_any_compressed_message_gives_an_image_or_a_decode_error(data: bytes, fmt: str) -> None:
    try:
        out = decode_compressed(fmt, data, max_pixels=100_000)
    except ImageDecodeError as exc:
        assert str(exc)
        return
    assert out.ndim == 3 and out.shape[2] == 3 and out.dtype == np.uint8
    assert out.shape[0] * out.shape[1] <= 100_000
