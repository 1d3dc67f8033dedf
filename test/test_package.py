"""Packaging consistency: package.xml declares what the code imports; launch files start what exists."""

from __future__ import annotations

import ast
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PKG = REPO / "lepton_perception"


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def test_package_xml_declares_every_ros_package_the_code_imports() -> None:
    root = ET.parse(REPO / "package.xml").getroot()
    assert root.get("format") == "3"
    assert root.findtext("name") == "lepton_perception"
    deps = {e.text for e in root if e.tag in ("depend", "exec_depend")}
    ros_imports = set()
    for f in [*PKG.rglob("*.py"), *(REPO / "launch").glob("*.py")]:
        ros_imports |= {
            m
            for m in _imports(f)
            if m.endswith("_msgs") or m in ("rclpy", "launch", "launch_ros", "ament_index_python")
        }
    missing = ros_imports - deps
    assert not missing, f"imported but not declared in package.xml: {sorted(missing)}"


def test_core_imports_no_ros() -> None:
    for f in (PKG / "core").rglob("*.py"):
        ros = {m for m in _imports(f) if m == "rclpy" or m.endswith("_msgs") or m == "rosbags"}
        assert not ros, f"{f.relative_to(REPO)} imports {ros}: the core must stay ROS-free"


@pytest.mark.parametrize("launch_file", sorted((REPO / "launch").glob("*.launch.py")), ids=lambda p: p.name)
def test_launch_files_reference_real_entry_points_and_configs(launch_file: Path) -> None:
    text = launch_file.read_text()
    ast.parse(text)
    setup = (REPO / "setup.py").read_text()
    for exe in re.findall(r'executable="([^"]+)"', text):
        assert re.search(rf'"{exe} = lepton_perception\.', setup), f"{exe} is not a console script"
    for cfg in re.findall(r'"config", "([^"]+)"', text):
        assert (REPO / "config" / cfg).is_file(), cfg
    for included in re.findall(r'"launch", "([^"]+)"', text):
        assert (REPO / "launch" / included).is_file(), included


def test_setup_installs_launch_config_and_resource() -> None:
    setup = (REPO / "setup.py").read_text()
    for needle in ('"resource/" + package_name', 'glob("launch/*.launch.py")', 'glob("config/*")'):
        assert needle in setup
    assert (REPO / "resource" / "lepton_perception").is_file()
