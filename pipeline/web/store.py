"""The latest value of every statistic and object, with subscribers told of each change.

Fed by :mod:`pipeline.web.reader` from the compacted statistic topics; read by the query API and
the wallboard's server push. Records are kept as the codec decodes them (times in epoch ms) and
rendered with :func:`pipeline.records.codec.to_json`, the same rendering ``replay`` writes, so the
API's values compare one to one with replay's.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterable
from typing import Any

from pipeline.records.codec import to_json

Key = tuple[str, str, str, str]  # Statistic, ObjectType, TenantID, ObjectID


def record_key(rec: dict[str, Any]) -> Key:
    return (rec["Statistic"], rec["ObjectType"], rec["TenantID"], rec["ObjectID"])


def as_json(rec: dict[str, Any]) -> dict[str, Any]:
    """A record as replay writes it (ISO times, state rendered)."""
    return json.loads(to_json(rec))


class StatStore:
    """Latest record per (Statistic, ObjectType, TenantID, ObjectID); fan-out to subscribers."""

    def __init__(self, statistics: Iterable[tuple[str, str, str, Iterable[str]]] = ()) -> None:
        #: configured statistics: name → (stat type, category, object types)
        self.statistics: dict[str, tuple[str, str, tuple[str, ...]]] = {
            name: (stat_type, category, tuple(objects)) for name, stat_type, category, objects in statistics
        }
        self.latest: dict[Key, dict[str, Any]] = {}
        self.received = 0
        self._subscribers: list[tuple[asyncio.Queue, frozenset[str] | None]] = []

    def put(self, rec: dict[str, Any]) -> None:
        key = record_key(rec)
        self.latest[key] = rec
        self.received += 1
        for queue, wanted in self._subscribers:
            if wanted is None or rec["Statistic"] in wanted:
                queue.put_nowait(rec)

    def get(self, statistic: str, object_type: str, object_id: str, tenant: str | None = None):
        """The latest record of one object (any tenant unless ``tenant`` is given), or None."""
        for (name, otype, tid, oid), rec in self.latest.items():
            if name == statistic and otype == object_type and oid == object_id and tenant in (None, tid):
                return rec
        return None

    def known(self, statistic: str) -> bool:
        return statistic in self.statistics or any(k[0] == statistic for k in self.latest)

    def catalog(self) -> list[dict[str, Any]]:
        """Every statistic (configured or seen) with its stat type, category and objects seen."""
        objects: dict[str, list[dict[str, str]]] = {}
        for name, otype, tid, oid in sorted(self.latest):
            objects.setdefault(name, []).append({"ObjectType": otype, "TenantID": tid, "ObjectID": oid})
        out = []
        for name in sorted(set(self.statistics) | set(objects)):
            stat_type, category, object_types = self.statistics.get(name, ("", "", ()))
            if not stat_type:
                seen = next(r for k, r in self.latest.items() if k[0] == name)
                stat_type, category = seen["StatType"], seen["Category"]
            out.append(
                {
                    "Statistic": name,
                    "StatType": stat_type,
                    "Category": category,
                    "ObjectTypes": list(object_types),
                    "Objects": objects.get(name, []),
                }
            )
        return out

    def snapshot(self, wanted: frozenset[str] | None) -> list[dict[str, Any]]:
        return [r for k, r in self.latest.items() if wanted is None or k[0] in wanted]

    def subscribe(self, wanted: frozenset[str] | None) -> asyncio.Queue:
        queue: asyncio.Queue = asyncio.Queue()
        self._subscribers.append((queue, wanted))
        return queue

    def unsubscribe(self, queue: asyncio.Queue) -> None:
        self._subscribers = [(q, w) for q, w in self._subscribers if q is not queue]

    @property
    def subscribers(self) -> int:
        return len(self._subscribers)
