"""Messages in -> pipeline -> messages out, with no ROS graph.

The live node and the offline ``lepton process`` both drive this class, so a bag gives the same tracks
either way. All input failures are handled here, in one place, as counted skips with a reason.
"""

from __future__ import annotations

import logging
import math
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from sensor_msgs.msg import CameraInfo, CompressedImage, Image
from std_msgs.msg import Header

from lepton_perception.core.camera import CameraIntrinsics, GroundProjector
from lepton_perception.core.detection import Detector, create_detector
from lepton_perception.core.ground import BoxFootLocator
from lepton_perception.core.pipeline import Pipeline
from lepton_perception.core.prediction.base import Predictor
from lepton_perception.core.prediction.predictor import RnnTrajectoryPredictor
from lepton_perception.core.tracking.tracker import MultiObjectTracker
from lepton_perception.core.types import Frame, FrameResult
from lepton_perception.core.visualize import draw_result
from lepton_perception.ros import conversions as conv
from lepton_perception.ros.ego import FUSED_KEY, WorldState
from lepton_perception.ros.image_codec import ImageDecodeError
from lepton_perception.ros.params import NodeConfig, camera_key

log = logging.getLogger(__name__)


@dataclass
class CameraState:
    key: str
    namespace: str
    intrinsics: CameraIntrinsics | None = None
    projector: GroundProjector | None = None
    last_stamp_ns: int | None = None
    epoch_ns: int = 0  # stamp of the first frame of the current tracker: makes track UUIDs unique
    marker_ids: set[int] = field(default_factory=set)
    # frames_in, processed, decode_errors, duplicate_stamps, time_jumps_back, no_camera_info,
    # camera_info_errors, stale_skipped (counted by the node's keep-latest slot)
    counters: Counter[str] = field(default_factory=Counter)


@dataclass
class CameraOutput:
    """What one camera's frame produced: messages by topic suffix, or why it was skipped."""

    key: str
    result: FrameResult | None
    messages: dict[str, Any]
    skipped: str | None = None


