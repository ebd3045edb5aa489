"""Capacity rules (actions.md §2): how much new work an agent can take per media.

A rule gives ``max`` per media (a media not listed gets 0), an optional ``max_total`` and optional
``block`` entries (media m gets no new work while media k has ≥ n in progress). Rules are assigned
per agent, else per place, else per tenant, else the built-in default: one interaction of each
media at a time.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Block:
    """``media`` gets no new work while each media in ``when`` has at least that many in progress."""

    media: str
    when: Mapping[str, int]


@dataclass(frozen=True)
class CapacityRule:
    name: str
    max: Mapping[str, int] | None = None  # None = the built-in default (1 for every media)
    max_total: int | None = None
    block: tuple[Block, ...] = ()

    def capacity_left(self, media: str, in_progress: Mapping[str, int]) -> int:
        """``min(max[m] − in_progress(m), max_total − Σ in_progress)``, or 0 when blocked."""
        limit = 1 if self.max is None else self.max.get(media, 0)
        left = limit - in_progress.get(media, 0)
        if self.max_total is not None:
            left = min(left, self.max_total - sum(in_progress.values()))
        for b in self.block:
            if b.media == media and all(in_progress.get(k, 0) >= n for k, n in b.when.items()):
                return 0
        return left


DEFAULT_RULE = CapacityRule(name="(built-in default: one of each media)")


@dataclass(frozen=True)
class CapacityConfig:
    rules: Mapping[str, CapacityRule] = field(default_factory=dict)
    agents: Mapping[str, str] = field(default_factory=dict)  # agent id → rule name
    places: Mapping[str, str] = field(default_factory=dict)  # place id → rule name
    tenants: Mapping[str, str] = field(default_factory=dict)  # tenant id → rule name

    def rule_for(self, tenant: str, agent: str, place: str | None) -> CapacityRule:
        """Agent assignment, else place, else tenant, else the built-in default."""
        for table, key in ((self.agents, agent), (self.places, place), (self.tenants, tenant)):
            if key is not None and key in table:
                return self.rules[table[key]]
        return DEFAULT_RULE
