"""Scheduling decisions: workers x threads never oversubscribe the cores; GPU requests follow the
detector's device."""

from __future__ import annotations

import argparse
import dataclasses
import os

import pytest

from lepton_perception.fleet.safety import UserError
from lepton_perception.ros.params import NodeConfig
from lepton_perception.tools.process_fleet import _gpus_per_task, _parallelism, check_ray_address


def _args(**kw: object) -> argparse.Namespace:
    base = {"jobs": 0, "threads": 0, "ray": None, "gpus_per_task": None}
    return argparse.Namespace(**{**base, **kw})


@pytest.mark.parametrize(
    ("jobs", "threads", "n", "want"),
    [
        (0, 0, 100, ("cores", 1)),  # one worker per core, one thread each
        (1, 0, 100, (1, "cores")),  # serial: the one process gets every core
        (0, 0, 1, (1, "cores")),  # one recording: no pool
        (3, 2, 2, (2, 2)),  # never more workers than recordings
    ],
)
def test_workers_times_threads_fit_the_cores(
    jobs: int, threads: int, n: int, want: tuple[object, object]
) -> None:
    cores = os.cpu_count() or 1
    expect = tuple(cores if w == "cores" else w for w in want)
    assert _parallelism(_args(jobs=jobs, threads=threads), n) == expect


def test_ray_tasks_take_one_cpu_unless_told() -> None:
    assert _parallelism(_args(ray="local"), 50) == (1, 1)
    assert _parallelism(_args(ray="auto", threads=4), 50) == (1, 4)


@pytest.mark.parametrize(
    ("device", "explicit", "want"),
    [("cuda", None, 1.0), ("cuda:1", None, 1.0), ("cpu", None, 0.0), ("cuda", 0.25, 0.25)],
)
def test_gpu_request_follows_the_detector_device(device: str, explicit: float | None, want: float) -> None:
    config = NodeConfig()
    config = dataclasses.replace(config, detector=dataclasses.replace(config.detector, device=device))
    assert _gpus_per_task(_args(gpus_per_task=explicit), config) == want


def test_ray_address_forms() -> None:
    for ok in (None, "local", "auto", "ray://head:10001", "10.0.0.5:6379", "head-node:6379"):
        check_ray_address(ok)
    with pytest.raises(UserError, match=r"^--ray /data/drive1: not local, auto"):
        check_ray_address("/data/drive1")  # `--ray /data/drive1 ...`: an input taken as the address
