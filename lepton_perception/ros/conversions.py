"""The one conversion layer: ROS messages <-> core types. Nodes and offline tools use only this."""

from __future__ import annotations

import array
import functools
import math
import uuid
from typing import Any, TypeVar

import numpy as np
import numpy.typing as npt
from autoware_perception_msgs.msg import (
    ObjectClassification,
    PredictedObject,
    PredictedObjectKinematics,
    PredictedObjects,
    Shape,
    TrackedObject,
    TrackedObjectKinematics,
    TrackedObjects,
)
from autoware_perception_msgs.msg import PredictedPath as PredictedPathMsg
from builtin_interfaces.msg import Duration, Time
from geometry_msgs.msg import (
    Accel,
    AccelWithCovariance,
    Point,
    Polygon,
    Pose,
    PoseWithCovariance,
    Quaternion,
    Twist,
    TwistWithCovariance,
    Vector3,
)
from sensor_msgs.msg import CameraInfo, CompressedImage, Image
from std_msgs.msg import ColorRGBA, Header
from unique_identifier_msgs.msg import UUID
from vision_msgs.msg import (
    BoundingBox2D,
    Detection2D,
    Detection2DArray,
    ObjectHypothesis,
    ObjectHypothesisWithPose,
    Point2D,
    Pose2D,
)
from visualization_msgs.msg import Marker, MarkerArray, MeshFile

from lepton_perception.core.camera import CameraIntrinsics
from lepton_perception.core.types import Category, FrameResult, PredictedPath, Track, TrackState, class_name
from lepton_perception.core.visualize import CATEGORY_BGR
from lepton_perception.ros.image_codec import (
    DEFAULT_MAX_IMAGE_PIXELS,
    decode_compressed,
    decode_image,
    encode_bgr,
)


# --- time -------------------------------------------------------------------------------------------
def time_to_ns(stamp: Time) -> int:
    return int(stamp.sec) * 1_000_000_000 + int(stamp.nanosec)


