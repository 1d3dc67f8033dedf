"""Outputs that never destroy a user's data.

Rules (issue 10, "offline tools never destroy data"):
- a destination that exists is replaced only when it is our own previous output (it carries
  ``MARKER``) and the user asked for it (``overwrite``);
- a destination equal to, inside, or containing an input is refused;
- everything is written to a staging path next to the destination and renamed into place, so a
  killed run leaves the previous good output (or nothing), never a half-written one.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

MARKER = "lepton_output.json"  # written into every directory we produce
TOOL = "lepton process"
NOT_OURS = "{what} {path} exists and is not a previous lepton process output; not touching it"
OURS_NEEDS_OVERWRITE = (
    "{what} {path} exists (a previous lepton process output); pass --overwrite to replace it"
)


class UserError(Exception):
    """A problem with the user's inputs or outputs: reported as one line, exit code 2."""


def is_within(path: Path, parent: Path) -> bool:
    """``path`` equals ``parent`` or lies below it (both resolved, symlinks followed)."""
    p, q = path.resolve(), parent.resolve()
    return p == q or q in p.parents


def check_disjoint(out: Path, inputs: Iterable[Path], what: str = "--out") -> None:
    """Refuse an output equal to, inside, or containing any input."""
    for inp in inputs:
        if is_within(out, inp):
            where = "the input" if out.resolve() == inp.resolve() else "inside the input"
            raise UserError(f"{what} {out} is {where} {inp}; choose another path")
        if is_within(inp, out):
            raise UserError(f"{what} {out} contains the input {inp}; choose another path")


def read_marker(path: Path) -> dict[str, Any] | None:
    """Our marker in directory ``path`` (None when absent or unreadable: not ours)."""
    try:
        data = json.loads((path / MARKER).read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) and data.get("tool") == TOOL else None


def write_marker(path: Path, info: dict[str, Any]) -> None:
    (path / MARKER).write_text(json.dumps({"tool": TOOL, **info}, indent=2, sort_keys=True) + "\n")


def check_replaceable(dest: Path, overwrite: bool, what: str = "--out") -> None:
    """Raise unless ``dest`` is absent, or is our own previous output and ``overwrite`` is set."""
    if not dest.exists() and not dest.is_symlink():
        return
    if not dest.is_dir() or read_marker(dest) is None:
        raise UserError(f"{what} {dest} exists and is not a previous lepton process output; not touching it")
    if not overwrite:
        raise UserError(
            f"{what} {dest} exists (a previous lepton process output); pass --overwrite to replace it"
        )


def check_writable_parent(dest: Path, what: str = "--out") -> None:
    parent = dest.parent if str(dest.parent) else Path(".")
    if not parent.exists():
        raise UserError(f"cannot write {what} {dest}: directory {parent} does not exist")
    if not parent.is_dir():
        raise UserError(f"cannot write {what} {dest}: {parent} is not a directory")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise UserError(f"cannot write {what} {dest}: directory {parent} is not writable")


def staging_dir(dest: Path) -> Path:
    """A fresh hidden directory next to ``dest`` to build ``dest`` in (as ``staging_dir / dest.name``,
    so file names inside, e.g. a bag's storage file, are already the final ones)."""
    return Path(tempfile.mkdtemp(prefix=f".{dest.name}.partial-", dir=dest.parent))


def staging_path(dest: Path, kind: str = "partial") -> Path:
    """A fresh, non-existing path next to ``dest`` (same file system, so the final rename is atomic)."""
    # Same suffix as dest: video writers pick the container from it.
    tmp = Path(tempfile.mkdtemp(prefix=f".{dest.name}.{kind}-", suffix=dest.suffix, dir=dest.parent))
    tmp.rmdir()  # writers (rosbags) insist on creating the directory themselves
    return tmp


def remove_stale_staging(directory: Path) -> None:
    """Staging left by a killed run in a directory of ours (its names cannot be a user's files)."""
    for p in directory.glob(".*.partial-*"):
        remove_ours(p)
    for p in directory.glob(".*.old-*"):
        remove_ours(p)


def commit(staged: Path, dest: Path) -> None:
    """Move ``staged`` into place; a previous output at ``dest`` (already checked as ours) is replaced.

    The old output is first renamed aside, so at every instant ``dest`` is either the old complete
    output or the new complete one.
    """
    old: Path | None = None
    if dest.exists():
        old = staging_path(dest, "old")
        dest.rename(old)
    staged.rename(dest)
    if old is not None:
        remove_ours(old)


def remove_ours(path: Path) -> None:
    """Delete a path this process created (staging or a replaced output of ours), never anything else."""
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    elif path.exists() or path.is_symlink():
        path.unlink(missing_ok=True)
