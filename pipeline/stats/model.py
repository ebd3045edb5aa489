"""Configuration types of statistics (statistics.md), shared by the loader and the engine.

These are plain frozen dataclasses: the loader (``pipeline.stats.config``) builds them from YAML or from
Stat Server option sections, the engine only reads them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

ObjectType = Literal["Agent", "Place", "GroupAgents", "GroupPlaces", "Queue", "Tenant"]
OBJECT_TYPES: tuple[str, ...] = ("Agent", "Place", "GroupAgents", "GroupPlaces", "Queue", "Tenant")
SUBJECTS: tuple[str, ...] = ("DNAction", "DNStatus", "AgentStatus", "PlaceStatus")
NOTIFICATION_MODES: tuple[str, ...] = ("Changes", "Time", "Reset", "None")


@dataclass(frozen=True)
class Mask:
    """A MainMask / RelMask: ``*`` (everything), names, and ``~Name`` exclusions."""

    include_all: bool = False
    include: frozenset[str] = frozenset()
    exclude: frozenset[str] = frozenset()

    def matches(self, name: str) -> bool:
        if name in self.exclude:
            return False
        return self.include_all or name in self.include

    @property
    def empty(self) -> bool:
        return not self.include_all and not self.include


@dataclass(frozen=True)
class TimeProfile:
    """A time profile.

    - ``Growing``: ``reset_minutes`` are the local minutes of the day (0..1439, sorted, unique) at
      which the interval resets, in ``timezone`` (IANA).
    - ``Sliding``: window ``length_s`` seconds in ``step_s``-second epoch-aligned buckets.
    - ``Selection``: the last ``count`` completed matching actions.
    - ``SinceLogin``: since the agent logged in.
    """

    name: str
    kind: Literal["Growing", "Sliding", "Selection", "SinceLogin"]
    reset_minutes: tuple[int, ...] = ()
    timezone: str = "UTC"
    length_s: int = 0
    step_s: int = 0
    count: int = 0
    text: str = ""  # the definition as written, for messages and records


@dataclass(frozen=True)
class TimeRange:
    """Seconds, both bounds inclusive (``"0-30"``)."""

    name: str
    low_s: float
    high_s: float

    def contains(self, seconds: float) -> bool:
        return self.low_s <= seconds <= self.high_s


#: A parsed filter expression: ("pair", key, value) | ("key", key) | ("not", e) |
#: ("and", e1, e2) | ("or", e1, e2). Evaluated by ``pipeline.stats.filters.evaluate``.
FilterExpr = tuple


@dataclass(frozen=True)
class Filter:
    name: str
    text: str
    expr: FilterExpr


@dataclass(frozen=True)
class StatType:
    name: str
    objects: tuple[str, ...]
    category: str
    subject: str = "DNAction"
    main_mask: Mask = field(default_factory=Mask)
    rel_mask: Mask = field(default_factory=Mask)
    media_types: frozenset[str] | None = None  # None = every media


@dataclass(frozen=True)
class Notification:
    mode: str = "Changes"  # Changes | Time | Reset | None
    insensitivity: float = 1.0  # Changes: minimal change, in the value's unit
    frequency_s: int = 0  # Time: seconds between records


@dataclass(frozen=True)
class Statistic:
    """A stat type opened with a time profile, optional filter and time range, and notification."""

    name: str
    stat_type: StatType
    profile: TimeProfile
    filter: Filter | None = None
    time_range: TimeRange | None = None
    notification: Notification = field(default_factory=Notification)


@dataclass(frozen=True)
class Groups:
    """Membership: GroupAgents name → agent ids, GroupPlaces name → place ids."""

    agents: dict[str, frozenset[str]] = field(default_factory=dict)
    places: dict[str, frozenset[str]] = field(default_factory=dict)

    def groups_of_agent(self, agent_id: str) -> list[str]:
        return sorted(g for g, members in self.agents.items() if agent_id in members)

    def groups_of_place(self, place_id: str) -> list[str]:
        return sorted(g for g, members in self.places.items() if place_id in members)
