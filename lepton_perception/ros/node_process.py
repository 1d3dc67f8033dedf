"""Start the perception node as its own process, exactly as ``launch/perception.launch.py`` does.

Used by the demo, the graph tests and the benchmarks: same entry point, params file, namespace and
remaps as the launch file, plus the Fast DDS shared-memory profile for large images.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import IO

from lepton_perception.paths import shared_dir

REPO = Path(__file__).resolve().parents[2]


def ros_env(domain_id: int | None = None) -> dict[str, str]:
    """The environment every process of one graph shares (domain, localhost discovery, SHM profile)."""
    env = dict(os.environ)
    if domain_id is not None:
        env["ROS_DOMAIN_ID"] = str(domain_id)
    env.setdefault("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST")
    env.setdefault("RMW_IMPLEMENTATION", "rmw_fastrtps_cpp")
    profile = str(REPO / "config" / "fastdds_shm.xml")
    env.setdefault("FASTRTPS_DEFAULT_PROFILES_FILE", profile)
    env.setdefault("FASTDDS_DEFAULT_PROFILES_FILE", profile)
    env.setdefault("LEPTON_SHARED", str(shared_dir()))
    env.setdefault("PYTHONUNBUFFERED", "1")
    return env


class NodeProcess:
    """``with NodeProcess(params_files, ...) as p:`` runs the node until the block ends."""

    def __init__(
        self,
        params_files: list[str | Path] | str | Path,
        namespace: str = "/perception",
        remaps: dict[str, str] | None = None,
        overrides: dict[str, str] | None = None,
        use_sim_time: bool = False,
        domain_id: int | None = None,
        log_path: str | Path | None = None,
    ) -> None:
        files = params_files if isinstance(params_files, list) else [params_files]
        args = ["--ros-args"]
        for f in files:  # later files override earlier ones, as in a launch file
            args += ["--params-file", str(f)]
        args += ["-r", f"__ns:={namespace}"]
        for src, dst in (remaps or {}).items():
            args += ["-r", f"{src}:={dst}"]
        for name, value in (overrides or {}).items():
            args += ["-p", f"{name}:={value}"]
        args += ["-p", f"use_sim_time:={'true' if use_sim_time else 'false'}"]
        self.cmd = [sys.executable, "-m", "lepton_perception.ros.node_main", *args]
        self.env = ros_env(domain_id)
        self.log_path = Path(log_path) if log_path else None
        self.proc: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    def __enter__(self) -> NodeProcess:
        out: int | IO[bytes] = subprocess.DEVNULL
        if self.log_path is not None:
            self._log = self.log_path.open("wb")
            out = self._log
        self.proc = subprocess.Popen(self.cmd, env=self.env, stdout=out, stderr=subprocess.STDOUT)
        return self

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self, timeout_s: float = 10.0) -> int | None:
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self._log is not None:
            self._log.close()
        return self.proc.returncode

    def __exit__(self, *exc: object) -> None:
        self.stop()
