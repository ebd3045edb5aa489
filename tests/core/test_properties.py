"""Property tests: random but realistic days of several agents, checked against the action model.

``days()`` is a stateful generator: it keeps a model of agents (logged in, media, readiness, DND)
and interactions (queue/workbin, open offers, parties) and only draws steps a real Interaction
Server could report next — e.g. it invites only logged-in agents with that media active, accepts
only open offers, has a transfer's inviter leave after the accept, revokes an agent's open offers
when it logs out, and never lets an agent log out while an offer it made is still open.

"Interaction ending" (allowed on an agent between its logout and its next login), from actions.md
§1: whatever closes something the agent already had — the End of Delivering / Handling / its typed
twin, StoppedInbound/Outbound/Internal, Revoked, Rejected and InteractionAbandonedDuringOffering.
Accepted is *not* an ending: it opens Handling, which a logged-out agent cannot do. Agent-state
actions (Active, Available, Blocked, Routable, NotRoutable, DoNotDisturb) all end at the logout.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from pipeline.core.driver import CoreDriver
from pipeline.records.catalog import AGENT_EVENTS, AGENT_STATE_ACTIONS, DURABLE
from tests.core.builders import Day
from tests.hashseed import OtherInterpreter

AGENTS = ("a1", "a2", "a3", "a4")
PLACE = {a: "p" + a[1:] for a in AGENTS}
MEDIA = ("email", "chat")
QUEUES = ("q1", "q2")
STEPS_MS = (0, 1, 300, 1500, 2500, 20_000, 300_000)
REASONS = ({"ReasonCode": "Lunch"}, {"ReasonCode": "Break"}, {"ReasonCode": "Admin"})

ENDINGS = frozenset(
    {
        ("Delivering", "End"),
        ("Handling", "End"),
        ("HandlingInbound", "End"),
        ("HandlingOutbound", "End"),
        ("HandlingInternal", "End"),
        ("StoppedInbound", None),
        ("StoppedOutbound", None),
        ("StoppedInternal", None),
        ("Revoked", None),
        ("Rejected", None),
        ("InteractionAbandonedDuringOffering", None),
    }
)
#: Momentary actions on the inviter when an invited party joins: they may come after the inviter
#: logged out, when the invitation was made before.
INVITATION_OUTCOMES = frozenset({"TransferMade", "ConferenceMade", "BeingCoached"})


@dataclass
class Agent:
    logged_in: bool = False
    media: dict[str, bool] = field(default_factory=dict)  # media -> ready
    dnd: bool = False


@dataclass
class Ixn:
    iid: str
    media: str
    itype: str = "Inbound"
    queue: str | None = None
    workbin: bool = False
    offers: dict[str, tuple[str, str | None]] = field(default_factory=dict)  # agent -> (kind, inviter)
    parties: dict[str, dict[str, Any]] = field(default_factory=dict)  # agent -> {vis, pulled, seq}
    stopped: bool = False


class World:
    """The model and the event log; each ``step_*`` appends the events of one realistic step."""

    def __init__(self, draw: Any, with_ids: bool) -> None:
        self.draw = draw
        self.with_ids = with_ids
        self.day = Day()
        self.t = 0
        self.events: list[dict] = []
        self.agents = {a: Agent() for a in AGENTS}
        self.ixns: list[Ixn] = []
        self.seq = 0

    # -- helpers -------------------------------------------------------------------------------------

    def emit(self, event: dict) -> None:
        if self.with_ids:
            event = {**event, "EventID": f"e{len(self.events)}"}
        self.events.append(event)

    def pick(self, options: list[Any]) -> Any:
        return self.draw(st.sampled_from(options))

    def flag(self) -> bool:
        return self.draw(st.booleans())

    def live(self) -> list[Ixn]:
        return [i for i in self.ixns if not i.stopped]

    def free_agents(self, ixn: Ixn) -> list[str]:
        """Logged-in agents with the interaction's media, not offered it and not a party of it."""
        return [
            a
            for a, s in self.agents.items()
            if s.logged_in and ixn.media in s.media and a not in ixn.offers and a not in ixn.parties
        ]

    def handling(self, ixn: Ixn) -> list[str]:
        return sorted(
            (a for a, p in ixn.parties.items() if p["vis"] != "Monitor"), key=lambda a: ixn.parties[a]["seq"]
        )

    def all_parties_in(self, ixn: Ixn) -> bool:
        return all(self.agents[a].logged_in for a in ixn.parties)

    def join(self, ixn: Ixn, agent: str, vis: str | None = None, pulled: bool = False) -> None:
        self.seq += 1
        ixn.parties[agent] = {"vis": vis, "pulled": pulled, "seq": self.seq}

    def leave_all(self, ixn: Ixn) -> None:
        for agent in list(ixn.parties):
            self.emit(self.day.removed(ixn.iid, agent))
        ixn.parties.clear()

    # -- agent steps ---------------------------------------------------------------------------------

    def step_login(self) -> bool:
        out = [a for a, s in self.agents.items() if not s.logged_in]
        if not out:
            return False
        agent = self.pick(out)
        media = self.draw(st.lists(st.sampled_from(MEDIA), min_size=1, max_size=2, unique=True))
        spec = {m: (True if self.flag() else (False, self.pick(list(REASONS)))) for m in media}
        self.emit(self.day.login(agent, PLACE[agent], media=spec))
        self.agents[agent] = Agent(True, {m: v is True for m, v in spec.items()})
        return True

    def step_logout(self) -> bool:
        def may_leave(a: str) -> bool:
            return self.agents[a].logged_in and not any(a in i.parties and i.offers for i in self.live())

        candidates = [a for a in AGENTS if may_leave(a)]
        if not candidates:
            return False
        agent = self.pick(candidates)
        self.emit(self.day.logout(agent))
        self.agents[agent] = Agent()
        for ixn in self.live():
            if agent in ixn.offers:
                del ixn.offers[agent]
                self.emit(self.day.revoked(ixn.iid, agent))
        return True

    def step_media(self) -> bool:
        logged = [a for a, s in self.agents.items() if s.logged_in]
        if not logged:
            return False
        agent = self.pick(logged)
        s = self.agents[agent]
        kind = self.pick(["add", "remove", "ready", "not-ready", "reason", "dnd"])
        media = self.pick(list(MEDIA))
        if kind == "dnd":
            s.dnd = not s.dnd
            self.emit(self.day.dnd_on(agent) if s.dnd else self.day.dnd_off(agent))
        elif kind == "add" and media not in s.media:
            ready = self.flag()
            self.emit(self.day.media_added(agent, media, ready, None if ready else self.pick(list(REASONS))))
            s.media[media] = ready
        elif kind == "remove" and media in s.media:
            self.emit(self.day.media_removed(agent, media))
            del s.media[media]
        elif kind == "ready" and media in s.media and not s.media[media]:
            self.emit(self.day.ready(agent, media))
            s.media[media] = True
        elif kind == "not-ready" and media in s.media:
            self.emit(self.day.not_ready(agent, media, self.pick(list(REASONS))))
            s.media[media] = False
        elif kind == "reason" and media in s.media and not s.media[media]:
            self.emit(self.day.media_reason(agent, media, self.pick(list(REASONS))))
        else:
            return False
        return True

    # -- interaction steps ---------------------------------------------------------------------------

    def step_new(self) -> bool:
        iid = f"i{len(self.ixns) + 1}"
        media = self.pick(list(MEDIA))
        ixn = Ixn(iid, media)
        creators = [a for a, s in self.agents.items() if s.logged_in and media in s.media]
        if creators and self.flag():
            agent = self.pick(creators)
            ixn.itype = self.pick(["Outbound", "Internal"])
            parent = self.pick([None, *(i.iid for i in self.ixns)]) if ixn.itype == "Outbound" else None
            self.emit(self.day.submitted(iid, media, itype=ixn.itype, agent=agent, parent=parent))
            self.emit(self.day.added(iid, agent, operation=self.pick([None, "Submit"])))
            self.join(ixn, agent)
        else:
            ixn.queue = self.pick([None, *QUEUES])
            self.emit(self.day.submitted(iid, media, queue=ixn.queue, itype="Inbound"))
        self.ixns.append(ixn)
        return True

    def step_route(self) -> bool:
        ready = [
            i for i in self.live() if not i.parties and not i.offers and not i.workbin and self.free_agents(i)
        ]
        if not ready:
            return False
        ixn = self.pick(ready)
        agent = self.pick(self.free_agents(ixn))
        if ixn.queue is not None:
            self.emit(self.day.taken(ixn.iid, ixn.queue, by_agent=agent if self.flag() else None))
            ixn.queue = None
        self.emit(self.day.invite(ixn.iid, agent, operation=self.pick([None, "Route"])))
        ixn.offers[agent] = ("Route", None)
        return True

    def step_invite_more(self) -> bool:
        """Transfer, conference or coaching request from the agents handling it."""
        options = [
            i for i in self.live() if self.handling(i) and self.all_parties_in(i) and self.free_agents(i)
        ]
        if not options:
            return False
        ixn = self.pick(options)
        agent = self.pick(self.free_agents(ixn))
        kind = self.pick(["Transfer", "Conference", "CoachRequest"])
        inviter = self.handling(ixn)[-1]
        if kind == "Transfer":
            op, vis = self.pick([(None, None), ("Transfer", None)])
        elif kind == "Conference":
            op, vis = self.pick([(None, "Conference"), ("Conference", None), ("Conference", "Conference")])
        else:
            op, vis = self.pick([(None, "Coach"), ("CoachRequest", "Coach")])
        self.emit(self.day.invite(ixn.iid, agent, operation=op, visibility=vis))
        ixn.offers[agent] = (kind, inviter)
        return True

    def step_answer(self) -> bool:
        offers = [(i, a) for i in self.live() for a in i.offers]
        if not offers:
            return False
        ixn, agent = self.pick(offers)
        answer = self.pick(["accept", "accept", "reject", "revoke"])
        kind, inviter = ixn.offers.pop(agent)
        if answer == "accept":
            self.emit(self.day.added(ixn.iid, agent))
            self.join(ixn, agent, "Coach" if kind == "CoachRequest" else None)
            if kind == "Transfer" and inviter in ixn.parties:
                self.emit(self.day.removed(ixn.iid, inviter))
                del ixn.parties[inviter]
        elif answer == "reject":
            self.emit(self.day.rejected(ixn.iid, agent, self.pick([None, *REASONS])))
        else:
            self.emit(self.day.revoked(ixn.iid, agent))
        return True

    def step_pull(self) -> bool:
        options = [
            i
            for i in self.live()
            if (i.queue or i.workbin) and not i.parties and not i.offers and self.free_agents(i)
        ]
        if not options:
            return False
        ixn = self.pick(options)
        agent = self.pick(self.free_agents(ixn))
        if ixn.queue is not None:
            self.emit(self.day.taken(ixn.iid, ixn.queue, by_agent=agent, ViewID="v1"))
            ixn.queue = None
        else:
            self.emit(self.day.workbin_taken(ixn.iid, "draft", by_agent=agent))
            ixn.workbin = False
        self.emit(self.day.added(ixn.iid, agent, operation=self.pick([None, "Pull"])))
        self.join(ixn, agent, pulled=True)
        return True

    def step_intrude(self) -> bool:
        options = [
            i for i in self.live() if self.handling(i) and self.all_parties_in(i) and self.free_agents(i)
        ]
        if not options:
            return False
        ixn = self.pick(options)
        agent = self.pick(self.free_agents(ixn))
        vis = self.pick(["Monitor", "Coach", "Conference"])
        self.emit(self.day.added(ixn.iid, agent, operation=self.pick([None, "Intrude"]), visibility=vis))
        self.join(ixn, agent, vis)
        return True

    def step_leave(self) -> bool:
        options = [(i, a) for i in self.live() for a in i.parties]
        if not options:
            return False
        ixn, agent = self.pick(options)
        if ixn.parties[agent]["pulled"] and self.flag():
            self.emit(self.day.revoked(ixn.iid, agent))  # keep-alive expired
        else:
            self.emit(self.day.removed(ixn.iid, agent))
        del ixn.parties[agent]
        return True

    def step_park(self) -> bool:
        """Back to a queue (or on to another queue), or into a workbin."""
        options = [i for i in self.live() if not i.offers and (i.parties or i.queue)]
        if not options:
            return False
        ixn = self.pick(options)
        if ixn.queue is not None:
            target = self.pick([q for q in QUEUES if q != ixn.queue])
            self.emit(self.day.queued(ixn.iid, target, previous=ixn.queue))
            ixn.queue = target
        elif self.flag():
            self.leave_all(ixn)
            ixn.queue = self.pick(list(QUEUES))
            self.emit(self.day.queued(ixn.iid, ixn.queue))
        else:
            self.leave_all(ixn)
            self.emit(self.day.workbin_placed(ixn.iid, "draft"))
            ixn.workbin = True
        return True

    def step_stop(self) -> bool:
        options = self.live()
        if not options:
            return False
        ixn = self.pick(options)
        if self.flag():
            self.leave_all(ixn)
        self.emit(self.day.stopped(ixn.iid))
        ixn.stopped, ixn.offers, ixn.parties, ixn.queue = True, {}, {}, None
        return True

    def step_noise(self) -> bool:
        options = self.live()
        if not options:
            return False
        ixn = self.pick(options)
        kind = self.pick(["props", "held", "resumed", "custom"])
        if kind == "props":
            self.emit(self.day.properties(ixn.iid, added={"k": str(self.t)}))
        elif kind == "custom":
            self.emit(self.day.custom(InteractionID=ixn.iid))
        else:
            self.emit(self.day.held(ixn.iid) if kind == "held" else self.day.resumed(ixn.iid))
        return True

    STEPS = (
        *["login"] * 2,
        "logout",
        *["media"] * 2,
        *["new"] * 3,
        *["route"] * 3,
        *["invite_more"] * 3,
        *["answer"] * 4,
        *["pull"] * 2,
        *["intrude"] * 2,
        *["leave"] * 2,
        *["park"] * 2,
        *["stop"] * 2,
        "noise",
    )

    def run(self, n: int) -> None:
        for _ in range(n):
            self.t += self.pick(list(STEPS_MS))
            self.day.now = self.day.t0 + self.t
            getattr(self, "step_" + self.pick(list(self.STEPS)))()


