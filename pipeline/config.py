"""The configuration file (YAML, statistics.md): time profiles, time ranges, filters, stat types,
statistics, groups and capacity rules.

``load_config(None)`` gives the shipped starter configuration; a file replaces it entirely and the
sections it lacks take the built-in defaults (no statistics, default capacity). A bad file is
refused with :class:`ConfigError`, whose message names the entry and the problem.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from pipeline.core.capacity import CapacityConfig
from pipeline.stats.model import Filter, Groups, Statistic, StatType, TimeProfile, TimeRange


class ConfigError(ValueError):
    """A configuration that cannot be used; the message names the entry and the problem."""


@dataclass(frozen=True)
class Config:
    timezone: str = "UTC"
    time_profiles: dict[str, TimeProfile] = field(default_factory=dict)
    time_ranges: dict[str, TimeRange] = field(default_factory=dict)
    filters: dict[str, Filter] = field(default_factory=dict)
    stat_types: dict[str, StatType] = field(default_factory=dict)
    statistics: tuple[Statistic, ...] = ()
    groups: Groups = field(default_factory=Groups)
    capacity: CapacityConfig = field(default_factory=CapacityConfig)
