"""PerceptionRunner (messages -> pipeline -> messages, no graph): multi-camera batches, time, failures."""

from __future__ import annotations

import math

import numpy as np
import pytest
from sensor_msgs.msg import Image
from std_msgs.msg import Header

from lepton_perception.core.camera import CameraIntrinsics
from lepton_perception.ros.conversions import image_to_msg, intrinsics_to_camera_info, ns_to_time, time_to_ns
from lepton_perception.ros.params import config_from_values
from lepton_perception.ros.runner import PerceptionRunner

pytestmark = pytest.mark.ros  # needs rclpy and the interface packages (scripts/env.sh)

T0 = 1_700_000_000_000_000_000
_BASE = {
    "io.cameras": ["/front", "/rear"],
    "camera_poses.rear.yaw_rad": math.pi,
    "io.publish_annotated_image": False,
    "detector.backend": "onnxruntime",
}
DT = 100_000_000


@pytest.fixture(scope="module")
def runner_factory():
    def make(**values: object) -> PerceptionRunner:
        base = {**_BASE, **values}
        return PerceptionRunner(config_from_values(base))

    return make


def _msg(frame: np.ndarray, k: int, frame_id: str = "cam") -> Image:
    return image_to_msg(frame, Header(stamp=ns_to_time(T0 + k * DT), frame_id=frame_id))


def _info(runner: PerceptionRunner, key: str, frame: np.ndarray) -> None:
    h, w = frame.shape[:2]
    intr = CameraIntrinsics.from_fov(w, h, 60.0)
    runner.set_camera_info(key, intrinsics_to_camera_info(intr, Header(frame_id="cam")))


def test_two_cameras_one_batch_positions_in_the_common_frame(runner_factory, pets_frames) -> None:
    runner = runner_factory(
        **{
            "camera_poses.front.pitch_rad": 0.35,
            "camera_poses.rear.pitch_rad": 0.35,
            "camera_poses.front.z_m": 5.0,
            "camera_poses.rear.z_m": 5.0,
        }
    )
    for key in ("front", "rear"):
        _info(runner, key, pets_frames[0])
    for k in range(6):
        outs = runner.process([("front", _msg(pets_frames[k], k)), ("rear", _msg(pets_frames[k], k))])
        assert [o.key for o in outs] == ["front", "rear"]
    front = outs[0].messages.tracked_objects.objects
    rear = outs[1].messages.tracked_objects.objects
    assert front and len(front) == len(rear)
    fx = sorted(
        (o.kinematics.pose_with_covariance.pose.position.x, o.kinematics.pose_with_covariance.pose.position.y)
        for o in front
    )
    rx = sorted(
        (
            -o.kinematics.pose_with_covariance.pose.position.x,
            -o.kinematics.pose_with_covariance.pose.position.y,
        )
        for o in rear
    )
    np.testing.assert_allclose(fx, rx, atol=1e-6)  # the rear camera sees the same scene turned by pi
    assert all(x > 0 for x, _ in fx)
    assert {bytes(o.object_id.uuid) for o in front}.isdisjoint({bytes(o.object_id.uuid) for o in rear})


def _totals(runner: PerceptionRunner, key: str = "front") -> dict[str, int]:
    return runner.diagnostics().cameras[key].totals


def test_time_duplicates_jumps_and_bad_frames_are_counted(runner_factory, pets_frames) -> None:
    runner = runner_factory()
    _info(runner, "front", pets_frames[0])
    for k in range(4):
        runner.process([("front", _msg(pets_frames[k], k))])
    (dup,) = runner.process([("front", _msg(pets_frames[3], 3))])
    assert dup.skipped == "duplicate_stamps" and dup.result is None
    bad = Image(
        header=Header(stamp=ns_to_time(T0 + 5 * DT)),
        height=2,
        width=2,
        encoding="32FC1",
        step=8,
        data=bytes(16),
    )
    (skipped,) = runner.process([("front", bad)])
    assert skipped.skipped == "decode_errors"
    (back,) = runner.process([("front", _msg(pets_frames[0], -20))])  # a looped bag: 2.3 s back
    assert back.result is not None
    assert all(t.hits == 1 for t in back.result.tracks)  # tracks were reset, not predicted backwards
    c = _totals(runner)
    assert (
        c["frames_in"],
        c["processed"],
        c["duplicate_stamps"],
        c["decode_errors"],
        c["time_jumps_back"],
    ) == (7, 5, 1, 1, 1)