@st.composite
def days(draw: Any, with_ids: bool | None = None) -> World:
    """A random day; ``with_ids`` fixes whether its events carry an ``EventID`` (drawn if ``None``)."""
    world = World(draw, with_ids=draw(st.booleans()) if with_ids is None else with_ids)
    world.run(draw(st.integers(min_value=10, max_value=80)))
    return world


SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def identity(a: dict) -> tuple:
    subject = a.get("MediaTypeID") if a["Action"] in AGENT_STATE_ACTIONS else a.get("InteractionID")
    return (a["ObjectType"], a["ObjectID"], a["Action"], subject)


def assert_durables_pair_up(actions: list[dict]) -> None:
    """Every durable End (Agent, Place, Queue...) closes an earlier Start of the same thing, with its
    duration; a Start never opens what is already open."""
    open_: dict[tuple, dict] = {}
    for a in actions:
        if a["Kind"] != DURABLE:
            continue
        key = identity(a)
        if a["Phase"] == "Start":
            assert key not in open_, f"second Start while open: {a}"
            open_[key] = a
        else:
            start = open_.pop(key, None)
            assert start is not None, f"End without an open Start: {a}"
            assert a["StartTime"] == start["EventTime"]
            assert a["DurationMs"] == a["EventTime"] - start["EventTime"] >= 0


