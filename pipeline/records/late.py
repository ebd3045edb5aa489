"""Late records (``<prefix>.late``, schema ``LateRecord``): what came too late, and why.

Two places find lateness, and both keep going (a late input is never dropped silently, never stops
a stage), so this record is how an operator learns what it cost:

* stage 2 (``reorder-window``): an agent event or an interaction's actions for an agent older than
  input the stage already applied. It is applied on arrival, out of order, so the agent's state
  and the actions derived from it may differ from an in-order run (``core/ordering.py``).
* stage 3 (``interval-closed``): an action whose statistic interval had already closed (on the wall
  clock, actions older than the current interval: a day-old file fed to a live worker). It changes
  state but its contribution to that interval is not counted (the engine's ``late``).

The builders are pure (dicts, times as epoch ms) so replay and the Kafka stages write the same
records; ``LateID`` is deterministic so a redelivered input gives the same id (drop repeats by it).
"""

from __future__ import annotations

import json
from typing import Any

from pipeline.records.times import TIME_FIELDS, to_iso

STAGE_AGENTS = "agents"
STAGE_STATISTICS = "statistics"
REORDER_WINDOW = "reorder-window"
INTERVAL_CLOSED = "interval-closed"


def _seconds(ms: int) -> str:
    return f"{ms / 1000:.3f}".rstrip("0").rstrip(".") + " s"


def stage2_late(
    item: dict[str, Any], applied_to: int, now_ms: int, source: str | None = None
) -> dict[str, Any]:
    """A stage-2 input (agent event, or an interaction bundle with ``Actions``) older than
    ``applied_to``, the newest input time the stage had applied; ``source``: its input id."""
    event_time = item["EventTime"]
    bundle = "Actions" in item
    actions = [a.get("Action") for a in item.get("Actions", []) if a.get("Action")]
    what = f"{len(actions)} action(s) of interaction {item.get('InteractionID')}" if bundle else (
        f"event {item.get('Event')}"
    )
    identity = source or item.get("EventID") or item.get("Identity") or (
        f"{item.get('TenantID')}/{item.get('AgentID')}/{event_time}"
    )
    return {
        "LateID": f"{STAGE_AGENTS}/{identity}",
        "Stage": STAGE_AGENTS,
        "Reason": REORDER_WINDOW,
        "Detail": (
            f"{what} for agent {item.get('AgentID')} at {to_iso(event_time)} came after input up to "
            f"{to_iso(applied_to)} was applied ({_seconds(applied_to - event_time)} late, beyond the "
            "reorder window): applied out of order"
        ),
        "EventTime": event_time,
        "LatenessMs": max(0, applied_to - event_time),
        "EmittedAt": now_ms,
        "TenantID": item.get("TenantID"),
        "AgentID": item.get("AgentID"),
        "InteractionID": item.get("InteractionID"),
        "SourceEvent": item.get("SourceEvent") if bundle else item.get("Event"),
        "Actions": actions,
        "Action": None,
        "Input": json.dumps(_jsonable(item), ensure_ascii=False, separators=(",", ":"), sort_keys=True),
    }


def stage3_late(
    action: dict[str, Any], interval_start: int, now_ms: int, contributions: int
) -> dict[str, Any]:
    """An action some of whose ``contributions`` fell in intervals closed before ``interval_start``
    (the latest current interval start among the statistics it would count for)."""
    event_time = action["EventTime"]
    return {
        "LateID": f"{STAGE_STATISTICS}/{action.get('ActionID')}",
        "Stage": STAGE_STATISTICS,
        "Reason": INTERVAL_CLOSED,
        "Detail": (
            f"{action.get('Action')} on {action.get('ObjectType')} {action.get('ObjectID')} at "
            f"{to_iso(event_time)}: its interval had closed (current intervals start up to "
            f"{to_iso(interval_start)}); {contributions} statistic contribution(s) not counted"
        ),
        "EventTime": event_time,
        "LatenessMs": max(0, interval_start - event_time),
        "EmittedAt": now_ms,
        "TenantID": action.get("TenantID"),
        "AgentID": action.get("AgentID"),
        "InteractionID": action.get("InteractionID"),
        "SourceEvent": action.get("SourceEvent"),
        "Actions": [action["Action"]] if action.get("Action") else [],
        "Action": dict(action),
        "Input": None,
    }


def _jsonable(value: Any) -> Any:
    """JSON-ready, with times as ISO strings as in every JSON line we write."""
    if isinstance(value, dict):
        return {k: _time_or(k, v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return value


def _time_or(key: str, value: Any) -> Any:
    if key in TIME_FIELDS and isinstance(value, int) and not isinstance(value, bool):
        return to_iso(value)
    return _jsonable(value)
