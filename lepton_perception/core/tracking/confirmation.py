"""How consistently the detector scores the objects a tracker follows, and what consecutive
confirmation would cost at that consistency (``TrackerConfig.confirm_consecutive`` "auto").

Consecutive confirmation (a new track needs ``min_hits`` matches in consecutive images, as in every
peer tracker) drops detector false positives that blink on and off, but it also slows the confirmation
of real objects that the detector scores under ``high_score`` now and then: only confident detections
feed a tentative track. If a real object gets a confident detection in an image with probability
``p``, the expected number of images to ``k`` consecutive confident ones is ``sum_{i=1..k} p^-i``
against ``k / p`` for any ``k`` of them. ``p`` is estimated from the confirmed tracks' own matched
detections, i.e. from the objects the tracker already follows, so the rule adapts to the detector and
the scene it runs on (docs/tracking.md, "Consecutive confirmation"). The estimate is Laplace's rule
of succession, ``(high + 1) / (matches + 2)``: 1/2 before any match, so a new tracker starts without
the rule. Starting with it would be a deadlock for a detector that seldom gives an object three
confident detections in a row (no track would confirm, so nothing would ever be counted).
"""

from __future__ import annotations

from dataclasses import dataclass

# Past this many counted matches both counts are halved: the estimate follows a changing scene or
# light over the last ~1000 to 2000 matches instead of the whole drive.
WINDOW_MATCHES = 2000


@dataclass
class ScoreConsistency:
    """Share of the confirmed tracks' matched detections scored >= ``high_score``, with forgetting."""

    high: float = 0.0
    total: float = 0.0

    def add(self, n_high: int, n: int) -> None:
        """``n`` matches of confirmed tracks in one image, ``n_high`` of them confident."""
        self.high += n_high
        self.total += n
        if self.total > WINDOW_MATCHES:
            self.high *= 0.5
            self.total *= 0.5

    def share(self) -> float:
        """The estimate of ``p`` (rule of succession: 1/2 with no match counted)."""
        return (self.high + 1.0) / (self.total + 2.0)


def consecutive_delay_ratio(p: float, min_hits: int) -> float:
    """Expected images to ``min_hits`` consecutive confident detections over the expected images to
    ``min_hits`` confident ones, for a confident detection per image with probability ``p``:
    ``(sum_{i=1..k} p^-i) / (k / p) = (1/k) sum_{i=0..k-1} p^-i`` (1 for p = 1, infinite for p = 0)."""
    if p <= 0.0:
        return float("inf")
    k = max(int(min_hits), 1)
    return sum(p**-i for i in range(k)) / k