# --- properties ---------------------------------------------------------------------------------


@SETTINGS
@given(days())
def test_realistic_input_has_no_anomalies(world: World) -> None:
    driver = CoreDriver()
    driver.push_all(world.events)
    assert not driver.anomalies
    assert driver.counters["late"] == 0 and driver.counters["duplicates"] == 0


@SETTINGS
@given(days())
def test_durable_starts_and_ends_pair_up_with_their_duration(world: World) -> None:
    assert_durables_pair_up(CoreDriver().push_all(world.events))


@SETTINGS
@given(days())
def test_agent_state_exclusivity_and_only_while_active(world: World) -> None:
    actions = CoreDriver().push_all(world.events)
    open_: dict[tuple[str, str], set[str]] = defaultdict(set)
    for a in actions:
        if (
            a["ObjectType"] != "Agent"
            or a["Action"] not in AGENT_STATE_ACTIONS
            or a["Action"] == "DoNotDisturb"
        ):
            continue
        states = open_[(a["ObjectID"], a["MediaTypeID"])]
        name = a["Action"]
        if a["Phase"] == "End":
            if name == "Active":
                assert states == {"Active"}, f"{a}: still open {states}"
            states.discard(name)
            continue
        if name != "Active":
            assert "Active" in states, f"{a} while the media is not Active"
        partner = {
            "Available": "Blocked",
            "Blocked": "Available",
            "Routable": "NotRoutable",
            "NotRoutable": "Routable",
        }.get(name)
        assert partner not in states and name not in states, f"{a}: already open {states}"
        states.add(name)
    for (agent, media), states in open_.items():
        if "Active" in states:
            assert len(states & {"Available", "Blocked"}) == 1, (agent, media, states)
            assert len(states & {"Routable", "NotRoutable"}) == 1, (agent, media, states)
            s = world.agents[agent]
            load = sum(
                1
                for i in world.live()
                if i.media == media
                and (agent in i.offers or (agent in i.parties and i.parties[agent]["vis"] != "Monitor"))
            )
            expected = "Routable" if s.media[media] and not s.dnd and load == 0 else "NotRoutable"
            assert expected in states, (agent, media, states, s, load)


