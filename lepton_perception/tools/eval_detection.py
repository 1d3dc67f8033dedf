"""``lepton eval detection``: person precision / recall on hand-checked PETS 2009 frames.

Ground truth: ``test/data/pets_person_gt.json`` (how it was made is written in the file and in
docs/detector.md). Frames are read from the shared video in decode order.

``--precision int8 --compare fp32`` also runs the reference precision on the same frames and reports
its precision / recall and the box agreement: the share of the reference's boxes (all kept classes)
that the evaluated detector reproduces with the same class at IoU >= ``--agreement-iou``, over the
shared images and every ``--agreement-stride``-th video frame (offset 2: none is a calibration frame).
"""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path

import cv2
import numpy as np
from tqdm import tqdm

from lepton_perception.core.detection import Detector, create_detector
from lepton_perception.core.detection.evaluation import Agreement, MatchCounts, box_agreement, match
from lepton_perception.tools.common import add_detector_args, detector_config, print_json, shared_dir

log = logging.getLogger(__name__)

DEFAULT_GT = Path(__file__).resolve().parents[2] / "test" / "data" / "pets_person_gt.json"
PERSON = 0  # COCO class id


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "detection", help="person precision/recall at IoU 0.5 on hand-checked PETS 2009 frames"
    )
    p.add_argument("--gt", default=str(DEFAULT_GT), help="ground-truth JSON")
    p.add_argument("--threshold", type=float, default=0.3, help="person score threshold")
    p.add_argument("--iou", type=float, default=0.5, help="IoU for a match")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.add_argument("--precision", default="auto", choices=["auto", "fp32", "fp16", "int8"])
    p.add_argument("--compare", default=None, choices=["fp32", "fp16", "int8"], help="reference precision")
    p.add_argument("--agreement-iou", type=float, default=0.7)
    p.add_argument("--agreement-stride", type=int, default=4, help="every Nth video frame for agreement")
    add_detector_args(p)
    p.set_defaults(func=run)


def _detector(args: argparse.Namespace, precision: str, person_only: bool) -> Detector:
    extra = {"score_threshold_pedestrian": args.threshold, "class_ids": (PERSON,)} if person_only else {}
    return create_detector(detector_config(args, precision=precision, **extra))


def pets_counts(
    detector: Detector, video: Path, frames: dict[int, dict], iou: float
) -> tuple[MatchCounts, list]:
    """Person matches on the annotated frames of ``video``."""
    from lepton_perception.core.detection.quantize import read_frames  # onnxruntime.quantization: lazily

    total = MatchCounts(0, 0, 0, 0)
    per_frame: list[dict[str, int]] = []
    images = read_frames(video, sorted(frames))
    for index, image in tqdm(
        zip(sorted(frames), images), total=len(frames), desc="eval detection", disable=None
    ):
        det = detector.detect([image])[0]
        keep = det.class_ids == PERSON
        counts = match(
            det.boxes[keep], det.scores[keep], frames[index]["persons"], frames[index]["ignore"], iou
        )
        total = total + counts
        per_frame.append({"frame": index, "tp": counts.tp, "fp": counts.fp, "fn": counts.fn})
    return total, per_frame


def agreement(reference: Detector, other: Detector, images: list, iou: float) -> Agreement:
    total = Agreement(0, 0, 0)
    for image in tqdm(images, desc="box agreement", unit="image", disable=None):
        ref, got = reference.detect([image])[0], other.detect([image])[0]
        total = total + box_agreement(ref.boxes, ref.class_ids, got.boxes, got.class_ids, iou)
    return total


def _agreement_images(video: Path, stride: int) -> list:
    from lepton_perception.core.detection.quantize import read_frames

    cap = cv2.VideoCapture(str(video))
    n = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
    cap.release()
    frames = read_frames(video, range(2, n, stride))
    stills = [
        cv2.imread(str(p), cv2.IMREAD_COLOR) for p in sorted((shared_dir() / "data" / "images").glob("*.jpg"))
    ]
    return [np.asarray(i, np.uint8) for i in stills if i is not None] + frames


def _summary(detector: Detector, total: MatchCounts) -> dict:
    return {
        "backend": detector.name,
        "device": detector.device,
        "detector_precision": detector.precision,
        "tp": total.tp,
        "fp": total.fp,
        "fn": total.fn,
        "ignored": total.ignored,
        "precision": round(total.precision, 4),
        "recall": round(total.recall, 4),
    }


def run(args: argparse.Namespace) -> int:
    gt = json.loads(Path(args.gt).read_text())
    video = shared_dir() / gt["video"]
    frames = {int(k): v for k, v in gt["frames"].items()}
    detector = _detector(args, args.precision, person_only=True)
    try:
        total, per_frame = pets_counts(detector, video, frames, args.iou)
    except (FileNotFoundError, ValueError) as exc:
        log.error("%s", exc)
        return 2
    result = {
        **_summary(detector, total),
        "frames": len(per_frame),
        "persons": total.tp + total.fn,
        "threshold": args.threshold,
        "iou": args.iou,
        "per_frame": per_frame,
    }
    if args.compare:
        result["compare"] = _compare(args, video, frames)
    _print(args, result)
    return 0


def _compare(args: argparse.Namespace, video: Path, frames: dict[int, dict]) -> dict:
    """Reference precision's PETS figures and the box agreement of ``--precision`` with it."""
    ref = _detector(args, args.compare, person_only=True)
    ref_total, _ = pets_counts(ref, video, frames, args.iou)
    images = _agreement_images(video, args.agreement_stride)
    agree = agreement(
        _detector(args, args.compare, person_only=False),
        _detector(args, args.precision, person_only=False),
        images,
        args.agreement_iou,
    )
    return {
        "reference": _summary(ref, ref_total),
        "agreement_images": len(images),
        "agreement_iou": args.agreement_iou,
        "reference_boxes": agree.reference,
        "matched_boxes": agree.matched,
        "extra_boxes": agree.extra,
        "box_agreement": round(agree.share, 4),
    }


def _print(args: argparse.Namespace, result: dict) -> None:
    if args.json:
        print_json(result)
        return
    print(
        f"PETS09-S2L1 person, {result['frames']} frames, {result['persons']} people,"
        f" score >= {args.threshold}, IoU {args.iou}, {result['backend']} on {result['device']}:"
    )
    for r in [result] + ([result["compare"]["reference"]] if "compare" in result else []):
        print(
            f"  {r['detector_precision']:<5} precision {r['precision']:.3f}  recall {r['recall']:.3f}"
            f"  (TP {r['tp']}, FP {r['fp']}, FN {r['fn']}, ignored {r['ignored']})"
        )
    if "compare" in result:
        c = result["compare"]
        print(
            f"  box agreement with {args.compare}: {c['box_agreement']:.3f} ({c['matched_boxes']} of"
            f" {c['reference_boxes']} boxes, IoU >= {c['agreement_iou']}, {c['agreement_images']} images;"
            f" {c['extra_boxes']} extra boxes)"
        )
