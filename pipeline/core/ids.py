"""Deterministic ids: derived from data, never from a position (records.md).

An action's id hashes the identity of its source event (its ``EventID``, else tenant + event name
+ time + interaction/agent + how many identical ones came before) with the action's own identity.
Replay and the Kafka pipeline therefore give the same ids, and a consumer can drop repeats.
"""

from __future__ import annotations

import hashlib


def source_identity(event: dict, occurrence: int) -> str:
    """Identity of a source event; ``occurrence`` counts identical earlier events (no EventID)."""
    if event.get("EventID"):
        return "id:" + event["EventID"]
    subject = event.get("InteractionID") or event.get("AgentID") or ""
    return f"ev:{event['TenantID']}|{event['Event']}|{event['EventTime']}|{subject}|{occurrence}"


def action_id(identity: str, action: dict, repeat: int = 0) -> str:
    """Hash of the source identity and (Action, Phase, ObjectType, ObjectID, InteractionID, MediaTypeID).

    ``repeat`` separates identical action identities produced by the same source event.
    """
    parts = (
        identity,
        action["Action"],
        action.get("Phase") or "",
        action["ObjectType"],
        action["ObjectID"],
        action.get("InteractionID") or "",
        action.get("MediaTypeID") or "",
        str(repeat),
    )
    return hashlib.blake2b("\x1f".join(parts).encode(), digest_size=16).hexdigest()


#: Fields first in every action record, in the schema's order (JSON output reads naturally).
_LEADING = (
    "Action",
    "Kind",
    "Phase",
    "ObjectType",
    "ObjectID",
    "TenantID",
    "EventTime",
    "StartTime",
    "DurationMs",
    "SourceEvent",
    "InteractionID",
    "MediaTypeID",
    "AgentID",
    "PlaceID",
)


class IdStamper:
    """Stamps ``ActionID`` on the actions of one source event, separating identical ones.

    Returns a new dict with the fields in a fixed order.
    """

    __slots__ = ("identity", "_seen")

    def __init__(self, identity: str) -> None:
        self.identity = identity
        self._seen: dict[tuple, int] = {}

    def stamp(self, action: dict) -> dict:
        key = (
            action["Action"],
            action.get("Phase"),
            action["ObjectType"],
            action["ObjectID"],
            action.get("InteractionID"),
            action.get("MediaTypeID"),
        )
        n = self._seen.get(key, 0)
        self._seen[key] = n + 1
        ordered = {"ActionID": action_id(self.identity, action, n)}
        for name in _LEADING:
            if name in action:
                ordered[name] = action[name]
        for name, value in action.items():
            if name not in ordered:
                ordered[name] = value
        return ordered
