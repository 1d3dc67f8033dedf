"""``lepton eval detection``: person precision / recall on hand-checked PETS 2009 frames.

Ground truth: ``test/data/pets_person_gt.json`` (how it was made is written in the file and in
docs/detector.md). Frames are read from the shared video in decode order.
"""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path

import cv2
import numpy as np
from tqdm import tqdm

from lepton_perception.core.detection import create_detector
from lepton_perception.core.detection.evaluation import MatchCounts, match
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
    add_detector_args(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    gt = json.loads(Path(args.gt).read_text())
    video = shared_dir() / gt["video"]
    frames = {int(k): v for k, v in gt["frames"].items()}
    detector = create_detector(
        detector_config(args, score_threshold_pedestrian=args.threshold, class_ids=(PERSON,))
    )
    cap = cv2.VideoCapture(str(video))
    if not cap.isOpened():
        log.error("cannot open video %s", video)
        return 2
    total = MatchCounts(0, 0, 0, 0)
    per_frame: list[dict[str, int]] = []
    index = 0
    with tqdm(total=len(frames), desc="eval detection", unit="frame", disable=None) as bar:
        while len(per_frame) < len(frames):
            ok, image = cap.read()
            if not ok:
                log.error("video %s ended at frame %d before all annotated frames", video, index)
                return 2
            if index in frames:
                det = detector.detect([np.asarray(image, np.uint8)])[0]
                keep = det.class_ids == PERSON
                counts = match(
                    det.boxes[keep],
                    det.scores[keep],
                    frames[index]["persons"],
                    frames[index]["ignore"],
                    args.iou,
                )
                total = total + counts
                per_frame.append({"frame": index, "tp": counts.tp, "fp": counts.fp, "fn": counts.fn})
                bar.update()
            index += 1
    result = {
        "backend": detector.name,
        "device": detector.device,
        "frames": len(per_frame),
        "persons": total.tp + total.fn,
        "threshold": args.threshold,
        "iou": args.iou,
        "tp": total.tp,
        "fp": total.fp,
        "fn": total.fn,
        "ignored": total.ignored,
        "precision": round(total.precision, 4),
        "recall": round(total.recall, 4),
        "per_frame": per_frame,
    }
    if args.json:
        print_json(result)
    else:
        print(
            f"PETS09-S2L1 person, {result['frames']} frames, {result['persons']} people,"
            f" score >= {args.threshold}, IoU {args.iou}, {detector.name} on {detector.device}:"
        )
        print(
            f"  precision {total.precision:.3f}  recall {total.recall:.3f}"
            f"  (TP {total.tp}, FP {total.fp}, FN {total.fn}, ignored {total.ignored})"
        )
    return 0
