"""Which output record answers which raw event, for the latency row.

Every event fed is stamped with the wall-clock millisecond it is produced at, strictly increasing,
so the stamp names the event. An action record carries its event's ``EventTime``: raw event →
action is the action record's Kafka timestamp minus that stamp (first action of the event).

A statistic record does not name the action that changed it, so the row follows statistics that
*count* one action kind per object (:data:`COUNTERS`, all in the starter set): the n-th counted
action of an object (in ``EventTime`` order) is included in the first record of that statistic and
object whose value is at least n. Raw event → statistic is that record's Kafka timestamp minus the
event's stamp. At least n (not exactly n) because a notification may cover several actions.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable

#: statistic name (Default profile: a count since midnight) → (object type, counted actions)
COUNTERS: dict[str, tuple[str, frozenset[str]]] = {
    "Queue_Entered": ("Queue", frozenset({"InteractionEntered"})),
    "Offered": ("Agent", frozenset({"DeliveringStarted"})),
    "Accepted": ("Agent", frozenset({"Accepted"})),
}


def action_latencies(stamps: Iterable[int], actions: Iterable[tuple[int, int]]) -> list[float]:
    """Per event that has actions: first action's timestamp minus the event's stamp (ms).

    ``stamps``: the EventTime of every event expected to make actions; ``actions``: (EventTime,
    Kafka timestamp) of the action records seen. An expected event with no action seen is infinite.
    """
    first: dict[int, int] = {}
    for event_time, ts in actions:
        if event_time not in first or ts < first[event_time]:
            first[event_time] = ts
    return [float(first[s] - s) if s in first else math.inf for s in stamps]


def counted_actions(actions: Iterable[dict]) -> list[tuple[str, str, str, int, int]]:
    """(statistic, tenant, object id, n, EventTime) for every counted action, n from 1."""
    seen: dict[tuple[str, str, str], int] = defaultdict(int)
    out = []
    for action in sorted(actions, key=lambda a: a["EventTime"]):
        for name, (object_type, kinds) in COUNTERS.items():
            if action["ObjectType"] == object_type and action["Action"] in kinds:
                key = (name, action["TenantID"], action["ObjectID"])
                seen[key] += 1
                out.append((*key, seen[key], action["EventTime"]))
    return out


def statistic_latencies(expected_actions: Iterable[dict], records: Iterable[tuple[dict, int]]) -> list[float]:
    """Per counted action: the first counter record including it, minus its event's stamp (ms).

    ``expected_actions``: the actions the fed events make (the core run offline on them);
    ``records``: (StatValue, Kafka timestamp) seen on the counters' topics. Not reached: infinite.
    """
    by_object: dict[tuple[str, str, str], list[tuple[float, int]]] = defaultdict(list)
    for rec, ts in records:
        counter = COUNTERS.get(rec["Statistic"])
        if counter is None or rec["ObjectType"] != counter[0] or rec.get("Value") is None:
            continue
        if rec.get("Reason") != "Final":
            by_object[(rec["Statistic"], rec["TenantID"], rec["ObjectID"])].append((rec["Value"], ts))
    out = []
    for name, tenant, object_id, n, event_time in counted_actions(expected_actions):
        reached = [ts for value, ts in by_object.get((name, tenant, object_id), ()) if value >= n]
        out.append(float(min(reached) - event_time) if reached else math.inf)
    return out
