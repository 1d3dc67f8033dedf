"""ROS 2 bags without rosbag2: rosbags for the container, rclpy for (de)serialisation.

Messages are rclpy message objects on our side, CDR bytes in the bag, so what we write is exactly what
``ros2 bag play`` republishes. Types unknown to rosbags' Jazzy typestore (our interface packages) are
registered from the ``.msg`` files found on ``AMENT_PREFIX_PATH``.
"""

from __future__ import annotations

import importlib
import logging
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rclpy.serialization import deserialize_message, serialize_message
from rosbags.rosbag2 import Reader, StoragePlugin, Writer
from rosbags.typesys import Stores, get_types_from_msg, get_typestore
from rosbags.typesys.store import Typestore

log = logging.getLogger(__name__)


def msgtype_of(msg_or_cls: Any) -> str:
    """rclpy message (or class) -> ``pkg/msg/Name``."""
    cls = msg_or_cls if isinstance(msg_or_cls, type) else type(msg_or_cls)
    pkg = cls.__module__.split(".")[0]
    return f"{pkg}/msg/{cls.__name__}"


def message_class(msgtype: str) -> Any:
    """``pkg/msg/Name`` -> rclpy message class."""
    pkg, kind, name = msgtype.split("/")
    return getattr(importlib.import_module(f"{pkg}.{kind}"), name)


def _find_msg_file(msgtype: str) -> Path | None:
    pkg, kind, name = msgtype.split("/")
    for prefix in os.environ.get("AMENT_PREFIX_PATH", "").split(os.pathsep):
        p = Path(prefix) / "share" / pkg / kind / f"{name}.msg"
        if prefix and p.is_file():
            return p
    return None


def ensure_type(store: Typestore, msgtype: str) -> None:
    """Register ``msgtype`` (and what it references) in ``store`` from installed ``.msg`` files."""
    if msgtype in store.fielddefs:
        return
    path = _find_msg_file(msgtype)
    if path is None:
        raise KeyError(f"message type {msgtype} is unknown to rosbags and no .msg file was found for it")
    types = get_types_from_msg(path.read_text(), msgtype)
    store.register(types)
    # Register the referenced types too (fielddefs of the new type name them).
    for _, desc in store.fielddefs[msgtype][1]:
        for ref in _referenced(desc):
            ensure_type(store, ref)


def _referenced(desc: Any) -> Iterator[str]:
    # rosbags field descriptors: (Nodetype, payload); nested/array payloads hold (Nodetype, name).
    node, payload = desc
    if getattr(node, "name", "") == "NAME":
        yield payload
    elif isinstance(payload, tuple):
        for item in payload:
            if isinstance(item, tuple) and len(item) == 2:
                yield from _referenced(item)


class BagWriter:
    """Write rclpy messages (or already-serialised bytes) to a new ROS 2 bag."""

    def __init__(self, path: str | Path, storage: str = "mcap") -> None:
        self.path = Path(path)
        plugin = StoragePlugin.MCAP if storage == "mcap" else StoragePlugin.SQLITE3
        self._store = get_typestore(Stores.ROS2_JAZZY)
        self._writer = Writer(self.path, version=9, storage_plugin=plugin)
        self._connections: dict[str, Any] = {}
        self.count = 0

    def __enter__(self) -> BagWriter:
        self._writer.open()
        return self

    def __exit__(self, *exc: object) -> None:
        self._writer.close()

    def write(self, topic: str, msg: Any, t_ns: int, msgtype: str | None = None) -> None:
        """``msg``: an rclpy message, or CDR ``bytes`` together with ``msgtype``."""
        mtype = msgtype or msgtype_of(msg)
        conn = self._connections.get(topic)
        if conn is None:
            ensure_type(self._store, mtype)
            conn = self._writer.add_connection(topic, mtype, typestore=self._store)
            self._connections[topic] = conn
        data = msg if isinstance(msg, bytes | bytearray | memoryview) else serialize_message(msg)
        self._writer.write(conn, int(t_ns), bytes(data))
        self.count += 1


@dataclass(frozen=True)
class BagMessage:
    topic: str
    msgtype: str
    t_ns: int  # recorded (receive) time
    msg: Any  # rclpy message object


def bag_info(path: str | Path) -> dict[str, Any]:
    with Reader(Path(path)) as reader:
        return {
            "path": str(path),
            "duration_s": reader.duration * 1e-9,
            "start_ns": reader.start_time,
            "messages": reader.message_count,
            "topics": {c.topic: {"type": c.msgtype, "count": c.msgcount} for c in reader.connections},
        }


def read_bag(path: str | Path, topics: Iterable[str] | None = None) -> Iterator[BagMessage]:
    """Messages in recorded-time order, deserialised with rclpy."""
    wanted = set(topics) if topics is not None else None
    with Reader(Path(path)) as reader:
        conns = [c for c in reader.connections if wanted is None or c.topic in wanted]
        classes = {c.msgtype: message_class(c.msgtype) for c in conns}
        for conn, t_ns, raw in reader.messages(connections=conns):
            yield BagMessage(conn.topic, conn.msgtype, t_ns, deserialize_message(raw, classes[conn.msgtype]))
