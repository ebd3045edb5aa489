"""Stage 2: agent and place media state (state per Tenant/Agent), actions.md §2.

Applies agent events (login, media, readiness, DND, snapshots) and the bundles of interaction
actions from stage 1. Keeps, per media, whether it is Active, ready or not (with the reason), and
how many offers and Handling actions are in progress — the capacity inputs. After each input the
agent's derived state is evaluated **once**: exactly one of Routable / NotRoutable is open per
Active media. Every Agent action is emitted again on the agent's Place.

State is a plain dict (JSON-serialisable) so a RocksDB-backed table can hold it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from pipeline.core.capacity import CapacityConfig
from pipeline.core.dedup import admit, remember
from pipeline.core.ids import IdStamper
from pipeline.core.ordering import instant_ends
from pipeline.records.catalog import ACTION_KINDS


@dataclass
class AgentResult:
    """What one stage-2 input produced. ``actions`` are always to be sent; ``duplicate`` says the
    input repeated an ``EventID`` and was dropped (count it): its ``actions`` then hold at most the
    Routable evaluation an earlier input of the instant left pending."""

    actions: list[dict] = field(default_factory=list)
    anomalies: list[str] = field(default_factory=list)
    duplicate: bool = False


def new_state(tenant: str, agent: str) -> dict:
    return {
        "tenant": tenant,
        "agent": agent,
        "logged_in": False,
        "place": None,
        "login_at": None,
        "dnd_since": None,
        "media": {},  # m -> {"active_since", "ready", "reason", "since", "route", "route_since"}
        "load": {},  # m -> [open offers, open Handling]
    }


class _AgentEmitter:
    """Emits agent-state actions (and mirrors every action on the Place)."""

    def __init__(self, state: dict, now: int, source_event: str, identity: str, result: AgentResult):
        self.state = state
        self.now = now
        self.source_event = source_event
        self.stamper = IdStamper(identity)
        self.result = result
        self.place_hint: str | None = None

    def place(self) -> str | None:
        return self.state["place"] or self.place_hint

    def emit(self, rec: dict) -> None:
        """Emit one agent action record on the Agent and on its Place.

        An interaction action keeps the place its party joined at (so a Handling that started at
        p1 also ends at p1 if the agent has moved since); agent state uses the current place.
        """
        rec["ObjectType"] = "Agent"
        rec["ObjectID"] = self.state["agent"]
        place = rec.get("PlaceID") or self.place()
        if place is not None:
            rec["PlaceID"] = place
        self.result.actions.append(self.stamper.stamp(rec))
        if place is None:
            self.result.anomalies.append("place-unknown")
            return
        mirror = dict(rec)
        mirror["ObjectType"] = "Place"
        mirror["ObjectID"] = place
        self.result.actions.append(self.stamper.stamp(mirror))

    def state_action(
        self,
        name: str,
        phase: str,
        media: str | None,
        since: int | None = None,
        reason: dict | None = None,
    ) -> None:
        rec: dict = {
            "Action": name,
            "Kind": ACTION_KINDS[name],
            "Phase": phase,
            "TenantID": self.state["tenant"],
            "EventTime": self.now,
            "SourceEvent": self.source_event,
            "AgentID": self.state["agent"],
        }
        if media is not None:
            rec["MediaTypeID"] = media
        if since is not None:
            rec["StartTime"] = since
            rec["DurationMs"] = self.now - since
        if reason:
            rec["Reason"] = dict(reason)
        self.emit(rec)


# --- media state primitives ---------------------------------------------------------------------


def _readiness_name(m: dict) -> str:
    return "Available" if m["ready"] else "Blocked"


def _open_media(state: dict, em: _AgentEmitter, media: str, ready: bool, reason: dict | None) -> None:
    m = {
        "active_since": em.now,
        "ready": ready,
        "reason": None if ready else (reason or None),
        "since": em.now,
        "route": None,
        "route_since": None,
    }
    state["media"][media] = m
    em.state_action("Active", "Start", media)
    em.state_action(_readiness_name(m), "Start", media, reason=m["reason"])


def _close_media(state: dict, em: _AgentEmitter, media: str) -> None:
    m = state["media"].pop(media)
    em.state_action(_readiness_name(m), "End", media, m["since"], m["reason"])
    if m["route"] is not None:
        em.state_action(m["route"], "End", media, m["route_since"])
    em.state_action("Active", "End", media, m["active_since"])


def _set_readiness(em: _AgentEmitter, media: str, m: dict, ready: bool, reason: dict | None) -> None:
    """Available ⇄ Blocked; a not-ready → not-ready change splits Blocked by reason."""
    if ready and m["ready"]:
        return
    em.state_action(_readiness_name(m), "End", media, m["since"], m["reason"])
    m["ready"] = ready
    m["reason"] = None if ready else (reason or None)
    m["since"] = em.now
    em.state_action(_readiness_name(m), "Start", media, reason=m["reason"])


def _ensure_active(state: dict, em: _AgentEmitter, media: str, event: dict, ready: bool) -> dict:
    """Reconstruct a media we never saw added (pipeline started mid-day): counted as an anomaly."""
    if not state["logged_in"]:
        em.result.anomalies.append("not-logged-in")
        _login(state, em, event)
    if media not in state["media"]:
        em.result.anomalies.append("media-not-active")
        _open_media(state, em, media, ready, event.get("Reason"))
    return state["media"][media]


def _login(state: dict, em: _AgentEmitter, event: dict) -> None:
    state["logged_in"] = True
    state["login_at"] = em.now
    if event.get("PlaceID"):
        state["place"] = event["PlaceID"]


def _set_dnd(state: dict, em: _AgentEmitter, on: bool) -> None:
    if on and state["dnd_since"] is None:
        state["dnd_since"] = em.now
        em.state_action("DoNotDisturb", "Start", None)
    elif not on and state["dnd_since"] is not None:
        em.state_action("DoNotDisturb", "End", None, state["dnd_since"])
        state["dnd_since"] = None


# --- agent events -------------------------------------------------------------------------------


def on_login(state: dict, event: dict, em: _AgentEmitter) -> None:
    if state["logged_in"]:
        em.result.anomalies.append("already-logged-in")
        if event.get("PlaceID") and event["PlaceID"] != state["place"]:
            # Moving to another place: close what ran at the old one, then start afresh.
            on_logout(state, event, em)
    _login(state, em, event)
    for entry in event.get("MediaList") or ():
        _media_added(state, em, entry["MediaTypeID"], bool(entry.get("Ready", False)), entry.get("Reason"))


def _media_added(state: dict, em: _AgentEmitter, media: str, ready: bool, reason: dict | None) -> None:
    m = state["media"].get(media)
    if m is None:
        _open_media(state, em, media, ready, reason)
        return
    em.result.anomalies.append("media-already-active")
    if ready != m["ready"] or (not ready and (reason or None) != m["reason"]):
        _set_readiness(em, media, m, ready, reason)


def on_media_added(state: dict, event: dict, em: _AgentEmitter) -> None:
    if not state["logged_in"]:
        em.result.anomalies.append("not-logged-in")
        _login(state, em, event)
    _media_added(state, em, event["MediaTypeID"], bool(event.get("Ready", False)), event.get("Reason"))


def on_media_removed(state: dict, event: dict, em: _AgentEmitter) -> None:
    media = event["MediaTypeID"]
    if media not in state["media"]:
        em.result.anomalies.append("media-not-active")
        return
    _close_media(state, em, media)


def on_not_ready(state: dict, event: dict, em: _AgentEmitter) -> None:
    media = event["MediaTypeID"]
    if media not in state["media"]:
        _ensure_active(state, em, media, event, ready=False)
        return
    _set_readiness(em, media, state["media"][media], False, event.get("Reason"))


def on_ready(state: dict, event: dict, em: _AgentEmitter) -> None:
    media = event["MediaTypeID"]
    if media not in state["media"]:
        _ensure_active(state, em, media, event, ready=True)
        return
    _set_readiness(em, media, state["media"][media], True, None)


def on_media_reason_changed(state: dict, event: dict, em: _AgentEmitter) -> None:
    media = event["MediaTypeID"]
    m = state["media"].get(media)
    if m is None:
        em.result.anomalies.append("media-not-active")
        return
    if not m["ready"] and (event.get("Reason") or None) != m["reason"]:
        _set_readiness(em, media, m, False, event.get("Reason"))


def on_agent_reason_changed(state: dict, event: dict, em: _AgentEmitter) -> None:
    """[ours] An agent-level reason change re-opens Blocked with that reason on every not-ready media."""
    reason = event.get("Reason") or None
    for media in sorted(state["media"]):
        m = state["media"][media]
        if not m["ready"] and reason != m["reason"]:
            _set_readiness(em, media, m, False, reason)


def on_dnd_on(state: dict, event: dict, em: _AgentEmitter) -> None:
    if not state["logged_in"]:
        em.result.anomalies.append("not-logged-in")  # DND exists only in a session: ignored
        return
    _set_dnd(state, em, True)


def on_dnd_off(state: dict, event: dict, em: _AgentEmitter) -> None:
    _set_dnd(state, em, False)


def on_logout(state: dict, event: dict, em: _AgentEmitter) -> None:
    if not state["logged_in"] and not state["media"] and state["dnd_since"] is None:
        em.result.anomalies.append("not-logged-in")
    for media in sorted(state["media"]):
        _close_media(state, em, media)
    _set_dnd(state, em, False)
    state["logged_in"] = False
    state["login_at"] = None


def on_snapshot(state: dict, event: dict, em: _AgentEmitter) -> None:
    """EventPlaceAgentState replaces what we knew: open/close actions so state equals the snapshot."""
    if not state["logged_in"]:
        _login(state, em, event)
    elif event.get("PlaceID") and event["PlaceID"] != state["place"]:
        on_logout(state, event, em)
        _login(state, em, event)
    wanted = {e["MediaTypeID"]: e for e in event.get("MediaList") or ()}
    for media in sorted(set(state["media"]) - set(wanted)):
        _close_media(state, em, media)
    for media, entry in wanted.items():
        ready, reason = bool(entry.get("Ready", False)), entry.get("Reason")
        m = state["media"].get(media)
        if m is None:
            _open_media(state, em, media, ready, reason)
        elif ready != m["ready"] or (not ready and (reason or None) != m["reason"]):
            _set_readiness(em, media, m, ready, reason)
    _set_dnd(state, em, bool(event.get("DoNotDisturb", False)))


_HANDLERS = {
    "EventAgentLogin": on_login,
    "EventAgentLogout": on_logout,
    "EventMediaAdded": on_media_added,
    "EventMediaRemoved": on_media_removed,
    "EventNotReadyForMedia": on_not_ready,
    "EventReadyForMedia": on_ready,
    "EventMediaStateReasonChanged": on_media_reason_changed,
    "EventAgentStateReasonChanged": on_agent_reason_changed,
    "EventDoNotDisturbOn": on_dnd_on,
    "EventDoNotDisturbOff": on_dnd_off,
    "EventPlaceAgentState": on_snapshot,
}


# --- capacity and Routable ----------------------------------------------------------------------


def _evaluate_routable(state: dict, em: _AgentEmitter, capacity: CapacityConfig) -> None:
    """Once per input: while media m is Active exactly one of Routable / NotRoutable is open."""
    if not state["media"]:
        return
    rule = capacity.rule_for(state["tenant"], state["agent"], state["place"])
    in_progress = {m: offers + handling for m, (offers, handling) in state["load"].items()}
    dnd = state["dnd_since"] is not None
    for media in sorted(state["media"]):
        m = state["media"][media]
        routable = m["ready"] and not dnd and rule.capacity_left(media, in_progress) > 0
        wanted = "Routable" if routable else "NotRoutable"
        if m["route"] == wanted:
            continue
        if m["route"] is not None:
            em.state_action(m["route"], "End", media, m["route_since"])
        m["route"] = wanted
        m["route_since"] = em.now
        em.state_action(wanted, "Start", media)


def _apply_event(state: dict, event: dict, result: AgentResult) -> _AgentEmitter | None:
    identity = admit(state, event)
    if identity is None:
        result.duplicate = True
        return None
    em = _AgentEmitter(state, event["EventTime"], event["Event"], identity, result)
    em.place_hint = event.get("PlaceID")
    _HANDLERS[event["Event"]](state, event, em)
    return em


_LOAD_INDEX = {"Delivering": 0, "Handling": 1}


def _apply_bundle(state: dict, bundle: dict, result: AgentResult) -> _AgentEmitter:
    em = _AgentEmitter(state, bundle["EventTime"], bundle["SourceEvent"], bundle["Identity"], result)
    em.place_hint = bundle.get("PlaceID")
    for action in bundle["Actions"]:
        index = _LOAD_INDEX.get(action["Action"])
        media = action.get("MediaTypeID")
        if index is not None and media is not None:
            load = state["load"].setdefault(media, [0, 0])
            if action["Phase"] == "Start":
                load[index] += 1
            elif load[index] > 0:
                load[index] -= 1
            else:
                result.anomalies.append("load-underflow")
            if load == [0, 0]:
                del state["load"][media]
        em.emit(dict(action))
    return em


def apply_input(
    state: dict | None, item: dict, capacity: CapacityConfig, evaluate: bool = True
) -> tuple[dict, AgentResult]:
    """Stage 2's one entry point: an agent event, or a bundle from stage 1 (it has ``Actions``).

    Routable / NotRoutable is evaluated once after the input — or, with ``evaluate=False``, once
    after the last input of the same instant (the caller passes ``evaluate=True`` there): several
    events in one millisecond then never produce a zero-length Routable or NotRoutable [ours]. The
    pending evaluation is kept in the state (``_eval``), so it survives a restart between inputs.
    """
    if state is None:
        state = new_state(item["TenantID"], item["AgentID"])
    result = AgentResult()
    if "Actions" in item:
        em = _apply_bundle(state, item, result)
    else:
        em = _apply_event(state, item, result)
    if em is not None:
        state["_eval"] = [em.now, em.source_event, em.stamper.identity]
    if evaluate:
        evaluate_pending(state, capacity, result, em)
    return state, result


def evaluation_points(items: list[dict], state_of: Callable[[dict], dict | None]) -> list[bool]:
    """For each input of a released stage-2 batch: evaluate Routable / NotRoutable after it?

    After the agent's last input of each instant (``ordering.instant_ends``) — not counting repeats
    (same ``EventID``), which :func:`apply_input` drops: a repeat that was the last input of its
    instant would otherwise take the evaluation away from the input it repeats and emit it later,
    or (a caller that discards a duplicate's result) lose it, leaving an End without its Start.
    Repeats are found with the same rule as ``admit``, run ahead on copies of each agent's recent
    ids (``state_of`` gives an item's agent state, ``None`` if new), so nothing is changed here.
    Both replay's driver and the stage-2 worker release batches through this one function.
    """
    recent: dict[tuple[str, str], list[str]] = {}
    repeats: list[bool] = []
    for item in items:
        eid = None if "Actions" in item else item.get("EventID")
        if not eid:
            repeats.append(False)
            continue
        key = (item["TenantID"], item["AgentID"])
        if key not in recent:
            recent[key] = list((state_of(item) or {}).get("ids", ()))
        repeats.append(remember(recent[key], eid))
    return instant_ends(items, repeats)


def evaluate_pending(
    state: dict, capacity: CapacityConfig, result: AgentResult, em: _AgentEmitter | None = None
) -> AgentResult:
    """Run the Routable / NotRoutable evaluation the last applied input left pending (if any)."""
    if state.get("_eval"):
        now, source_event, identity = state.pop("_eval")
        if em is None or em.now != now:
            em = _AgentEmitter(state, now, source_event, identity, result)
        _evaluate_routable(state, em, capacity)
    return result
