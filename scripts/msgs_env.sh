# Source me (scripts/env.sh does): puts the interface packages built by scripts/build_msgs.sh
# (.msgs_ws/install/<pkg>, colcon's isolated layout) on AMENT_PREFIX_PATH, CMAKE_PREFIX_PATH,
# PYTHONPATH and LD_LIBRARY_PATH, so that e.g. `from vision_msgs.msg import Detection2DArray` and
# `from autoware_perception_msgs.msg import TrackedObjects` work, rclpy publishers/subscribers
# included.
#
# Entries are appended, never prepended: a package the user's environment already provides wins
# (build_msgs.sh does not build those in the first place). LD_LIBRARY_PATH must be set before Python
# starts: rosidl's type-support dispatch looks the generated libraries up there (the ROS wheels'
# bootstrap re-exec keeps what is set here and adds the venv's own lib dirs). Sourcing twice adds
# nothing twice.
_lp_msgs_root=$(cd "$(dirname "${BASH_SOURCE[0]:-$0}")/.." && pwd)
_lp_msgs_append() { # VAR DIR: append DIR to the colon list in VAR unless already there
  local cur
  eval "cur=\${$1:-}"
  case ":$cur:" in
    *":$2:"*) ;;
    *) eval "export $1=\"\${cur:+\$cur:}\$2\"" ;;
  esac
}
for _lp_msgs_pkg in "$_lp_msgs_root"/.msgs_ws/install/*/; do
  _lp_msgs_pkg=${_lp_msgs_pkg%/}
  [ -f "$_lp_msgs_pkg/share/ament_index/resource_index/packages/$(basename "$_lp_msgs_pkg")" ] || continue
  _lp_msgs_append AMENT_PREFIX_PATH "$_lp_msgs_pkg"
  _lp_msgs_append CMAKE_PREFIX_PATH "$_lp_msgs_pkg"
  _lp_msgs_append LD_LIBRARY_PATH "$_lp_msgs_pkg/lib"
  for _lp_msgs_site in "$_lp_msgs_pkg"/lib/python3*/site-packages; do
    [ -d "$_lp_msgs_site" ] && _lp_msgs_append PYTHONPATH "$_lp_msgs_site"
  done
done
unset -f _lp_msgs_append
unset _lp_msgs_root _lp_msgs_pkg _lp_msgs_site