def test_small_reorder_is_dropped_without_resetting_tracks(runner_factory, pets_frames) -> None:
    runner = runner_factory()
    _info(runner, "front", pets_frames[0])
    for k in range(5):
        (out,) = runner.process([("front", _msg(pets_frames[k], k))])
    hits_before = {t.track_id: t.hits for t in out.result.tracks}
    (late,) = runner.process([("front", _msg(pets_frames[2], 2))])  # 0.2 s older than the last
    assert late.skipped == "reordered_dropped" and late.messages is None
    (nxt,) = runner.process([("front", _msg(pets_frames[5], 5))])
    assert {t.track_id for t in nxt.result.tracks} >= set(hits_before)  # same tracks go on
    assert _totals(runner)["reordered_dropped"] == 1
    assert _totals(runner).get("time_jumps_back", 0) == 0


@pytest.mark.parametrize(("sec", "nanosec"), [(0, 0), (-5, 0)])
def test_invalid_stamps_are_refused_and_counted(runner_factory, pets_frames, sec, nanosec) -> None:
    runner = runner_factory()
    msg = _msg(pets_frames[0], 0)
    msg.header.stamp.sec = sec
    msg.header.stamp.nanosec = nanosec
    (out,) = runner.process([("front", msg)])
    assert out.skipped == "invalid_stamps" and out.messages is None
    assert _totals(runner)["invalid_stamps"] == 1
    (ok,) = runner.process([("front", _msg(pets_frames[1], 1))])
    assert ok.result is not None  # the next normal frame is processed


def test_without_camera_info_planning_lists_are_withheld(runner_factory, pets_frames) -> None:
    """No intrinsics: detections go out, tracked/predicted objects do not (never an empty "clear road")."""
    runner = runner_factory()
    for k in range(4):
        (out,) = runner.process([("front", _msg(pets_frames[k], k, "front_optical"))])
    msgs = out.messages
    assert msgs is not None and msgs.detections.detections, "image-space detections need no calibration"
    assert msgs.detections.header.frame_id == "front_optical"
    assert time_to_ns(msgs.detections.header.stamp) == T0 + 3 * DT
    assert msgs.tracked_objects is None and msgs.predicted_objects is None
    assert [t.field for t, _ in msgs.items()] == ["detections", "markers"]
    assert _totals(runner)["planning_withheld"] == 4
    snap = runner.diagnostics().cameras["front"]
    assert not snap.camera_info_ok and snap.camera_info_problem == ""


def test_rejected_camera_info_is_counted_with_its_reason(runner_factory, pets_frames) -> None:
    runner = runner_factory()
    info = intrinsics_to_camera_info(CameraIntrinsics.from_fov(768, 576, 60.0), Header(frame_id="cam"))
    info.width = 0
    for _ in range(3):
        runner.set_camera_info("front", info)
    snap = runner.diagnostics().cameras["front"]
    assert snap.totals["camera_info_received"] == 3 and snap.totals["camera_info_errors"] == 3
    assert snap.camera_info_problem == "CameraInfo has zero width/height (uncalibrated camera)"


class _FailingOnce:
    """Wraps a detector; its next ``detect`` raises ``exc`` once."""

    def __init__(self, inner, exc: Exception, device: str = "cpu") -> None:
        self.inner, self.exc, self.device, self.name = inner, exc, device, "failing"

    def detect(self, images):
        if self.exc is not None:
            exc, self.exc = self.exc, None
            raise exc
        return self.inner.detect(images)

    def update_filter(self, config) -> None:
        self.inner.update_filter(config)


