"""``sensor_msgs/Image`` / ``CompressedImage`` <-> BGR arrays, with cv_bridge's encoding semantics.

Zero-copy where possible (``np.frombuffer`` over the message buffer), no cv_bridge dependency.
Every encoding cv_bridge can turn into ``bgr8`` is accepted; everything else raises
``ImageDecodeError`` saying why, and nothing else is raised for any input (property-tested).

Input limits, checked before any pixel is touched (a frame is bad input, never a reason to die):
- ``max_pixels`` (width x height) caps raw frames and compressed ones; for JPEG and PNG the size is
  read from the header (SOFn / IHDR) before decoding, so a 389 KB PNG that would inflate to
  20000 x 20000 is refused without allocating it. Other compressed formats are refused: their size
  cannot be bounded without decoding.
- Raw frames follow ``sensor_msgs/Image`` exactly: ``len(data) == step * height`` (NV12/NV21:
  ``step * height * 3/2``), ``step >= width * bytes per pixel``; 4:2:2 encodings need an even width,
  4:2:0 an even width and height. 16-bit data of either endianness (``is_bigendian``) is scaled to
  8 bits by keeping the high byte.
"""

from __future__ import annotations

import re

import cv2
import numpy as np
import numpy.typing as npt

U8 = npt.NDArray[np.uint8]


def _u8(a: object) -> U8:
    """cv2 returns loosely typed arrays; this is a no-copy cast for uint8 data."""
    return np.asarray(a, dtype=np.uint8)


class ImageDecodeError(ValueError):
    """The image cannot be turned into a BGR frame (bad encoding, size or data)."""


# Colour / mono encodings: name -> (channels, dtype, cv2 conversion to BGR or None when already BGR).
_COLOR: dict[str, tuple[int, type, int | None]] = {
    "bgr8": (3, np.uint8, None),
    "rgb8": (3, np.uint8, cv2.COLOR_RGB2BGR),
    "bgra8": (4, np.uint8, cv2.COLOR_BGRA2BGR),
    "rgba8": (4, np.uint8, cv2.COLOR_RGBA2BGR),
    "mono8": (1, np.uint8, cv2.COLOR_GRAY2BGR),
    "bgr16": (3, np.uint16, None),
    "rgb16": (3, np.uint16, cv2.COLOR_RGB2BGR),
    "bgra16": (4, np.uint16, cv2.COLOR_BGRA2BGR),
    "rgba16": (4, np.uint16, cv2.COLOR_RGBA2BGR),
    "mono16": (1, np.uint16, cv2.COLOR_GRAY2BGR),
    "bayer_rggb8": (1, np.uint8, cv2.COLOR_BayerBG2BGR),
    "bayer_bggr8": (1, np.uint8, cv2.COLOR_BayerRG2BGR),
    "bayer_gbrg8": (1, np.uint8, cv2.COLOR_BayerGR2BGR),
    "bayer_grbg8": (1, np.uint8, cv2.COLOR_BayerGB2BGR),
    "bayer_rggb16": (1, np.uint16, cv2.COLOR_BayerBG2BGR),
    "bayer_bggr16": (1, np.uint16, cv2.COLOR_BayerRG2BGR),
    "bayer_gbrg16": (1, np.uint16, cv2.COLOR_BayerGR2BGR),
    "bayer_grbg16": (1, np.uint16, cv2.COLOR_BayerGB2BGR),
    "yuv422": (2, np.uint8, cv2.COLOR_YUV2BGR_UYVY),  # ROS "yuv422" is UYVY byte order
    "uyvy": (2, np.uint8, cv2.COLOR_YUV2BGR_UYVY),
    "yuv422_yuy2": (2, np.uint8, cv2.COLOR_YUV2BGR_YUY2),
    "yuyv": (2, np.uint8, cv2.COLOR_YUV2BGR_YUY2),
}
# Planar YUV 4:2:0 / 4:4:4: handled separately (rows are not height x width x channels).
_NV = {"nv21": cv2.COLOR_YUV2BGR_NV21, "nv12": cv2.COLOR_YUV2BGR_NV12}
_GENERIC = re.compile(r"^(8U|8S|16U|16S|32S|32F|64F)C([1-4])$")


# 8K UHD: generous for 4K and 8K cameras; a 20000 x 20000 frame (400 Mpx, 1.2 GB as BGR) is refused.
DEFAULT_MAX_IMAGE_PIXELS = 7680 * 4320
_CHROMA_422 = frozenset({"yuv422", "uyvy", "yuv422_yuy2", "yuyv"})  # 2 pixels share one U and one V
_PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
# JPEG start-of-frame markers (they carry the size); C4 (DHT), C8 (JPG) and CC (DAC) are not frames.
_JPEG_SOF = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}


