"""What a configuration holds: the :class:`Config` the loader returns, its error, and the sets of
categories that validation checks stat types and statistics against."""

from __future__ import annotations

from dataclasses import dataclass, field

from pipeline.core.capacity import CapacityConfig
from pipeline.records.catalog import CATEGORIES
from pipeline.stats.model import SUBJECTS, Filter, Groups, Statistic, StatType, TimeProfile, TimeRange


class ConfigError(ValueError):
    """A configuration that cannot be used; the message names the entry and the problem."""


@dataclass(frozen=True)
class Config:
    """A validated configuration: what the engine computes and what stage 2's capacity rules are."""

    timezone: str = "UTC"
    time_profiles: dict[str, TimeProfile] = field(default_factory=dict)
    time_ranges: dict[str, TimeRange] = field(default_factory=dict)
    filters: dict[str, Filter] = field(default_factory=dict)
    stat_types: dict[str, StatType] = field(default_factory=dict)
    statistics: tuple[Statistic, ...] = ()
    groups: Groups = field(default_factory=Groups)
    capacity: CapacityConfig = field(default_factory=CapacityConfig)


#: The built-in profile, present even when a file does not declare it.
DEFAULT_PROFILE = "Default"
DEFAULT_PROFILE_TEXT = "Growing,00:00"

#: Categories that divide by the RelMask (R) and therefore need one.
RELATIVE_CATEGORIES = frozenset(
    {
        "CurrentRelativeNumberPercentage",
        "CurrentNumberInTimeRangePercentage",
        "AverageNumberPerRelativeHour",
        "RelativeNumberPercentage",
        "RelativeTimePercentage",
        "TotalNumberInTimeRangePercentage",
    }
)
#: Categories whose statistics must name a time range.
INTIMERANGE_CATEGORIES = frozenset(c for c in CATEGORIES if "InTimeRange" in c)
#: Categories that report the status structure; they use no mask.
STATE_CATEGORIES = frozenset({"CurrentState", "CurrentStateReasons"})
#: Categories defined on an agent's or place's status only (statistics.md, actions.md §3).
AGENT_PLACE_ONLY = frozenset({"CurrentState", "CurrentStateReasons", "CurrentContinuousTime"})
STATUS_SUBJECTS = frozenset(s for s in SUBJECTS if s != "DNAction")

SECTIONS = (
    "timezone",
    "time_profiles",
    "time_ranges",
    "filters",
    "stat_types",
    "statistics",
    "groups",
    "capacity",
)