def test_a_stage_failure_is_counted_and_the_next_frame_processed(runner_factory, pets_frames, caplog) -> None:
    runner = runner_factory()
    _info(runner, "front", pets_frames[0])
    runner.pipeline.detector = _FailingOnce(runner.detector, ValueError("odd width 767 for yuv422"))
    (out,) = runner.process([("front", _msg(pets_frames[0], 0))])
    assert out.skipped == "frame_errors" and out.messages is None
    assert "camera front: frame failed, skipped: ValueError: odd width 767 for yuv422" in caplog.text
    (ok,) = runner.process([("front", _msg(pets_frames[1], 1))])
    assert ok.result is not None and ok.messages is not None
    assert _totals(runner)["frame_errors"] == 1 and _totals(runner)["processed"] == 1
    assert runner.diagnostics().detector_faults == 0  # not a device fault: no fallback
    assert runner.diagnostics().last_failure == "ValueError: odd width 767 for yuv422"


def test_cuda_out_of_memory_falls_back_to_the_cpu(runner_factory, pets_frames) -> None:
    runner = runner_factory()
    _info(runner, "front", pets_frames[0])
    built = []

    def factory(cfg):
        built.append(cfg)
        return runner.detector

    runner._detector_factory = factory
    runner.detector = runner.pipeline.detector = _FailingOnce(
        runner.detector, RuntimeError("CUDA out of memory. Tried to allocate 2.00 GiB"), device="cuda:0"
    )
    (out,) = runner.process([("front", _msg(pets_frames[0], 0))])
    assert out.skipped == "frame_errors"
    assert [c.device for c in built] == ["cpu"]
    diag = runner.diagnostics()
    assert (diag.detector_faults, diag.cpu_fallbacks) == (1, 1)
    (ok,) = runner.process([("front", _msg(pets_frames[1], 1))])
    assert ok.result is not None


def test_apply_config_takes_effect_on_the_next_batch(runner_factory, pets_frames) -> None:
    runner = runner_factory()
    _info(runner, "front", pets_frames[0])
    (out,) = runner.process([("front", _msg(pets_frames[0], 0))])
    assert out.result.detections
    runner.apply_config(
        config_from_values(
            {
                **_BASE,
                "detector.score_threshold_pedestrian": 1.0,
                "detector.score_threshold_vehicle": 1.0,
                "detector.score_threshold_cyclist": 1.0,
            }
        )
    )
    (out,) = runner.process([("front", _msg(pets_frames[1], 1))])
    assert len(out.result.detections) == 0


def test_diagnostics_windows_restart_each_call(runner_factory, pets_frames) -> None:
    runner = runner_factory()
    _info(runner, "front", pets_frames[0])
    runner.process([("front", _msg(pets_frames[0], 0))])
    first = runner.diagnostics().cameras["front"]
    assert first.window["processed"] == 1
    second = runner.diagnostics().cameras["front"]
    assert second.window.get("processed", 0) == 0 and second.totals["processed"] == 1


def test_an_unexpected_decode_failure_is_caught_in_the_same_place(
    runner_factory, pets_frames, caplog, monkeypatch
) -> None:
    """Not an ImageDecodeError (e.g. numpy on an odd-width yuv422): still one counted, logged skip."""
    runner = runner_factory()
    _info(runner, "front", pets_frames[0])
    from lepton_perception.ros import runner as runner_module

    real = runner_module.conv.image_msg_to_bgr
    calls = []

    def flaky(msg, max_pixels):
        calls.append(msg)
        if len(calls) == 1:
            raise ValueError("cannot reshape array of size 1151 into shape (2,767,2)")
        return real(msg, max_pixels)

    monkeypatch.setattr(runner_module.conv, "image_msg_to_bgr", flaky)
    (out,) = runner.process([("front", _msg(pets_frames[0], 0))])
    assert out.skipped == "frame_errors" and out.messages is None
    assert "frame failed, skipped: ValueError: cannot reshape array of size 1151" in caplog.text
    (ok,) = runner.process([("front", _msg(pets_frames[1], 1))])
    assert ok.result is not None
    assert _totals(runner)["frame_errors"] == 1


