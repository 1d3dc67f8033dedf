"""Node side of world-frame perception: odometry in, world-frame locators per image, one fused list out.

Thin adapter over ``core/world``: ``nav_msgs/Odometry`` (Autoware's ``/localization/kinematic_state``)
fills an ``EgoPoseBuffer``; each image's vehicle-frame locator (the camera's own, as the world
evaluation runs it) is wrapped in a ``WorldGroundLocator`` with the pose interpolated at the image
stamp, in the odometry's ``header.frame_id`` (``odom``/``map``).
Before the first odometry message everything stays in ``base_link`` (diagnostics say so); after it, an
image with no pose at its stamp (dropout, stamps outside the buffer) gets no ground fixes, so tracks in
the fixed frame never receive ``base_link`` positions (counted in ``no_pose``). After each batch the
per-camera tracks go through one ``ObjectFusion`` and the predictor, published once in the fixed frame.
"""

from __future__ import annotations

import math
import threading
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from autoware_perception_msgs.msg import PredictedObjects, TrackedObjects
from nav_msgs.msg import Odometry
from std_msgs.msg import Header

from lepton_perception.core.ground import F64, I64, GroundFix, GroundLocator, no_fix
from lepton_perception.core.prediction.base import Predictor
from lepton_perception.core.prediction.rate import PlannerRatePredictor
from lepton_perception.core.types import Detections, FrameResult
from lepton_perception.core.world.ego import EgoPose, EgoPoseBuffer
from lepton_perception.core.world.fusion import FusedObject, FusionConfig, ObjectFusion
from lepton_perception.core.world.locator import WorldGroundLocator
from lepton_perception.ros import conversions as conv

FUSED_KEY = "fused"  # camera key of the fused list (UUIDs, markers)


def odometry_pose(msg: Odometry) -> tuple[float, EgoPose]:
    """(stamp in seconds, SE(2) pose of the child frame in ``header.frame_id``) of one message."""
    q = msg.pose.pose.orientation
    yaw = math.atan2(2.0 * (q.w * q.z + q.x * q.y), 1.0 - 2.0 * (q.y * q.y + q.z * q.z))
    p = msg.pose.pose.position
    return conv.time_to_ns(msg.header.stamp) * 1e-9, EgoPose(float(p.x), float(p.y), yaw)


@dataclass(frozen=True)
class _NoFix:
    """A fixed-frame locator for an image without a pose: no ground positions at all."""

    frame: str

    @property
    def frame_id(self) -> str:
        return self.frame

    def locate(self, boxes_xyxy: F64, class_ids: I64) -> GroundFix:
        return no_fix(len(np.asarray(boxes_xyxy).reshape(-1, 4)))


