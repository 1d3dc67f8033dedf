"""Node-facing settings of world-frame perception (ROS parameters ``world.*``)."""

from __future__ import annotations

from dataclasses import dataclass

from lepton_perception.core.schema import param

_ODOMETRY_DOC = "nav_msgs/Odometry of base_link in the fixed frame (Autoware's localization output)"


@dataclass(frozen=True)
class WorldConfig:
    odometry_topic: str = param("/localization/kinematic_state", _ODOMETRY_DOC)  # Odometry of base_link