def test_cuda_unavailable_at_start_up_starts_on_the_cpu(pets_frames, caplog) -> None:
    from lepton_perception.core.detection import create_detector

    asked = []

    def factory(cfg):
        asked.append(cfg.device)
        if cfg.device != "cpu":
            raise RuntimeError("device 'cuda' requested but torch sees no CUDA device")
        return create_detector(cfg)

    config = config_from_values({**_BASE, "detector.device": "cuda"})
    runner = PerceptionRunner(config, detector_factory=factory)
    assert asked == ["cuda", "cpu"] and runner.detector.device == "cpu"
    assert (
        "detector on cuda unavailable (device 'cuda' requested but torch sees no CUDA device)" in caplog.text
    )
    diag = runner.diagnostics()
    assert (diag.detector_faults, diag.cpu_fallbacks) == (1, 1)
    _info(runner, "front", pets_frames[0])
    (ok,) = runner.process([("front", _msg(pets_frames[0], 0))])
    assert ok.result is not None and ok.result.detections


def test_optional_outputs_are_built_only_when_wanted(runner_factory, pets_frames) -> None:
    runner = runner_factory(**{"io.publish_annotated_image": True, "io.publish_markers": True})
    _info(runner, "front", pets_frames[0])
    (nobody,) = runner.process([("front", _msg(pets_frames[0], 0))], wanted={"front": set()})
    m = nobody.messages
    assert m.annotated_image is None and m.markers is None
    assert m.tracked_objects is None and m.predicted_objects is None and m.detections is not None
    assert nobody.result.paths == []  # no per-camera output shows paths: the camera is not predicted
    fused = runner.fuse([nobody])  # the planners' list is always built, its markers only when wanted
    assert fused.messages.objects is not None and fused.messages.markers is None
    (viewer,) = runner.process([("front", _msg(pets_frames[1], 1))], wanted={"front": {"annotated_image"}})
    assert viewer.messages.annotated_image is not None and viewer.messages.markers is None
    assert runner.fuse([viewer]).messages.markers is None
    (planner,) = runner.process([("front", _msg(pets_frames[2], 2))], wanted={"front": {"tracked_objects"}})
    assert planner.messages.tracked_objects is not None and planner.messages.predicted_objects is None
    (offline,) = runner.process([("front", _msg(pets_frames[3], 3))])  # lepton process: everything
    m = offline.messages
    assert m.annotated_image is not None and m.markers is not None and m.predicted_objects is not None
    assert (m.annotated_image.width, m.annotated_image.height) == (768, 576)
    assert runner.fuse([offline]).messages.markers is not None


def test_every_stage_of_the_cycle_is_timed(runner_factory, pets_frames) -> None:
    runner = runner_factory()
    _info(runner, "front", pets_frames[0])
    for k in range(3):
        (out,) = runner.process([("front", _msg(pets_frames[k], k))], wanted={"front": set()})
        assert out.result is not None and runner.fuse([out]) is not None
        runner.record_latency("front", 30.0, publish_ms=0.5, cycle_ms=25.0)
    values = dict(runner.health(worker_alive=True)[1].values)
    detector = ("preprocess", "inference", "postprocess") if "inference_ms_p50" in values else ("detect",)
    for stage in ("convert", *detector, "track", "predict", "build", "fuse", "publish", "cycle"):
        assert values[f"{stage}_ms_p50"] >= 0.0, stage
    assert values["cycle_ms_p50"] == 25.0 and values["publish_ms_p50"] == 0.5
    assert 0.0 < values[f"{detector[-1]}_ms_p50"] < 10_000.0


def test_a_batchs_fused_list_is_shared_by_its_frames(runner_factory, pets_frames, monkeypatch) -> None:
    """Per-frame stage times add up to the batch: the fused list of a two-camera batch counts half its
    time on each camera, as the detector's batch time is split over its frames."""
    import lepton_perception.ros.runner as runner_module

    runner = runner_factory()
    for key in ("front", "rear"):
        _info(runner, key, pets_frames[0])
    outs = runner.process([("front", _msg(pets_frames[0], 0)), ("rear", _msg(pets_frames[0], 0))])
    clock = iter(np.arange(0.0, 100.0, 0.010))  # every perf_counter() call 10 ms after the previous
    monkeypatch.setattr(runner_module.time, "perf_counter", lambda: next(clock))
    monkeypatch.setattr(runner, "_fuse", lambda live: None)  # one clock read before, one after
    runner.fuse(outs)
    assert [runner.cameras[k].stage_ms["fuse"][-1] for k in ("front", "rear")] == pytest.approx([5.0, 5.0])


