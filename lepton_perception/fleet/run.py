"""Scheduling recordings over workers: serial, a local process pool, or Ray; one progress view.

The work function runs in the worker: ``work(job, report) -> result dict`` (never raises for a bad
recording: it returns ``status="failed"`` with the error). ``report(event)`` sends progress events
``("start", index, total_frames)`` and ``("frames", index, n)`` back to the driver. Each worker process
keeps its loaded models between jobs (the work function caches them per process), so the detector is
loaded once per worker, not once per recording.
"""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
import multiprocessing as mp
import os
import queue
import signal
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from lepton_perception.fleet.safety import UserError
from lepton_perception.fleet.stop import check as check_stop

Report = Callable[[tuple[Any, ...]], None]
Work = Callable[[Any, Report], dict[str, Any]]


@dataclass(frozen=True)
class Job:
    """One recording: where it is, where its outputs go, and everything its output key depends on."""

    index: int
    input: str
    name: str
    out_dir: str  # this recording's folder under the run directory
    settings_key: str  # hash of the effective config, options and model files
    payload: Any = None  # what the work function needs (config, options): opaque here


@dataclass
class Progress:
    """Recordings and frames across the whole run; a tqdm view unless disabled."""

    total_recordings: int
    enabled: bool = True
    frames_expected: dict[int, int] = field(default_factory=dict)
    frames_done: int = 0
    counts: dict[str, int] = field(default_factory=lambda: {"done": 0, "skipped": 0, "failed": 0})
    _bars: list[Any] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.enabled:
            from tqdm import tqdm

            self._bars = [
                tqdm(total=self.total_recordings, desc="recordings", unit="rec", position=0),
                tqdm(total=0, desc="frames", unit="frame", position=1),
            ]

    def event(self, ev: tuple[Any, ...]) -> None:
        kind, index, n = ev
        if kind == "start":
            self.frames_expected[index] = int(n)
            if self._bars:
                self._bars[1].total = sum(self.frames_expected.values())
                self._bars[1].refresh()
        elif kind == "frames":
            self.frames_done += int(n)
            if self._bars:
                self._bars[1].update(int(n))

    def finished(self, result: dict[str, Any]) -> None:
        self.counts[result["status"]] = self.counts.get(result["status"], 0) + 1
        if self._bars:
            self._bars[0].update()
            self._bars[0].set_postfix(self.counts, refresh=True)

    def close(self) -> None:
        for bar in reversed(self._bars):
            bar.close()


# --- worker side --------------------------------------------------------------------------------------
_WORKER: dict[str, Any] = {"queue": None}  # per worker process: where progress events go


def limit_threads(threads: int) -> None:
    """CPU threads of the numeric libraries in this process, so parallel workers do not oversubscribe."""
    if threads <= 0:
        return
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ[var] = str(threads)
    try:
        import torch

        torch.set_num_threads(threads)
    except ImportError:  # torch is optional for the onnxruntime path
        pass
    try:
        import cv2

        cv2.setNumThreads(threads)
    except ImportError:
        pass


def _init_pool_worker(progress_queue: Any, threads: int) -> None:
    # The driver handles Ctrl-C/SIGTERM and stops the pool: workers must not print their own tracebacks.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _WORKER["queue"] = progress_queue
    limit_threads(threads)


def _report_to_queue(event: tuple[Any, ...]) -> None:
    q = _WORKER["queue"]
    if q is not None:
        # A full or closed queue loses a progress tick, never a result.
        with contextlib.suppress(Exception):
            q.put_nowait(event)


def _pool_task(work: Work, job: Job) -> dict[str, Any]:
    return work(job, _report_to_queue)


# --- driver side ---------------------------------------------------------------------------------------
def _drain(q: Any, progress: Progress) -> None:
    while True:
        try:
            progress.event(q.get_nowait())
        except queue.Empty:
            return
        except Exception:  # Ray's queue raises its own Empty
            return


def run_serial(jobs: list[Job], work: Work, progress: Progress, threads: int = 0) -> Iterator[dict[str, Any]]:
    limit_threads(threads)
    for job in jobs:
        check_stop()
        yield work(job, progress.event)


