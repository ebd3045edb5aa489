"""A small contact-centre simulator: a realistic, reproducible stream of reporting events.

It plays an Interaction Server for a working day: agents log in with some media, take breaks
(not ready with a reason), go DND; emails and chats arrive in queues, are offered to free agents,
accepted (or rejected, or the offer times out, or the customer leaves), handled, sometimes
transferred or conferenced, and finished. Events come out in time order as normalised records
(ISO times), so they can be replayed, fed to Kafka, benchmarked or used as kill-test input.

Same seed → same events. The simulator keeps its own simple view of who is free; it does not use
the core (it is the core's input, not its oracle).
"""

from __future__ import annotations

import argparse
import heapq
import json
import random
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field

from pipeline.records.times import parse_time, to_iso

HANDLE_S = {"email": (120, 600), "chat": (60, 420), "sms": (30, 180), "workitem": (300, 900)}


@dataclass
class Agent:
    id: str
    place: str
    media: list[str]
    ready: dict[str, bool] = field(default_factory=dict)
    busy: dict[str, int] = field(default_factory=dict)  # media -> interactions in progress
    logged_in: bool = False
    dnd: bool = False


@dataclass(order=True)
class _Job:
    at: int
    seq: int
    kind: str = field(compare=False)
    data: dict = field(compare=False, default_factory=dict)