def ns_to_time(t_ns: int) -> Time:
    return Time(sec=t_ns // 1_000_000_000, nanosec=t_ns % 1_000_000_000)


def s_to_duration(t_s: float) -> Duration:
    return Duration(**_duration_fields(t_s))


def _duration_fields(t_s: float) -> dict[str, int]:
    ns = round(t_s * 1e9)
    return {"sec": ns // 1_000_000_000, "nanosec": ns % 1_000_000_000}


# --- camera input -----------------------------------------------------------------------------------
def image_msg_to_bgr(
    msg: Image | CompressedImage, max_pixels: int = DEFAULT_MAX_IMAGE_PIXELS
) -> npt.NDArray[np.uint8]:
    """Any ``Image`` encoding cv_bridge accepts, or a jpeg/png ``CompressedImage`` -> BGR (H, W, 3).

    ``bgr8`` comes back as a view of ``msg.data`` (no copy; rows of ``step`` bytes are sliced, not
    repacked). Frames over ``max_pixels`` (width x height) raise ``ImageDecodeError`` before decoding.
    """
    if isinstance(msg, CompressedImage):
        return decode_compressed(msg.format, msg.data, max_pixels)
    return decode_image(
        msg.encoding, msg.width, msg.height, msg.step, msg.data, bool(msg.is_bigendian), max_pixels
    )


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


# --- outputs for planning ---------------------------------------------------------------------------
# COCO class -> autoware_perception_msgs/ObjectClassification label.
_AUTOWARE_LABEL = {
    0: ObjectClassification.PEDESTRIAN,
    1: ObjectClassification.BICYCLE,
    2: ObjectClassification.CAR,
    3: ObjectClassification.MOTORCYCLE,
    5: ObjectClassification.BUS,
    7: ObjectClassification.TRUCK,
}
# Class prior for the object's extent (length, width, height), metres: a monocular box gives no depth.
_DIMENSIONS_M = {
    0: (0.6, 0.6, 1.7),
    1: (1.8, 0.6, 1.6),
    2: (4.5, 1.9, 1.6),
    3: (2.0, 0.8, 1.5),
    5: (12.0, 2.5, 3.2),
    7: (8.0, 2.5, 3.0),
}
_UUID_NAMESPACE = uuid.UUID("6c0e0a4e-3f5b-4a2e-9c1d-6c2f4f1a9b70")
STATIONARY_MPS = 0.3  # below this speed an object is reported stationary and its heading unknown
_LIVE = (TrackState.CONFIRMED, TrackState.COASTING)


# Pose, twist, acceleration (unknown: zero), heading known (moving); shared by an object's two messages.
Kinematics = tuple[PoseWithCovariance, TwistWithCovariance, AccelWithCovariance, bool]
M = TypeVar("M")


# The planning lists' messages are written straight to the generated classes' ``_name`` slots, which is
# all their setters do when ``_check_fields`` is off, provided each value already has the stored type:
# Python floats/ints/bools, lists of messages, and a float64 (36,) array for a covariance (the setter
# would copy it into a new array; each message gets a row of an array made for this call). About 100
# poses and 15 sub-messages per object make this the hot loop of a frame's messages (docs/ros.md).
def _pose(x: float, y: float, z: float, qz: float, qw: float) -> Pose:
    """A pose at (x, y, z) turned by the yaw whose half-angle sine/cosine are ``qz``/``qw``."""
    point = Point.__new__(Point)
    point._check_fields, point._x, point._y, point._z = False, x, y, z
    quat = Quaternion.__new__(Quaternion)
    quat._check_fields, quat._x, quat._y, quat._z, quat._w = False, 0.0, 0.0, qz, qw
    pose = Pose.__new__(Pose)
    pose._check_fields, pose._position, pose._orientation = False, point, quat
    return pose


def _vector(x: float, y: float, z: float = 0.0) -> Vector3:
    v = Vector3.__new__(Vector3)
    v._check_fields, v._x, v._y, v._z = False, x, y, z
    return v


def _pose_cov(pose: Pose, cov: npt.NDArray[np.float64]) -> PoseWithCovariance:
    m = PoseWithCovariance.__new__(PoseWithCovariance)
    m._check_fields, m._pose, m._covariance = False, pose, cov
    return m


def _twist_cov(vx: float, vy: float, cov: npt.NDArray[np.float64]) -> TwistWithCovariance:
    twist = Twist.__new__(Twist)
    twist._check_fields, twist._linear, twist._angular = False, _vector(vx, vy), _vector(0.0, 0.0)
    m = TwistWithCovariance.__new__(TwistWithCovariance)
    m._check_fields, m._twist, m._covariance = False, twist, cov
    return m


def _zero_accel_cov() -> AccelWithCovariance:
    accel = Accel.__new__(Accel)
    accel._check_fields, accel._linear, accel._angular = False, _vector(0.0, 0.0), _vector(0.0, 0.0)
    m = AccelWithCovariance.__new__(AccelWithCovariance)
    m._check_fields, m._accel, m._covariance = False, accel, np.zeros(36)
    return m


def _kinematics(tracks: list[Track]) -> list[Kinematics]:
    """Pose (target frame) and twist (object frame, x along the heading), both with covariance, of N
    tracks at once; the heading is the direction of motion, unknown below ``STATIONARY_MPS``."""
    n = len(tracks)
    if n == 0:
        return []
    grounds = [t.ground for t in tracks if t.ground is not None]
    assert len(grounds) == n
    pos = np.array([g.position_m[:2] for g in grounds], dtype=np.float64)  # (N, 2) m
    vel = np.array([g.velocity_mps[:2] for g in grounds], dtype=np.float64)  # (N, 2) m/s
    cov = np.array([g.covariance for g in grounds], dtype=np.float64)  # (N, 4, 4) over x, y, vx, vy
    moving = np.hypot(vel[:, 0], vel[:, 1]) >= STATIONARY_MPS
    yaw = np.where(moving, np.arctan2(vel[:, 1], vel[:, 0]), 0.0)
    c, s = np.cos(yaw), np.sin(yaw)
    rot = np.stack([np.stack([c, -s], -1), np.stack([s, c], -1)], -2)  # (N, 2, 2) body -> target frame
    rot_t = rot.transpose(0, 2, 1)
    v_body = np.einsum("nij,nj->ni", rot_t, vel)  # (N, 2)
    pose_cov = np.zeros((n, 6, 6))
    pose_cov[:, :2, :2] = cov[:, :2, :2]
    pose_cov[:, 2, 2] = 0.25  # height of the road plane, m^2
    pose_cov[:, 3, 3] = pose_cov[:, 4, 4] = 0.01
    pose_cov[:, 5, 5] = np.where(moving, 0.1, math.pi**2)  # yaw, rad^2: unknown when standing still
    twist_cov = np.zeros((n, 6, 6))
    twist_cov[:, :2, :2] = rot_t @ cov[:, 2:, 2:] @ rot
    twist_cov[:, 2, 2] = twist_cov[:, 3, 3] = twist_cov[:, 4, 4] = 0.01
    twist_cov[:, 5, 5] = 0.1
    rows = zip(
        pos.tolist(),
        v_body.tolist(),
        np.sin(yaw / 2).tolist(),
        np.cos(yaw / 2).tolist(),
        pose_cov.reshape(n, 36),  # rows: one contiguous (36,) array per message
        twist_cov.reshape(n, 36),
        moving.tolist(),
    )
    return [
        (_pose_cov(_pose(x, y, 0.0, qz, qw), pc), _twist_cov(vx, vy, tc), _zero_accel_cov(), mov)
        for (x, y), (vx, vy), qz, qw, pc, tc, mov in rows
    ]


def _shape(class_id: int) -> Shape:
    length, width, height = _DIMENSIONS_M.get(class_id, (1.0, 1.0, 1.5))
    footprint = Polygon.__new__(Polygon)
    footprint._check_fields, footprint._points = False, []
    shape = Shape.__new__(Shape)
    shape._check_fields, shape._footprint = False, footprint
    shape._type = Shape.BOUNDING_BOX if class_id != 0 else Shape.CYLINDER
    shape._dimensions = _vector(float(length), float(width), float(height))
    return shape


@functools.lru_cache(maxsize=4096)
def _uuid_bytes(camera: str, epoch_ns: int, track_id: int) -> bytes:
    return uuid.uuid5(_UUID_NAMESPACE, f"{camera}/{epoch_ns}/{track_id}").bytes


def track_uuid(camera: str, epoch_ns: int, track_id: int) -> UUID:
    """Stable per object: the same bag gives the same UUIDs live and offline; a restart gives new ones."""
    msg = UUID.__new__(UUID)
    msg._check_fields = False
    msg._uuid = np.frombuffer(_uuid_bytes(camera, epoch_ns, track_id), np.uint8).copy()  # (16,) writable
    return msg


# The fields TrackedObject and PredictedObject share: id, existence, class, shape.
Identity = tuple[UUID, float, list[ObjectClassification], Shape]


def _identity(camera: str, track: Track, epoch_ns: int) -> Identity:
    cls = ObjectClassification.__new__(ObjectClassification)
    cls._check_fields, cls._probability = False, 1.0
    cls._label = _AUTOWARE_LABEL.get(track.class_id, ObjectClassification.UNKNOWN)
    uid = track_uuid(camera, epoch_ns, track.track_id)
    return uid, float(track.score), [cls], _shape(track.class_id)


def _planning_tracks(result: FrameResult) -> list[Track]:
    """The tracks planners get: confirmed or coasting, with a ground position."""
    return [t for t in result.tracks if t.state in _LIVE and t.ground is not None]


def _object(cls: type[M], identity: Identity, kinematics: Any) -> M:
    """A ``TrackedObject`` or ``PredictedObject`` (the same fields, their own kinematics types)."""
    msg: Any = cls.__new__(cls)
    msg._check_fields, msg._kinematics = False, kinematics
    msg._object_id, msg._existence_probability, msg._classification, msg._shape = identity
    return msg


def _tracked_object(kin: Kinematics, identity: Identity) -> TrackedObject:
    pose, twist, accel, heading_known = kin
    k = TrackedObjectKinematics.__new__(TrackedObjectKinematics)
    k._check_fields, k._pose_with_covariance, k._twist_with_covariance = False, pose, twist
    k._acceleration_with_covariance, k._is_stationary = accel, not heading_known
    k._orientation_availability = (
        TrackedObjectKinematics.AVAILABLE if heading_known else TrackedObjectKinematics.UNAVAILABLE
    )
    return _object(TrackedObject, identity, k)


def _predicted_object(kin: Kinematics, identity: Identity, paths: list[PredictedPathMsg]) -> PredictedObject:
    pose, twist, accel, _ = kin
    k = PredictedObjectKinematics.__new__(PredictedObjectKinematics)
    k._check_fields, k._initial_pose_with_covariance, k._initial_twist_with_covariance = False, pose, twist
    k._initial_acceleration_with_covariance, k._predicted_paths = accel, paths
    return _object(PredictedObject, identity, k)


def _path_msgs(paths: list[PredictedPath], stamp_s: float) -> list[PredictedPathMsg]:
    """Path messages, in order. Poses start at the first predicted time; ``time_step`` is their median
    spacing; each pose faces along the path (central difference, one-sided at the ends). Paths of one
    length are computed together ((G, P) arrays: one sort, one arctan2, one ``tolist``)."""
    out: list[PredictedPathMsg | None] = [None] * len(paths)
    by_len: dict[int, list[int]] = {}
    for i, p in enumerate(paths):
        by_len.setdefault(len(np.asarray(p.positions_m).reshape(-1, 2)), []).append(i)
    for n, idx in by_len.items():
        group = [paths[i] for i in idx]
        for i, msg in zip(idx, _same_length_path_msgs(group, n, stamp_s)):
            out[i] = msg
    return out


def _same_length_path_msgs(paths: list[PredictedPath], n: int, stamp_s: float) -> list[PredictedPathMsg]:
    """G paths of ``n`` poses each; per row exactly what one path alone computes."""
    g = len(paths)
    pts = np.array([np.asarray(p.positions_m, np.float64).reshape(-1, 2) for p in paths]).reshape(g, n, 2)
    if n:
        times = np.array([np.concatenate([[stamp_s], p.times_s]) for p in paths]).reshape(g, n + 1)
        gaps = np.sort(np.diff(times, axis=1), axis=1)  # (G, n) s; median of each row:
        m = n // 2
        steps = (gaps[:, m] if n % 2 else (gaps[:, m - 1] + gaps[:, m]) / 2).tolist()
    else:
        steps = [0.0] * g
    if n > 1:
        i = np.arange(n)
        d = pts[:, np.minimum(i + 1, n - 1)] - pts[:, np.maximum(i - 1, 0)]  # (G, n, 2)
        yaw = np.arctan2(d[..., 1], d[..., 0])
    else:
        yaw = np.zeros((g, n))
    xs, ys = pts[..., 0].tolist(), pts[..., 1].tolist()
    qzs, qws = np.sin(yaw / 2).tolist(), np.cos(yaw / 2).tolist()
    msgs = []
    for p, step, x, y, qz, qw in zip(paths, steps, xs, ys, qzs, qws):
        msg = PredictedPathMsg.__new__(PredictedPathMsg)
        msg._check_fields, msg._confidence = False, float(p.confidence)
        msg._path = [_pose(*row, 0.0, *q) for row, q in zip(zip(x, y), zip(qz, qw))]
        msg._time_step = _duration(step)
        msgs.append(msg)
    return msgs


def _duration(t_s: float) -> Duration:
    msg = Duration.__new__(Duration)
    ns = round(t_s * 1e9)
    msg._check_fields, msg._sec, msg._nanosec = False, ns // 1_000_000_000, ns % 1_000_000_000
    return msg


def planning_msgs(
    result: FrameResult, header: Header, epoch_ns: int
) -> tuple[TrackedObjects, PredictedObjects]:
    """``TrackedObjects`` and ``PredictedObjects`` of one frame (header: image stamp, target frame),
    with each track's kinematics computed once, for all tracks at a time, and the paths of all objects
    in one batch (each object's most likely first)."""
    tracks = _planning_tracks(result)
    kins = _kinematics(tracks)
    identities = [_identity(result.camera, t, epoch_ns) for t in tracks]
    by_id: dict[int, list[PredictedPath]] = {}
    for p in result.paths:
        by_id.setdefault(p.track_id, []).append(p)
    mine = [sorted(by_id.get(t.track_id, []), key=lambda p: -p.confidence) for t in tracks]
    flat = _path_msgs([p for ps in mine for p in ps], result.stamp_s)
    per_object, start = [], 0
    for ps in mine:
        per_object.append(flat[start : start + len(ps)])
        start += len(ps)
    tracked = TrackedObjects(header=header, objects=[_tracked_object(k, i) for k, i in zip(kins, identities)])
    predicted = PredictedObjects(
        header=header,
        objects=[_predicted_object(k, i, ps) for k, i, ps in zip(kins, identities, per_object)],
    )
    return tracked, predicted


def tracked_objects_msg(result: FrameResult, header: Header, epoch_ns: int) -> TrackedObjects:
    """Confirmed and coasting tracks that have a ground position (header: image stamp, target frame)."""
    return planning_msgs(result, header, epoch_ns)[0]


def predicted_objects_msg(result: FrameResult, header: Header, epoch_ns: int) -> PredictedObjects:
    """Every tracked object with its predicted paths (most likely first); objects without a path
    are still listed, with no paths, so planners see the same object set as in TrackedObjects."""
    return planning_msgs(result, header, epoch_ns)[1]


def detections_msg(result: FrameResult, header: Header) -> Detection2DArray:
    """Tracks in image space for image consumers: ``id`` is the track id, the box the filtered box.

    Tentative tracks are included (planning-grade filtering is in TrackedObjects); the header is the
    source image's. The hypothesis pose is unused (identity, zero covariance, as a default message).
    """
    live = [t for t in result.tracks if t.state != TrackState.DELETED]
    boxes = np.asarray([t.box for t in live], dtype=np.float64).reshape(-1, 4)  # (N, 4) x1, y1, x2, y2 px
    rows = zip(
        live,
        ((boxes[:, 0] + boxes[:, 2]) / 2).tolist(),
        ((boxes[:, 1] + boxes[:, 3]) / 2).tolist(),
        (boxes[:, 2] - boxes[:, 0]).tolist(),
        (boxes[:, 3] - boxes[:, 1]).tolist(),
    )
    return Detection2DArray(header=header, detections=[_detection(t, header, *r) for t, *r in rows])


def _detection(track: Track, header: Header, cx: float, cy: float, w: float, h: float) -> Detection2D:
    """One track's Detection2D, written to the generated slots like the planning messages."""
    point = Point2D.__new__(Point2D)
    point._check_fields, point._x, point._y = False, cx, cy
    center = Pose2D.__new__(Pose2D)
    center._check_fields, center._position, center._theta = False, point, 0.0
    bbox = BoundingBox2D.__new__(BoundingBox2D)
    bbox._check_fields, bbox._center, bbox._size_x, bbox._size_y = False, center, w, h
    hypothesis = ObjectHypothesis.__new__(ObjectHypothesis)
    hypothesis._check_fields, hypothesis._class_id = False, class_name(track.class_id)
    hypothesis._score = float(track.score)
    hyp = ObjectHypothesisWithPose.__new__(ObjectHypothesisWithPose)
    hyp._check_fields, hyp._hypothesis = False, hypothesis
    hyp._pose = _pose_cov(_pose(0.0, 0.0, 0.0, 0.0, 1.0), np.zeros(36))
    det = Detection2D.__new__(Detection2D)
    det._check_fields, det._header, det._results, det._bbox = False, header, [hyp], bbox
    det._id = str(track.track_id)
    return det


# --- outputs for people and RViz ----------------------------------------------------------------------
def _color(r: float, g: float, b: float, a: float) -> ColorRGBA:
    c = ColorRGBA.__new__(ColorRGBA)
    c._check_fields, c._r, c._g, c._b, c._a = False, r, g, b, a
    return c


def _rgba(category: Category, alpha: float = 0.9) -> ColorRGBA:
    b, g, r = CATEGORY_BGR[category]
    return _color(r / 255.0, g / 255.0, b / 255.0, alpha)


def _marker(
    header: Header,
    ns: str,
    marker_id: int,
    kind: int = 0,
    action: int = Marker.ADD,
    pose: Pose | None = None,
    scale: tuple[float, float, float] = (0.0, 0.0, 0.0),
    color: tuple[float, float, float, float] = (0.0, 0.0, 0.0, 0.0),
    text: str = "",
    points: list[Point] | None = None,
) -> Marker:
    """``Marker(header=..., ns=..., ...)`` with every other field at its default, written to the slots
    (the generated constructor builds ~10 default sub-messages through their own constructors: ~120 us
    a marker, most of a frame's markers). Each marker gets its own default sub-messages, as there."""
    texture = CompressedImage.__new__(CompressedImage)
    texture._check_fields, texture._format, texture._data = False, "", array.array("B")
    texture._header = _header(_stamp(0, 0), "")
    mesh = MeshFile.__new__(MeshFile)
    mesh._check_fields, mesh._filename, mesh._data = False, "", array.array("B")
    m = Marker.__new__(Marker)
    m._check_fields, m._header, m._ns, m._id, m._type, m._action = False, header, ns, marker_id, kind, action
    m._pose = pose if pose is not None else _pose(0.0, 0.0, 0.0, 0.0, 1.0)
    m._scale, m._color = _vector(*scale), _color(*color)
    m._lifetime, m._frame_locked, m._points, m._colors = _duration(0.0), False, points or [], []
    m._texture_resource, m._texture, m._uv_coordinates, m._text = "", texture, [], text
    m._mesh_resource, m._mesh_file, m._mesh_use_embedded_materials = "", mesh, False
    return m


def _stamp(sec: int, nanosec: int) -> Time:
    t = Time.__new__(Time)
    t._check_fields, t._sec, t._nanosec = False, sec, nanosec
    return t


def _header(stamp: Time, frame_id: str) -> Header:
    h = Header.__new__(Header)
    h._check_fields, h._stamp, h._frame_id = False, stamp, frame_id
    return h


def markers_msg(
    result: FrameResult, stamp: Time, target_frame: str, previous_ids: set[int]
) -> tuple[MarkerArray, set[int]]:
    """Ground-plane boxes, id labels and predicted paths; DELETE markers for vanished tracks.

    ``stamp`` is the source image's stamp, copied exactly (not rebuilt from float seconds).
    Returns the array and the set of track ids drawn this time (feed it back as ``previous_ids``).
    """
    header = Header(stamp=stamp, frame_id=target_frame)
    ns = f"lepton/{result.camera}"
    markers: list[Marker] = []
    drawn: set[int] = set()
    by_id: dict[int, Track] = {}
    for t in result.tracks:
        by_id.setdefault(t.track_id, t)  # the first track with an id, as a search would find
        if t.ground is None or t.state not in (TrackState.CONFIRMED, TrackState.COASTING):
            continue
        drawn.add(t.track_id)
        markers += _track_markers(t, header, ns)
    for path in result.paths:
        if path.track_id not in drawn:
            continue
        a = _rgba(by_id[path.track_id].category, 0.9)
        points = [_point(px, py, 0.05) for px, py in np.asarray(path.positions_m).tolist()]
        markers.append(
            _marker(header, ns + "/path", path.track_id, Marker.LINE_STRIP, scale=(0.15, 0.0, 0.0),
                    color=(a.r, a.g, a.b, a.a), points=points)
        )  # fmt: skip
    for gone in sorted(previous_ids - drawn):
        for sub in ("box", "label", "path"):
            markers.append(_marker(header, f"{ns}/{sub}", gone, action=Marker.DELETE))
    out = MarkerArray.__new__(MarkerArray)
    out._check_fields, out._markers = False, markers
    return out, drawn


def _point(x: float, y: float, z: float) -> Point:
    p = Point.__new__(Point)
    p._check_fields, p._x, p._y, p._z = False, x, y, z
    return p


def _track_markers(t: Track, header: Header, ns: str) -> list[Marker]:
    """A track's ground-plane box (along its velocity) and its id label."""
    assert t.ground is not None
    x, y = (float(v) for v in t.ground.position_m)
    size = (4.5, 1.9, 1.6) if t.category == Category.VEHICLE else (0.6, 0.6, 1.7)
    yaw = math.atan2(t.ground.velocity_mps[1], t.ground.velocity_mps[0])
    c = _rgba(t.category, 0.6 if t.state == TrackState.CONFIRMED else 0.3)
    box = _marker(
        header, ns + "/box", t.track_id, Marker.CUBE,
        pose=_pose(x, y, size[2] / 2, math.sin(yaw / 2), math.cos(yaw / 2)), scale=size,
        color=(c.r, c.g, c.b, c.a),
    )  # fmt: skip
    label = _marker(
        header, ns + "/label", t.track_id, Marker.TEXT_VIEW_FACING,
        pose=_pose(x, y, size[2] + 0.5, 0.0, 1.0), scale=(0.0, 0.0, 0.5), color=(1.0, 1.0, 1.0, 1.0),
        text=f"{class_name(t.class_id)} #{t.track_id}",
    )  # fmt: skip
    return [box, label]
