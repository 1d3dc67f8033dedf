"""Image messages -> BGR: every cv_bridge colour encoding, padding, and the errors for the rest."""

from __future__ import annotations

import functools
import re
import struct
import zlib

import cv2
import numpy as np
import pytest

from lepton_perception.ros import image_codec
from lepton_perception.ros.image_codec import (
    DEFAULT_MAX_IMAGE_PIXELS,
    ImageDecodeError,
    compressed_size,
    decode_compressed,
    decode_image,
)

RNG = np.random.default_rng(0)
# Smooth image so that chroma subsampling (yuv422, nv21) and demosaicing stay close to the original.
BGR = cv2.GaussianBlur(RNG.integers(0, 255, (48, 64, 3), dtype=np.uint8), (9, 9), 3)


def _to_encoding(bgr: np.ndarray, enc: str) -> tuple[np.ndarray, float]:
    """Encode ``bgr`` into ``enc``: (raw H x row-bytes array, mean abs error allowed after decoding)."""
    h, w = bgr.shape[:2]
    gray = cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY)
    if enc == "bgr8":
        return bgr, 0
    if enc == "rgb8":
        return bgr[..., ::-1], 0
    if enc in ("bgra8", "rgba8"):
        code = cv2.COLOR_BGR2BGRA if enc == "bgra8" else cv2.COLOR_BGR2RGBA
        return cv2.cvtColor(bgr, code), 0
    if enc in ("bgr16", "rgb16"):
        src = bgr if enc == "bgr16" else bgr[..., ::-1]
        return (src.astype(np.uint16) << 8) | 0x7F, 0
    if enc == "mono8":
        return gray, 0
    if enc == "mono16":
        return gray.astype(np.uint16) << 8, 0
    if enc.startswith("bayer_"):
        pattern = enc[6:10]
        idx = {"r": 2, "g": 1, "b": 0}
        mosaic = np.zeros((h, w), np.uint8)
        for dy in (0, 1):
            for dx in (0, 1):
                mosaic[dy::2, dx::2] = bgr[dy::2, dx::2, idx[pattern[dy * 2 + dx]]]
        if enc.endswith("16"):
            return mosaic.astype(np.uint16) << 8, 12
        return mosaic, 12
    if enc in ("yuv422", "yuv422_yuy2"):
        yuv = cv2.cvtColor(bgr, cv2.COLOR_BGR2YUV)
        y, u, v = yuv[..., 0], yuv[..., 1], yuv[..., 2]
        out = np.zeros((h, w, 2), np.uint8)
        if enc == "yuv422":  # UYVY
            out[..., 1] = y
            out[:, 0::2, 0], out[:, 1::2, 0] = u[:, 0::2], v[:, 0::2]
        else:  # YUYV
            out[..., 0] = y
            out[:, 0::2, 1], out[:, 1::2, 1] = u[:, 0::2], v[:, 0::2]
        return out, 6
    if enc == "nv21":
        i420 = cv2.cvtColor(bgr, cv2.COLOR_BGR2YUV_I420)
        y = i420[:h]
        u = i420[h : h + h // 4].reshape(h // 2, w // 2)
        v = i420[h + h // 4 :].reshape(h // 2, w // 2)
        vu = np.stack([v, u], axis=-1).reshape(h // 2, w)
        return np.concatenate([y, vu]), 6
    raise AssertionError(enc)


ENCODINGS = [
    "bgr8",
    "rgb8",
    "bgra8",
    "rgba8",
    "bgr16",
    "rgb16",
    "mono8",
    "mono16",
    "bayer_rggb8",
    "bayer_bggr8",
    "bayer_gbrg8",
    "bayer_grbg8",
    "bayer_rggb16",
    "yuv422",
    "yuv422_yuy2",
    "nv21",
]


@pytest.mark.parametrize("encoding", ENCODINGS)
@pytest.mark.parametrize("pad", [0, 7])
def test_encodings_decode_to_the_same_bgr(encoding: str, pad: int) -> None:
    raw, tol = _to_encoding(BGR, encoding)
    rows = np.ascontiguousarray(raw).reshape(raw.shape[0], -1).view(np.uint8)
    if pad:  # row padding: step > width * bytes per pixel
        rows = np.concatenate([rows, np.full((rows.shape[0], pad), 255, np.uint8)], axis=1)
    out = decode_image(encoding, 64, 48, rows.shape[1], rows.tobytes())
    assert out.shape == (48, 64, 3) and out.dtype == np.uint8
    expected = (
        cv2.cvtColor(cv2.cvtColor(BGR, cv2.COLOR_BGR2GRAY), cv2.COLOR_GRAY2BGR) if "mono" in encoding else BGR
    )
    err = np.abs(out.astype(int) - expected.astype(int)).mean()
    assert err <= tol + 0.5, f"{encoding}: mean abs error {err:.2f}"


def test_big_endian_16_bit() -> None:
    raw = (BGR.astype(np.uint16) << 8).astype(">u2")
    out = decode_image("bgr16", 64, 48, 64 * 6, raw.tobytes(), is_bigendian=True)
    np.testing.assert_array_equal(out, BGR)


@pytest.mark.parametrize(
    ("encoding", "message"),
    [
        ("32FC1", "not a colour format"),
        ("16UC1", "not a colour format"),
        ("8UC3", "not a colour format"),
        ("64FC2", "not a colour format"),
        ("hsv8", "unsupported image encoding"),
        ("", "unsupported image encoding"),
    ],
)
def test_rejected_encodings_say_why(encoding: str, message: str) -> None:
    with pytest.raises(ImageDecodeError, match=message):
        decode_image(encoding, 4, 4, 16, bytes(64))


@pytest.mark.parametrize(
    ("encoding", "width", "height", "step", "nbytes", "message"),
    [
        ("bgr8", 0, 48, 0, 0, "empty image"),
        ("bgr8", 64, -1, 192, 0, "empty image"),
        ("bgr8", 64, 48, 64 * 3, 64 * 3 * 47, "data is 9024 bytes, expected step x rows = 192 x 48"),
        ("bgr8", 64, 48, 64 * 3, 64 * 3 * 48 + 1, "data is 9217 bytes"),  # trailing bytes
        ("bgr8", 64, 48, 64 * 3 * 48 - 1, 64 * 3 * 47 + 8, "data is"),  # last row shorter than step
        ("bgr8", 64, 48, 100, 100 * 48, "step 100 is shorter than a row of 192 bytes"),
        ("mono16", 64, 48, 64, 64 * 48, "step 64 is shorter than a row of 128 bytes"),
        ("yuv422", 63, 48, 126, 126 * 48, "odd width; 4:2:2"),
        ("yuyv", 1, 1, 2, 2, "odd width; 4:2:2"),
        ("nv21", 64, 47, 64, 64 * 70, "4:2:0 needs an even width and height"),
        ("nv12", 63, 48, 64, 64 * 72, "4:2:0 needs an even width and height"),
        ("nv12", 64, 48, 64, 64 * 48, "data is 3072 bytes, expected step x rows = 64 x 72"),
    ],
)
def test_bad_geometry_is_an_error(
    encoding: str, width: int, height: int, step: int, nbytes: int, message: str
) -> None:
    with pytest.raises(ImageDecodeError, match=re.escape(message)):
        decode_image(encoding, width, height, step, bytes(nbytes))


def test_pixel_cap_refuses_raw_frames_before_reading_data() -> None:
    # 20000 x 20000 bgr8 would be 1.2 GB; the cap refuses it from the header fields alone.
    with pytest.raises(ImageDecodeError, match=r"20000x20000 has 400000000 pixels, over the limit"):
        decode_image("bgr8", 20000, 20000, 60000, b"")
    assert DEFAULT_MAX_IMAGE_PIXELS >= 3840 * 2160 * 4  # 4K (and 8K) cameras pass by default
    assert decode_image("bgr8", 64, 48, 192, BGR.tobytes(), max_pixels=64 * 48).shape == (48, 64, 3)
    with pytest.raises(ImageDecodeError, match="over the limit of 3071"):
        decode_image("bgr8", 64, 48, 192, BGR.tobytes(), max_pixels=64 * 48 - 1)


@functools.cache
def _png_header_bomb(width: int, height: int) -> bytes:
    """A valid 1-bit grey PNG of ``width`` x ``height`` zeros: KBs decoding to width x height x 3."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    row = b"\x00" * (1 + (width + 7) // 8)  # filter byte + packed bits
    z = zlib.compressobj(9)
    idat = b"".join(z.compress(row) for _ in range(height)) + z.flush()
    ihdr = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def _jpeg_with_size(width: int, height: int) -> bytes:
    """A real small JPEG whose start-of-frame header is rewritten to claim ``width`` x ``height``."""
    data = bytearray(cv2.imencode(".jpg", BGR)[1].tobytes())
    sof = data.index(b"\xff\xc0")
    data[sof + 5 : sof + 9] = struct.pack(">HH", height, width)
    return bytes(data)


def test_pixel_cap_refuses_compressed_frames_from_the_header(monkeypatch: pytest.MonkeyPatch) -> None:
    bomb = _png_header_bomb(20000, 20000)
    assert len(bomb) < 400_000  # the case: a few hundred KB that would inflate to 1.2 GB

    def no_decoding(*args: object) -> None:
        raise AssertionError("decoded although the header is over the cap")

    monkeypatch.setattr(image_codec.cv2, "imdecode", no_decoding)
    with pytest.raises(ImageDecodeError, match=r"png \(format 'png'\) image 20000x20000 .* over the limit"):
        decode_compressed("png", bomb)
    with pytest.raises(ImageDecodeError, match=r"jpeg \(format 'jpeg'\) image 20000x20000 .* over the limit"):
        decode_compressed("jpeg", _jpeg_with_size(20000, 20000))
    with pytest.raises(ImageDecodeError, match="over the limit of 3071"):
        decode_compressed("jpeg", _jpeg_with_size(64, 48), max_pixels=64 * 48 - 1)


def test_compressed_size_comes_from_the_header() -> None:
    png = cv2.imencode(".png", BGR)[1]
    jpeg = cv2.imencode(".jpg", BGR)[1]
    assert compressed_size(png) == ("png", 64, 48)
    assert compressed_size(jpeg) == ("jpeg", 64, 48)
    small_bomb = _png_header_bomb(300, 200)
    assert decode_compressed("png", small_bomb).shape == (200, 300, 3)  # the test PNG itself is valid
    bmp = cv2.imencode(".bmp", BGR)[1]
    with pytest.raises(ImageDecodeError, match="only JPEG and PNG"):
        decode_compressed("bmp", bmp.tobytes())


def test_compressed_round_trip_and_corrupt_data() -> None:
    ok, jpeg = cv2.imencode(".jpg", BGR, [cv2.IMWRITE_JPEG_QUALITY, 95])
    assert ok
    out = decode_compressed("jpeg", jpeg.tobytes())
    assert np.abs(out.astype(int) - BGR.astype(int)).mean() < 3
    with pytest.raises(ImageDecodeError, match="corrupt"):
        decode_compressed("jpeg", jpeg.tobytes()[:40])
    with pytest.raises(ImageDecodeError, match="empty"):
        decode_compressed("jpeg", b"")
    with pytest.raises(ImageDecodeError, match="depth"):
        decode_compressed("16UC1; compressedDepth png", jpeg.tobytes())


def test_messages_over_the_default_cap_are_refused_by_the_conversion_layer() -> None:
    # What the node's runner calls: the default cap applies even where no limit is configured.
    from sensor_msgs.msg import CompressedImage, Image

    from lepton_perception.ros.conversions import image_msg_to_bgr

    with pytest.raises(ImageDecodeError, match="20000x20000 has 400000000 pixels"):
        image_msg_to_bgr(CompressedImage(format="png", data=_png_header_bomb(20000, 20000)))
    with pytest.raises(ImageDecodeError, match="20000x20000 has 400000000 pixels"):
        image_msg_to_bgr(Image(height=20000, width=20000, encoding="bgr8", step=60000))
    ok = Image(height=48, width=64, encoding="bgr8", step=192, data=BGR.tobytes())
    np.testing.assert_array_equal(image_msg_to_bgr(ok), BGR)