class Simulator:
    def __init__(
        self,
        agents: int = 20,
        hours: float = 8.0,
        per_hour: float = 120.0,
        seed: int = 7,
        tenant: str = "t1",
        start: str = "2026-03-02T08:00:00Z",
        media: tuple[str, ...] = ("email", "chat"),
    ) -> None:
        self.rng = random.Random(seed)
        self.tenant = tenant
        self.start = parse_time(start)
        self.end = self.start + int(hours * 3_600_000)
        self.per_hour = per_hour
        self.media = media
        self.agents = [
            Agent(f"a{n:03d}", f"p{n:03d}", [m for m in media if self.rng.random() < 0.8] or [media[0]])
            for n in range(1, agents + 1)
        ]
        self._jobs: list[_Job] = []
        self._seq = 0
        self._ixn = 0
        self._waiting: list[dict] = []  # interactions in a queue, oldest first

    # -- plumbing ------------------------------------------------------------------------------

    def _at(self, at: int, kind: str, **data) -> None:
        self._seq += 1
        heapq.heappush(self._jobs, _Job(at, self._seq, kind, data))

    def _event(self, at: int, name: str, **fields) -> dict:
        ev = {"Event": name, "EventTime": to_iso(at), "TenantID": self.tenant}
        ev.update({k: v for k, v in fields.items() if v is not None})
        return ev

    def events(self) -> Iterator[dict]:
        """The day's events, in time order."""
        for agent in self.agents:
            self._at(self.start + self.rng.randint(0, 900_000), "login", agent=agent)
        t = self.start
        while True:
            t += int(self.rng.expovariate(self.per_hour / 3_600_000))
            if t >= self.end - 1_800_000:
                break
            self._at(t, "arrive", media=self.rng.choice(self.media))
        while self._jobs:
            job = heapq.heappop(self._jobs)
            yield from getattr(self, "_" + job.kind)(job.at, **job.data)

    # -- agents --------------------------------------------------------------------------------

    def _login(self, at: int, agent: Agent) -> Iterator[dict]:
        agent.logged_in = True
        media_list = []
        for m in agent.media:
            agent.ready[m] = self.rng.random() < 0.85
            entry = {"MediaTypeID": m, "Ready": agent.ready[m]}
            if not agent.ready[m]:
                entry["Reason"] = {"ReasonCode": "Admin"}
            media_list.append(entry)
        yield self._event(at, "EventAgentLogin", AgentID=agent.id, PlaceID=agent.place, MediaList=media_list)
        self._at(at + self.rng.randint(600_000, 5_400_000), "pause", agent=agent)
        self._at(self.end - self.rng.randint(0, 600_000), "logout", agent=agent)
        self._at(at + 1, "dispatch")

    def _pause(self, at: int, agent: Agent) -> Iterator[dict]:
        if not agent.logged_in or at >= self.end - 1_200_000:
            return
        m = self.rng.choice(agent.media)
        if self.rng.random() < 0.2:
            agent.dnd = True
            yield self._event(at, "EventDoNotDisturbOn", AgentID=agent.id, PlaceID=agent.place)
            self._at(at + self.rng.randint(60_000, 300_000), "resume", agent=agent, media=None)
        else:
            agent.ready[m] = False
            reason = {"ReasonCode": self.rng.choice(["Break", "Lunch", "Training"])}
            yield self._event(
                at,
                "EventNotReadyForMedia",
                AgentID=agent.id,
                PlaceID=agent.place,
                MediaTypeID=m,
                Reason=reason,
            )
            self._at(at + self.rng.randint(120_000, 1_800_000), "resume", agent=agent, media=m)
        self._at(at + self.rng.randint(1_800_000, 5_400_000), "pause", agent=agent)

    def _resume(self, at: int, agent: Agent, media: str | None) -> Iterator[dict]:
        if not agent.logged_in:
            return
        if media is None:
            agent.dnd = False
            yield self._event(at, "EventDoNotDisturbOff", AgentID=agent.id, PlaceID=agent.place)
        else:
            agent.ready[media] = True
            yield self._event(
                at, "EventReadyForMedia", AgentID=agent.id, PlaceID=agent.place, MediaTypeID=media
            )
        self._at(at + 1, "dispatch")

    def _logout(self, at: int, agent: Agent) -> Iterator[dict]:
        agent.logged_in = False
        yield self._event(at, "EventAgentLogout", AgentID=agent.id, PlaceID=agent.place)

    # -- interactions --------------------------------------------------------------------------

    def _arrive(self, at: int, media: str) -> Iterator[dict]:
        self._ixn += 1
        ixn = {"id": f"i{self._ixn:06d}", "media": media, "queue": f"q_{media}", "since": at, "tried": set()}
        yield self._event(
            at,
            "EventInteractionSubmitted",
            InteractionID=ixn["id"],
            MediaTypeID=media,
            InteractionType="Inbound",
            InteractionSubtype="InboundNew",
            Queue=ixn["queue"],
            MediaServerID=f"{media.capitalize()}Server",
            UserData={"Language": self.rng.choice(["English", "Spanish"])},
        )
        self._waiting.append(ixn)
        self._at(at + 1, "dispatch")
        if media == "chat":
            self._at(at + self.rng.randint(120_000, 600_000), "abandon", ixn=ixn)

    def _free(self, agent: Agent, media: str) -> bool:
        return (
            agent.logged_in
            and not agent.dnd
            and media in agent.media
            and agent.ready.get(media, False)
            and agent.busy.get(media, 0) == 0
        )

    def _dispatch(self, at: int) -> Iterator[dict]:
        for ixn in list(self._waiting):
            free = [a for a in self.agents if self._free(a, ixn["media"]) and a.id not in ixn["tried"]]
            if not free:
                continue
            agent = self.rng.choice(free)
            self._waiting.remove(ixn)
            ixn["tried"].add(agent.id)
            agent.busy[ixn["media"]] = 1
            common = {"InteractionID": ixn["id"], "MediaTypeID": ixn["media"]}
            yield self._event(
                at,
                "EventTakenFromQueue",
                Queue=ixn["queue"],
                PartyType="Agent",
                AgentID=agent.id,
                PlaceID=agent.place,
                **common,
            )
            yield self._event(
                at, "EventAgentInvited", AgentID=agent.id, PlaceID=agent.place, PartyType="Agent", **common
            )
            roll = self.rng.random()
            outcome = "accept" if roll < 0.85 else "reject" if roll < 0.93 else "timeout"
            self._at(at + self.rng.randint(2_000, 25_000), "answer", ixn=ixn, agent=agent, outcome=outcome)

    def _answer(self, at: int, ixn: dict, agent: Agent, outcome: str) -> Iterator[dict]:
        if ixn.get("gone"):
            return
        common = {
            "InteractionID": ixn["id"],
            "MediaTypeID": ixn["media"],
            "AgentID": agent.id,
            "PlaceID": agent.place,
            "PartyType": "Agent",
        }
        if outcome == "accept":
            ixn["owner"] = agent
            yield self._event(at, "EventPartyAdded", **common)
            low, high = HANDLE_S[ixn["media"]]
            done = at + self.rng.randint(low, high) * 1000
            roll = self.rng.random()
            if roll < 0.1:
                self._at(at + (done - at) // 2, "transfer", ixn=ixn)
            self._at(done, "finish", ixn=ixn)
            return
        name = "EventRejected" if outcome == "reject" else "EventRevoked"
        yield self._event(at, name, **common)
        agent.busy[ixn["media"]] = 0
        yield self._event(
            at, "EventPlacedInQueue", InteractionID=ixn["id"], MediaTypeID=ixn["media"], Queue=ixn["queue"]
        )
        self._waiting.insert(0, ixn)
        self._at(at + 1, "dispatch")

    def _transfer(self, at: int, ixn: dict) -> Iterator[dict]:
        owner: Agent | None = ixn.get("owner")
        if ixn.get("gone") or owner is None:
            return
        free = [a for a in self.agents if self._free(a, ixn["media"]) and a is not owner]
        if not free:
            return
        target = self.rng.choice(free)
        target.busy[ixn["media"]] = 1
        base = {"InteractionID": ixn["id"], "MediaTypeID": ixn["media"], "PartyType": "Agent"}
        yield self._event(at, "EventAgentInvited", AgentID=target.id, PlaceID=target.place, **base)
        ixn["transferring"] = True
        self._at(at + self.rng.randint(3_000, 15_000), "transferred", ixn=ixn, owner=owner, target=target)

    def _transferred(self, at: int, ixn: dict, owner: Agent, target: Agent) -> Iterator[dict]:
        ixn["transferring"] = False
        base = {"InteractionID": ixn["id"], "MediaTypeID": ixn["media"], "PartyType": "Agent"}
        yield self._event(at, "EventPartyAdded", AgentID=target.id, PlaceID=target.place, **base)
        yield self._event(at, "EventPartyRemoved", AgentID=owner.id, PlaceID=owner.place, **base)
        owner.busy[ixn["media"]] = 0
        ixn["owner"] = target
        self._at(at + 1, "dispatch")

    def _finish(self, at: int, ixn: dict) -> Iterator[dict]:
        if ixn.get("gone"):
            return
        if ixn.get("transferring"):
            self._at(at + 20_000, "finish", ixn=ixn)
            return
        ixn["gone"] = True
        owner: Agent = ixn["owner"]
        yield self._event(
            at,
            "EventPartyRemoved",
            InteractionID=ixn["id"],
            MediaTypeID=ixn["media"],
            AgentID=owner.id,
            PlaceID=owner.place,
            PartyType="Agent",
        )
        yield self._event(at, "EventProcessingStopped", InteractionID=ixn["id"], MediaTypeID=ixn["media"])
        owner.busy[ixn["media"]] = 0
        self._at(at + 1, "dispatch")

    def _abandon(self, at: int, ixn: dict) -> Iterator[dict]:
        if ixn.get("gone") or ixn.get("owner") is not None or ixn not in self._waiting:
            return
        ixn["gone"] = True
        self._waiting.remove(ixn)
        yield self._event(
            at,
            "EventProcessingStopped",
            InteractionID=ixn["id"],
            MediaTypeID=ixn["media"],
            Reason={"StopReason": "CustomerLeft"},
        )


# --- command line --------------------------------------------------------------------------------


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.description = "Write a simulated contact-centre day of reporting events as JSON Lines."
    parser.add_argument("-o", "--out", help="output file (default: standard output)")
    parser.add_argument("--agents", type=int, default=20, help="agents (default 20)")
    parser.add_argument("--hours", type=float, default=8.0, help="length of the day in hours (default 8)")
    parser.add_argument("--per-hour", type=float, default=120.0, help="interactions per hour (default 120)")
    parser.add_argument("--seed", type=int, default=7, help="random seed (default 7)")
    parser.add_argument("--start", default="2026-03-02T08:00:00Z", help="start time (ISO, default 08:00Z)")


def run(args: argparse.Namespace) -> int:
    sim = Simulator(args.agents, args.hours, args.per_hour, args.seed, start=args.start)
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
