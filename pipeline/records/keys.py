"""Every key format of the pipeline, in one place: Kafka message keys and state-table keys.

A key decides which partition a record lands in and which state it meets, so two spellings of one
key would silently split an object's history. Every producer and every table imports its key from
here (stages, replay's driver, the statistics engine, ``feed``).
"""

from __future__ import annotations

import zlib
from collections.abc import Mapping
from typing import Any

from pipeline.records.catalog import AGENT_EVENTS, IGNORED_EVENTS, INTERACTION_EVENTS
from pipeline.records.errors import BadRecord
from pipeline.records.validation import _json_type, _show


def event_key(event: Mapping[str, Any]) -> str:
    """The Kafka key of a validated event on the raw topic (README, "The data flow").

    InteractionID for interaction events, so one interaction's events stay in one partition in input
    order; AgentID for agent events. An ignored event (EventCustomReporting) is keyed by its
    InteractionID, else its AgentID, else its TenantID, so that it still lands next to what it is about.
    Raises :class:`BadRecord` if the event has no usable key (it was not validated).
    """
    name = event.get("Event")
    if name in INTERACTION_EVENTS:
        candidates: tuple[str, ...] = ("InteractionID",)
    elif name in AGENT_EVENTS:
        candidates = ("AgentID",)
    elif name in IGNORED_EVENTS:
        candidates = ("InteractionID", "AgentID", "TenantID")
    else:
        shown = _show(name) if isinstance(name, str) else _json_type(name)
        raise BadRecord("unknown-event", f"Event {shown} is not a known reporting event")
    for field in candidates:
        value = event.get(field)
        if isinstance(value, str) and value:
            return value
    raise BadRecord("missing-field", f"{name}: {candidates[0]} is required for the key")


def interaction_key(event: dict) -> str:
    """``Tenant/InteractionID``: stage 1's state of one interaction (the ``interactions`` table)."""
    return f"{event['TenantID']}/{event['InteractionID']}"


def agent_key(tenant: str, agent: str) -> str:
    """``Tenant/AgentID``: stage 2's input topic key and its state of one agent (the ``agents`` table)."""
    return f"{tenant}/{agent}"


def object_key(object_type: str, tenant: str, object_id: str) -> str:
    """``ObjectType/Tenant/ObjectID``: one Stat Server object (agent, place, queue…)."""
    return f"{object_type}/{tenant}/{object_id}"


def action_key(action: dict) -> bytes:
    """The key of an action record on the actions topic: the object it is about."""
    return object_key(action["ObjectType"], action["TenantID"], action["ObjectID"]).encode()


def partition_of(key: bytes | str, partitions: int) -> int:
    """The partition of ``key`` where the pipeline picks it itself (stage 4's partials, and every
    topic of the broker-free topology driver): crc32, stable across processes. Every producer of one
    such topic picks with it, so that one key's records meet in one partition. (Keyed records left
    to the producer, such as stage 3's bundles, are placed by its murmur2 partitioner.)"""
    data = key.encode() if isinstance(key, str) else key
    return zlib.crc32(data) % partitions


def stat_key(stat_name: str, object_type: str, tenant: str, object_id: str) -> str:
    """``Statistic/ObjectType/Tenant/ObjectID``: one statistic of one object (the engine's accumulator)."""
    return f"{stat_name}/{object_type}/{tenant}/{object_id}"


def stat_record_key(rec: dict) -> bytes:
    """The key of a statistic record on its compacted ``stat.<StatType>`` topic (latest value wins)."""
    return stat_key(rec["Statistic"], rec["ObjectType"], rec["TenantID"], rec["ObjectID"]).encode()
