"""Which recordings a run covers, what they are, and their content keys.

Inputs are paths, globs, or ``@list.txt`` files (one path or glob per line, ``#`` comments; relative
entries are relative to the list file). A recording is a ROS 2 bag directory (it holds
``metadata.yaml``) or a video file; a ``.mcap``/``.db3`` file inside a bag directory stands for its bag.
"""

from __future__ import annotations

import glob
import hashlib
from collections.abc import Iterable, Iterator
from pathlib import Path

from lepton_perception.fleet.safety import UserError
from lepton_perception.fleet.stop import check as check_stop

BAG_STORAGE_SUFFIXES = (".mcap", ".db3")
CHUNK = 1 << 20  # bytes read per call while hashing
SAMPLES = 16  # chunks read by the sampled hash (plus the first and the last)


def _from_list(list_file: Path) -> Iterator[str]:
    try:
        lines = list_file.read_text().splitlines()
    except OSError as exc:
        raise UserError(f"cannot read input list {list_file}: {exc.strerror or exc}") from None
    for line in lines:
        entry = line.split("#", 1)[0].strip()
        if entry:
            yield entry if Path(entry).is_absolute() else str(list_file.parent / entry)


def _expand_one(spec: str) -> list[Path]:
    if glob.has_magic(spec):
        hits = sorted(glob.glob(spec, recursive=True))
        if not hits:
            raise UserError(f"no input matches {spec}")
        return [Path(h) for h in hits]
    return [Path(spec)]


def expand_inputs(specs: Iterable[str], lists: Iterable[str] = ()) -> list[Path]:
    """Paths of the recordings named by ``specs`` (paths, globs, ``@file``) and list files, in order,
    without duplicates (a bag named twice, or by its storage file, is one recording)."""
    entries: list[str] = []
    for spec in specs:
        entries.extend(_from_list(Path(spec[1:])) if spec.startswith("@") else [spec])
    for lst in lists:
        entries.extend(_from_list(Path(lst)))
    seen: set[Path] = set()
    out: list[Path] = []
    for entry in entries:
        for path in _expand_one(entry):
            rec = recording_path(path)
            key = rec.resolve()
            if key not in seen:
                seen.add(key)
                out.append(rec)
    if not out:
        raise UserError("no inputs given")
    return out


def recording_path(path: Path) -> Path:
    """A bag's storage file -> its bag directory; anything else unchanged."""
    if path.suffix in BAG_STORAGE_SUFFIXES and (path.parent / "metadata.yaml").is_file():
        return path.parent
    return path


def kind_of(path: Path) -> str:
    """``bag`` or ``video``; raises ``UserError`` for a missing path or a directory that is no bag."""
    if not path.exists():
        raise UserError(f"input {path} does not exist")
    if path.is_dir():
        if not (path / "metadata.yaml").is_file():
            raise UserError(f"input {path} is a directory but not a ROS 2 bag (no metadata.yaml)")
        return "bag"
    return "video"


def _files(path: Path) -> list[Path]:
    if path.is_dir():
        return sorted(p for p in path.rglob("*") if p.is_file())
    return [path]


def _hash_file(h: hashlib._Hash, path: Path, sampled: bool) -> None:
    size = path.stat().st_size
    h.update(f"{size}\0".encode())
    with path.open("rb") as f:
        if not sampled or size <= (SAMPLES + 2) * CHUNK:
            while chunk := f.read(CHUNK):
                check_stop()
                h.update(chunk)
            return
        # First, last and SAMPLES evenly spaced chunks: cheap on huge files, misses same-size edits
        # elsewhere (documented in docs/fleet.md).
        offsets = [0, size - CHUNK] + [(size - CHUNK) * (i + 1) // (SAMPLES + 1) for i in range(SAMPLES)]
        for off in sorted(offsets):
            f.seek(off)
            h.update(f.read(CHUNK))


def content_hash(path: Path, method: str = "full") -> str:
    """Hex digest of a recording's bytes (a bag: every file in it, with relative names).

    ``full``: sha256 streamed over every byte. ``sampled``: sha256 over sizes plus 18 chunks of 1 MiB
    per file; much faster on huge recordings, blind to same-size edits between the samples.
    """
    if method not in ("full", "sampled"):
        raise ValueError(f"unknown hash method {method!r}")
    h = hashlib.sha256(f"lepton-content-v1/{method}\0".encode())
    for f in _files(path):
        rel = f.relative_to(path).as_posix() if path.is_dir() else ""
        h.update(f"{rel}\0".encode())
        _hash_file(h, f, method == "sampled")
    return h.hexdigest()


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(CHUNK):
            h.update(chunk)
    return h.hexdigest()


def recording_names(paths: list[Path]) -> list[str]:
    """Folder name under OUT per recording: its file name, made unique with a hash of its path."""
    names: list[str] = []
    for p in paths:
        stem = p.name if p.is_dir() else p.stem
        tag = hashlib.sha256(str(p.resolve()).encode()).hexdigest()[:8]
        names.append(f"{stem}-{tag}")
    return names
