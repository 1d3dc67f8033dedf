#!/usr/bin/env bash
# Builds the ROS 2 interface packages under msgs/ (vision_msgs, autoware_perception_msgs) with colcon
# into .msgs_ws/ (git-ignored), an overlay of its own that never replaces a user's installed
# packages: a package the environment already provides is skipped (and said so).
#
# Idempotent: re-runs take well under a second when msgs/, requirements-build.txt, this script and
# the set of skipped packages are unchanged (hash kept in .msgs_ws/.stamp). Quiet on success; on
# failure prints the end of the build log and exits non-zero. scripts/env.sh picks the result up
# through scripts/msgs_env.sh. See docs/interfaces.md.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
ws="$root/.msgs_ws"

die() {
  echo "[build_msgs] ERROR: $*" >&2
  exit 1
}

mkdir -p "$ws"
printf '*\n' >"$ws/.gitignore" # keep the whole workspace out of git
# One build at a time per work tree (setup.sh may be started from two shells).
exec 9>"$ws/.lock"
flock 9
# CMake caches and RUNPATHs hold absolute paths: a moved work tree starts over.
if [ -f "$ws/.root" ] && [ "$(cat "$ws/.root")" != "$root" ]; then
  rm -rf "$ws/build" "$ws/install" "$ws/log" "$ws/.stamp"
fi
echo "$root" >"$ws/.root"

# --- the venv (the ROS 2 Jazzy wheels live there) ---
if [ -z "${VIRTUAL_ENV:-}" ]; then
  [ -f "$root/.venv/bin/activate" ] || die "no .venv: run scripts/setup.sh first"
  . "$root/.venv/bin/activate"
fi
venv=$(cd "$VIRTUAL_ENV" && pwd -P)
py="$venv/bin/python"
[ -x "$py" ] || die "no python in $venv"

