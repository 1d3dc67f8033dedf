"""``sensor_msgs/Image`` / ``CompressedImage`` <-> BGR arrays, with cv_bridge's encoding semantics.

Zero-copy where possible (``np.frombuffer`` over the message buffer), no cv_bridge dependency.
Every encoding cv_bridge can turn into ``bgr8`` is accepted; the others raise ``ImageDecodeError``
naming the encoding and why.
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


def supported_encodings() -> list[str]:
    return sorted([*_COLOR, *_NV])


def decode_image(
    encoding: str,
    width: int,
    height: int,
    step: int,
    data: bytes | memoryview | np.ndarray,
    is_bigendian: bool = False,
) -> U8:
    """Raw ``sensor_msgs/Image`` fields -> (H, W, 3) BGR uint8 (a view of ``data`` for bgr8)."""
    enc = encoding.strip().lower()
    if width <= 0 or height <= 0:
        raise ImageDecodeError(f"empty image ({width}x{height}, encoding {encoding!r})")
    buf = np.frombuffer(data, dtype=np.uint8) if not isinstance(data, np.ndarray) else data.view(np.uint8)
    if enc in _NV:
        need = width * height * 3 // 2
        if step < width or buf.size < step * (height * 3 // 2):
            raise ImageDecodeError(f"{encoding} image {width}x{height} needs {need} bytes, got {buf.size}")
        planes = buf[: step * (height * 3 // 2)].reshape(height * 3 // 2, step)[:, :width]
        return _u8(cv2.cvtColor(np.ascontiguousarray(planes), _NV[enc]))
    if enc not in _COLOR:
        if _GENERIC.match(encoding.strip().upper()) or enc in ("32fc1", "16uc1"):
            raise ImageDecodeError(
                f"encoding {encoding!r} is not a colour format; it cannot be converted to bgr8 "
                "(cv_bridge refuses this conversion too)"
            )
        raise ImageDecodeError(
            f"unsupported image encoding {encoding!r}; supported: {', '.join(supported_encodings())}"
        )
    channels, dtype, code = _COLOR[enc]
    itemsize = np.dtype(dtype).itemsize
    row_bytes = width * channels * itemsize
    if step < row_bytes or buf.size < step * (height - 1) + row_bytes:
        raise ImageDecodeError(
            f"{encoding} image {width}x{height}: step {step} and {buf.size} data bytes do not hold "
            f"{height} rows of {row_bytes} bytes"
        )
    if buf.size < step * height:  # last row may be unpadded
        buf = np.concatenate([buf, np.zeros(step * height - buf.size, np.uint8)])
    rows = buf[: step * height].reshape(height, step)[:, :row_bytes]
    pix = rows.view(np.dtype(dtype).newbyteorder(">" if is_bigendian else "<")) if itemsize > 1 else rows
    pix = pix.reshape(height, width, channels) if channels > 1 else pix.reshape(height, width)
    if itemsize > 1:
        pix = (pix.astype(np.uint16) >> 8).astype(np.uint8)  # 16-bit -> 8-bit as cv_bridge scales
    if code is None:
        return _u8(pix)
    return _u8(cv2.cvtColor(np.ascontiguousarray(pix), code))


def decode_compressed(fmt: str, data: bytes | memoryview | np.ndarray) -> U8:
    """``sensor_msgs/CompressedImage`` (jpeg / png, any ``format`` string) -> BGR uint8."""
    buf = np.frombuffer(data, dtype=np.uint8) if not isinstance(data, np.ndarray) else data.view(np.uint8)
    if buf.size == 0:
        raise ImageDecodeError(f"empty compressed image (format {fmt!r})")
    if "compresseddepth" in fmt.lower():
        raise ImageDecodeError(f"compressed depth image (format {fmt!r}) is not a colour image")
    img = cv2.imdecode(buf, cv2.IMREAD_COLOR)
    if img is None:
        raise ImageDecodeError(f"corrupt or undecodable compressed image ({buf.size} bytes, format {fmt!r})")
    return _u8(img)


def encode_bgr(image: U8) -> tuple[str, int, int, int, bytes]:
    """BGR array -> (encoding, width, height, step, data) for a ``sensor_msgs/Image``."""
    img = np.ascontiguousarray(image)
    h, w = img.shape[:2]
    return "bgr8", w, h, w * 3, img.tobytes()