@pytest.mark.parametrize("pad", [0, 16])
def test_bgr8_frames_are_converted_without_a_copy(pets_frames, pad: int) -> None:
    """A bgr8 Image (rclpy stores ``data`` as an array.array) becomes a view of its buffer; padded rows
    (``step > width * 3``) are sliced, not repacked."""
    from lepton_perception.ros.conversions import image_msg_to_bgr

    frame = pets_frames[0]
    h, w = frame.shape[:2]
    rows = np.zeros((h, w * 3 + pad), np.uint8)
    rows[:, : w * 3] = frame.reshape(h, -1)
    msg = Image(height=h, width=w, encoding="bgr8", step=w * 3 + pad, data=rows.tobytes())
    out = image_msg_to_bgr(msg)
    assert np.array_equal(out, frame)
    assert np.shares_memory(out, np.frombuffer(msg.data, np.uint8))


def _tracks(out) -> list[tuple[int, tuple[float, ...]]]:
    return [(t.track_id, tuple(np.round(t.box, 3).tolist())) for t in out.result.tracks]


def test_detect_ahead_of_finish_gives_the_same_tracks(runner_factory, pets_frames) -> None:
    """The node's two threads: the detector runs batch k+1 before batch k is tracked. The halves share
    no state, so the tracks equal those of ``process`` one batch at a time."""
    serial, split = runner_factory(), runner_factory()
    for r in (serial, split):
        _info(r, "front", pets_frames[0])
    batches = [[("front", _msg(pets_frames[k], k))] for k in range(8)]
    expected = [_tracks(serial.process(b)[0]) for b in batches]
    got, ahead = [], split.detect(batches[0])
    for b in batches[1:]:
        nxt = split.detect(b)  # detected before the previous batch is finished
        got.append(_tracks(split.finish(ahead)[0]))
        ahead = nxt
    got.append(_tracks(split.finish(ahead)[0]))
    assert got == expected
    assert any(len(t) >= 3 for t in expected)  # people were tracked, not an empty comparison


def test_config_taken_by_finish_still_reaches_the_detector(runner_factory, pets_frames) -> None:
    """A config change that ``finish`` adopts while the detector is ahead must still change the
    detector's thresholds from its next batch on."""
    runner = runner_factory()
    _info(runner, "front", pets_frames[0])
    detected = runner.detect([("front", _msg(pets_frames[0], 0))])
    strict = {f"detector.score_threshold_{c}": 1.0 for c in ("pedestrian", "vehicle", "cyclist")}
    runner.apply_config(config_from_values({**_BASE, **strict}))
    (out,) = runner.finish(detected)  # takes the pending config (trackers, world)
    assert out.result.detections  # detected before the change
    (after,) = runner.process([("front", _msg(pets_frames[1], 1))])
    assert len(after.result.detections) == 0


def test_a_failed_detector_batch_is_counted_once_per_camera(runner_factory, pets_frames) -> None:
    runner = runner_factory()
    _info(runner, "front", pets_frames[0])

    def broken(images):
        raise RuntimeError("inference failed")

    runner.pipeline.detector.detect = broken  # type: ignore[method-assign]
    try:
        detected = runner.detect([("front", _msg(pets_frames[0], 0)), ("rear", _msg(pets_frames[0], 0))])
    finally:
        del runner.pipeline.detector.detect
    outs = runner.finish(detected)
    assert [(o.key, o.skipped) for o in outs] == [("front", "frame_errors"), ("rear", "frame_errors")]
    diag = runner.diagnostics()
    assert [diag.cameras[k].totals.get("frame_errors") for k in ("front", "rear")] == [1, 1]
    assert [diag.cameras[k].totals.get("frames_in") for k in ("front", "rear")] == [1, 1]
    (ok,) = runner.process([("front", _msg(pets_frames[1], 1))])
    assert ok.result is not None and ok.result.detections
