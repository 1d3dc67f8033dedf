"""``lepton eval world``: simulated cameras on a drive -> tracker -> world locator -> fusion -> predictor.

For every frame of a scene, each simulated camera's noisy detections (``simulate.py``) go through the
project's own per-camera ``MultiObjectTracker`` with the node's ground locator (``FusedGroundLocator``,
one per camera), wrapped in ``WorldGroundLocator`` with the ego pose at the image stamp when
ego-motion is on; the camera track lists go through one ``ObjectFusion``; the fused list is scored in
the fixed frame (``scoring.py``). With ego-motion off, tracking and fusion run in ``base_link`` as a
node without odometry does; its objects are placed in the fixed frame for scoring by the ego pose,
velocities only rotated (what a planner reading them as over-ground velocities would get).
Prediction (ego-motion on): every 0.4 s, the predictor runs on all fused objects; objects matched to a
truth agent with 2.8 s of own history and 4.8 s of truth ahead are scored against the truth path, next
to two constant-velocity baselines from the same history (last step; mean of the last 3 steps).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from lepton_perception.core.ground import FusedGroundLocator, GroundLocator
from lepton_perception.core.prediction.base import Predictor
from lepton_perception.core.tracking.tracker import MultiObjectTracker, TrackerConfig
from lepton_perception.core.types import Detections, Track
from lepton_perception.core.world.ego import EgoPose
from lepton_perception.core.world.fusion import FusedObject, FusionConfig, ObjectFusion
from lepton_perception.core.world.locator import WorldGroundLocator
from lepton_perception.core.world.scene import Scene
from lepton_perception.core.world.scoring import Published, WorldScore
from lepton_perception.core.world.simulate import DetectionSimulator, NoiseModel, SimCamera

F64 = npt.NDArray[np.float64]

STEP_S = 0.4
OBS_STEPS = 8
PRED_STEPS = 12
PRED_LABELS = {"CAR": "vehicle", "PEDESTRIAN": "pedestrian"}
METHODS = ("lepton", "cv_last", "cv_mean3")


@dataclass
class PredictionScore:
    """Displacement errors (m) per category and method, one entry per scored window."""

    ade: dict[str, dict[str, list[float]]] = field(
        default_factory=lambda: {c: {m: [] for m in METHODS} for c in PRED_LABELS.values()}
    )
    fde: dict[str, dict[str, list[float]]] = field(
        default_factory=lambda: {c: {m: [] for m in METHODS} for c in PRED_LABELS.values()}
    )

    def add(self, category: str, method: str, pred: F64, truth: F64) -> None:
        err = np.hypot(*(pred - truth).T)
        self.ade[category][method].append(float(err.mean()))
        self.fde[category][method].append(float(err[-1]))

    def summary(self) -> dict[str, Any]:
        def stat(v: list[float]) -> float | None:
            return round(float(np.mean(v)), 4) if v else None

        return {
            c: {m: {"ADE": stat(self.ade[c][m]), "FDE": stat(self.fde[c][m])} for m in METHODS}
            for c in PRED_LABELS.values()
        }

    def windows(self, category: str) -> int:
        return len(self.ade[category]["lepton"])


def cv_paths(history: F64, stamp_s: float) -> dict[str, F64] | None:
    """Constant-velocity baselines from a (K, 3) [t, x, y] history: (PRED_STEPS, 2) paths, or None."""
    if len(history) < 2 or history[0, 0] > stamp_s - (OBS_STEPS - 1) * STEP_S + 1e-6:
        return None
    grid = stamp_s - STEP_S * np.arange(OBS_STEPS - 1, -1, -1, dtype=np.float64)
    obs = interp_clamped(history[:, 0], history[:, 1:3], grid)  # (8, 2), last = now
    ahead = STEP_S * np.arange(1, PRED_STEPS + 1, dtype=np.float64)[:, None]
    v_last = (obs[-1] - obs[-2]) / STEP_S
    v_mean3 = (obs[-1] - obs[-4]) / (3 * STEP_S)
    return {"cv_last": obs[-1] + v_last * ahead, "cv_mean3": obs[-1] + v_mean3 * ahead}


def interp_clamped(times: F64, values: F64, query: F64) -> F64:
    """(K,) increasing ``times``, (K, D) ``values`` -> (Q, D) linear interpolation at ``query`` (clamped)."""
    out: F64 = np.stack([np.interp(query, times, values[:, d]) for d in range(values.shape[1])], axis=1)
    return out


class _Truth:
    """Per agent: stamps, fixed-frame positions and label, for truth paths ahead of a stamp."""

    def __init__(self, scene: Scene) -> None:
        a = scene.agents
        self.tracks: dict[int, tuple[F64, F64, str]] = {}
        for tid in np.unique(a.track_id).tolist():
            sel = np.flatnonzero(a.track_id == tid)
            sel = sel[np.argsort(a.frame[sel])]
            self.tracks[tid] = (scene.stamps_s[a.frame[sel]], a.box[sel, :2], str(a.label[sel[0]]))

    def path(self, tid: int, stamp_s: float) -> F64 | None:
        t, xy, _ = self.tracks[tid]
        times: F64 = stamp_s + STEP_S * np.arange(1, PRED_STEPS + 1, dtype=np.float64)
        if t[-1] < times[-1] - 0.05 or t[0] > stamp_s or np.any(np.diff(t) > 0.3):
            return None  # not observed all the way ahead (or a gap): no truth to score against
        return interp_clamped(t, xy, times)


def _published(objects: Sequence[FusedObject], pose: EgoPose | None) -> Published:
    """Fused objects in the fixed frame; ``pose`` given when they are in base_link (ego-motion off)."""
    xy: F64 = np.array([o.ground.position_m for o in objects], dtype=np.float64).reshape(-1, 2)
    v: F64 = np.array([o.ground.velocity_mps for o in objects], dtype=np.float64).reshape(-1, 2)
    if pose is not None:
        xy, v = pose.to_fixed(xy), np.asarray(v @ pose.rotation().T, dtype=np.float64)
    ids = np.array([o.object_id for o in objects], dtype=np.int64)
    return Published(ids, xy, v, np.array([o.is_stationary for o in objects], dtype=bool))


@dataclass(frozen=True)
class WorldRun:
    """One pass over the scene: cameras, their detections per frame, and the models to run."""

    scene: Scene
    cameras: list[SimCamera]
    detections: list[dict[str, Detections]]  # per frame: camera name -> detections
    tracker: TrackerConfig = field(default_factory=TrackerConfig)
    fusion: FusionConfig = field(default_factory=FusionConfig)
    noise: NoiseModel = field(default_factory=NoiseModel)
    range_m: float = 40.0

    def locators(self) -> dict[str, GroundLocator]:
        """The node's locator, one per camera; the foot point's pixel noise is the simulated detector's
        documented edge noise. The simulated rig's pitch is exact (a calibrated camera on a flat road),
        so no online horizon estimate: that estimate is for an unknown pitch, and it follows the
        visible objects' height-prior errors (docs/world.md, "Locator")."""
        return {
            c.name: FusedGroundLocator(c.projector, self.noise.edge_noise_h, track_horizon=False)
            for c in self.cameras
        }

    def run(self, ego_motion: bool, predictor: Predictor | None = None) -> tuple[WorldScore, PredictionScore]:
        scene, poses = self.scene, self.scene.pose_buffer()
        trackers = {c.name: MultiObjectTracker(self.tracker) for c in self.cameras}
        fusion, base = ObjectFusion(self.fusion), self.locators()
        score, pred, truth = WorldScore(range_m=self.range_m), PredictionScore(), _Truth(scene)
        stride = (
            max(1, round(STEP_S / float(np.median(np.diff(scene.stamps_s)))))
            if len(scene.stamps_s) > 1
            else 1
        )
        for f, dets in enumerate(self.detections):
            stamp = float(scene.stamps_s[f])
            pose = poses.at(stamp) if ego_motion else None
            tracks: dict[str, list[Track]] = {}
            for cam in self.cameras:
                loc = base[cam.name] if pose is None else WorldGroundLocator(base[cam.name], pose)
                tracks[cam.name] = trackers[cam.name].step(dets[cam.name], stamp, loc)
            objects = fusion.update(tracks, stamp)
            matches = self._score_frame(score, f, objects, None if ego_motion else scene.pose(f))
            if predictor is not None and f % stride == 0:
                _score_prediction(pred, predictor, objects, matches, truth, stamp)
        return score, pred

    def _score_frame(
        self, score: WorldScore, f: int, objects: list[FusedObject], pose: EgoPose | None
    ) -> dict[int, int]:
        a = self.scene.agents
        sel = a.at(f)
        return score.add_frame(
            self.scene.ego[f, :2],
            a.track_id[sel],
            a.box[sel, :2],
            a.velocity_mps[sel],
            _published(objects, pose),
        )


