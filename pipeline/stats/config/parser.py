"""The whole file: one pass over the sections, in dependency order.

Each section's rules live in its own module; :class:`_Parser` combines them, so every error still
goes through one :meth:`~pipeline.stats.config.shapes.Shapes.fail` and reads the same.
"""

from __future__ import annotations

from collections.abc import Mapping

from pipeline.stats.config.capacity import CapacitySection
from pipeline.stats.config.filters import FilterSection
from pipeline.stats.config.groups import GroupSection
from pipeline.stats.config.schema import SECTIONS, Config
from pipeline.stats.config.stat_types import StatTypeSection
from pipeline.stats.config.statistics import StatisticSection
from pipeline.stats.config.time_profiles import TimeProfileSection
from pipeline.stats.config.time_ranges import TimeRangeSection


class _Parser(
    TimeProfileSection,
    TimeRangeSection,
    FilterSection,
    StatTypeSection,
    StatisticSection,
    GroupSection,
    CapacitySection,
):
    """One pass over the sections, in dependency order; every error goes through :meth:`fail`."""

    def parse(self, data: Mapping) -> Config:
        # `x-…` sections are ignored: a place to hold YAML anchors (as in docker-compose files).
        self.known_keys({k: v for k, v in data.items() if not str(k).startswith("x-")}, SECTIONS, "")
        timezone = self.timezone(data.get("timezone", "UTC"), "timezone")
        profiles = self.time_profiles(data.get("time_profiles"), timezone)
        ranges = self.time_ranges(data.get("time_ranges"))
        filters = self.filters(data.get("filters"))
        stat_types = self.stat_types(data.get("stat_types"))
        statistics = self.statistics(data.get("statistics"), stat_types, profiles, filters, ranges)
        return Config(
            timezone=timezone,
            time_profiles=profiles,
            time_ranges=ranges,
            filters=filters,
            stat_types=stat_types,
            statistics=statistics,
            groups=self.groups(data.get("groups")),
            capacity=self.capacity(data.get("capacity")),
        )


def parse_config(data: Mapping, source: str) -> Config:
    """Validate an already-parsed configuration mapping; ``source`` prefixes every error message."""
    return _Parser(source).parse(data)
