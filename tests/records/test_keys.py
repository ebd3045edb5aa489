"""Key formats (pipeline/records/keys.py): what partitions records and what state they meet.

Changing one of these moves records to other partitions and orphans the state stored under the old
keys, so the formats are pinned here.
"""

from __future__ import annotations

from pipeline.records.keys import (
    action_key,
    agent_key,
    interaction_key,
    object_key,
    stat_key,
    stat_record_key,
)

ACTION = {"ObjectType": "Agent", "TenantID": "t1", "ObjectID": "a1", "AgentID": "a1", "InteractionID": "i1"}


def test_formats_are_the_documented_ones() -> None:
    assert interaction_key(ACTION) == "t1/i1"
    assert agent_key("t1", "a1") == "t1/a1"
    assert action_key(ACTION) == b"Agent/t1/a1"
    assert stat_record_key({"Statistic": "Handled", **ACTION}) == b"Handled/Agent/t1/a1"  # README


def test_topic_keys_and_state_keys_spell_an_object_the_same_way() -> None:
    assert action_key(ACTION).decode() == object_key("Agent", "t1", "a1")
    assert stat_record_key({"Statistic": "S", **ACTION}).decode() == stat_key("S", "Agent", "t1", "a1")
