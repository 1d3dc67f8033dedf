"""The one conversion layer: ROS messages <-> core types. Nodes and offline tools use only this."""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt
from builtin_interfaces.msg import Duration, Time
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from geometry_msgs.msg import Point
from sensor_msgs.msg import CameraInfo, CompressedImage, Image
from std_msgs.msg import ColorRGBA, Header
from visualization_msgs.msg import Marker, MarkerArray

from lepton_perception.core.camera import CameraIntrinsics
from lepton_perception.core.types import Category, FrameResult, TrackState, class_name
from lepton_perception.core.visualize import CATEGORY_BGR
from lepton_perception.ros.image_codec import ImageDecodeError, decode_compressed, decode_image, encode_bgr

__all__ = [
    "ImageDecodeError",
    "camera_info_to_intrinsics",
    "diagnostics_msg",
    "image_msg_to_bgr",
    "image_to_msg",
    "markers_msg",
    "s_to_time",
    "time_to_s",
]


# --- time -------------------------------------------------------------------------------------------
def time_to_s(stamp: Time) -> float:
    return stamp.sec + stamp.nanosec * 1e-9


def time_to_ns(stamp: Time) -> int:
    return int(stamp.sec) * 1_000_000_000 + int(stamp.nanosec)


def ns_to_time(t_ns: int) -> Time:
    return Time(sec=t_ns // 1_000_000_000, nanosec=t_ns % 1_000_000_000)


def s_to_time(t_s: float) -> Time:
    return ns_to_time(round(t_s * 1e9))


def s_to_duration(t_s: float) -> Duration:
    ns = round(t_s * 1e9)
    return Duration(sec=ns // 1_000_000_000, nanosec=ns % 1_000_000_000)


# --- camera input -----------------------------------------------------------------------------------
def image_msg_to_bgr(msg: Image | CompressedImage) -> npt.NDArray[np.uint8]:
    """Any ``Image`` encoding cv_bridge accepts, or a jpeg/png ``CompressedImage`` -> BGR (H, W, 3)."""
    if isinstance(msg, CompressedImage):
        return decode_compressed(msg.format, msg.data)
    return decode_image(msg.encoding, msg.width, msg.height, msg.step, msg.data, bool(msg.is_bigendian))


def image_to_msg(image: npt.NDArray[np.uint8], header: Header) -> Image:
    enc, w, h, step, data = encode_bgr(image)
    return Image(header=header, height=h, width=w, encoding=enc, is_bigendian=0, step=step, data=data)


def camera_info_to_intrinsics(msg: CameraInfo) -> CameraIntrinsics:
    """Uses the rectified projection ``p`` when set (images are assumed rectified), else ``k``."""
    if msg.width == 0 or msg.height == 0:
        raise ValueError("CameraInfo has zero width/height (uncalibrated camera)")
    p = np.asarray(msg.p, dtype=np.float64).reshape(3, 4)
    if p[0, 0] > 0 and p[1, 1] > 0:
        return CameraIntrinsics(
            float(p[0, 0]), float(p[1, 1]), float(p[0, 2]), float(p[1, 2]), msg.width, msg.height
        )
    k = np.asarray(msg.k, dtype=np.float64)
    if k[0] <= 0 or k[4] <= 0:
        raise ValueError("CameraInfo has no focal length in k or p (uncalibrated camera)")
    return CameraIntrinsics.from_k(k, msg.width, msg.height)


def intrinsics_to_camera_info(k: CameraIntrinsics, header: Header) -> CameraInfo:
    kk = [k.fx, 0.0, k.cx, 0.0, k.fy, k.cy, 0.0, 0.0, 1.0]
    return CameraInfo(
        header=header,
        width=k.width,
        height=k.height,
        distortion_model="plumb_bob",
        d=[0.0] * 5,
        k=kk,
        r=[1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0],
        p=[k.fx, 0.0, k.cx, 0.0, 0.0, k.fy, k.cy, 0.0, 0.0, 0.0, 1.0, 0.0],
    )


# --- outputs ----------------------------------------------------------------------------------------
def _rgba(category: Category, alpha: float = 0.9) -> ColorRGBA:
    b, g, r = CATEGORY_BGR[category]
    return ColorRGBA(r=r / 255.0, g=g / 255.0, b=b / 255.0, a=alpha)


def markers_msg(
    result: FrameResult, stamp: Time, target_frame: str, previous_ids: set[int]
) -> tuple[MarkerArray, set[int]]:
    """Ground-plane boxes, id labels and predicted paths; DELETE markers for vanished tracks.

    ``stamp`` is the source image's stamp, copied exactly (not rebuilt from float seconds).
    Returns the array and the set of track ids drawn this time (feed it back as ``previous_ids``).
    """
    header = Header(stamp=stamp, frame_id=target_frame)
    ns = f"lepton/{result.camera}"
    out = MarkerArray()
    drawn: set[int] = set()
    for t in result.tracks:
        if t.ground is None or t.state not in (TrackState.CONFIRMED, TrackState.COASTING):
            continue
        drawn.add(t.track_id)
        x, y = (float(v) for v in t.ground.position_m)
        size = (4.5, 1.9, 1.6) if t.category == Category.VEHICLE else (0.6, 0.6, 1.7)
        yaw = math.atan2(t.ground.velocity_mps[1], t.ground.velocity_mps[0])
        box = Marker(header=header, ns=ns + "/box", id=t.track_id, type=Marker.CUBE, action=Marker.ADD)
        box.pose.position.x, box.pose.position.y, box.pose.position.z = x, y, size[2] / 2
        box.pose.orientation.z, box.pose.orientation.w = math.sin(yaw / 2), math.cos(yaw / 2)
        box.scale.x, box.scale.y, box.scale.z = size
        box.color = _rgba(t.category, 0.6 if t.state == TrackState.CONFIRMED else 0.3)
        label = Marker(
            header=header,
            ns=ns + "/label",
            id=t.track_id,
            type=Marker.TEXT_VIEW_FACING,
            action=Marker.ADD,
            text=f"{class_name(t.class_id)} #{t.track_id}",
        )
        label.pose.position.x, label.pose.position.y, label.pose.position.z = x, y, size[2] + 0.5
        label.pose.orientation.w = 1.0
        label.scale.z = 0.5
        label.color = ColorRGBA(r=1.0, g=1.0, b=1.0, a=1.0)
        out.markers += [box, label]
    for path in result.paths:
        if path.track_id not in drawn:
            continue
        track = next(t for t in result.tracks if t.track_id == path.track_id)
        line = Marker(
            header=header, ns=ns + "/path", id=path.track_id, type=Marker.LINE_STRIP, action=Marker.ADD
        )
        line.pose.orientation.w = 1.0
        line.scale.x = 0.15
        line.color = _rgba(track.category, 0.9)
        line.points = [Point(x=float(px), y=float(py), z=0.05) for px, py in path.positions_m]
        out.markers.append(line)
    for gone in sorted(previous_ids - drawn):
        for sub in ("box", "label", "path"):
            out.markers.append(Marker(header=header, ns=f"{ns}/{sub}", id=gone, action=Marker.DELETE))
    return out, drawn


def diagnostics_msg(
    stamp: Time,
    name: str,
    hardware_id: str,
    values: dict[str, float | int | str],
    level: int = 0,
    message: str = "ok",
) -> DiagnosticArray:
    status = DiagnosticStatus(
        level=bytes([level]),
        name=name,
        message=message,
        hardware_id=hardware_id,
        values=[
            KeyValue(key=k, value=(f"{v:.3f}" if isinstance(v, float) else str(v))) for k, v in values.items()
        ],
    )
    return DiagnosticArray(header=Header(stamp=stamp), status=[status])
