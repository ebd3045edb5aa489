"""The ActionIDs stage 3 has applied, remembered to drop a repeat (``OrderedStats.applied_ids``).

Every action of the dedup retention (an hour of event time) is remembered: all 562,000 of a
10,000-agent day. The pipeline's ActionIDs are 32 lowercase hex digits (``core.ids``), 96 bytes
each as a ``str``; held as the 128-bit number they spell they take 48. Any other id is held as
it is. The mapping reads and writes ``str`` ids like a plain dict (its items, keys, equality).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any


def _packed(action_id: Any) -> Any:
    """The key held for ``action_id``: its number when it is 32 lowercase hex digits (one spelling
    per number, so no two ids share a key; a number never equals a ``str``), else itself."""
    if action_id.__class__ is str and len(action_id) == 32 and action_id.islower():
        try:
            if len(bytes.fromhex(action_id)) == 16:  # hex digits only: no sign, prefix or "_"
                return int(action_id, 16)
        except ValueError:
            pass
    return action_id


def _unpacked(key: Any) -> Any:
    return f"{key:032x}" if key.__class__ is int else key


class AppliedIds(dict):
    """ActionID → EventTime, each id held in its compact form (see the module docstring)."""

    __slots__ = ()

    def __init__(self, items: Mapping[str, int] | Iterable[tuple[str, int]] = ()) -> None:
        super().__init__()
        self.update(items)

    def __contains__(self, action_id: object) -> bool:
        return super().__contains__(_packed(action_id))

    def __getitem__(self, action_id: str) -> int:
        return super().__getitem__(_packed(action_id))

    def __setitem__(self, action_id: str, t: int) -> None:
        super().__setitem__(_packed(action_id), t)

    def __delitem__(self, action_id: str) -> None:
        super().__delitem__(_packed(action_id))

    def get(self, action_id: str, default: Any = None) -> Any:
        return super().get(_packed(action_id), default)

    def pop(self, action_id: str, *default: Any) -> Any:
        return super().pop(_packed(action_id), *default)

    def setdefault(self, action_id: str, default: Any = None) -> Any:
        return super().setdefault(_packed(action_id), default)

    def update(self, items: Any = (), **more: int) -> None:  # type: ignore[override]
        pairs = items.items() if isinstance(items, Mapping) else items
        for action_id, t in pairs:
            super().__setitem__(_packed(action_id), t)
        for action_id, t in more.items():
            super().__setitem__(_packed(action_id), t)

    def __iter__(self) -> Iterator[str]:
        return map(_unpacked, super().__iter__())

    def keys(self) -> Any:  # type: ignore[override]
        return [_unpacked(k) for k in super().keys()]

    def items(self) -> Any:  # type: ignore[override]
        return [(_unpacked(k), t) for k, t in super().items()]

    def copy(self) -> AppliedIds:
        out = AppliedIds()
        dict.update(out, super().items())
        return out

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Mapping):
            return NotImplemented
        return dict(self.items()) == dict(other.items())

    def __ne__(self, other: object) -> bool:
        equal = self.__eq__(other)
        return equal if equal is NotImplemented else not equal

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"AppliedIds({dict(self.items())!r})"



def kept_from(ids: Mapping[str, int], t: int) -> AppliedIds:
    """The ids of ``ids`` applied at or after ``t`` (``OrderedStats.forget_before``), compact."""
    if isinstance(ids, AppliedIds):
        out = AppliedIds()
        dict.update(out, ((k, v) for k, v in dict.items(ids) if v >= t))  # held compact already
        return out
    return AppliedIds((k, v) for k, v in ids.items() if v >= t)
