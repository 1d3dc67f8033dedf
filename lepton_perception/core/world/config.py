"""Node-facing settings of world-frame perception (ROS parameters ``world.*``)."""

from __future__ import annotations

from dataclasses import dataclass

from lepton_perception.core.schema import param

_ODOMETRY_DOC = "nav_msgs/Odometry of base_link in the fixed frame (Autoware's localization output)"
_HORIZON_DOC = (
    "estimate the camera pitch online from object heights (unknown pitch); false for a calibrated rig"
)


@dataclass(frozen=True)
class WorldConfig:
    odometry_topic: str = param("/localization/kinematic_state", _ODOMETRY_DOC)  # Odometry of base_link
    # The ground locator's online horizon (camera pitch) estimate from object heights: needed where the
    # pitch is unknown (KITTI); on a calibrated rig it follows the height-prior errors of the objects
    # in view (docs/world.md, "Root causes"), so a calibrated rig turns it off.
    track_horizon: bool = param(True, _HORIZON_DOC)
    # An object whose box the bottom image border cuts (feet below the image) stands nearer than where
    # the road leaves the image: a fix bounded by that distance keeps it on the planner's list
    # (core/ground.py, FusedGroundLocator.near_field; docs/geometry.md).
    near_field_fixes: bool = param(
        True,
        "boxes cut only by the bottom image border get a ground fix bounded by where the road leaves"
        " the image (range uniform from 0 to there); false: no fix (the ground state coasts, then expires)",
    )
    # How often the fused list's paths are predicted; in between they are re-anchored to the objects'
    # current positions (core/prediction/rate.py): a planner's rate, not the cameras'.
    prediction_rate_hz: float = param(
        10.0,
        "predict the fused objects' paths at most this often, re-anchored in between; 0 = every batch",
        unit="Hz",
        lo=0.0,
        hi=1000.0,
    )
