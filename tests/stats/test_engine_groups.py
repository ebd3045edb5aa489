"""Propagation to GroupAgents / GroupPlaces / Tenant, and a membership change while running."""

from __future__ import annotations

from pipeline.stats.engine import StatEngine
from pipeline.stats.model import Groups
from tests.stats.engine_builders import act, at, config, durable, stat

GROUP_OBJECTS = ["Agent", "GroupAgents", "Tenant"]
STATS = [
    stat("CurrentNumber", ["Available"], objects=GROUP_OBJECTS, name="Available"),
    stat("TotalTime", ["Available"], objects=GROUP_OBJECTS, name="AvailableTime"),
    stat("TotalNumber", ["StoppedInbound"], objects=GROUP_OBJECTS, name="Handled"),
    stat("CurrentNumber", ["Available"], subject="AgentStatus", objects=GROUP_OBJECTS, name="AgentsReady"),
    stat("TotalNumber", ["DeliveringStarted"], objects=["Place", "GroupPlaces", "Tenant"], name="Offered"),
]


def agent(name: str, *actions_of):
    return [dict(a, ObjectID=name) for a in actions_of]


def q(engine: StatEngine, name: str, otype: str, oid: str, t: float) -> float:
    return engine.value(name, otype, "t1", oid, at(t))["Value"]


def build() -> StatEngine:
    engine = StatEngine(config(*STATS, agents={"Sales": ["a1", "a2"]}, places={"Floor1": ["p1"]}))
    actions = [
        *agent("a1", *durable("Active", 0), *durable("Available", 0)),
        *agent("a2", *durable("Active", 10), *durable("Available", 10)),
        *agent("a3", *durable("Active", 20), *durable("Available", 20)),
        *agent("a1", act("StoppedInbound", 40, iid="i1", dur=10)),
        *agent("a3", act("StoppedInbound", 45, iid="i2", dur=10)),
    ]
    for a in sorted(actions, key=lambda a: a["EventTime"]):
        engine.on_action(a, a["EventTime"])
    return engine


def test_agent_actions_count_for_groups_and_tenant():
    engine = build()
    assert q(engine, "Available", "GroupAgents", "Sales", 46) == 2
    assert q(engine, "Available", "Tenant", "t1", 46) == 3
    assert q(engine, "AgentsReady", "GroupAgents", "Sales", 46) == 2
    assert q(engine, "Handled", "GroupAgents", "Sales", 46) == 1
    assert q(engine, "Handled", "Tenant", "t1", 46) == 2
    assert q(engine, "Handled", "Agent", "a3", 46) == 1


def test_membership_change_applies_from_its_time():
    engine = build()
    engine.set_groups(Groups(agents={"Sales": frozenset({"a1", "a3"})}, places={"Floor1": frozenset({"p1"})}),
                      at(50))
    # a2 left at 50: its ongoing Available completes there for Sales (40 s credited)
    assert q(engine, "Available", "GroupAgents", "Sales", 50) == 1
    assert q(engine, "AvailableTime", "GroupAgents", "Sales", 50) == 40
    # a3 joined: its status counts from 50 (status subject)
    assert q(engine, "AgentsReady", "GroupAgents", "Sales", 50) == 2
    late = dict(act("StoppedInbound", 48, iid="i3", dur=5), ObjectID="a2")  # before the change: old groups
    engine.on_action(late, at(55))
    for a in (dict(act("StoppedInbound", 60, iid="i4", dur=5), ObjectID="a2"),
              dict(act("StoppedInbound", 70, iid="i5", dur=5), ObjectID="a3")):
        engine.on_action(a, a["EventTime"])
    assert q(engine, "Handled", "GroupAgents", "Sales", 70) == 3  # i1, i3 (a2 at 48), i5 (a3 at 70)
    assert q(engine, "Handled", "Tenant", "t1", 70) == 5
    # a2 leaves Available later: nothing more for Sales, the tenant still gets it
    end = dict(act("Available", 80, "End", dur=70), ObjectID="a2")
    engine.on_action(end, end["EventTime"])
    assert q(engine, "AvailableTime", "GroupAgents", "Sales", 80) == 40
    assert q(engine, "AvailableTime", "Tenant", "t1", 80) == 70
    assert q(engine, "AgentsReady", "GroupAgents", "Sales", 80) == 2


def test_place_actions_count_for_place_groups_not_for_the_tenant():
    engine = build()
    for a in (act("DeliveringStarted", 60, iid="i9", obj=("Place", "p1")),
              act("DeliveringStarted", 61, iid="i9", obj=("Place", "p2"))):
        engine.on_action(a, a["EventTime"])
    assert q(engine, "Offered", "GroupPlaces", "Floor1", 61) == 1
    assert q(engine, "Offered", "Place", "p2", 61) == 1
    assert q(engine, "Offered", "Tenant", "t1", 61) == 0


def test_tenants_never_share_state():
    engine = build()
    other = dict(act("StoppedInbound", 60, iid="x1", dur=5), TenantID="t2")
    engine.on_action(other, other["EventTime"])
    assert q(engine, "Handled", "Tenant", "t1", 60) == 2
    assert engine.value("Handled", "Tenant", "t2", "t2", at(60))["Value"] == 1
    assert engine.value("Handled", "GroupAgents", "t2", "Sales", at(60))["Value"] == 1
