# Source me: activates .venv and the ROS 2 environment used by every project command.
_lp_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
. "$_lp_root/.venv/bin/activate"
export LEPTON_SHARED=${LEPTON_SHARED:-$(cd "$_lp_root/.." && pwd)/shared}
export RMW_IMPLEMENTATION=${RMW_IMPLEMENTATION:-rmw_fastrtps_cpp}
export ROS_AUTOMATIC_DISCOVERY_RANGE=${ROS_AUTOMATIC_DISCOVERY_RANGE:-LOCALHOST}
# Fast DDS shared-memory transport for large images (32 MB segment).
export FASTRTPS_DEFAULT_PROFILES_FILE=${FASTRTPS_DEFAULT_PROFILES_FILE:-$_lp_root/config/fastdds_shm.xml}
export FASTDDS_DEFAULT_PROFILES_FILE=${FASTDDS_DEFAULT_PROFILES_FILE:-$_lp_root/config/fastdds_shm.xml}
if [ -f "$_lp_root/.msgs_ws/install/setup.sh" ]; then
  # Interface packages built by scripts/build_msgs.sh (vision_msgs, autoware_perception_msgs).
  . "$_lp_root/scripts/msgs_env.sh"
fi
unset _lp_root
