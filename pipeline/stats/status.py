"""The status of an Agent or Place (actions.md §3), derived from its open durable actions.

A *tracker* is the plain-dict state of one object: the open status-relevant durable actions
(``Active``, ``Available``, ``Blocked``, ``Delivering``, ``Handling{Inbound,Outbound,Internal}``)
and ``DoNotDisturb``. Status subjects (DNStatus / AgentStatus / PlaceStatus) and CurrentState read
a :func:`status_view` of it, optionally restricted to some media. Kept in one dict per object so a
key-value store can hold it next to the accumulators.

Rules: per media the highest open action by ``STATUSES`` order (none → ``NotMonitored``);
``LoggedOut`` when no ``Active`` is open on any media (whatever the media restriction, because
logging in is agent-wide); otherwise the highest over the (restricted) media. DND is a flag beside
the status. The reason and user data of a status are those of the action that defines it (the
highest one; on a tie the earliest started).
"""

from __future__ import annotations

from typing import Any

from pipeline.records.catalog import STATUSES

#: Durable actions that define a per-media status.
STATUS_ACTIONS = frozenset(
    {"Active", "Available", "Blocked", "Delivering", "HandlingInbound", "HandlingOutbound",
     "HandlingInternal"}
)
TRACKED_ACTIONS = STATUS_ACTIONS | {"DoNotDisturb"}
PRIORITY: dict[str, int] = {name: i for i, name in enumerate(STATUSES)}


def new_tracker() -> dict[str, Any]:
    return {"open": {}}


def _key(action: dict[str, Any]) -> str:
    return f"{action.get('Action')}|{action.get('MediaTypeID') or ''}|{action.get('InteractionID') or ''}"


def apply_action(tracker: dict[str, Any], action: dict[str, Any]) -> bool:
    """Record a durable Start/End of a tracked action; returns whether anything changed."""
    if action.get("Kind") != "Durable" or action.get("Action") not in TRACKED_ACTIONS:
        return False
    key = _key(action)
    open_ = tracker["open"]
    if action.get("Phase") == "Start":
        open_[key] = [
            action["Action"],
            action.get("MediaTypeID"),
            int(action["EventTime"]),
            action.get("Reason") or None,
            action.get("UserData") or None,
        ]
        return True
    if action.get("Phase") == "End":
        return open_.pop(key, None) is not None
    return False


def logged_in(tracker: dict[str, Any]) -> bool:
    """Logged in = at least one ``Active`` open on some media."""
    return any(entry[0] == "Active" for entry in tracker["open"].values())


def status_view(tracker: dict[str, Any], media: frozenset[str] | None = None) -> dict[str, Any]:
    """``{"Status", "Media", "DoNotDisturb", "Reason", "UserData"}`` of the object, optionally for
    the given media only (``None`` = every media). One pass over the open actions: this runs for
    every action that moves a status."""
    open_ = tracker["open"]
    dnd = logged = False
    best_per_media: dict[str, list[Any]] = {}
    for key in sorted(open_):
        entry = open_[key]
        name, m = entry[0], entry[1]
        if name == "DoNotDisturb":
            dnd = True
            continue
        if name == "Active":
            logged = True
        if name not in STATUS_ACTIONS or not m or (media is not None and m not in media):
            continue
        cur = best_per_media.get(m)
        if cur is None or _rank(entry) > _rank(cur):
            best_per_media[m] = entry
    if not logged:
        return {"Status": "LoggedOut", "Media": {}, "DoNotDisturb": dnd, "Reason": None, "UserData": None}
    if not best_per_media:
        return {"Status": "NotMonitored", "Media": {}, "DoNotDisturb": dnd, "Reason": None, "UserData": None}
    media_status = {m: e[0] for m, e in sorted(best_per_media.items())}
    top = max(best_per_media.values(), key=_rank)
    return {
        "Status": top[0],
        "Media": media_status,
        "DoNotDisturb": dnd,
        "Reason": top[3],
        "UserData": top[4],
    }


def _rank(entry: list[Any]) -> tuple[int, int]:
    # Higher priority first; among equals the earliest started defines the status (stable reason).
    return (PRIORITY[entry[0]], -int(entry[2]))
