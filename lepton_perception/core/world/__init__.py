"""World-frame perception on a moving vehicle: ego poses, world-frame ground locator, cross-camera fusion.

ROS-free. Frames: ``odom`` (or ``map``) is the fixed frame the ego poses are given in; ``base_link`` is
the vehicle (REP 103: x forward, y left, z up, road at z = 0); camera extrinsics are ``CameraPose``
(camera body in ``base_link``, ``core/camera.py``). See docs/world.md.
"""

from lepton_perception.core.world.ego import EgoPose, EgoPoseBuffer, PoseBufferConfig
from lepton_perception.core.world.fusion import FusedObject, FusionConfig, ObjectFusion
from lepton_perception.core.world.locator import WorldGroundLocator

__all__ = [
    "EgoPose",
    "EgoPoseBuffer",
    "FusedObject",
    "FusionConfig",
    "ObjectFusion",
    "PoseBufferConfig",
    "WorldGroundLocator",
]
