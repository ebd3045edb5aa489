"""A contact-centre simulator: a realistic, reproducible stream of reporting events.

It plays an Interaction Server for a centre of agents in groups, with supervisors: agents log in
with some of email, chat, SMS and workitems, go not ready with a reason and back, go DND; customer
interactions arrive in queues and are offered to free agents, who accept, reject or let the offer
time out (or the customer leaves while it is offered, or while it waits); accepted work is handled
and finished, sometimes transferred or conferenced first, answered with a reply, or helped by a
supervisor (coaching on request, monitoring, coaching or conference by intrusion); workitems also
wait in a workbin until an agent pulls them, and agents start internal collaborations.

Two promises the rest of the product relies on, at every size:

* **Time order**: events come out in non-decreasing ``EventTime`` (one clock; a job is never
  scheduled before the present), so a replay or the pipeline sees no late input.
* **Login first**: an agent takes part in nothing (state change, offer, party) unless logged in,
  and logs out only once it holds no work, so replay reports no ``not-logged-in`` anomaly.

Every seed action (the Stat Server media-channel action list) occurs within the first ten
simulated minutes whatever the seed: each kind of scenario is *wanted* until it has happened once,
and a wanted scenario is chosen at the first chance it has; after that, scenarios are drawn at
their usual rates. Same seed → same events.

``mediastat simulate --live`` sends the events to Kafka as they happen, stamped with the wall
clock, ``--speed X`` times faster than life; without ``--live`` it writes a file of a simulated day.
The simulator keeps its own simple view of who is free; it does not use the core (it is the core's
input, not its oracle).
"""

from __future__ import annotations

import argparse
import heapq
import json
import random
import signal
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from pipeline.records.times import parse_time, to_iso

MEDIA: tuple[str, ...] = ("email", "chat", "sms", "workitem")
GROUPS: tuple[str, ...] = ("Sales", "Support", "Billing")
REASONS: tuple[str, ...] = ("Break", "Lunch", "Training", "Meeting")
#: Handling time (seconds, low–high) per media.
HANDLE_S: dict[str, tuple[int, int]] = {
    "email": (90, 360),
    "chat": (60, 300),
    "sms": (20, 150),
    "workitem": (120, 480),
}
#: Scenario kinds; each is wanted until it has happened once (see the module docstring).
SCENARIOS: tuple[str, ...] = (
    "dnd",
    "not-ready",
    "reject",
    "timeout",
    "abandon-offered",
    "abandon-waiting",
    "transfer",
    "conference",
    "coach-request",
    "monitor",
    "coach-intrude",
    "conference-intrude",
    "reply",
    "internal",
    "pull",
)
MINUTE = 60_000


@dataclass
class Agent:
    id: str
    place: str
    group: str | None
    media: list[str]
    supervisor: bool = False
    ready: dict[str, bool] = field(default_factory=dict)
    busy: dict[str, int] = field(default_factory=dict)  # media -> offers + parties in progress
    logged_in: bool = False
    logging_out: bool = False
    dnd: bool = False
    away: bool = False  # a not-ready or DND spell is running

    def load(self) -> int:
        return sum(self.busy.values())


@dataclass(order=True)
class _Job:
    at: int
    seq: int
    kind: str = field(compare=False)
    data: dict = field(compare=False, default_factory=dict)


@dataclass
class _Ixn:
    id: str
    media: str
    queue: str | None
    itype: str = "Inbound"
    owner: Agent | None = None
    offered: Agent | None = None
    guests: list[Agent] = field(default_factory=list)  # conference or supervisor parties
    waiting: bool = False
    in_workbin: bool = False
    busy_helping: bool = False  # a transfer/conference/supervisor join is under way
    gone: bool = False
    tried: list[str] = field(default_factory=list)
    parent: str | None = None