def supported_encodings() -> list[str]:
    return sorted([*_COLOR, *_NV])


def _as_bytes(data: bytes | memoryview | np.ndarray) -> U8:
    """The message buffer as a flat uint8 array (no copy for bytes, array.array and contiguous arrays)."""
    if isinstance(data, np.ndarray):
        return np.ascontiguousarray(data).reshape(-1).view(np.uint8)
    return np.frombuffer(data, dtype=np.uint8)


def check_pixels(width: int, height: int, max_pixels: int, what: str) -> None:
    """Refuse empty images and images over ``max_pixels`` (width x height) before any allocation."""
    if width <= 0 or height <= 0:
        raise ImageDecodeError(f"empty image ({width}x{height}, {what})")
    if width * height > max_pixels:
        raise ImageDecodeError(
            f"{what} image {width}x{height} has {width * height} pixels, over the limit of "
            f"{max_pixels} (max_image_pixels); not decoded"
        )


def _known_encoding(encoding: str) -> str:
    """The normalised encoding name, or ImageDecodeError saying why it cannot become bgr8."""
    enc = encoding.strip().lower()
    if enc in _COLOR or enc in _NV:
        return enc
    if _GENERIC.match(encoding.strip().upper()):
        raise ImageDecodeError(
            f"encoding {encoding!r} is not a colour format; it cannot be converted to bgr8 "
            "(cv_bridge refuses this conversion too)"
        )
    raise ImageDecodeError(
        f"unsupported image encoding {encoding!r}; supported: {', '.join(supported_encodings())}"
    )


def _check_layout(
    encoding: str, width: int, height: int, step: int, size: int, row_bytes: int, rows: int
) -> None:
    """``sensor_msgs/Image`` layout: ``step`` covers a row and ``data`` is exactly ``rows`` steps."""
    if step < row_bytes:
        raise ImageDecodeError(
            f"{encoding} image {width}x{height}: step {step} is shorter than a row of {row_bytes} bytes"
        )
    if size != step * rows:
        raise ImageDecodeError(
            f"{encoding} image {width}x{height}: data is {size} bytes, expected step x rows = "
            f"{step} x {rows} = {step * rows}"
        )


def decode_image(
    encoding: str,
    width: int,
    height: int,
    step: int,
    data: bytes | memoryview | np.ndarray,
    is_bigendian: bool = False,
    max_pixels: int = DEFAULT_MAX_IMAGE_PIXELS,
) -> U8:
    """Raw ``sensor_msgs/Image`` fields -> (H, W, 3) BGR uint8 (a view of ``data`` for bgr8).

    Raises ``ImageDecodeError`` (and nothing else) for unsupported encodings, sizes over ``max_pixels``
    and data that does not match the declared layout.
    """
    enc = _known_encoding(encoding)
    check_pixels(width, height, max_pixels, encoding)
    buf = _as_bytes(data)
    try:
        if enc in _NV:
            return _decode_nv(enc, width, height, step, buf)
        return _decode_packed(enc, width, height, step, buf, is_bigendian)
    except cv2.error as exc:  # the checks above are meant to make this unreachable; keep the contract
        raise ImageDecodeError(f"{encoding} image {width}x{height}: OpenCV refused it: {exc}") from exc


def _decode_nv(enc: str, width: int, height: int, step: int, buf: U8) -> U8:
    """NV12 / NV21: a full-resolution Y plane, then interleaved chroma at half resolution."""
    if width % 2 or height % 2:
        raise ImageDecodeError(f"{enc} image {width}x{height}: 4:2:0 needs an even width and height")
    rows = height * 3 // 2
    _check_layout(enc, width, height, step, buf.size, width, rows)
    planes = buf.reshape(rows, step)[:, :width]
    return _u8(cv2.cvtColor(np.ascontiguousarray(planes), _NV[enc]))


