"""``lepton process INPUT... --out-dir RUN_DIR``: many recordings, resumable, local parallel or on Ray.

Layout of RUN_DIR (docs/fleet.md)::

    manifest.json, manifest.parquet         every input: status, timings, counts, error
    <name>/bag/                             the output bag, as ``lepton process --out`` writes it
    <name>/tracked_objects.parquet          one row per planning object per frame
    <name>/predicted_paths.parquet          the same rows with their predicted paths
    <name>/lepton_output.json               output key and summary: what a rerun compares

A recording's output key hashes its content, the effective config and the model files; a rerun skips
recordings whose folder holds a finished output with the same key and redoes the others.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import os
import re
import socket
import sys
import time
from pathlib import Path
from typing import Any

from lepton_perception.fleet.inputs import content_hash, expand_inputs, file_sha256, kind_of, recording_names
from lepton_perception.fleet.manifest import read_manifest, write_manifest
from lepton_perception.fleet.run import (
    Job,
    Progress,
    Report,
    crashed,
    ray_init,
    run_local,
    run_ray,
    run_serial,
)
from lepton_perception.fleet.safety import (
    UserError,
    check_disjoint,
    commit,
    read_marker,
    remove_ours,
    remove_stale_staging,
    staging_dir,
    write_marker,
)
from lepton_perception.tools.common import print_json
from lepton_perception.tools.process import Options, load_config, make_runner, process_into

# Detector fields that change speed or local caches, never the outputs' meaning: not in the output key.
_RUNTIME_ONLY = ("cpu_threads", "trt_cache_dir", "model_path")
REPORT_EVERY_FRAMES = 5
# Imported once by the local pool's fork server, before it forks the workers.
PRELOAD = (
    "lepton_perception.tools.process_fleet",
    "lepton_perception.ros.runner",
    "lepton_perception.ros.bag",
)


# --- output key ---------------------------------------------------------------------------------------
def model_files(config: Any) -> list[Path]:
    """The files whose bytes decide the outputs besides the config: detector and predictor weights."""
    from lepton_perception.core.prediction.weights import MODELS_DIR, model_paths

    directory = Path(config.predictor.models_dir) if config.predictor.models_dir else MODELS_DIR
    weights, meta, _ = model_paths(config.predictor.model_name, directory)
    return [Path(config.detector.model_path), weights, meta]


def settings_key(config: Any, options: Options) -> tuple[str, dict[str, Any]]:
    """Hash of everything but the input that decides a recording's outputs, and what went into it."""
    cfg = dataclasses.asdict(config)
    for name in _RUNTIME_ONLY:
        cfg["detector"].pop(name, None)
    try:
        models = {p.name: file_sha256(p) for p in model_files(config)}
    except OSError as exc:
        raise UserError(f"cannot read model file: {exc.filename}: {exc.strerror}") from None
    settings = {"config": cfg, "options": dataclasses.asdict(options), "models_sha256": models}
    text = json.dumps(settings, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest(), settings


# --- the work of one recording (runs in a worker process) ---------------------------------------------
def _skip_if_current(dest: Path, key: str) -> dict[str, Any] | None:
    marker = read_marker(dest)
    if marker and marker.get("output_key") == key and marker.get("status") == "done":
        return dict(marker.get("result", {}))
    if dest.exists() and marker is None:
        raise UserError(f"{dest} exists and is not a previous lepton process output; not touching it")
    return None


def _build(job: Job, runner: Any, options: Options, dest: Path, report: Report) -> dict[str, Any]:
    from lepton_perception.fleet.tables import TableBuilder

    work = staging_dir(dest)
    try:
        staged = work / dest.name
        staged.mkdir()
        tables = TableBuilder()
        ticks = [0]

        def on_frame() -> None:
            ticks[0] += 1
            if ticks[0] == REPORT_EVERY_FRAMES:
                report(("frames", job.index, ticks[0]))
                ticks[0] = 0

        def on_start(total: int) -> None:
            report(("start", job.index, total))

        summary = process_into(
            runner, Path(job.input), staged / "bag", options, tables, None, on_frame, job.name, on_start
        )
        report(("frames", job.index, ticks[0]))
        tables.write(staged)
        summary["tracked_rows"] = len(tables.tracked)
        return {"staged": staged, "summary": summary, "work": work}
    except BaseException:
        remove_ours(work)
        raise


def process_job(job: Job, report: Report) -> dict[str, Any]:
    """One recording -> its folder; never raises for a bad recording (``status="failed"``)."""
    t0 = time.perf_counter()
    base = {
        "index": job.index,
        "input": job.input,
        "name": job.name,
        "worker": f"{socket.gethostname()}:{os.getpid()}",
    }
    try:
        config, options, hash_method, force = job.payload
        src = Path(job.input)
        kind_of(src)
        chash = content_hash(src, hash_method)
        hash_s = time.perf_counter() - t0
        key = hashlib.sha256(f"{chash}/{job.settings_key}".encode()).hexdigest()
        dest = Path(job.out_dir)
        previous = None if force else _skip_if_current(dest, key)
        ids = {"content_hash": chash, "output_key": key, "hash_s": round(hash_s, 3)}
        if previous is not None:
            report(("start", job.index, 0))
            return {**previous, **base, **ids, "status": "skipped", "error": None, "wall_s": _since(t0)}
        built = _build(job, make_runner(config), options, dest, report)
        summary = built["summary"]
        result = {**summary, **base, **ids, "status": "done", "error": None, "process_s": summary["wall_s"]}
        result["wall_s"] = _since(t0)
        write_marker(built["staged"], {"output_key": key, "status": "done", "result": result})
        try:
            commit(built["staged"], dest)
        finally:
            remove_ours(built["work"])
        return result
    except UserError as exc:
        return {**base, "status": "failed", "error": str(exc), "wall_s": _since(t0)}
    except Exception as exc:  # anything else about this recording: it fails alone, with its reason
        one = " ".join(str(exc).split())[:300]
        return {**base, "status": "failed", "error": f"{type(exc).__name__}: {one}", "wall_s": _since(t0)}


def _since(t0: float) -> float:
    return round(time.perf_counter() - t0, 3)


# --- the run ------------------------------------------------------------------------------------------
def check_run_dir(out: Path, inputs: list[Path]) -> None:
    """RUN_DIR is new, an empty directory, or a previous run of ours; never inside or around an input."""
    check_disjoint(out, inputs, "--out-dir")
    if not out.exists():
        return
    if not out.is_dir():
        raise UserError(f"--out-dir {out} exists and is not a directory; not touching it")
    if any(out.iterdir()):
        try:
            ours = read_manifest(out).get("kind") == "run"
        except (OSError, ValueError):
            ours = False
        if not ours:
            raise UserError(f"--out-dir {out} is not empty and holds no lepton process run; not touching it")


def _parallelism(args: argparse.Namespace, n_jobs: int) -> tuple[int, int]:
    cores = os.cpu_count() or 1
    if args.ray is not None:  # Ray schedules one task per recording on num_cpus=threads
        return 1, args.threads or 1
    workers = max(1, min(args.jobs or cores, n_jobs))
    threads = args.threads or max(1, cores // workers)
    return workers, threads


def _gpus_per_task(args: argparse.Namespace, config: Any) -> float:
    """A task asks for a GPU where the detector would use CUDA (explicitly, or ``auto`` with GPUs)."""
    if args.gpus_per_task is not None:
        return float(args.gpus_per_task)
    device = config.detector.device
    if device.startswith("cuda"):
        return 1.0
    if device == "auto":
        import ray

        return 1.0 if ray.cluster_resources().get("GPU", 0) > 0 else 0.0
    return 0.0


def check_ray_address(address: str | None) -> None:
    """``--ray`` takes an optional value, so ``--ray INPUT ...`` would read INPUT as the address."""
    if address is None or address in ("local", "auto") or address.startswith("ray://"):
        return
    if re.fullmatch(r"[\w.-]+:\d+", address):  # host:port of a cluster's GCS
        return
    raise UserError(
        f"--ray {address}: not local, auto, ray://host:port or host:port "
        "(put --ray after the inputs, or write --ray=ADDRESS)"
    )


def _plan(args: argparse.Namespace) -> tuple[Path, list[Job], dict[str, Any], int, int]:
    check_ray_address(args.ray)
    if args.video_out:
        raise UserError("--video-out takes one input with --out")
    inputs = [p.absolute() for p in expand_inputs(args.inputs, args.inputs_from)]
    out = Path(args.out_dir)
    check_run_dir(out, inputs)
    workers, threads = _parallelism(args, len(inputs))
    config = load_config(args.params)
    detector = dataclasses.replace(
        config.detector, cpu_threads=threads, model_path=str(Path(config.detector.model_path).absolute())
    )
    config = dataclasses.replace(config, detector=detector)
    options = Options(args.namespace, args.fps, args.hfov_deg, args.max_frames, args.storage)
    key, settings = settings_key(config, options)
    out.mkdir(parents=True, exist_ok=True)
    remove_stale_staging(out)
    payload = (config, options, args.hash, args.overwrite)
    names = recording_names(inputs)
    jobs = [
        Job(i, str(p), n, str((out / n).absolute()), key, payload)
        for i, (p, n) in enumerate(zip(inputs, names))
    ]
    run_settings = {"settings_key": key, "hash": args.hash, **settings}
    return out, jobs, run_settings, workers, threads


def _executor(
    args: argparse.Namespace, jobs: list[Job], progress: Progress, workers: int, threads: int
) -> Any:
    if args.ray is not None:
        ray_init(args.ray)
        config = jobs[0].payload[0]
        return run_ray(
            jobs, process_job, progress, threads, gpus_per_task=_gpus_per_task(args, config)
        ), "ray"
    if workers == 1:
        return run_serial(jobs, process_job, progress, threads), "serial"
    return run_local(jobs, process_job, progress, workers, threads, PRELOAD), f"local x{workers}"


def run_fleet_cli(args: argparse.Namespace) -> int:
    out, jobs, settings, workers, threads = _plan(args)
    progress = Progress(len(jobs), enabled=not args.no_progress)
    results: dict[int, dict[str, Any]] = {
        j.index: {**crashed(j, ""), "status": "pending", "error": None} for j in jobs
    }
    t0 = time.perf_counter()
    write_manifest(out, settings, list(results.values()))  # every input listed as pending from the start
    last_write = time.perf_counter()
    iterator: Any = None
    try:
        iterator, settings["executor"] = _executor(args, jobs, progress, workers, threads)
        for result in iterator:
            results[result["index"]] = result
            progress.finished(result)
            if time.perf_counter() - last_write > 2.0:
                write_manifest(out, settings, list(results.values()))
                last_write = time.perf_counter()
    finally:
        if iterator is not None:
            iterator.close()  # stops the workers now (on Ctrl-C/SIGTERM too), not at garbage collection
        remove_stale_staging(out)  # what stopped workers were building
        progress.close()
        settings["wall_s"] = round(time.perf_counter() - t0, 3)
        write_manifest(out, settings, list(results.values()))
    summary = _summary(out, list(results.values()), settings)
    if args.json:
        print_json(summary)
    else:
        _print_summary(summary)
    return 1 if summary["failed"] else 0


def _summary(out: Path, results: list[dict[str, Any]], settings: dict[str, Any]) -> dict[str, Any]:
    by = {s: [r for r in results if r["status"] == s] for s in ("done", "skipped", "failed", "pending")}
    frames = sum(int(r.get("frames") or 0) for r in by["done"])
    wall = float(settings["wall_s"])
    return {
        "run_dir": str(out),
        "executor": settings.get("executor"),
        "recordings": len(results),
        **{s: len(v) for s, v in by.items()},
        "frames_processed": frames,
        "objects": sum(int(r.get("confirmed_tracks") or 0) for r in by["done"] + by["skipped"]),
        "wall_s": wall,
        "fps": round(frames / wall, 2) if wall > 0 else 0.0,
        "failures": {r["input"]: r["error"] for r in by["failed"]},
    }


def _print_summary(s: dict[str, Any]) -> None:
    print(
        f"{s['recordings']} recordings ({s['executor']}): {s['done']} done, {s['skipped']} skipped, "
        f"{s['failed']} failed; {s['frames_processed']} frames in {s['wall_s']:.1f} s ({s['fps']} fps); "
        f"manifest: {s['run_dir']}/manifest.json"
    )
    for inp, err in s["failures"].items():
        print(f"  FAILED {inp}: {err}", file=sys.stderr)
