"""Health statuses (``core/health.py``) -> ``diagnostic_msgs/DiagnosticArray`` for ``/diagnostics``.

Conventions (ROS ``diagnostic_updater`` / Autoware):
- ``name`` is ``"<node name>: <subject>"``: ``lepton_perception: node``, ``lepton_perception: camera
  front``, so aggregators (Autoware's ``diagnostic_graph_aggregator``, ``diagnostic_aggregator``) can
  match by prefix.
- ``hardware_id`` is the device the status is about: the camera key for cameras, the node name for
  the node.
- ``level`` is the single byte of ``DiagnosticStatus``: OK=0, WARN=1, ERROR=2, STALE=3.
- ``message`` says why (the findings of the worst level), "ok" when nothing is wrong.
- ``values`` are key/value strings; keys carry their unit (``latency_p95_ms``, ``input_hz``,
  ``window_s``); floats are written with 3 decimals, missing figures as "none".
"""

from __future__ import annotations

from collections.abc import Iterable

from builtin_interfaces.msg import Time
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from std_msgs.msg import Header

from lepton_perception.core.health import HealthStatus, Level, Value

# Level -> DiagnosticStatus level byte (the message's own constants, so the two can never disagree).
LEVEL_BYTES: dict[Level, bytes] = {
    Level.OK: DiagnosticStatus.OK,
    Level.WARN: DiagnosticStatus.WARN,
    Level.ERROR: DiagnosticStatus.ERROR,
    Level.STALE: DiagnosticStatus.STALE,
}


def _text(v: Value) -> str:
    return f"{v:.3f}" if isinstance(v, float) else str(v)


def status_msg(status: HealthStatus, node_name: str) -> DiagnosticStatus:
    return DiagnosticStatus(
        level=LEVEL_BYTES[status.level],
        name=f"{node_name}: {status.subject}",
        message=status.message,
        hardware_id=status.hardware_id,
        values=[KeyValue(key=k, value=_text(v)) for k, v in status.values],
    )


def diagnostic_array(statuses: Iterable[HealthStatus], stamp: Time, node_name: str) -> DiagnosticArray:
    """One array with every status, stamped with the node's clock; ``node_name`` as ``Node.get_name()``."""
    return DiagnosticArray(header=Header(stamp=stamp), status=[status_msg(s, node_name) for s in statuses])
