"""Property: repeated events (same ``EventID``) change nothing (events.md: "Duplicate → dropped").

Random multi-agent days (``test_properties.days``, every event with an ``EventID``) get copies of
some of their events injected, agent and interaction events alike:

- *same instant*: an identical copy right after the original or after other events of its
  millisecond — it can become the agent's last input of that instant, which is where stage 2
  evaluates Routable / NotRoutable;
- *resent*: an identical copy (original ``EventTime``) arriving later in the stream, inside or
  beyond the reorder window — a bridge that redelivers;
- *restamped*: a copy with the same ``EventID`` stamped at a later instant, in time order — a bridge
  that re-sends an event with a fresh time.

The output must be exactly the output of the day without the copies (same records, same ids, same
order), each copy counted once as a duplicate, and every durable End must close an earlier Start.
Copies stay inside the documented bounds of duplicate detection (docs/actions-rules.md "Bounds"):
fewer than :data:`~pipeline.core.dedup.RECENT_IDS` newer ids of the same key, and within the
retention of a finished interaction.
"""

from __future__ import annotations

from typing import Any

from hypothesis import assume, given
from hypothesis import strategies as st

from pipeline.core.dedup import RECENT_IDS
from pipeline.core.driver import DEFAULT_RETENTION_MS, CoreDriver, agent_key, interaction_key
from pipeline.records.catalog import AGENT_EVENTS, IGNORED_EVENTS
from tests.core.test_properties import SETTINGS, World, assert_durables_pair_up, days

KINDS = ("same-instant", "resent", "restamped")


def dedup_key(event: dict) -> str:
    """The state a repeat is detected in: the agent's for agent events, else the interaction's."""
    if event["Event"] in AGENT_EVENTS:
        return "agent:" + agent_key(event["TenantID"], event["AgentID"])
    return "interaction:" + interaction_key(event)


def in_bounds(events: list[dict], original: int, after: int) -> bool:
    """A copy placed after ``events[after]`` is still within what duplicate detection remembers."""
    key = dedup_key(events[original])
    newer = sum(1 for e in events[original + 1 : after + 1] if dedup_key(e) == key)
    late_by = events[after]["EventTime"] - events[original]["EventTime"]
    return newer < RECENT_IDS - 1 and late_by < DEFAULT_RETENTION_MS


@st.composite
def copies(draw: Any, world: World) -> list[tuple[int, str, int]]:
    """Copies to inject, as (index of the original, kind, index of the event they follow)."""
    events = world.events
    candidates = [k for k, e in enumerate(events) if e["Event"] not in IGNORED_EVENTS]
    assume(candidates)
    chosen = draw(st.lists(st.sampled_from(candidates), min_size=1, max_size=8))
    out = []
    for k in chosen:
        t = events[k]["EventTime"]
        instant_end = max(j for j in range(k, len(events)) if events[j]["EventTime"] == t)
        later = [j for j in range(instant_end + 1, len(events)) if in_bounds(events, k, j)]
        kind = draw(st.sampled_from(KINDS if later else KINDS[:1]))
        if kind == "same-instant":
            after = draw(st.integers(min_value=k, max_value=instant_end))
        else:
            after = draw(st.sampled_from(later))
        out.append((k, kind, after))
    return out


def inject(events: list[dict], plan: list[tuple[int, str, int]]) -> list[dict]:
    following: dict[int, list[dict]] = {}
    for k, kind, after in plan:
        copy = dict(events[k])
        if kind == "restamped":
            copy["EventTime"] = events[after]["EventTime"]
        following.setdefault(after, []).append(copy)
    out: list[dict] = []
    for j, event in enumerate(events):
        out.append(event)
        out.extend(following.get(j, ()))
    return out


@SETTINGS
@given(days(with_ids=True), st.data())
def test_duplicates_change_no_action(world: World, data: st.DataObject) -> None:
    plan = data.draw(copies(world), label="copies")
    with_copies = inject(world.events, plan)
    assert len(with_copies) == len(world.events) + len(plan)

    driver = CoreDriver()
    got = driver.push_all(with_copies)
    assert got == CoreDriver().push_all(world.events)
    assert driver.counters["duplicates"] == len(plan)
    assert_durables_pair_up(got)
