"""Shared fixtures. Every test run gets its own ROS domain so parallel runs never see each other."""

from __future__ import annotations

import os
import random
from pathlib import Path

import cv2
import numpy as np
import pytest
from hypothesis import settings

from lepton_perception.paths import shared_dir

REPO = Path(__file__).resolve().parents[1]
os.environ["ROS_DOMAIN_ID"] = str(random.SystemRandom().randint(101, 232))
os.environ["ROS_AUTOMATIC_DISCOVERY_RANGE"] = "LOCALHOST"
os.environ.setdefault("RMW_IMPLEMENTATION", "rmw_fastrtps_cpp")
os.environ["FASTRTPS_DEFAULT_PROFILES_FILE"] = str(REPO / "config" / "fastdds_shm.xml")
os.environ["FASTDDS_DEFAULT_PROFILES_FILE"] = str(REPO / "config" / "fastdds_shm.xml")
os.environ.setdefault("LEPTON_SHARED", str(shared_dir()))
# Properties are checked on values, never on time: a loaded CI machine must not fail a 200 ms deadline.
settings.register_profile("lepton", deadline=None)
settings.load_profile("lepton")


@pytest.fixture(scope="session")
def shared() -> Path:
    path = shared_dir()
    assert (path / "README.md").is_file(), f"shared data not found at {path} (set LEPTON_SHARED)"
    return path


@pytest.fixture(scope="session")
def pets_frames(shared: Path) -> list[np.ndarray]:
    """The first 12 frames of the PETS 2009 video (768x576 BGR)."""
    cap = cv2.VideoCapture(str(shared / "data" / "video" / "pets09_s2l1_vtest.avi"))
    frames = []
    while len(frames) < 12:
        ok, frame = cap.read()
        assert ok
        frames.append(frame)
    cap.release()
    return frames


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    """With ``-m "not ros"`` the ROS test modules are not even imported (no rclpy, seconds in all)."""
    if collection_path.suffix != ".py" or "not ros" not in (config.option.markexpr or ""):
        return None
    return "pytestmark = pytest.mark.ros" in collection_path.read_text(errors="ignore") or None
