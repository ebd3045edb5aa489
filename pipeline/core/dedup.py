"""Duplicate detection and source identity, kept inside each key's state.

A repeated ``EventID`` for the same key is a duplicate (dropped, counted). Only the most recent
:data:`RECENT_IDS` ids are remembered per key, so state stays bounded; a bridge that repeats an
event further back than that is not caught (documented). Events without an ``EventID`` are never
duplicates; identical ones (same event, time and key) are told apart by an occurrence count so
their action ids differ.
"""

from __future__ import annotations

from pipeline.core.ids import source_identity

RECENT_IDS = 64


def remember(ids: list[str], eid: str) -> bool:
    """Record ``eid`` among a key's recent ids; ``True`` when it was already there (a repeat).

    The one duplicate rule: :func:`admit` applies it to a key's state, and stage 2 applies it ahead
    to a released batch (``agents.evaluation_points``) so that a repeat never counts as an input of
    its instant.
    """
    if eid in ids:
        return True
    ids.append(eid)
    if len(ids) > RECENT_IDS:
        del ids[0]
    return False


def admit(state: dict, event: dict) -> str | None:
    """The event's source identity, or ``None`` when it is a duplicate. Updates ``state``."""
    eid = event.get("EventID")
    if eid:
        if remember(state.setdefault("ids", []), eid):
            return None
        return source_identity(event, 0)
    occ = state.get("occ")
    t = event["EventTime"]
    if not occ or occ["t"] != t:
        occ = {"t": t, "c": {}}
        state["occ"] = occ
    n = occ["c"].get(event["Event"], 0)
    occ["c"][event["Event"]] = n + 1
    return source_identity(event, n)