def _context(preload: Sequence[str]) -> Any:
    """Workers forked from a fork server that imported ``preload`` once: no worker re-imports torch, ROS
    and the runner (seconds each), and none inherits the driver's threads, queues or CUDA state (the
    server is a fresh single-threaded interpreter). Spawn where there is no fork server."""
    if "forkserver" not in mp.get_all_start_methods():
        return mp.get_context("spawn")
    ctx = mp.get_context("forkserver")
    ctx.set_forkserver_preload(list(preload))
    return ctx


def run_local(
    jobs: list[Job], work: Work, progress: Progress, workers: int, threads: int, preload: Sequence[str] = ()
) -> Iterator[dict[str, Any]]:
    """A process pool of ``workers``, each limited to ``threads`` CPU threads."""
    ctx = _context(preload)
    q = ctx.Queue()
    pool = cf.ProcessPoolExecutor(
        workers, mp_context=ctx, initializer=_init_pool_worker, initargs=(q, threads)
    )
    try:
        pending = {pool.submit(_pool_task, work, job): job for job in jobs}
        while pending:
            done, _ = cf.wait(pending, timeout=0.2, return_when=cf.FIRST_COMPLETED)
            check_stop()
            _drain(q, progress)
            for fut in done:
                job = pending.pop(fut)
                yield _result_or_crash(fut, job)
        _drain(q, progress)
    finally:
        _stop_pool(pool)


def _result_or_crash(fut: cf.Future[dict[str, Any]], job: Job) -> dict[str, Any]:
    try:
        return fut.result()
    except Exception as exc:  # the worker process died (killed, out of memory): this recording fails
        return crashed(job, f"worker crashed: {type(exc).__name__}: {exc}")


def _stop_pool(pool: cf.ProcessPoolExecutor) -> None:
    processes = list(getattr(pool, "_processes", {}).values())  # to stop running jobs on Ctrl-C
    pool.shutdown(wait=False, cancel_futures=True)
    for p in processes:
        if p.is_alive():
            p.terminate()
    for p in processes:
        p.join(timeout=5)


def crashed(job: Job, error: str) -> dict[str, Any]:
    return {"index": job.index, "input": job.input, "name": job.name, "status": "failed", "error": error}


def ray_init(address: str) -> None:
    """``local``: start a Ray instance here; ``auto``: the running cluster; ``ray://host:port``: remote."""
    try:
        import ray
    except ImportError:
        raise UserError("--ray needs the ray package: pip install 'lepton_perception[fleet]'") from None
    if ray.is_initialized():
        return
    if address == "local":
        ray.init(include_dashboard=False, log_to_driver=False)
    else:
        ray.init(address=address, log_to_driver=False)


def _ray_task(work: Work, job: Job, progress_queue: Any, threads: int) -> dict[str, Any]:
    _WORKER["queue"] = progress_queue
    limit_threads(threads)
    return work(job, _report_to_queue)


def run_ray(
    jobs: list[Job], work: Work, progress: Progress, threads: int = 1, gpus_per_task: float = 0.0
) -> Iterator[dict[str, Any]]:
    """One Ray task per recording (``num_cpus=threads``, ``num_gpus=gpus_per_task``); Ray reuses worker
    processes for tasks of one function, so the per-process model cache loads the detector once per
    worker."""
    import ray
    from ray.util.queue import Queue

    q = Queue()
    task = ray.remote(_ray_task).options(num_cpus=max(threads, 1), num_gpus=gpus_per_task, max_retries=0)
    refs = {task.remote(work, job, q, threads): job for job in jobs}
    try:
        while refs:
            done, _ = ray.wait(list(refs), num_returns=1, timeout=0.2)
            check_stop()
            _drain(q, progress)
            for ref in done:
                job = refs.pop(ref)
                try:
                    yield ray.get(ref)
                except Exception as exc:  # worker died, node lost
                    yield crashed(job, f"ray task failed: {type(exc).__name__}: {str(exc).splitlines()[0]}")
        time.sleep(0.05)
        _drain(q, progress)
    finally:
        for ref in refs:
            ray.cancel(ref, force=True)
        q.shutdown()