class PerceptionRunner:
    def __init__(
        self, config: NodeConfig, detector: Detector | None = None, predictor: Predictor | None = None
    ) -> None:
        self.config = config
        self.detector = detector or create_detector(config.detector)
        self.predictor = predictor or RnnTrajectoryPredictor(config.predictor)
        self.pipeline = Pipeline(
            self.detector, lambda: MultiObjectTracker(self.config.tracker), self.predictor
        )
        self.cameras = {camera_key(ns): CameraState(camera_key(ns), ns) for ns in config.io.cameras}
        # Ego poses (odometry) and the one fused object list of all cameras (docs/world.md).
        self.world = WorldState(vehicle_frame=config.io.target_frame)

    def predictor_fallbacks(self) -> dict[str, int]:
        """Why tracks got a motion-model path instead of the RNN (reason -> count), all cameras."""
        return dict(getattr(self.predictor, "fallback_counts", {}))

    def set_camera_info(self, key: str, msg: CameraInfo) -> None:
        cam = self.cameras[key]
        try:
            intr = conv.camera_info_to_intrinsics(msg)
        except ValueError as exc:
            cam.counters["camera_info_errors"] += 1
            log.warning("camera %s: ignoring CameraInfo: %s", key, exc)
            return
        cam.intrinsics = intr  # the projector follows on the next frame if this changed anything

    def _projector(self, cam: CameraState, width: int, height: int) -> GroundProjector | None:
        """The camera's projector for this image size, rebuilt only when the intrinsics change."""
        intr = cam.intrinsics
        if intr is None:
            cam.counters["no_camera_info"] += 1
            fallback = self.config.io.fallback_hfov_deg
            if cam.counters["no_camera_info"] == 1:
                log.warning(
                    "camera %s: no CameraInfo on %s/camera_info yet: %s",
                    cam.key,
                    cam.namespace.rstrip("/"),
                    f"assuming a {fallback:g} deg FOV"
                    if fallback > 0
                    else "no ground-plane positions until it arrives (image-space tracks still published)",
                )
            if fallback <= 0:
                return None
            intr = CameraIntrinsics.from_fov(width, height, fallback)
        elif (intr.width, intr.height) != (width, height):
            intr = intr.scaled(width, height)  # CameraInfo of another resolution (e.g. a resized stream)
        if cam.projector is None or cam.projector.intrinsics != intr:
            cam.projector = GroundProjector(intr, self.config.pose(cam.key))
        return cam.projector

    def process(self, batch: list[tuple[str, Image | CompressedImage]]) -> list[CameraOutput]:
        """One detector batch over the newest frame of each camera in ``batch``."""
        frames: list[Frame] = []
        projectors: list[GroundProjector | None] = []
        headers: list[Header] = []
        outputs: list[CameraOutput] = []
        self._begin_world_batch()
        for key, msg in batch:
            cam = self.cameras[key]
            cam.counters["frames_in"] += 1
            stamp_ns = conv.time_to_ns(msg.header.stamp)
            skipped = None
            if cam.last_stamp_ns is not None and stamp_ns == cam.last_stamp_ns:
                skipped = "duplicate_stamps"
            elif cam.last_stamp_ns is not None and stamp_ns < cam.last_stamp_ns:
                # Bag looped or clock reset: old tracks would be predicted backwards in time.
                log.warning(
                    "camera %s: time jumped back %.3f s; resetting its tracks",
                    key,
                    (cam.last_stamp_ns - stamp_ns) * 1e-9,
                )
                cam.counters["time_jumps_back"] += 1
                self.pipeline.trackers.pop(key, None)
                cam.last_stamp_ns = None
            if skipped is None:
                try:
                    image = conv.image_msg_to_bgr(msg)
                except ImageDecodeError as exc:
                    log.warning("camera %s: skipping frame: %s", key, exc)
                    skipped = "decode_errors"
            if skipped is not None:
                cam.counters[skipped] += 1
                outputs.append(CameraOutput(key, None, {}, skipped))
                continue
            if cam.last_stamp_ns is None:
                cam.epoch_ns = stamp_ns
            cam.last_stamp_ns = stamp_ns
            frames.append(Frame(image, stamp_ns * 1e-9, msg.header.frame_id, key))
            projectors.append(self._projector(cam, image.shape[1], image.shape[0]))
            headers.append(msg.header)
        foot_noise_h = self.config.tracker.foot_noise_h
        locators = [
            self.world.locator(None if p is None else BoxFootLocator(p, foot_noise_h), f.stamp_s)
            for p, f in zip(projectors, frames)
        ]
        results = self.pipeline.step_batch(frames, locators)
        for frame, result, header, projector in zip(frames, results, headers, projectors):
            cam = self.cameras[frame.camera]
            cam.counters["processed"] += 1
            cam.counters["detections"] += len(result.detections)
            msgs = self._messages(cam, frame, result, header, projector)
            outputs.append(CameraOutput(cam.key, result, msgs))
        return outputs

    def _begin_world_batch(self) -> None:
        """Fix the tracking frame for this batch; on the first odometry the trackers restart in it."""
        if self.world.begin_batch():
            log.info("odometry received: tracking restarts in %s", self.world.frame_id)
            self.pipeline.trackers.clear()
            for state in self.cameras.values():
                state.last_stamp_ns = None  # new tracker epochs: new track UUIDs

    def fuse(self, outputs: list[CameraOutput]) -> CameraOutput | None:
        """The one fused object list of the cameras processed in ``outputs`` (``fused`` key: ``objects``,
        ``tracked_objects`` in the world frame), or None when no camera produced a result."""
        live = [o for o in outputs if o.result is not None]
        fused = self.world.fuse([o.result for o in live if o.result is not None], self.predictor)
        if fused is None:
            return None
        # The newest image's own stamp (nanoseconds exact); a float stamp only when a late batch was
        # fused at the previous, later stamp.
        newest = max(live, key=lambda o: o.result.stamp_s if o.result is not None else -math.inf)
        stamp = newest.messages["detections"].header.stamp
        if newest.result is None or fused.result.stamp_s > newest.result.stamp_s:
            stamp = conv.ns_to_time(round(fused.result.stamp_s * 1e9))
        msgs = fused.messages(Header(stamp=stamp, frame_id=self.world.frame_id))
        if self.config.io.publish_markers:  # the fused list in the fixed frame (namespace "fused/...")
            msgs["markers"], self.world.marker_ids = conv.markers_msg(
                fused.result, stamp, self.world.frame_id, self.world.marker_ids
            )
        return CameraOutput(FUSED_KEY, None, msgs)

    def _messages(
        self,
        cam: CameraState,
        frame: Frame,
        result: FrameResult,
        header: Header,
        projector: GroundProjector | None,
    ) -> dict[str, Any]:
        io = self.config.io
        planning_header = Header(stamp=header.stamp, frame_id=self.world.frame_id)
        msgs: dict[str, Any] = {
            "detections": conv.detections_msg(result, header),
            "tracked_objects": conv.tracked_objects_msg(result, planning_header, cam.epoch_ns),
            "predicted_objects": conv.predicted_objects_msg(result, planning_header, cam.epoch_ns),
        }
        if io.publish_markers:
            msgs["markers"], cam.marker_ids = conv.markers_msg(
                result, header.stamp, self.world.frame_id, cam.marker_ids
            )
        if io.publish_annotated_image:
            msgs["annotated_image"] = conv.image_to_msg(
                draw_result(frame.image, result, projector=projector), header
            )
        return msgs