class WorldState:
    """Ego poses and the fused object list of one node (or one offline run)."""

    def __init__(
        self,
        fusion: FusionConfig | None = None,
        vehicle_frame: str = "base_link",
        prediction_rate_hz: float = 0.0,
    ) -> None:
        self.poses = EgoPoseBuffer()
        # Paths of the fused list at a planner's rate (0: every batch); cached per object id.
        self.prediction_period_s = 1.0 / prediction_rate_hz if prediction_rate_hz > 0 else 0.0
        self._paths: PlannerRatePredictor | None = None
        self.fusion = ObjectFusion(fusion)
        self.vehicle_frame = vehicle_frame
        self.fixed_frame: str | None = None  # the odometry's header.frame_id once a message came
        self.counters: Counter[str] = Counter()  # odometry, odometry_rejected, no_pose
        self.epoch_ns: int | None = None
        self.marker_ids: set[int] = set()  # fused markers published last time (DELETE when gone)
        self._last_fusion_s: float | None = None
        self._lock = threading.Lock()  # odometry arrives on the executor thread, images on the worker
        self._batch_frame: str | None = None  # the frame fixed for the batch being processed

    @property
    def frame_id(self) -> str:
        """Frame of tracks, fused objects and predictions: fixed with odometry, else the vehicle's."""
        return self._batch_frame or self.fixed_frame or self.vehicle_frame

    def begin_batch(self) -> bool:
        """Fix the frame for the next batch of images. True when it changed (the first odometry came):
        tracks and fused objects in the old frame must not receive positions in the new one, so the
        fusion restarts here and the caller restarts its trackers."""
        with self._lock:
            frame = self.fixed_frame or self.vehicle_frame
        changed = self._batch_frame is not None and frame != self._batch_frame
        self._batch_frame = frame
        if changed:
            self.restart_fusion()
        return changed

    def add_odometry(self, msg: Odometry, jump_back_s: float = 1.0) -> None:
        """Buffer one pose. A stamp more than ``jump_back_s`` older than the newest (a looped bag, a
        clock reset) starts the buffer afresh (counted ``odometry_time_jumps_back``); a smaller step
        back is rejected (counted ``odometry_rejected``)."""
        stamp_s, pose = odometry_pose(msg)
        with self._lock:
            if self.fixed_frame is None:
                self.fixed_frame = msg.header.frame_id or "odom"
            newest = self.poses.newest_s()
            if newest is not None and stamp_s < newest - jump_back_s:
                self.poses = EgoPoseBuffer(self.poses.config)
                self.counters["odometry_time_jumps_back"] += 1
            self.counters["odometry" if self.poses.add(stamp_s, pose) else "odometry_rejected"] += 1

    def restart_fusion(self) -> None:
        """Forget the fused objects (time went back: they cannot be predicted backwards); new ids."""
        self.fusion = ObjectFusion(self.fusion.config)
        self.epoch_ns, self._last_fusion_s = None, None
        self._paths = None  # new object ids: no cached path may carry over

    def locator(self, base: GroundLocator | None, stamp_s: float) -> GroundLocator | None:
        """The locator for one image at ``stamp_s`` (see the module doc)."""
        frame = self.frame_id
        if base is None or frame == self.vehicle_frame:
            return base
        with self._lock:
            pose = self.poses.at(stamp_s)
        if pose is None:
            self.counters["no_pose"] += 1
            return _NoFix(frame)
        return WorldGroundLocator(base, pose, frame)

    def image_pose(self, stamp_s: float) -> EgoPose | None:
        """``base_link`` in the tracks' frame at an image stamp, for drawing fixed-frame paths into
        the image: the identity without odometry (tracks in ``base_link``), the interpolated pose
        with it, None when there is no pose at the stamp (a path would be drawn in the wrong place)."""
        if self.frame_id == self.vehicle_frame:
            return EgoPose(0.0, 0.0, 0.0)
        with self._lock:
            return self.poses.at(stamp_s)

    def _predictor(self, inner: Predictor) -> PlannerRatePredictor:
        if self._paths is None or self._paths.inner is not inner:
            self._paths = PlannerRatePredictor(inner, self.prediction_period_s)
        return self._paths

    def snapshot(self) -> WorldSnapshot:
        """Frame, status line and counters for diagnostics (any thread)."""
        with self._lock:
            counters = dict(self.counters)
        return WorldSnapshot(self.frame_id, self.status(), counters)

    def status(self) -> str:
        if self.fixed_frame is None:
            return f"no odometry: tracking in {self.vehicle_frame} (velocities relative to the vehicle)"
        c = self.counters
        return (
            f"odometry in {self.fixed_frame}: {c['odometry']} poses, {c['odometry_rejected']} rejected, "
            f"{c['no_pose']} images without a pose"
        )

    def fuse(self, results: Sequence[FrameResult], predictor: Predictor | None) -> FusedOutput | None:
        """One fused list from the newest per-camera results (and its predicted paths)."""
        if not results:
            return None
        stamp = max(r.stamp_s for r in results)
        if self._last_fusion_s is not None:
            stamp = max(stamp, self._last_fusion_s)  # a camera's late frame never moves time back
        self._last_fusion_s = stamp
        if self.epoch_ns is None:
            self.epoch_ns = round(stamp * 1e9)
        objects = self.fusion.update({r.camera: r.tracks for r in results}, stamp)
        tracks = [o.as_track() for o in objects]
        paths = self._predictor(predictor).predict(tracks, stamp) if predictor is not None else []
        result = FrameResult(
            frame_id=self.frame_id, camera=FUSED_KEY, stamp_s=stamp, image_size=(0, 0),
            detections=Detections.empty(), tracks=tracks, paths=paths, timings_ms={},
        )  # fmt: skip
        return FusedOutput(result, list(objects), self.epoch_ns)


@dataclass(frozen=True)
class WorldSnapshot:
    frame_id: str  # frame of tracks and fused objects: the odometry's fixed frame, else the vehicle's
    status: str  # one line: odometry state, or "no odometry: tracking in base_link ..."
    counters: dict[str, int]  # odometry, odometry_rejected, no_pose


@dataclass(frozen=True)
class FusedOutput:
    result: FrameResult  # the fused objects as tracks (camera ``fused``) with their paths
    objects: list[FusedObject]
    epoch_ns: int

    def messages(self, header: Header) -> tuple[TrackedObjects, PredictedObjects]:
        """(``tracked_objects``, ``objects``) of the fused list, in ``header``'s frame.

        ``is_stationary`` is the fusion's hysteresis decision, not the single-speed threshold of the
        per-camera conversion.
        """
        tracked, predicted = conv.planning_msgs(self.result, header, self.epoch_ns)
        for msg, obj in zip(tracked.objects, self.objects):
            msg.kinematics.is_stationary = obj.is_stationary
        return tracked, predicted
