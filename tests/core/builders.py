"""A small, readable builder of Interaction Server reporting events for the core tests.

    day = Day()                                   # tenant t1, 2026-03-02 09:00:00 UTC
    events = [
        day.at(0).login("a1", "p1", media={"email": True}),
        day.at(60).submitted("i1", "email", queue="q_in"),
        day.at(90).invite("i1", "a1"),
        day.at(100).added("i1", "a1"),
    ]
    actions = CoreDriver().push_all(events)
    [accepted] = on(actions, "Agent", "a1", "Accepted")

Every helper returns a *validated* event (``validate_event``: EventTime as int epoch ms). The
builder remembers each agent's place (from its login) and each interaction's media so tests need
not repeat them; any keyword argument is added verbatim to the raw record (``EventID="e1"``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from pipeline.records.times import parse_time, to_iso
from pipeline.records.validation import validate_event

Media = Mapping[str, bool | tuple[bool, Mapping[str, str]]]


class Day:
    """A working day of one tenant; ``at(seconds)`` moves the clock, helpers build events at it."""

    def __init__(self, tenant: str = "t1", start: str = "2026-03-02T09:00:00Z") -> None:
        self.tenant = tenant
        self.t0 = parse_time(start)
        self.now = self.t0
        self.places: dict[str, str] = {}
        self.media: dict[str, str] = {}

    # -- time ----------------------------------------------------------------------------------------

    def at(self, seconds: float) -> Day:
        """Set the clock to ``start + seconds`` (milliseconds allowed: ``at(1.5)``)."""
        self.now = self.t0 + round(seconds * 1000)
        return self

    def ms(self, seconds: float) -> int:
        """The epoch-ms time of ``start + seconds`` (for comparing with action times)."""
        return self.t0 + round(seconds * 1000)

    # -- generic -------------------------------------------------------------------------------------

    def event(self, name: str, **fields: Any) -> dict:
        raw: dict[str, Any] = {"Event": name, "EventTime": to_iso(self.now), "TenantID": self.tenant}
        raw.update({k: v for k, v in fields.items() if v is not None})
        return validate_event(raw)

    def _agent(self, name: str, agent: str, place: str | None = None, **fields: Any) -> dict:
        place = place or fields.pop("PlaceID", None) or self.places.get(agent)
        return self.event(name, AgentID=agent, PlaceID=place, **fields)

    def _ixn(self, name: str, iid: str, **fields: Any) -> dict:
        fields.setdefault("MediaTypeID", self.media.get(iid))
        return self.event(name, InteractionID=iid, **fields)

    def _party(self, name: str, iid: str, agent: str, place: str | None = None, **fields: Any) -> dict:
        place = place or fields.pop("PlaceID", None) or self.places.get(agent)
        return self._ixn(name, iid, PartyType="Agent", AgentID=agent, PlaceID=place, **fields)

    # -- agent events --------------------------------------------------------------------------------

    @staticmethod
    def media_list(media: Media) -> list[dict]:
        """``{"email": True, "chat": (False, {"ReasonCode": "Lunch"})}`` → a MediaList."""
        out = []
        for name, spec in media.items():
            ready, reason = spec if isinstance(spec, tuple) else (spec, None)
            entry: dict[str, Any] = {"MediaTypeID": name, "Ready": ready}
            if reason:
                entry["Reason"] = dict(reason)
            out.append(entry)
        return out

    def login(self, agent: str, place: str, media: Media | None = None, **fields: Any) -> dict:
        self.places[agent] = place
        media = {"email": True} if media is None else media
        return self._agent("EventAgentLogin", agent, place, MediaList=self.media_list(media), **fields)

    def logout(self, agent: str, **fields: Any) -> dict:
        return self._agent("EventAgentLogout", agent, **fields)

    def media_added(
        self,
        agent: str,
        media: str,
        ready: bool = False,
        reason: Mapping[str, str] | None = None,
        **fields: Any,
    ) -> dict:
        return self._agent(
            "EventMediaAdded",
            agent,
            MediaTypeID=media,
            Ready=ready,
            Reason=dict(reason or {}) or None,
            **fields,
        )

    def media_removed(self, agent: str, media: str, **fields: Any) -> dict:
        return self._agent("EventMediaRemoved", agent, MediaTypeID=media, **fields)

    def not_ready(
        self, agent: str, media: str, reason: Mapping[str, str] | None = None, **fields: Any
    ) -> dict:
        return self._agent(
            "EventNotReadyForMedia", agent, MediaTypeID=media, Reason=dict(reason or {}) or None, **fields
        )

    def ready(self, agent: str, media: str, **fields: Any) -> dict:
        return self._agent("EventReadyForMedia", agent, MediaTypeID=media, **fields)

    def media_reason(self, agent: str, media: str, reason: Mapping[str, str], **fields: Any) -> dict:
        return self._agent(
            "EventMediaStateReasonChanged", agent, MediaTypeID=media, Reason=dict(reason), **fields
        )

    def dnd_on(self, agent: str, **fields: Any) -> dict:
        return self._agent("EventDoNotDisturbOn", agent, **fields)

    def dnd_off(self, agent: str, **fields: Any) -> dict:
        return self._agent("EventDoNotDisturbOff", agent, **fields)

    def snapshot(self, agent: str, place: str, media: Media, dnd: bool | None = None, **fields: Any) -> dict:
        self.places[agent] = place
        return self._agent(
            "EventPlaceAgentState", agent, place, MediaList=self.media_list(media), DoNotDisturb=dnd, **fields
        )

    # -- interaction events --------------------------------------------------------------------------

    def submitted(
        self,
        iid: str,
        media: str = "email",
        queue: str | None = None,
        itype: str | None = None,
        agent: str | None = None,
        parent: str | None = None,
        **fields: Any,
    ) -> dict:
        self.media[iid] = media
        if agent is not None:
            fields.update(PartyType="Agent", AgentID=agent, PlaceID=self.places.get(agent))
        return self._ixn(
            "EventInteractionSubmitted",
            iid,
            MediaTypeID=media,
            Queue=queue,
            InteractionType=itype,
            ParentInteractionID=parent,
            **fields,
        )

    def invite(
        self,
        iid: str,
        agent: str,
        operation: str | None = None,
        visibility: str | None = None,
        **fields: Any,
    ) -> dict:
        return self._party(
            "EventAgentInvited", iid, agent, Operation=operation, Visibility=visibility, **fields
        )

    def added(
        self,
        iid: str,
        agent: str,
        operation: str | None = None,
        visibility: str | None = None,
        **fields: Any,
    ) -> dict:
        return self._party(
            "EventPartyAdded", iid, agent, Operation=operation, Visibility=visibility, **fields
        )

    def removed(self, iid: str, agent: str, **fields: Any) -> dict:
        return self._party("EventPartyRemoved", iid, agent, **fields)

    def rejected(self, iid: str, agent: str, reason: Mapping[str, str] | None = None, **fields: Any) -> dict:
        return self._party("EventRejected", iid, agent, Reason=dict(reason or {}) or None, **fields)

    def revoked(self, iid: str, agent: str, **fields: Any) -> dict:
        return self._party("EventRevoked", iid, agent, **fields)

    def stopped(self, iid: str, reason: Mapping[str, str] | None = None, **fields: Any) -> dict:
        return self._ixn("EventProcessingStopped", iid, Reason=dict(reason or {}) or None, **fields)

    def queued(self, iid: str, queue: str, previous: str | None = None, **fields: Any) -> dict:
        return self._ixn("EventPlacedInQueue", iid, Queue=queue, PreviousQueue=previous, **fields)

    def taken(self, iid: str, queue: str, by_agent: str | None = None, **fields: Any) -> dict:
        if by_agent is None:
            fields.setdefault("PartyType", "Strategy")
            return self._ixn("EventTakenFromQueue", iid, Queue=queue, **fields)
        return self._party("EventTakenFromQueue", iid, by_agent, Queue=queue, **fields)

    def workbin_placed(self, iid: str, workbin_type: str, **fields: Any) -> dict:
        return self._ixn("EventPlacedInWorkbin", iid, WorkbinTypeID=workbin_type, **fields)

    def workbin_taken(self, iid: str, workbin_type: str, by_agent: str | None = None, **fields: Any) -> dict:
        if by_agent is None:
            return self._ixn("EventTakenFromWorkbin", iid, WorkbinTypeID=workbin_type, **fields)
        return self._party("EventTakenFromWorkbin", iid, by_agent, WorkbinTypeID=workbin_type, **fields)

    def properties(
        self,
        iid: str,
        added: Mapping[str, str] | None = None,
        changed: Mapping[str, str] | None = None,
        deleted: Iterable[str] | None = None,
        **fields: Any,
    ) -> dict:
        return self._ixn(
            "EventPropertiesChanged",
            iid,
            AddedProperties=dict(added) if added else None,
            ChangedProperties=dict(changed) if changed else None,
            DeletedProperties=list(deleted) if deleted else None,
            **fields,
        )

    def held(self, iid: str, **fields: Any) -> dict:
        return self._ixn("EventHeld", iid, **fields)

    def resumed(self, iid: str, **fields: Any) -> dict:
        return self._ixn("EventResumed", iid, **fields)

    def custom(self, **fields: Any) -> dict:
        return self.event("EventCustomReporting", **fields)


# --- selecting actions ------------------------------------------------------------------------------


def on(
    actions: Iterable[dict],
    object_type: str,
    object_id: str,
    action: str | None = None,
    phase: str | None = None,
    iid: str | None = None,
    media: str | None = None,
) -> list[dict]:
    """The actions on one object, optionally of one name / phase / interaction / media, in order."""
    return [
        a
        for a in actions
        if a["ObjectType"] == object_type
        and a["ObjectID"] == object_id
        and (action is None or a["Action"] == action)
        and (phase is None or a.get("Phase") == phase)
        and (iid is None or a.get("InteractionID") == iid)
        and (media is None or a.get("MediaTypeID") == media)
    ]


def one(actions: Iterable[dict], object_type: str, object_id: str, action: str, **kw: Any) -> dict:
    """Exactly one matching action (fails with the candidates otherwise)."""
    found = on(actions, object_type, object_id, action, **kw)
    assert len(found) == 1, f"expected one {object_type}/{object_id} {action} {kw}, got {len(found)}: {found}"
    return found[0]


def names(actions: Iterable[dict], object_type: str | None = None, object_id: str | None = None) -> list[str]:
    """``Action`` or ``Action:Phase`` of the selected actions, in order (readable assertions)."""
    return [
        a["Action"] + (f":{a['Phase']}" if a.get("Phase") else "")
        for a in actions
        if (object_type is None or a["ObjectType"] == object_type)
        and (object_id is None or a["ObjectID"] == object_id)
    ]


def routing(actions: Iterable[dict], agent: str, media: str | None = None) -> list[str]:
    """The Routable/NotRoutable changes on an agent, e.g. ``["Routable:End", "NotRoutable:Start"]``."""
    return [
        f"{a['Action']}:{a['Phase']}"
        for a in actions
        if a["ObjectType"] == "Agent"
        and a["ObjectID"] == agent
        and a["Action"] in ("Routable", "NotRoutable")
        and (media is None or a.get("MediaTypeID") == media)
    ]


def mirror_key(action: dict) -> tuple:
    """An action without its object and id: the Agent record and its Place mirror share it."""
    return tuple(
        sorted((k, repr(v)) for k, v in action.items() if k not in ("ActionID", "ObjectType", "ObjectID"))
    )
