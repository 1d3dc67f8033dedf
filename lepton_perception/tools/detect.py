"""``lepton detect IMAGE...``: run the detector on image files."""

from __future__ import annotations

import argparse
import logging

import cv2
import numpy as np

from lepton_perception.core.detection import create_detector
from lepton_perception.core.types import category_of, class_name
from lepton_perception.tools.common import add_detector_args, detector_config, print_json

log = logging.getLogger(__name__)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("detect", help="detect objects in image files")
    p.add_argument("images", nargs="+")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.add_argument("--threshold", type=float, default=None, help="one score threshold for all classes")
    add_detector_args(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    overrides = {}
    if args.threshold is not None:
        overrides = {f"score_threshold_{c}": args.threshold for c in ("pedestrian", "cyclist", "vehicle")}
    detector = create_detector(detector_config(args, **overrides))
    images: list[np.ndarray] = []
    for path in args.images:
        img = cv2.imread(path, cv2.IMREAD_COLOR)
        if img is None:
            log.error("cannot read image %s", path)
            return 2
        images.append(img)
    results = detector.detect(images)
    out = [
        [
            {
                "class": class_name(int(c)),
                "class_id": int(c),
                "category": category_of(int(c)).name.lower(),
                "score": round(float(s), 4),
                "box": [round(float(v), 2) for v in b],
            }
            for b, s, c in zip(det.boxes, det.scores, det.class_ids)
        ]
        for det in results
    ]
    if args.json:
        print_json(out)
    else:
        for path, objs in zip(args.images, out):
            print(f"{path}: {len(objs)} objects")
            for o in objs:
                print(f"  {o['class']:<10} {o['score']:.2f}  {o['box']}")
    return 0