def _score_prediction(
    pred: PredictionScore,
    predictor: Predictor,
    objects: list[FusedObject],
    matches: dict[int, int],
    truth: _Truth,
    stamp: float,
) -> None:
    """All objects go to the predictor (as in the node); the matched ones with truth ahead are scored."""
    by_id = {o.object_id: o for o in objects}
    paths = {p.track_id: p for p in predictor.predict([o.as_track() for o in objects], stamp)}
    for tid, oid in matches.items():
        category = PRED_LABELS.get(truth.tracks[tid][2])
        obj, path = by_id[oid], paths.get(oid)
        future = truth.path(tid, stamp)
        baselines = cv_paths(obj.history, stamp)
        if category is None or path is None or future is None or baselines is None:
            continue
        times: F64 = stamp + STEP_S * np.arange(1, PRED_STEPS + 1, dtype=np.float64)
        lepton = interp_clamped(
            np.concatenate([[stamp], path.times_s]),
            np.concatenate([obj.ground.position_m[None], path.positions_m]),
            times,
        )
        pred.add(category, "lepton", lepton, future)
        for name, p in baselines.items():
            pred.add(category, name, p, future)


def simulate_detections(
    scene: Scene, cameras: list[SimCamera], seed: int, noise: NoiseModel, max_frames: int | None = None
) -> list[dict[str, Detections]]:
    sim = DetectionSimulator(scene, cameras, seed, noise)
    n = len(scene.stamps_s) if max_frames is None else min(max_frames, len(scene.stamps_s))
    return [sim.frame(i) for i in range(n)]
