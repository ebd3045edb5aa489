"""Stage 1: the interaction tracker (state per InteractionID), actions.md §1.

``track(state, event)`` applies one interaction event to the interaction's state and returns the
Queue actions it causes plus, for every agent it concerns, a *bundle*: the interaction actions on
that agent from this one event. Bundles go to stage 2 (``agents``) keyed by Tenant/Agent, which
counts capacity from them, mirrors them on the agent's Place and re-evaluates Routable once per
bundle — so one input event is one evaluation, even when it touches several agents.

State is a plain dict (JSON-serialisable) so a RocksDB-backed table can hold it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from pipeline.core.dedup import admit
from pipeline.core.ids import IdStamper
from pipeline.records.catalog import ACTION_KINDS

#: Attributes an interaction action copies from the interaction's state (when known).
_STATE_ATTRS = (
    ("media", "MediaTypeID"),
    ("parent", "ParentInteractionID"),
    ("router", "RouterID"),
    ("strategy", "StrategyID"),
    ("mediaserver", "MediaServerID"),
)
#: Attributes copied from the source event itself when it carries them.
_EVENT_ATTRS = ("Reason", "AddedProperties", "ChangedProperties", "DeletedProperties")
_PULL_ATTRS = (
    "WorkbinTypeID",
    "WorkbinAgentID",
    "WorkbinGroupID",
    "ViewID",
    "TargetAgentID",
    "TargetPlaceID",
)
_TYPED = {"Inbound": "HandlingInbound", "Outbound": "HandlingOutbound", "Internal": "HandlingInternal"}
_STOPPED = {"Inbound": "StoppedInbound", "Outbound": "StoppedOutbound", "Internal": "StoppedInternal"}


@dataclass
class TrackResult:
    """What one interaction event produced."""

    queue_actions: list[dict] = field(default_factory=list)
    bundles: list[dict] = field(default_factory=list)
    anomalies: list[str] = field(default_factory=list)
    duplicate: bool = False


def new_state(event: dict) -> dict:
    """A fresh interaction, created on first sight (the pipeline may start mid-day)."""
    return {
        "tenant": event["TenantID"],
        "iid": event["InteractionID"],
        "media": None,
        "itype": "Inbound",
        "subtype": None,
        "parent": None,
        "router": None,
        "strategy": None,
        "mediaserver": None,
        "userdata": None,
        "queue": None,
        "queue_since": None,
        "workbin": None,
        "offers": {},
        "parties": {},
        "seq": 0,
        "events": 0,
        "submitted_by": None,
        "pull_mark": None,
        "pull_from": None,
        "held": False,
        "stopped_at": None,
    }


class _Emitter:
    """Builds the actions of one event: Queue actions complete, agent actions grouped in bundles."""

    def __init__(self, state: dict, event: dict, identity: str, result: TrackResult) -> None:
        self.state = state
        self.event = event
        self.now: int = event["EventTime"]
        self.result = result
        self.identity = identity
        self.stamper = IdStamper(identity)
        self._bundles: dict[str, dict] = {}

    def _base(self, name: str, phase: str | None, since: int | None) -> dict:
        ev, st = self.event, self.state
        rec: dict = {
            "Action": name,
            "Kind": ACTION_KINDS[name],
            "Phase": phase,
            "TenantID": st["tenant"],
            "EventTime": self.now,
            "SourceEvent": ev["Event"],
            "InteractionID": st["iid"],
        }
        if since is not None:
            rec["StartTime"] = since
            rec["DurationMs"] = self.now - since
        for key, attr in _STATE_ATTRS:
            if st[key] is not None:
                rec[attr] = st[key]
        if st["queue"] is not None:
            rec["Queue"] = st["queue"]
        if st["userdata"] is not None:
            rec["UserData"] = dict(st["userdata"])
        for attr in _EVENT_ATTRS:
            if attr in ev:
                rec[attr] = ev[attr]
        return rec

    def queue(self, queue: str, name: str, phase: str | None = None, since: int | None = None) -> None:
        rec = self._base(name, phase, since)
        rec["Queue"] = queue
        rec["ObjectType"] = "Queue"
        rec["ObjectID"] = queue
        self.result.queue_actions.append(self.stamper.stamp(rec))

    def agent(
        self,
        agent: str,
        place: str | None,
        name: str,
        phase: str | None = None,
        since: int | None = None,
        extra: dict | None = None,
    ) -> None:
        rec = self._base(name, phase, since)
        rec["AgentID"] = agent
        if place is not None:
            rec["PlaceID"] = place
        if extra:
            rec.update(extra)
        bundle = self._bundles.get(agent)
        if bundle is None:
            bundle = {
                "TenantID": self.state["tenant"],
                "AgentID": agent,
                "PlaceID": place,
                "EventTime": self.now,
                "InteractionID": self.state["iid"],
                "Seq": self.state["events"],
                "Identity": self.identity,
                "SourceEvent": self.event["Event"],
                "Actions": [],
            }
            self._bundles[agent] = bundle
            self.result.bundles.append(bundle)
        elif bundle["PlaceID"] is None and place is not None:
            bundle["PlaceID"] = place
        bundle["Actions"].append(rec)


def track(state: dict | None, event: dict) -> tuple[dict, TrackResult]:
    """Apply one validated interaction event; returns the new state and what it produced."""
    result = TrackResult()
    if state is None:
        state = new_state(event)
        if event["Event"] != "EventInteractionSubmitted":
            result.anomalies.append("unknown-interaction")
    identity = admit(state, event)
    if identity is None:
        result.duplicate = True
        return state, result
    state["events"] += 1
    _absorb_attributes(state, event)
    em = _Emitter(state, event, identity, result)
    handler = _HANDLERS.get(event["Event"])
    if handler is not None:
        handler(state, event, em)
    return state, result


def _absorb_attributes(state: dict, event: dict) -> None:
    """Keep what the event tells about the interaction (absent = unchanged)."""
    if event.get("MediaTypeID"):
        state["media"] = event["MediaTypeID"]
    if event.get("InteractionType"):
        state["itype"] = event["InteractionType"]
    for key, attr in (
        ("subtype", "InteractionSubtype"),
        ("parent", "ParentInteractionID"),
        ("router", "RouterID"),
        ("strategy", "StrategyID"),
        ("mediaserver", "MediaServerID"),
    ):
        if event.get(attr):
            state[key] = event[attr]
    if "UserData" in event:
        state["userdata"] = dict(event["UserData"])


def _is_agent_party(event: dict) -> bool:
    return event.get("PartyType", "Agent") == "Agent" and bool(event.get("AgentID"))


# --- queues and workbins ------------------------------------------------------------------------


def _enter_queue(state: dict, event: dict, em: _Emitter) -> None:
    queue = event.get("Queue")
    previous = event.get("PreviousQueue")
    if state["queue_since"] is not None:
        waiting_in = state["queue"]
        if previous is None:
            em.result.anomalies.append("previous-queue-missing")
            previous = waiting_in
        if previous == waiting_in:
            _leave_queue(state, em, "InteractionDistributedToQueue")
        else:
            em.result.anomalies.append("previous-queue-mismatch")
            _leave_queue(state, em, "InteractionDistributedToQueue")
    elif previous is not None:
        em.result.anomalies.append("previous-queue-unknown-entry")
    if queue is None:
        return
    state["queue"] = queue
    state["queue_since"] = em.now
    state["workbin"] = None
    em.queue(queue, "InteractionEntered")
    em.queue(queue, "Waiting", "Start")


def _leave_queue(state: dict, em: _Emitter, outcome: str) -> None:
    queue, since = state["queue"], state["queue_since"]
    state["queue_since"] = None
    em.queue(queue, "Waiting", "End", since)
    em.queue(queue, outcome, None, since)


def on_submitted(state: dict, event: dict, em: _Emitter) -> None:
    if event.get("AgentID") and event.get("PartyType", "Agent") == "Agent":
        state["submitted_by"] = event["AgentID"]
    if event.get("Queue"):
        _enter_queue(state, event, em)


def on_placed_in_queue(state: dict, event: dict, em: _Emitter) -> None:
    _end_all_handling(state, em)
    _enter_queue(state, event, em)


def on_taken_from_queue(state: dict, event: dict, em: _Emitter) -> None:
    if event.get("Queue") and state["queue_since"] is not None and event["Queue"] != state["queue"]:
        em.result.anomalies.append("queue-mismatch")
    if state["queue_since"] is None:
        em.result.anomalies.append("not-waiting")
    else:
        by_agent = event.get("PartyType") == "Agent"
        _leave_queue(state, em, "InteractionDistributed" if by_agent else "InteractionCleared")
    if event.get("PartyType") == "Agent" and event.get("AgentID"):
        state["pull_mark"] = event["AgentID"]
        state["pull_from"] = None


def on_placed_in_workbin(state: dict, event: dict, em: _Emitter) -> None:
    _end_all_handling(state, em)
    if state["queue_since"] is not None:
        # Parked in a workbin straight from a queue: the wait ends without a distribution.
        _leave_queue(state, em, "InteractionCleared")
    state["workbin"] = {k: event[k] for k in _PULL_ATTRS if k.startswith("Workbin") and k in event}
    state["workbin"]["since"] = em.now


def on_taken_from_workbin(state: dict, event: dict, em: _Emitter) -> None:
    if state["workbin"] is None:
        em.result.anomalies.append("not-in-workbin")
    workbin = {k: v for k, v in (state["workbin"] or {}).items() if k != "since"}
    workbin.update({k: event[k] for k in _PULL_ATTRS if k.startswith("Workbin") and k in event})
    state["workbin"] = None
    if event.get("PartyType") == "Agent" and event.get("AgentID"):
        state["pull_mark"] = event["AgentID"]
        state["pull_from"] = workbin


# --- offers -------------------------------------------------------------------------------------


def _last_handling_party(state: dict, exclude: str | None = None) -> str | None:
    best, best_seq = None, -1
    for agent, party in state["parties"].items():
        if party["handling"] and agent != exclude and party["seq"] > best_seq:
            best, best_seq = agent, party["seq"]
    return best


def on_invited(state: dict, event: dict, em: _Emitter) -> None:
    state["pull_mark"] = state["pull_from"] = None
    if not _is_agent_party(event):
        return
    agent = event["AgentID"]
    if agent in state["offers"]:
        em.result.anomalies.append("offer-already-open")
        return
    visibility = event.get("Visibility")
    operation = event.get("Operation")
    if operation is None:
        if visibility == "Coach":
            operation = "CoachRequest"
        elif _last_handling_party(state, agent) is not None:
            operation = "Conference" if visibility == "Conference" else "Transfer"
        else:
            operation = "Route"
    inviter = None
    if operation in ("Transfer", "Conference", "CoachRequest"):
        inviter = _last_handling_party(state, agent)
    place = event.get("PlaceID")
    state["offers"][agent] = {
        "since": em.now,
        "op": operation,
        "inviter": inviter,
        "vis": visibility,
        "place": place,
    }
    em.agent(agent, place, "Delivering", "Start")
    em.agent(agent, place, "DeliveringStarted")
    if operation == "CoachRequest" and inviter is not None:
        em.agent(inviter, state["parties"][inviter]["place"], "CoachingRequested")


def _end_offer(state: dict, agent: str, em: _Emitter, outcome: str) -> None:
    offer = state["offers"].pop(agent)
    em.agent(agent, offer["place"], "Delivering", "End", offer["since"])
    em.agent(agent, offer["place"], outcome, None, offer["since"])


def on_rejected(state: dict, event: dict, em: _Emitter) -> None:
    if not _is_agent_party(event):
        return
    agent = event["AgentID"]
    if agent in state["offers"]:
        _end_offer(state, agent, em, "Rejected")
    elif state["stopped_at"] is None:
        em.result.anomalies.append("no-open-offer")


def on_revoked(state: dict, event: dict, em: _Emitter) -> None:
    if not _is_agent_party(event):
        return
    agent = event["AgentID"]
    if agent in state["offers"]:
        _end_offer(state, agent, em, "Revoked")
    elif agent in state["parties"] and state["parties"][agent]["handling"]:
        since = state["parties"][agent]["since"]
        place = state["parties"][agent]["place"]
        _end_party(state, agent, em)
        em.agent(agent, place, "Revoked", None, since)
    elif state["stopped_at"] is None:
        em.result.anomalies.append("no-open-offer")


# --- parties ------------------------------------------------------------------------------------


def on_party_added(state: dict, event: dict, em: _Emitter) -> None:
    pull_mark, pull_from = state["pull_mark"], state["pull_from"]
    state["pull_mark"] = state["pull_from"] = None
    if not _is_agent_party(event):
        return
    agent = event["AgentID"]
    if agent in state["parties"]:
        em.result.anomalies.append("party-already-added")
        return
    place = event.get("PlaceID")
    visibility = event.get("Visibility")
    offer = state["offers"].get(agent)
    if offer is not None:
        place = place or offer["place"]
        visibility = visibility or offer["vis"]
        _accept(state, agent, place, offer, em)
    else:
        operation = event.get("Operation")
        if operation is None:
            if pull_mark == agent:
                operation = "Pull"
            elif state["submitted_by"] == agent:
                operation = "Submit"
            elif visibility is not None:
                operation = "Intrude"
        _join_without_offer(state, event, agent, place, operation, visibility, pull_from, em)
    state["seq"] += 1
    handling = visibility != "Monitor"
    state["parties"][agent] = {
        "place": place,
        "since": em.now,
        "vis": visibility,
        "handling": handling,
        "itype": state["itype"],
        "seq": state["seq"],
    }
    if handling:
        typed = _TYPED[state["itype"]]
        em.agent(agent, place, "Handling", "Start")
        em.agent(agent, place, "HandlingStarted")
        em.agent(agent, place, typed, "Start")
        em.agent(agent, place, typed + "Started")


def _accept(state: dict, agent: str, place: str | None, offer: dict, em: _Emitter) -> None:
    del state["offers"][agent]
    since = offer["since"]
    em.agent(agent, place, "Delivering", "End", since)
    em.agent(agent, place, "Accepted", None, since)
    inviter = offer["inviter"]
    inviter_place = state["parties"][inviter]["place"] if inviter in state["parties"] else None
    # The joining agent's action does not depend on knowing the inviter; the inviter's does.
    match offer["op"]:
        case "Transfer":
            em.agent(agent, place, "TransferTaken")
            if inviter is not None:
                em.agent(inviter, inviter_place, "TransferMade")
        case "Conference":
            em.agent(agent, place, "ConferenceJoined")
            if inviter is not None:
                em.agent(inviter, inviter_place, "ConferenceMade")
        case "CoachRequest":
            em.agent(agent, place, "CoachingByRequestInitiated", None, since)
            if inviter is not None:
                em.agent(inviter, inviter_place, "BeingCoached")


def _join_without_offer(
    state: dict,
    event: dict,
    agent: str,
    place: str | None,
    operation: str | None,
    visibility: str | None,
    pull_from: dict | None,
    em: _Emitter,
) -> None:
    match operation:
        case "Pull":
            extra = {k: event[k] for k in _PULL_ATTRS if k in event}
            for k, v in (pull_from or state["workbin"] or {}).items():
                if k != "since":
                    extra.setdefault(k, v)
            extra.setdefault("TargetAgentID", agent)
            if place is not None:
                extra.setdefault("TargetPlaceID", place)
            em.agent(agent, place, "Pulled", extra=extra)
        case "Submit":
            if state["itype"] == "Outbound":
                em.agent(agent, place, "StartedOutbound")
                if state["parent"]:
                    em.agent(agent, place, "InteractionResponded")
            elif state["itype"] == "Internal":
                em.agent(agent, place, "StartedInternal")
        case "Intrude":
            handlers = [a for a, p in state["parties"].items() if p["handling"]]
            if visibility == "Monitor":
                em.agent(agent, place, "MonitoringInitiated")
                for other in handlers:
                    em.agent(other, state["parties"][other]["place"], "BeingMonitored")
            elif visibility == "Coach":
                em.agent(agent, place, "CoachingByIntrusionInitiated")
                for other in handlers:
                    em.agent(other, state["parties"][other]["place"], "BeingCoached")
            else:
                em.agent(agent, place, "ConferenceJoinedByIntrusion")
        case None:
            em.result.anomalies.append("unknown-operation")
        case _:
            em.result.anomalies.append("joined-without-offer")


def _end_party(state: dict, agent: str, em: _Emitter) -> None:
    """The party leaves; if it was Handling, Handling and its typed twin end with Stopped*."""
    party = state["parties"].pop(agent)
    if not party["handling"]:
        return
    place, since, itype = party["place"], party["since"], party["itype"]
    em.agent(agent, place, "Handling", "End", since)
    em.agent(agent, place, _TYPED[itype], "End", since)
    em.agent(agent, place, _STOPPED[itype], None, since)


def _end_all_handling(state: dict, em: _Emitter) -> None:
    for agent in [a for a, p in state["parties"].items() if p["handling"]]:
        _end_party(state, agent, em)


def on_party_removed(state: dict, event: dict, em: _Emitter) -> None:
    if not _is_agent_party(event):
        return
    agent = event["AgentID"]
    known = False
    if agent in state["offers"]:
        _end_offer(state, agent, em, "Revoked")
        known = True
    if agent in state["parties"]:
        _end_party(state, agent, em)
        known = True
    if not known and state["stopped_at"] is None:
        em.result.anomalies.append("unknown-party")


def on_processing_stopped(state: dict, event: dict, em: _Emitter) -> None:
    for agent in list(state["offers"]):
        _end_offer(state, agent, em, "InteractionAbandonedDuringOffering")
    for agent in list(state["parties"]):
        _end_party(state, agent, em)
    if state["queue_since"] is not None:
        _leave_queue(state, em, "InteractionDeleted")
    state["stopped_at"] = em.now


def on_properties_changed(state: dict, event: dict, em: _Emitter) -> None:
    if "UserData" in event:
        return  # already replaced whole by _absorb_attributes
    data = dict(state["userdata"] or {})
    data.update(event.get("AddedProperties") or {})
    data.update(event.get("ChangedProperties") or {})
    for key in event.get("DeletedProperties") or ():
        data.pop(key, None)
    state["userdata"] = data


def on_held(state: dict, event: dict, em: _Emitter) -> None:
    state["held"] = True


def on_resumed(state: dict, event: dict, em: _Emitter) -> None:
    state["held"] = False


_HANDLERS = {
    "EventInteractionSubmitted": on_submitted,
    "EventPropertiesChanged": on_properties_changed,
    "EventAgentInvited": on_invited,
    "EventPartyAdded": on_party_added,
    "EventPartyRemoved": on_party_removed,
    "EventRejected": on_rejected,
    "EventRevoked": on_revoked,
    "EventProcessingStopped": on_processing_stopped,
    "EventPlacedInQueue": on_placed_in_queue,
    "EventTakenFromQueue": on_taken_from_queue,
    "EventPlacedInWorkbin": on_placed_in_workbin,
    "EventTakenFromWorkbin": on_taken_from_workbin,
    "EventHeld": on_held,
    "EventResumed": on_resumed,
}
