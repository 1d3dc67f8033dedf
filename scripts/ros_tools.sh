#!/usr/bin/env bash
# Installs `ros2 launch`, `ros2 param/topic/node/pkg/run` (upstream jazzy wheels shipped in
# $LEPTON_SHARED/ros/wheels, no registry serves them) into the active venv, only where the user's
# environment lacks launch, launch_ros or ros2cli (a ROS install provides them). composition_interfaces,
# which launch_ros imports, is built from source by scripts/build_msgs.sh. Idempotent and quiet.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
if [ -z "${VIRTUAL_ENV:-}" ]; then
  . "$root/.venv/bin/activate"
fi
wheels="${LEPTON_SHARED:-$root/../shared}/ros/wheels"
if python -c 'import launch, launch_ros, ros2cli, ros2launch, ros2param, ros2topic' 2>/dev/null; then
  exit 0
fi
if ! compgen -G "$wheels/*.whl" >/dev/null; then
  echo "[ros_tools] launch/ros2cli missing and no wheels in $wheels: ros2 launch tests will fail" >&2
  exit 0
fi
echo "[ros_tools] installing launch, launch_ros, ros2cli from $wheels" >&2
export PIP_DISABLE_PIP_VERSION_CHECK=1
python -m pip install -q -r requirements-ros-tools.txt
python -m pip install -q --no-deps "$wheels"/*.whl