class Simulator:
    """Events of a contact centre, one generator; ``hours=None`` runs for ever (live)."""

    def __init__(
        self,
        agents: int = 50,
        hours: float | None = 8.0,
        per_hour: float = 600.0,
        seed: int = 7,
        tenant: str = "t1",
        start: str | int = "2026-03-02T08:00:00Z",
        media: tuple[str, ...] = MEDIA,
        supervisors: int | None = None,
    ) -> None:
        self.rng = random.Random(seed)
        self.tenant = tenant
        self.start = start if isinstance(start, int) else parse_time(start)
        self.end = None if hours is None else self.start + int(hours * 3_600_000)
        self.per_hour = per_hour
        self.media = media
        self.now = self.start
        n_sup = supervisors if supervisors is not None else max(1, min(len(GROUPS), agents // 10))
        self.agents = [self._new_agent(n) for n in range(1, agents + 1)]
        self.supervisors = [
            Agent(f"sup{n:02d}", f"sp{n:02d}", None, list(media), supervisor=True)
            for n in range(1, n_sup + 1)
        ]
        self._jobs: list[_Job] = []
        self._seq = 0
        self._ixn = 0
        self._queues: dict[str, list[_Ixn]] = {m: [] for m in media}
        self._workbin: list[_Ixn] = []
        self._wanted: list[str] = list(SCENARIOS)
        self._dispatch_at: int | None = None
        self._open_ixns: dict[str, _Ixn] = {}  # not finished yet (for a clean close)
        self._handled: dict[str, _Ixn] = {}  # inbound interactions in hand, for supervisors to join

    def _new_agent(self, n: int) -> Agent:
        media = [m for m in self.media if self.rng.random() < 0.6]
        first = self.media[(n - 1) % len(self.media)]  # every media has agents at any size
        if first not in media:
            media.insert(0, first)
        group = GROUPS[(n - 1) % len(GROUPS)]
        return Agent(f"a{n:03d}", f"p{n:03d}", group, media)

    @property
    def groups(self) -> dict[str, list[str]]:
        """GroupAgents membership of the simulated centre (for the worker's configuration)."""
        out: dict[str, list[str]] = {g: [] for g in GROUPS}
        for agent in self.agents:
            out[agent.group].append(agent.id)
        return out

    # -- plumbing ------------------------------------------------------------------------------

    def _at(self, at: int, kind: str, **data) -> None:
        """Schedule a job; never before the present, which keeps the output in time order."""
        at = max(at, self.now)
        if kind == "dispatch":  # one pending dispatch serves every request up to its time
            if self._dispatch_at is not None and self.now <= self._dispatch_at <= at:
                return
            self._dispatch_at = at
        self._seq += 1
        heapq.heappush(self._jobs, _Job(at, self._seq, kind, data))

    def _event(self, name: str, **fields) -> dict:
        ev = {"Event": name, "EventTime": to_iso(self.now), "TenantID": self.tenant}
        ev.update({k: v for k, v in fields.items() if v is not None})
        return ev

    def _want(self, scenario: str, p: float) -> bool:
        return scenario in self._wanted or self.rng.random() < p

    def _done(self, scenario: str) -> None:
        if scenario in self._wanted:
            self._wanted.remove(scenario)

    @property
    def open(self) -> bool:
        return self.end is None or self.now < self.end

    def events(self) -> Iterator[dict]:
        """The events, in time order (for ever when ``hours`` is None)."""
        everyone = self.supervisors + self.agents
        spread = min(20_000, max(1, len(everyone)) * 500)  # everyone is in within 20 s
        for agent in everyone:
            self._at(self.start + self.rng.randint(0, spread), "login", agent=agent)
        self._at(self.start + 20_000, "arrive")
        self._at(self.start + 30_000, "supervise")
        self._at(self.start + 15_000, "backoffice")
        while self._jobs:
            job = heapq.heappop(self._jobs)
            self.now = job.at
            yield from getattr(self, "_" + job.kind)(**job.data)

    # -- agents --------------------------------------------------------------------------------

    def _end(self, ixn: _Ixn) -> None:
        ixn.gone = True
        self._open_ixns.pop(ixn.id, None)

    def close(self) -> Iterator[dict]:
        """Closing time now: every open interaction stopped, everyone logged out, nothing left to do.

        ``--live`` ends with it on Ctrl-C, so the next run starts from a centre with no agent
        logged in and no interaction in flight instead of one frozen mid-work.
        """
        self._jobs.clear()
        for ixn in list(self._open_ixns.values()):
            base = {"InteractionID": ixn.id, "MediaTypeID": ixn.media}
            for party in [*ixn.guests, *([ixn.owner] if ixn.owner is not None else [])]:
                yield self._event("EventPartyRemoved", **base, PartyType="Agent", **self._agent_fields(party))
                party.busy.clear()
            yield self._event("EventProcessingStopped", **base, Reason={"StopReason": "Closing"})
            if ixn.offered is not None:
                ixn.offered.busy.clear()
            self._end(ixn)
        for agent in self.supervisors + self.agents:
            if agent.logged_in:
                agent.logged_in = False
                yield self._event("EventAgentLogout", **self._agent_fields(agent))

    def _agent_fields(self, agent: Agent) -> dict:
        return {"AgentID": agent.id, "PlaceID": agent.place}

    def _login(self, agent: Agent) -> Iterator[dict]:
        agent.logged_in = True
        media_list = []
        for m in agent.media:
            agent.ready[m] = not agent.supervisor and self.rng.random() < 0.9
            entry: dict = {"MediaTypeID": m, "Ready": agent.ready[m]}
            if not agent.ready[m]:
                entry["Reason"] = {"ReasonCode": "Supervising" if agent.supervisor else "Admin"}
            media_list.append(entry)
        yield self._event("EventAgentLogin", **self._agent_fields(agent), MediaList=media_list)
        if self.end is not None:
            self._at(self.end, "logout", agent=agent)
        if agent.supervisor:
            return
        if not all(agent.ready.values()):
            self._at(self.now + self.rng.randint(20_000, 120_000), "resume", agent=agent, media=None)
            agent.away = True
        self._at(self.now + self.rng.randint(30_000, 240_000), "pause", agent=agent)
        self._at(self.now + 1, "dispatch")

    def _pause(self, agent: Agent) -> Iterator[dict]:
        if not agent.logged_in or agent.logging_out or not self.open:
            return
        if agent.away:
            self._at(self.now + self.rng.randint(60_000, 600_000), "pause", agent=agent)
            return
        agent.away = True
        if self._want("dnd", 0.2) and agent.load() == 0:
            self._done("dnd")
            agent.dnd = True
            yield self._event("EventDoNotDisturbOn", **self._agent_fields(agent))
            self._at(self.now + self.rng.randint(30_000, 240_000), "resume", agent=agent, media=None)
        else:
            self._done("not-ready")
            m = self.rng.choice(agent.media)
            agent.ready[m] = False
            reason = {"ReasonCode": self.rng.choice(REASONS)}
            yield self._event(
                "EventNotReadyForMedia", **self._agent_fields(agent), MediaTypeID=m, Reason=reason
            )
            self._at(self.now + self.rng.randint(60_000, 600_000), "resume", agent=agent, media=m)
        self._at(self.now + self.rng.randint(300_000, 1_800_000), "pause", agent=agent)

    def _resume(self, agent: Agent, media: str | None) -> Iterator[dict]:
        """End a not-ready or DND spell (``media`` None: DND, or every media not ready at login)."""
        if not agent.logged_in:
            return
        agent.away = False
        if media is None and agent.dnd:
            agent.dnd = False
            yield self._event("EventDoNotDisturbOff", **self._agent_fields(agent))
        for m in [media] if media is not None else agent.media:
            if not agent.ready.get(m, True):
                agent.ready[m] = True
                yield self._event("EventReadyForMedia", **self._agent_fields(agent), MediaTypeID=m)
        self._at(self.now + 1, "dispatch")

    def _logout(self, agent: Agent) -> Iterator[dict]:
        if not agent.logged_in:
            return
        agent.logging_out = True
        if agent.load() > 0:  # finish the work in hand first
            self._at(self.now + 15_000, "logout", agent=agent)
            return
        agent.logged_in = False
        yield self._event("EventAgentLogout", **self._agent_fields(agent))

    def _free(self, agent: Agent, media: str) -> bool:
        return (
            agent.logged_in
            and not agent.logging_out
            and not agent.dnd
            and media in agent.media
            and agent.ready.get(media, False)
            and agent.busy.get(media, 0) == 0
        )

    # -- customer interactions -----------------------------------------------------------------

    def _new_id(self) -> str:
        self._ixn += 1
        return f"i{self._ixn:07d}"

    def _arrive(self) -> Iterator[dict]:
        if not self.open:
            return
        self._at(self.now + max(1, int(self.rng.expovariate(self.per_hour / 3_600_000))), "arrive")
        media = self.rng.choice(self.media)
        ixn = _Ixn(self._new_id(), media, f"q_{media}")
        self._open_ixns[ixn.id] = ixn
        yield self._event(
            "EventInteractionSubmitted",
            InteractionID=ixn.id,
            MediaTypeID=media,
            InteractionType="Inbound",
            InteractionSubtype="InboundNew",
            Queue=ixn.queue,
            MediaServerID=f"{media.capitalize()}Server",
            UserData={
                "Language": self.rng.choice(["English", "Spanish"]),
                "Segment": self.rng.choice(GROUPS),
            },
        )
        if media == "workitem" and self._want("pull", 0.3):
            # Parked in a workbin (the wait ends without distribution) until someone pulls it.
            ixn.in_workbin = True
            self._workbin.append(ixn)
            yield self._event(
                "EventPlacedInWorkbin",
                InteractionID=ixn.id,
                MediaTypeID=media,
                WorkbinTypeID="Backlog",
                WorkbinGroupID=ixn.queue,
            )
            self._at(self.now + self.rng.randint(5_000, 60_000), "pull", ixn=ixn)
            return
        ixn.waiting = True
        self._queues[media].append(ixn)
        if media in ("chat", "sms") and self._want("abandon-waiting", 0.08):
            self._at(self.now + self.rng.randint(2_000, 90_000), "abandon", ixn=ixn)
        self._at(self.now + 1, "dispatch")

    def _dispatch(self) -> Iterator[dict]:
        self._dispatch_at = None
        for media, waiting in self._queues.items():
            if not waiting:
                continue
            free_now = [a for a in self.agents if self._free(a, media)]
            for ixn in list(waiting):
                free = [a for a in free_now if a.id not in ixn.tried]
                if not free:
                    continue
                agent = self.rng.choice(free)
                free_now.remove(agent)
                waiting.remove(ixn)
                ixn.waiting = False
                ixn.tried.append(agent.id)
                yield from self._offer(ixn, agent)

    def _offer(self, ixn: _Ixn, agent: Agent) -> Iterator[dict]:
        agent.busy[ixn.media] = agent.busy.get(ixn.media, 0) + 1
        ixn.offered = agent
        common = {"InteractionID": ixn.id, "MediaTypeID": ixn.media, **self._agent_fields(agent)}
        yield self._event("EventTakenFromQueue", Queue=ixn.queue, PartyType="Agent", **common)
        yield self._event("EventAgentInvited", PartyType="Agent", Operation="Route", **common)
        outcome = "accept"
        if len(ixn.tried) == 1:  # a first offer may fail; a retried one is accepted
            for name, p in (("reject", 0.05), ("timeout", 0.04), ("abandon-offered", 0.02)):
                if self._want(name, p):
                    outcome = name
                    break
        delay = self.rng.randint(2_000, 12_000) if outcome != "timeout" else 30_000
        self._at(self.now + delay, "answer", ixn=ixn, agent=agent, outcome=outcome)

    def _answer(self, ixn: _Ixn, agent: Agent, outcome: str) -> Iterator[dict]:
        if ixn.gone or ixn.offered is not agent:
            return
        ixn.offered = None
        common = {
            "InteractionID": ixn.id,
            "MediaTypeID": ixn.media,
            **self._agent_fields(agent),
            "PartyType": "Agent",
        }
        if outcome == "accept":
            ixn.owner = agent
            self._handled[ixn.id] = ixn
            yield self._event("EventPartyAdded", **common)
            low, high = HANDLE_S[ixn.media]
            done = self.now + self.rng.randint(low, high) * 1000
            self._at(self.now + (done - self.now) // 3, "help", ixn=ixn)
            self._at(done, "finish", ixn=ixn)
            return
        agent.busy[ixn.media] -= 1
        if outcome == "abandon-offered":
            self._done(outcome)
            self._end(ixn)
            yield self._event(
                "EventProcessingStopped",
                InteractionID=ixn.id,
                MediaTypeID=ixn.media,
                Reason={"StopReason": "CustomerLeft"},
            )
            self._at(self.now + 1, "dispatch")
            return
        self._done(outcome)
        yield self._event("EventRejected" if outcome == "reject" else "EventRevoked", **common)
        ixn.waiting = True
        self._queues[ixn.media].insert(0, ixn)
        yield self._event("EventPlacedInQueue", InteractionID=ixn.id, MediaTypeID=ixn.media, Queue=ixn.queue)
        self._at(self.now + 1, "dispatch")

    def _abandon(self, ixn: _Ixn) -> Iterator[dict]:
        if ixn.gone or not ixn.waiting:
            return
        self._done("abandon-waiting")
        self._end(ixn)
        ixn.waiting = True
        self._queues[ixn.media].remove(ixn)
        yield self._event(
            "EventProcessingStopped",
            InteractionID=ixn.id,
            MediaTypeID=ixn.media,
            Reason={"StopReason": "CustomerLeft"},
        )

    def _pull(self, ixn: _Ixn) -> Iterator[dict]:
        free = [a for a in self.agents if self._free(a, ixn.media)]
        if not free and not self.open:  # closing time: the backlog is closed unhandled
            self._workbin.remove(ixn)
            self._end(ixn)
            yield self._event("EventProcessingStopped", InteractionID=ixn.id, MediaTypeID=ixn.media)
            return
        if not free:
            self._at(self.now + 20_000, "pull", ixn=ixn)
            return
        agent = self.rng.choice(free)
        self._done("pull")
        self._workbin.remove(ixn)
        ixn.in_workbin = False
        agent.busy[ixn.media] = agent.busy.get(ixn.media, 0) + 1
        ixn.owner = agent
        self._handled[ixn.id] = ixn
        common = {"InteractionID": ixn.id, "MediaTypeID": ixn.media, **self._agent_fields(agent)}
        yield self._event("EventTakenFromWorkbin", PartyType="Agent", WorkbinTypeID="Backlog", **common)
        yield self._event(
            "EventPartyAdded", PartyType="Agent", Operation="Pull", ViewID="MyBacklog", **common
        )
        low, high = HANDLE_S[ixn.media]
        self._at(self.now + self.rng.randint(low, high) * 1000, "finish", ixn=ixn)

    # -- help: transfer, conference, supervisors -----------------------------------------------

    def _help(self, ixn: _Ixn) -> Iterator[dict]:
        """Midway through handling: maybe transfer, conference or ask a supervisor to coach."""
        owner = ixn.owner
        if ixn.gone or owner is None or ixn.busy_helping or ixn.itype != "Inbound":
            return
        for name, p in (("transfer", 0.08), ("conference", 0.05), ("coach-request", 0.04)):
            if not self._want(name, p):
                continue
            pool = self.supervisors if name == "coach-request" else self.agents
            check = self._sup_free if name == "coach-request" else self._free
            targets = [a for a in pool if a is not owner and check(a, ixn.media)]
            if not targets:
                continue
            target = self.rng.choice(targets)
            target.busy[ixn.media] = target.busy.get(ixn.media, 0) + 1
            ixn.busy_helping = True
            visibility = {"transfer": None, "conference": "Conference", "coach-request": "Coach"}[name]
            operation = {"transfer": "Transfer", "conference": "Conference", "coach-request": "CoachRequest"}[
                name
            ]
            yield self._event(
                "EventAgentInvited",
                InteractionID=ixn.id,
                MediaTypeID=ixn.media,
                PartyType="Agent",
                Operation=operation,
                Visibility=visibility,
                **self._agent_fields(target),
            )
            self._at(self.now + self.rng.randint(3_000, 15_000), "joined", ixn=ixn, target=target, how=name)
            return

    def _joined(self, ixn: _Ixn, target: Agent, how: str) -> Iterator[dict]:
        base = {"InteractionID": ixn.id, "MediaTypeID": ixn.media, "PartyType": "Agent"}
        self._done(how)
        yield self._event("EventPartyAdded", **base, **self._agent_fields(target))
        if how == "transfer" and ixn.owner is not None:
            owner = ixn.owner
            yield self._event("EventPartyRemoved", **base, **self._agent_fields(owner))
            owner.busy[ixn.media] -= 1
            ixn.owner = target
            ixn.busy_helping = False
            self._at(self.now + 1, "dispatch")
            return
        ixn.guests.append(target)
        self._at(self.now + self.rng.randint(20_000, 90_000), "leave", ixn=ixn, guest=target)

    def _leave(self, ixn: _Ixn, guest: Agent) -> Iterator[dict]:
        if ixn.gone or guest not in ixn.guests:
            return
        ixn.guests.remove(guest)
        ixn.busy_helping = False
        yield self._event(
            "EventPartyRemoved",
            InteractionID=ixn.id,
            MediaTypeID=ixn.media,
            PartyType="Agent",
            **self._agent_fields(guest),
        )
        guest.busy[ixn.media] -= 1
        self._at(self.now + 1, "dispatch")

    def _sup_free(self, sup: Agent, media: str) -> bool:
        return sup.logged_in and sup.load() == 0

    def _supervise(self) -> Iterator[dict]:
        """A supervisor joins a handled interaction uninvited: monitors, coaches or barges in."""
        if not self.open:
            return
        self._at(self.now + self.rng.randint(20_000, 90_000), "supervise")
        sups = [s for s in self.supervisors if self._sup_free(s, "")]
        candidates = [ixn for ixn in self._handled.values() if not ixn.busy_helping]
        if not sups or not candidates:
            return
        ixn = self.rng.choice(candidates)
        sup = self.rng.choice(sups)
        pending = [s for s in ("monitor", "coach-intrude", "conference-intrude") if s in self._wanted]
        how = (
            pending[0]
            if pending
            else self.rng.choice(["monitor", "monitor", "coach-intrude", "conference-intrude"])
        )
        self._done(how)
        visibility = {"monitor": "Monitor", "coach-intrude": "Coach", "conference-intrude": "Conference"}[how]
        if how != "monitor":
            sup.busy[ixn.media] = sup.busy.get(ixn.media, 0) + 1
        else:
            sup.busy["monitor"] = 1
        ixn.busy_helping = True
        ixn.guests.append(sup)
        yield self._event(
            "EventPartyAdded",
            InteractionID=ixn.id,
            MediaTypeID=ixn.media,
            PartyType="Agent",
            Operation="Intrude",
            Visibility=visibility,
            **self._agent_fields(sup),
        )
        self._at(self.now + self.rng.randint(15_000, 60_000), "unsupervise", ixn=ixn, sup=sup)

    def _unsupervise(self, ixn: _Ixn, sup: Agent) -> Iterator[dict]:
        if ixn.gone or sup not in ixn.guests:
            return
        ixn.guests.remove(sup)
        ixn.busy_helping = False
        yield self._event(
            "EventPartyRemoved",
            InteractionID=ixn.id,
            MediaTypeID=ixn.media,
            PartyType="Agent",
            **self._agent_fields(sup),
        )
        self._release(sup, ixn.media)

    def _release(self, agent: Agent, media: str) -> None:
        if agent.supervisor and agent.busy.get("monitor"):
            agent.busy["monitor"] = 0
        else:
            agent.busy[media] -= 1
        self._at(self.now + 1, "dispatch")

    # -- finishing, replies and internal work --------------------------------------------------

    def _finish(self, ixn: _Ixn) -> Iterator[dict]:
        if ixn.gone:
            return
        if ixn.busy_helping and not ixn.guests:  # an invitation is under way: wait for it
            self._at(self.now + 20_000, "finish", ixn=ixn)
            return
        self._end(ixn)
        base = {"InteractionID": ixn.id, "MediaTypeID": ixn.media, "PartyType": "Agent"}
        for guest in list(ixn.guests):
            yield self._event("EventPartyRemoved", **base, **self._agent_fields(guest))
            self._release(guest, ixn.media)
        ixn.guests.clear()
        owner = ixn.owner
        assert owner is not None
        yield self._event("EventPartyRemoved", **base, **self._agent_fields(owner))
        yield self._event("EventProcessingStopped", InteractionID=ixn.id, MediaTypeID=ixn.media)
        owner.busy[ixn.media] -= 1
        self._handled.pop(ixn.id, None)
        if (
            ixn.media == "email"
            and ixn.itype == "Inbound"
            and not owner.logging_out
            and self._want("reply", 0.4)
        ):
            yield from self._submit(owner, "email", "Outbound", "OutboundReply", parent=ixn.id)
            return
        self._at(self.now + 1, "dispatch")

    def _submit(self, agent: Agent, media: str, itype: str, subtype: str, parent: str | None = None):
        """The agent creates an interaction (a reply, an internal collaboration) and handles it."""
        self._done("reply" if itype == "Outbound" else "internal")
        ixn = _Ixn(self._new_id(), media, None, itype=itype, owner=agent, parent=parent)
        self._open_ixns[ixn.id] = ixn
        agent.busy[media] = agent.busy.get(media, 0) + 1
        common = {"InteractionID": ixn.id, "MediaTypeID": media, **self._agent_fields(agent)}
        yield self._event(
            "EventInteractionSubmitted",
            **common,
            PartyType="Agent",
            InteractionType=itype,
            InteractionSubtype=subtype,
            ParentInteractionID=parent,
        )
        yield self._event("EventPartyAdded", **common, PartyType="Agent", Operation="Submit")
        self._at(self.now + self.rng.randint(20_000, 120_000), "finish", ixn=ixn)

    def _backoffice(self) -> Iterator[dict]:
        """Now and then an idle agent starts an internal collaboration."""
        if not self.open:
            return
        self._at(self.now + self.rng.randint(30_000, 180_000), "backoffice")
        idle = [a for a in self.agents if "workitem" in a.media and self._free(a, "workitem")]
        if idle and self._want("internal", 0.5):
            yield from self._submit(
                self.rng.choice(idle), "workitem", "Internal", "InternalCollaborationInvite"
            )


# --- the worker configuration for a simulated centre ------------------------------------------

#: Group tiles per media: stat type suffix → the action counted.
PER_MEDIA_COUNTS: dict[str, str] = {
    "Agents_Available": "Available",
    "Agents_Routable": "Routable",
    "Agents_Not_Ready": "Blocked",
}


def live_config_text(sim: Simulator) -> str:
    """The shipped starter plus the centre's groups and per-media group counts for the wallboard."""
    from pipeline.stats.config import starter_text

    lines = [
        starter_text().rstrip(),
        "",
        "# --- added for the simulated centre (mediastat simulate --write-config)",
    ]
    lines.append("groups:\n  GroupAgents:")
    for group, members in sim.groups.items():
        lines.append(f"    {group}: [{', '.join(members)}]")
    text = "\n".join(lines) + "\n"
    extra_types, extra_stats = [], []
    for media in sim.media:
        for name, action in PER_MEDIA_COUNTS.items():
            stat = f"{name}_{media}"
            extra_types.append(
                f"  {stat}: {{Objects: [GroupAgents, Tenant], Category: CurrentNumber, "
                f"MainMask: [{action}], MediaType: [{media}]}}"
            )
            extra_stats.append(f"  - {{stat_type: {stat}, time_profile: Default, name: {stat}}}")
    # The starter's sections are mappings/lists at top level: append by re-opening them in YAML
    # is not allowed, so splice the extra entries in after each section header.
    text = text.replace("stat_types:\n", "stat_types:\n" + "\n".join(extra_types) + "\n", 1)
    text = text.replace("\nstatistics:\n", "\nstatistics:\n" + "\n".join(extra_stats) + "\n", 1)
    return text


# --- command line --------------------------------------------------------------------------------


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.description = (
        "Simulate a contact centre: write a day of reporting events as JSON Lines, or with --live "
        "send them to Kafka as they happen, stamped with the wall clock."
    )
    parser.add_argument("-o", "--out", help="output file (default: standard output)")
    parser.add_argument("--agents", type=int, default=50, help="agents, in 3 groups (default 50)")
    parser.add_argument(
        "--hours", type=float, default=None, help="simulated hours (default 8; --live: until Ctrl-C)"
    )
    parser.add_argument("--per-hour", type=float, default=600.0, help="interactions per hour (default 600)")
    parser.add_argument("--seed", type=int, default=7, help="random seed (default 7)")
    parser.add_argument("--start", default="2026-03-02T08:00:00Z", help="start time (ISO, default 08:00Z)")
    parser.add_argument("--live", action="store_true", help="send to Kafka in real time, stamped now")
    parser.add_argument("--speed", type=float, default=1.0, help="--live: times faster than life (default 1)")
    parser.add_argument(
        "--bootstrap", help="--live: Kafka bootstrap servers (default: $KAFKA_BOOTSTRAP_SERVERS or local)"
    )
    parser.add_argument("--prefix", help="--live: topic prefix (default: mediastat)")
    parser.add_argument(
        "--write-config",
        metavar="FILE",
        help="write the worker configuration for this centre (starter statistics + its groups) and exit",
    )


def run(args: argparse.Namespace) -> int:
    if args.speed <= 0:
        print("mediastat simulate: --speed must be positive", file=sys.stderr)
        return 2
    if args.write_config:
        sim = Simulator(args.agents, 1.0, args.per_hour, args.seed)
        with open(args.write_config, "w", encoding="utf-8") as fh:
            fh.write(live_config_text(sim))
        print(f"simulate: configuration for {args.agents} agents: {args.write_config}", file=sys.stderr)
        return 0
    if args.live:
        return run_live(args)
    hours = 8.0 if args.hours is None else args.hours
    sim = Simulator(args.agents, hours, args.per_hour, args.seed, start=args.start)
    out = open(args.out, "w", encoding="utf-8") if args.out else sys.stdout
    count = 0
    try:
        for event in sim.events():
            out.write(json.dumps(event, separators=(",", ":")) + "\n")
            count += 1
    finally:
        if out is not sys.stdout:
            out.close()
    print(f"simulate: {count} events", file=sys.stderr)
    return 0


def live_events(
    sim: Simulator,
    speed: float,
    clock: Callable[[], float] = time.time,
    sleep: Callable[[float], None] = time.sleep,
) -> Iterator[dict]:
    """The simulator's events at the pace of ``clock`` × ``speed``, each stamped with that clock.

    The simulation starts at the clock's now; an event due at simulated time t is released (and
    stamped) at ``start + (t - start) / speed`` of the clock, so the order is kept and "now" is true.
    """
    start = sim.start
    for event in sim.events():
        due_ms = start + (sim.now - start) / speed
        wait = due_ms / 1000 - clock()
        if wait > 0:
            sleep(wait)
        event["EventTime"] = to_iso(int(due_ms))
        yield event


def _interrupt(_signum: int, _frame: object) -> None:
    raise KeyboardInterrupt


def run_live(args: argparse.Namespace) -> int:
    from pipeline.kafka.admin import topic_name
    from pipeline.kafka.bootstrap import NoKafka, check_reachable, resolve_bootstrap
    from pipeline.kafka.feed import Feeder
    from pipeline.records.codec import encode
    from pipeline.records.keys import event_key
    from pipeline.records.validation import validate_event

    try:
        bootstrap = resolve_bootstrap(args.bootstrap)
        check_reachable({"bootstrap.servers": bootstrap})  # fail fast: one line, not endless retries
    except NoKafka as exc:
        print(f"mediastat simulate: {exc}", file=sys.stderr)
        return 1
    topic = topic_name("events", args.prefix)
    feeder = Feeder(bootstrap, topic, topic_name("dead-letters", args.prefix), source="simulate")
    now = int(time.time() * 1000)
    sim = Simulator(args.agents, args.hours, args.per_hour, args.seed, start=now)
    signal.signal(signal.SIGTERM, _interrupt)  # stopped like Ctrl-C: flush what was produced
    print(
        f"simulate: live, {args.agents} agents, {args.per_hour:g} interactions/h, ×{args.speed:g} → {topic}",
        file=sys.stderr,
    )

    def send(event: dict) -> None:
        event = validate_event(event)
        feeder.send(event_key(event).encode(), encode("ReportingEvent", event))

    try:
        for event in live_events(sim, args.speed):
            send(event)
    except KeyboardInterrupt:
        pass
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # closing takes a moment: let it finish
    closing = to_iso(int(time.time() * 1000))  # after every event sent, which were stamped <= now
    for event in sim.close():
        event["EventTime"] = closing
        send(event)
    feeder.flush(10)
    print(f"simulate: {feeder.sent} events sent", file=sys.stderr)
    return 0