@SETTINGS
@given(days())
def test_after_logout_only_interaction_endings_until_the_next_login(world: World) -> None:
    actions = CoreDriver().push_all(world.events)
    gaps: dict[str, list[tuple[int, float]]] = defaultdict(list)
    out_since: dict[str, int] = {}
    for e in world.events:
        if e["Event"] == "EventAgentLogout":
            out_since[e["AgentID"]] = e["EventTime"]
        elif e["Event"] == "EventAgentLogin" and e["AgentID"] in out_since:
            gaps[e["AgentID"]].append((out_since.pop(e["AgentID"]), e["EventTime"]))
    for agent, since in out_since.items():
        gaps[agent].append((since, float("inf")))
    invited_at: dict[str, list[int]] = defaultdict(list)  # interaction → times of its invitations
    for e in world.events:
        if e["Event"] == "EventAgentInvited":
            invited_at[e["InteractionID"]].append(e["EventTime"])
    for a in actions:
        owner = a["ObjectID"] if a["ObjectType"] == "Agent" else a.get("AgentID")
        if a["ObjectType"] == "Queue" or owner not in gaps:
            continue
        for lo, hi in gaps[owner]:
            if lo < a["EventTime"] < hi:
                if a["Action"] in INVITATION_OUTCOMES:
                    # The outcome of an invitation the agent made before logging out: the invited
                    # party joined later (docs/actions-rules.md, "Logout").
                    assert any(t <= lo for t in invited_at[a["InteractionID"]]), (
                        f"{a['Action']} on logged-out {owner} without an earlier invitation"
                    )
                    continue
                assert (a["Action"], a["Phase"]) in ENDINGS, (
                    f"{a['Action']} {a['Phase']} on logged-out {owner}"
                )


