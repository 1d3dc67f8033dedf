"""Torch pre/post-processing that runs on the model's device: letterbox, decode, class filter, NMS.

These mirror the numpy path (``preprocess.letterbox``, ``postprocess.decode``/``postprocess``) operation
for operation so both backends give the same detections; tests hold them to that.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
import torch
from torch import nn

from lepton_perception.core.detection.postprocess import make_grid
from lepton_perception.core.detection.preprocess import PAD_VALUE, Letterbox
from lepton_perception.core.types import Detections


def grid_tensors(size: int, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """``(grid (A, 2), stride (A, 1))`` float32 on ``device``; see ``postprocess.make_grid``."""
    grid, stride = make_grid(size)
    return torch.from_numpy(grid).to(device), torch.from_numpy(stride).to(device)


def letterbox_into(images: Sequence[npt.NDArray[np.uint8]], out: torch.Tensor) -> list[Letterbox]:
    """Upload BGR uint8 images and letterbox them on ``out``'s device into ``out[:len(images)]``.

    ``out``: (B, 3, S, S) float tensor (fp32 or fp16), written in place. Bilinear resize with
    half-pixel centres like ``cv2.INTER_LINEAR`` but in float, so pixels differ from the cv2 path by
    about one grey level; the CPU detector uses the cv2 path for bit-identical input instead.
    """
    size = out.shape[-1]
    lbs = []
    for i, image in enumerate(images):
        h, w = image.shape[:2]
        lb = Letterbox.fit(w, h, size)
        src = torch.from_numpy(image).to(out.device, non_blocking=True).permute(2, 0, 1)[None].float()
        if (lb.resized_w, lb.resized_h) != (w, h):
            src = nn.functional.interpolate(
                src, size=(lb.resized_h, lb.resized_w), mode="bilinear", align_corners=False
            )
            src = src.round_().clamp_(0, 255)  # same uint8 quantisation as the cv2 path
        out[i].fill_(PAD_VALUE)
        out[i, :, : lb.resized_h, : lb.resized_w] = src[0]
        lbs.append(lb)
    return lbs


def decode(raw: torch.Tensor, grid: torch.Tensor, stride: torch.Tensor) -> torch.Tensor:
    """(..., A, 5 + C) raw head output -> same shape with centre x, y, w, h in input pixels."""
    xy = (raw[..., :2] + grid) * stride
    wh = torch.exp(raw[..., 2:4]) * stride
    return torch.cat([xy, wh, raw[..., 4:]], dim=-1)


def box_iou(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """(N, 4), (M, 4) xyxy -> (N, M) IoU, same formula as the numpy NMS."""
    area_a = (a[:, 2] - a[:, 0]).clamp(min=0) * (a[:, 3] - a[:, 1]).clamp(min=0)
    area_b = (b[:, 2] - b[:, 0]).clamp(min=0) * (b[:, 3] - b[:, 1]).clamp(min=0)
    wh = (
        torch.minimum(a[:, None, 2:], b[None, :, 2:]) - torch.maximum(a[:, None, :2], b[None, :, :2])
    ).clamp(min=0)
    inter = wh[..., 0] * wh[..., 1]
    return inter / (area_a[:, None] + area_b[None, :] - inter).clamp(min=1e-9)


def batched_nms(
    boxes: torch.Tensor, scores: torch.Tensor, groups: torch.Tensor, iou_threshold: float
) -> torch.Tensor:
    """Exact greedy NMS within each group (class), as matrix operations on the device.

    Cluster-NMS (Zheng et al. 2021): with boxes sorted by score and ``S`` the upper-triangular "i
    suppresses j" matrix, iterate ``keep = not any_i(S[i, j] and keep[i])`` from all-kept; the fixed point
    is exactly the greedy result and is reached in few iterations (at most N). Returns kept indices
    into the inputs, by descending score (ties in input order, like the numpy NMS).
    """
    n = scores.shape[0]
    if n == 0:
        return torch.zeros(0, dtype=torch.long, device=scores.device)
    order = torch.argsort(scores, descending=True, stable=True)
    b, g = boxes[order], groups[order]
    sup = (box_iou(b, b) > iou_threshold) & (g[:, None] == g[None, :])
    sup = torch.triu(sup, diagonal=1)
    keep = torch.ones(n, dtype=torch.bool, device=scores.device)
    for _ in range(n):
        new = ~(sup & keep[:, None]).any(dim=0)
        if torch.equal(new, keep):
            break
        keep = new
    return order[keep]


def postprocess(
    raw: torch.Tensor,
    grid: torch.Tensor,
    stride: torch.Tensor,
    letterboxes: Sequence[Letterbox],
    *,
    thresholds: torch.Tensor,
    nms_iou: float,
    max_detections: int,
) -> list[Detections]:
    """(B, A, 5 + C) raw output -> one ``Detections`` per image in original pixels.

    ``thresholds``: (C,) per-class minimum of ``objectness * class probability`` on the device (+inf
    drops a class). Each anchor keeps its best class; NMS is per class.
    """
    raw = raw.float()
    # Scores need no decoding (probabilities already); only rows over threshold get their boxes decoded.
    cls_prob, cls_ids = raw[..., 5:].max(dim=-1)  # (B, A)
    scores = raw[..., 4] * cls_prob
    keep = scores >= thresholds[cls_ids]
    results = []
    for i, lb in enumerate(letterboxes):
        idx = keep[i].nonzero().squeeze(1)
        if idx.numel() == 0:
            results.append(Detections.empty())
            continue
        dec = decode(raw[i, idx], grid[idx], stride[idx])
        boxes = torch.cat([dec[:, :2] - dec[:, 2:4] / 2, dec[:, :2] + dec[:, 2:4] / 2], dim=1)
        sc, cl = scores[i, idx], cls_ids[i, idx]
        kept = batched_nms(boxes, sc, cl, nms_iou)[:max_detections]
        sx, sy = lb.scale_xy
        scale = torch.tensor([sx, sy, sx, sy], dtype=boxes.dtype, device=boxes.device)
        limit = torch.tensor(
            [lb.width, lb.height, lb.width, lb.height], dtype=boxes.dtype, device=boxes.device
        )
        img_boxes = torch.minimum((boxes[kept] / scale).clamp(min=0), limit)
        results.append(
            Detections(
                img_boxes.cpu().numpy(),
                sc[kept].cpu().numpy().astype(np.float32),
                cl[kept].cpu().numpy().astype(np.int64),
            )
        )
    return results
