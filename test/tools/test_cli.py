"""The CLI front door: lazy sub-commands, no torch/rclpy on import, a clear hint without ROS."""

from __future__ import annotations

import os
import subprocess
import sys


def _clean_env() -> dict[str, str]:
    """No ROS environment sourced: only the interpreter and our package."""
    repo = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    return {"PATH": "/usr/bin:/bin", "HOME": os.environ.get("HOME", "/tmp"), "PYTHONPATH": repo}


def test_importing_the_cli_imports_neither_torch_nor_rclpy() -> None:
    code = "import sys, lepton_perception.tools.cli; print(sorted({'torch', 'rclpy'} & set(sys.modules)))"
    out = subprocess.run(
        [sys.executable, "-c", code], env=_clean_env(), capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "[]"


def test_help_and_a_non_ros_command_work_without_the_ros_environment() -> None:
    env = _clean_env()
    out = subprocess.run([sys.executable, "-m", "lepton_perception.tools.cli", "--help"], env=env,
                         capture_output=True, text=True, check=True)  # fmt: skip
    assert "{detect,process,demo,export,soak,bag,eval,bench,train}" in out.stdout
    out = subprocess.run([sys.executable, "-m", "lepton_perception.tools.cli", "bench", "tracker", "--help"],
                         env=env, capture_output=True, text=True, check=True)  # fmt: skip
    assert "--objects" in out.stdout


def test_ros_commands_say_what_to_source() -> None:
    out = subprocess.run([sys.executable, "-m", "lepton_perception.tools.cli", "bag", "info", "/tmp"],
                         env=_clean_env(), capture_output=True, text=True, check=False)  # fmt: skip
    assert out.returncode == 2
    assert "lepton bag info: this command needs ROS 2" in out.stderr
    assert "source scripts/env.sh" in out.stderr