@SETTINGS
@given(world=days())
def test_same_input_same_output_across_hash_seeds_and_unique_action_ids(
    world: World, other_interpreter: OtherInterpreter
) -> None:
    """One side runs in a child with another PYTHONHASHSEED: set or hash order cannot hide."""
    events = list(world.events)
    other_interpreter.assert_same_as_here("tests.determinism:core_actions", events)
    ids = [a["ActionID"] for a in CoreDriver().push_all(events)]
    assert len(ids) == len(set(ids))


# About half of the generated days have two agent events close enough to swap; the rest are
# discarded by assume(), which hypothesis's filter health check would otherwise report.
@settings(SETTINGS, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(days(), st.data())
def test_agent_events_swapped_within_the_window_change_nothing(world: World, data: st.DataObject) -> None:
    events = list(world.events)
    swappable = [
        k
        for k in range(len(events) - 1)
        if events[k]["Event"] in AGENT_EVENTS
        and events[k + 1]["Event"] in AGENT_EVENTS
        and 0 < events[k + 1]["EventTime"] - events[k]["EventTime"] < 2000
    ]
    assume(swappable)  # a day with no two agent events close together has nothing to swap
    chosen = data.draw(st.lists(st.sampled_from(swappable), unique=True, min_size=1, max_size=5))
    shuffled = list(events)
    for k in sorted(chosen):
        if shuffled[k] is events[k] and shuffled[k + 1] is events[k + 1]:
            shuffled[k], shuffled[k + 1] = shuffled[k + 1], shuffled[k]
    driver = CoreDriver()
    assert driver.push_all(shuffled) == CoreDriver().push_all(events)
    assert driver.counters["late"] == 0