# --- which packages to build: skip those the user's environment already provides ---
# "Provides" = an AMENT_PREFIX_PATH entry outside our overlay indexes it, or it imports from Python
# with our overlay taken off PYTHONPATH (e.g. a ros-jazzy-vision-msgs wheel or /opt/ros/jazzy).
strip_overlay() { # colon list without entries under .msgs_ws
  local out="" p
  local IFS=:
  for p in $1; do
    case "$p" in "" | "$ws" | "$ws"/*) ;; *) out="${out:+$out:}$p" ;; esac
  done
  printf '%s' "$out"
}
user_ament=$(strip_overlay "${AMENT_PREFIX_PATH:-}")
user_pythonpath=$(strip_overlay "${PYTHONPATH:-}")
# Interface packages: ours in msgs/, plus composition_interfaces (needed by launch_ros, shipped as
# source in $LEPTON_SHARED/ros/src) when the shared folder has it.
shared_src="${LEPTON_SHARED:-$root/../shared}/ros/src"
src_dirs=(msgs)
[ -d "$shared_src/composition_interfaces" ] && src_dirs+=("$shared_src")
mapfile -t all_pkgs < <(find "${src_dirs[@]}" -mindepth 2 -maxdepth 2 -name package.xml -printf '%h\n' | xargs -rn1 basename | sort)
[ "${#all_pkgs[@]}" -gt 0 ] || die "no packages under msgs/"
# One Python start for all packages (each start re-execs once through the ROS wheels' bootstrap).
mapfile -t py_providers < <(PYTHONPATH="$user_pythonpath" "$py" -c '
import importlib.util, sys
for name in sys.argv[1:]:
    try:
        spec = importlib.util.find_spec(name)
    except (ImportError, ValueError):
        spec = None
    where = ""
    if spec is not None:
        where = spec.origin or next(iter(spec.submodule_search_locations or []), "") or name
    print(where)
' "${all_pkgs[@]}" 2>/dev/null) || die "$py cannot run"
build_pkgs=()
skip_pkgs=()
skip_notes=()
for i in "${!all_pkgs[@]}"; do
  pkg=${all_pkgs[$i]}
  provider=""
  IFS=: read -ra prefixes <<<"$user_ament"
  for prefix in "${prefixes[@]}"; do
    if [ -n "$prefix" ] && [ -e "$prefix/share/ament_index/resource_index/packages/$pkg" ]; then
      provider="$prefix (AMENT_PREFIX_PATH)"
      break
    fi
  done
  [ -n "$provider" ] || provider=${py_providers[$i]:-}
  if [ -n "$provider" ]; then
    skip_pkgs+=("$pkg")
    skip_notes+=("[build_msgs] $pkg is already provided by $provider: not building it (using that one)")
    # A copy we built earlier would shadow or clash with the user's: drop it.
    rm -rf "$ws/install/$pkg" "$ws/build/$pkg"
  else
    build_pkgs+=("$pkg")
  fi
done

# --- stamp: skip everything when nothing changed ---
want=$({
  find "${src_dirs[@]}" -type f | sort | xargs sha256sum
  sha256sum requirements-build.txt scripts/build_msgs.sh
  echo "venv=$venv skip=${skip_pkgs[*]:-} build=${build_pkgs[*]:-}"
} | sha256sum | cut -d' ' -f1)
installed_ok=1
for pkg in "${build_pkgs[@]}"; do
  [ -f "$ws/install/$pkg/share/$pkg/package.xml" ] || installed_ok=0
done
if [ "$installed_ok" = 1 ] && [ -f "$ws/.stamp" ] && [ "$(cat "$ws/.stamp")" = "$want" ]; then
  exit 0
fi
for note in "${skip_notes[@]}"; do echo "$note" >&2; done
rm -f "$ws/.stamp"
if [ "${#build_pkgs[@]}" -eq 0 ]; then
  rm -f "$ws/install/setup.sh"
  echo "$want" >"$ws/.stamp"
  exit 0
fi

# --- build tools into the venv (pinned closure, see requirements-build.txt) ---
deps_want=$(sha256sum requirements-build.txt | cut -d' ' -f1)
if [ ! -x "$venv/bin/colcon" ] || [ ! -f "$venv/share/rosidl_default_generators/package.xml" ] ||
  [ ! -f "$venv/share/ament_cmake_core/package.xml" ] ||
  [ "$(cat "$venv/.msgs-build-deps-stamp" 2>/dev/null)" != "$deps_want" ]; then
  echo "[build_msgs] installing build tools (colcon, ament_cmake, rosidl generators) into $venv" >&2
  PIP_DISABLE_PIP_VERSION_CHECK=1 "$py" -m pip install -q --no-deps -r requirements-build.txt ||
    die "pip install -r requirements-build.txt failed"
  echo "$deps_want" >"$venv/.msgs-build-deps-stamp"
fi
for tool in cmake make gcc g++; do
  command -v "$tool" >/dev/null || die "$tool not found (apt-get install cmake build-essential)"
done

# --- the ROS wheels are built under /opt/python/cp311-cp311 (manylinux); their exported CMake
# targets still name that interpreter's include dirs. Point them at this interpreter's. ---
py_include=$("$py" -c 'import sysconfig; print(sysconfig.get_paths()["include"])')
np_include=$("$py" -c 'import numpy; print(numpy.get_include())')
[ -f "$py_include/Python.h" ] || die "Python.h not found in $py_include (install the python3.11 headers)"
mapfile -t baked < <(grep -rl --include='*.cmake' '/opt/python/cp311-cp311' "$venv/share" "$venv/lib/cmake" 2>/dev/null || true)
for f in "${baked[@]}"; do
  sed -i \
    -e "s#/opt/python/cp311-cp311/include/python3\.11#$py_include#g" \
    -e "s#/opt/python/cp311-cp311/lib/python3\.11/site-packages/numpy/_core/include#$np_include#g" \
    "$f"
done
left=$(grep -rl --include='*.cmake' '/opt/python/cp311-cp311' "$venv/share" "$venv/lib/cmake" 2>/dev/null || true)
[ -z "$left" ] || die "unexpected /opt/python paths left in: $left"

# --- build ---
export AMENT_PREFIX_PATH="$venv${user_ament:+:$user_ament}"
export CMAKE_PREFIX_PATH="$venv${CMAKE_PREFIX_PATH:+:$(strip_overlay "$CMAKE_PREFIX_PATH")}"
export MAKEFLAGS="${MAKEFLAGS:--j$(nproc)}"
log="$ws/build.log"
echo "[build_msgs] building ${build_pkgs[*]} into .msgs_ws/install (a few minutes the first time; log: $log)" >&2
start=$(date +%s)
# RUNPATH: each package's libraries and Python extensions find their sibling libraries in its own
# install lib dir, so imports do not depend on LD_LIBRARY_PATH order (the ROS wheels' bootstrap
# reorders it). The type-support dispatch still looks libraries up on LD_LIBRARY_PATH at run time:
# scripts/msgs_env.sh sets that.
rpath=""
for pkg in "${build_pkgs[@]}"; do rpath="${rpath:+$rpath;}$ws/install/$pkg/lib"; done
if ! colcon --log-base "$ws/log" build \
  --base-paths "${src_dirs[@]}" \
  --build-base "$ws/build" \
  --install-base "$ws/install" \
  --packages-select "${build_pkgs[@]}" \
  --parallel-workers 1 \
  --event-handlers desktop_notification- \
  --cmake-args -DBUILD_TESTING=OFF -DCMAKE_BUILD_TYPE=Release \
  "-DPython3_EXECUTABLE=$py" "-DPYTHON_EXECUTABLE=$py" \
  "-DCMAKE_INSTALL_RPATH=$rpath;$venv/lib" \
  >"$log" 2>&1; then
  echo "[build_msgs] colcon build failed; last lines of $log:" >&2
  tail -n 40 "$log" >&2
  for pkg in "${build_pkgs[@]}"; do
    f="$ws/log/latest_build/$pkg/stderr.log"
    if [ -s "$f" ]; then
      echo "--- $pkg stderr (last 30 lines of $f) ---" >&2
      tail -n 30 "$f" >&2
    fi
  done
  exit 1
fi
for pkg in "${build_pkgs[@]}"; do
  [ -f "$ws/install/$pkg/share/$pkg/package.xml" ] || die "$pkg not installed after build (see $log)"
done
echo "$want" >"$ws/.stamp"
echo "[build_msgs] built ${build_pkgs[*]} in $(($(date +%s) - start)) s" >&2
