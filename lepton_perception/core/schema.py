"""One parameter schema on the config dataclasses: description, unit, range, choices, live flag.

Every field of a config dataclass that becomes a ROS parameter (and a line of the generated YAML) is
declared with ``param``::

    @dataclass(frozen=True)
    class TrackerConfig:
        max_coast_s: float = param(1.5, "a confirmed track unmatched this long is deleted",
                                   unit="s", lo=0.0, hi=60.0, live=True)

The metadata lives on the field (``dataclasses.fields(cls)[i].metadata["schema"]``), so the ROS
declarations, the YAML, the offline tools' validation and the docs read the same single source.
Choices come from ``Literal`` / ``Enum`` annotations or ``choices=``. ROS-free: no rclpy import.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

SCHEMA_KEY = "schema"


@dataclass(frozen=True)
class ParamMeta:
    """What a parameter means and which values it accepts."""

    description: str
    unit: str = ""  # SI unit or "" for dimensionless / counts / text
    lo: float | None = None  # inclusive numeric range
    hi: float | None = None
    choices: tuple[str, ...] = ()  # allowed strings (also derived from Literal/Enum annotations)
    live: bool = False  # may change while the node runs

    def __post_init__(self) -> None:
        if not self.description.strip():
            raise ValueError("every parameter needs a description")
        if self.lo is not None and self.hi is not None and self.lo > self.hi:
            raise ValueError(f"empty range [{self.lo}, {self.hi}] for {self.description!r}")


def param(
    default: Any,
    description: str,
    *,
    unit: str = "",
    lo: float | None = None,
    hi: float | None = None,
    choices: tuple[str, ...] = (),
    live: bool = False,
) -> Any:
    """A dataclass field with its schema. Mutable defaults (lists, dicts) are copied per instance."""
    meta = {SCHEMA_KEY: ParamMeta(description, unit, lo, hi, choices, live)}
    if isinstance(default, list | dict | set):
        return dataclasses.field(default_factory=lambda: type(default)(default), metadata=meta)
    return dataclasses.field(default=default, metadata=meta)


def meta_of(f: dataclasses.Field[Any]) -> ParamMeta | None:
    """The schema of a dataclass field, or None if it was declared without ``param``."""
    meta = f.metadata.get(SCHEMA_KEY)
    return meta if isinstance(meta, ParamMeta) else None