def _decode_packed(enc: str, width: int, height: int, step: int, buf: U8, is_bigendian: bool) -> U8:
    """Interleaved encodings: ``height`` rows of ``step`` bytes, each starting with ``width`` pixels."""
    channels, dtype, code = _COLOR[enc]
    if enc in _CHROMA_422 and width % 2:
        raise ImageDecodeError(
            f"{enc} image {width}x{height}: odd width; 4:2:2 pixels come in pairs sharing chroma"
        )
    itemsize = np.dtype(dtype).itemsize
    row_bytes = width * channels * itemsize
    _check_layout(enc, width, height, step, buf.size, row_bytes, height)
    rows = buf.reshape(height, step)[:, :row_bytes]
    if itemsize == 2:
        # 16 -> 8 bits as cv_bridge scales it (x / 256): keep the high byte of each sample, which is the
        # first byte in big-endian data and the second in little-endian data. Works for any step.
        rows = np.ascontiguousarray(rows.reshape(height, width * channels, 2)[..., 0 if is_bigendian else 1])
    pix = rows.reshape(height, width, channels) if channels > 1 else rows.reshape(height, width)
    if code is None:
        return _u8(pix)
    return _u8(cv2.cvtColor(np.ascontiguousarray(pix), code))


def _jpeg_size(b: memoryview) -> tuple[int, int]:
    """(width, height) from the first JPEG start-of-frame segment, walking the marker segments."""
    i = 2  # after SOI
    while i + 9 <= len(b):
        if b[i] != 0xFF:
            break
        marker = b[i + 1]
        if marker == 0xFF:  # fill byte before a marker
            i += 1
        elif marker == 0x01 or 0xD0 <= marker <= 0xD8:  # markers without a length
            i += 2
        elif marker in _JPEG_SOF:
            return int.from_bytes(b[i + 7 : i + 9], "big"), int.from_bytes(b[i + 5 : i + 7], "big")
        elif marker in (0xD9, 0xDA):  # end of image / start of scan before any frame header
            break
        else:
            i += 2 + int.from_bytes(b[i + 2 : i + 4], "big")
    raise ImageDecodeError(f"corrupt JPEG: no frame header (SOF) before byte {i} of {len(b)}")


def compressed_size(buf: U8) -> tuple[str, int, int]:
    """(kind, width, height) of a PNG or JPEG from its header, without decoding any pixel.

    Raises ``ImageDecodeError`` for other formats: their decoded size cannot be bounded beforehand.
    """
    b = np.ascontiguousarray(buf, dtype=np.uint8).data
    if bytes(b[:8]) == _PNG_MAGIC:
        if len(b) < 24 or bytes(b[12:16]) != b"IHDR":
            raise ImageDecodeError(f"corrupt PNG: no IHDR header ({len(b)} bytes)")
        return "png", int.from_bytes(b[16:20], "big"), int.from_bytes(b[20:24], "big")
    if bytes(b[:2]) == b"\xff\xd8":
        return ("jpeg", *_jpeg_size(b))
    raise ImageDecodeError(
        f"corrupt or unsupported compressed image (first bytes {bytes(b[:4]).hex()}): only JPEG and PNG "
        "are decoded"
    )


def decode_compressed(
    fmt: str, data: bytes | memoryview | np.ndarray, max_pixels: int = DEFAULT_MAX_IMAGE_PIXELS
) -> U8:
    """``sensor_msgs/CompressedImage`` (jpeg / png, any ``format`` string) -> BGR uint8.

    The size in the header is checked against ``max_pixels`` before decoding; raises
    ``ImageDecodeError`` (and nothing else) for empty, corrupt, oversized or non-JPEG/PNG data.
    """
    buf = _as_bytes(data)
    if buf.size == 0:
        raise ImageDecodeError(f"empty compressed image (format {fmt!r})")
    if "compresseddepth" in fmt.lower():
        raise ImageDecodeError(f"compressed depth image (format {fmt!r}) is not a colour image")
    kind, width, height = compressed_size(buf)
    check_pixels(width, height, max_pixels, f"{kind} (format {fmt!r})")
    try:
        img = cv2.imdecode(buf, cv2.IMREAD_COLOR)
    except cv2.error as exc:
        raise ImageDecodeError(f"corrupt {kind} image ({buf.size} bytes, format {fmt!r}): {exc}") from exc
    if img is None or img.shape[:2] != (height, width):
        raise ImageDecodeError(
            f"corrupt or undecodable {kind} image ({buf.size} bytes, format {fmt!r}, header {width}x{height})"
        )
    return _u8(img)


def encode_bgr(image: U8) -> tuple[str, int, int, int, bytes]:
    """BGR array -> (encoding, width, height, step, data) for a ``sensor_msgs/Image``."""
    img = np.ascontiguousarray(image)
    h, w = img.shape[:2]
    return "bgr8", w, h, w * 3, img.tobytes()
