"""The ``statistics`` section: each stat type opened with a profile, filter, time range and
notification, and the names the statistics get."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pipeline.stats.config.schema import DEFAULT_PROFILE, INTIMERANGE_CATEGORIES
from pipeline.stats.config.shapes import Shapes, _kind, _suggest
from pipeline.stats.model import (
    NOTIFICATION_MODES,
    Filter,
    Notification,
    Statistic,
    StatType,
    TimeProfile,
    TimeRange,
)

STATISTIC_KEYS = ("stat_type", "time_profile", "filter", "time_range", "notification", "name")
NOTIFICATION_KEYS = ("mode", "insensitivity", "frequency")


class StatisticSection(Shapes):
    def statistics(
        self,
        section: Any,
        stat_types: Mapping[str, StatType],
        profiles: Mapping[str, TimeProfile],
        filters: Mapping[str, Filter],
        ranges: Mapping[str, TimeRange],
    ) -> tuple[Statistic, ...]:
        if section is None:
            return ()
        if not isinstance(section, list):
            self.fail("statistics", f"expected a list of statistics, found {_kind(section)}")
        partial: list[tuple[str, dict[str, Any], str | None]] = []
        for i, entry in enumerate(section):
            where = f"statistics[{i}]"
            if isinstance(entry, Mapping) and isinstance(entry.get("name"), str):
                where += f" ({entry['name']})"
            elif isinstance(entry, Mapping) and isinstance(entry.get("stat_type"), str):
                where += f" ({entry['stat_type']})"
            fields, given_name = self.statistic(entry, where, stat_types, profiles, filters, ranges)
            partial.append((where, fields, given_name))

        # "@Profile" only when one stat type is opened with several profiles and no name is given.
        profiles_of: dict[str, set[str]] = {}
        for _, fields, _ in partial:
            profiles_of.setdefault(fields["stat_type"].name, set()).add(fields["profile"].name)
        result: list[Statistic] = []
        first_at: dict[str, str] = {}
        for where, fields, given_name in partial:
            type_name, profile_name = fields["stat_type"].name, fields["profile"].name
            name = given_name or (
                type_name if len(profiles_of[type_name]) == 1 else f"{type_name}@{profile_name}"
            )
            if name in first_at:
                self.fail(
                    where,
                    f"duplicate statistic name {name!r} (already used by {first_at[name]}); "
                    "give one of them a distinct 'name'",
                )
            first_at[name] = where
            result.append(Statistic(name=name, **fields))
        return tuple(result)

    def statistic(
        self,
        entry: Any,
        where: str,
        stat_types: Mapping[str, StatType],
        profiles: Mapping[str, TimeProfile],
        filters: Mapping[str, Filter],
        ranges: Mapping[str, TimeRange],
    ) -> tuple[dict[str, Any], str | None]:
        if not isinstance(entry, Mapping):
            self.fail(where, f"expected a mapping with stat_type, time_profile…, found {_kind(entry)}")
        self.known_keys(entry, STATISTIC_KEYS, where)
        if "stat_type" not in entry:
            self.fail(where, "missing stat_type")
        stat_type = self.reference(entry["stat_type"], stat_types, "stat type", f"{where}.stat_type")
        profile = self.reference(
            entry.get("time_profile", DEFAULT_PROFILE), profiles, "time profile", f"{where}.time_profile"
        )
        if profile.kind == "SinceLogin":
            others = [o for o in stat_type.objects if o not in ("Agent", "Place")]
            if others:
                self.fail(
                    f"{where}.time_profile",
                    f"SinceLogin applies to Agent and Place objects only; stat "
                    f"type {stat_type.name} also has " + ", ".join(others),
                )
        flt = None
        if entry.get("filter") is not None:
            flt = self.reference(entry["filter"], filters, "filter", f"{where}.filter")
        time_range = None
        if entry.get("time_range") is not None:
            time_range = self.reference(entry["time_range"], ranges, "time range", f"{where}.time_range")
        if stat_type.category in INTIMERANGE_CATEGORIES and time_range is None:
            self.fail(
                where,
                f"stat type {stat_type.name} has category {stat_type.category}, which needs a time_range",
            )
        if stat_type.category not in INTIMERANGE_CATEGORIES and time_range is not None:
            self.fail(
                f"{where}.time_range",
                f"only the *InTimeRange categories use a time range, and stat type "
                f"{stat_type.name} has category {stat_type.category}",
            )
        notification = self.notification(entry.get("notification"), f"{where}.notification")
        given_name = None
        if entry.get("name") is not None:
            given_name = self.name(entry["name"], f"{where}.name")
            if "/" in given_name:
                self.fail(
                    f"{where}.name",
                    "a statistic name may not contain '/' (it separates the parts of record keys)",
                )
        fields = {
            "stat_type": stat_type,
            "profile": profile,
            "filter": flt,
            "time_range": time_range,
            "notification": notification,
        }
        return fields, given_name

    def notification(self, value: Any, where: str) -> Notification:
        if value is None:
            return Notification()
        if isinstance(value, str):  # shorthand: `notification: Reset`
            value = {"mode": value}
        if not isinstance(value, Mapping):
            self.fail(
                where, f"expected a mapping such as {{mode: Changes, insensitivity: 1}}, found {_kind(value)}"
            )
        self.known_keys(value, NOTIFICATION_KEYS, where)
        mode = value.get("mode", "Changes")
        if mode not in NOTIFICATION_MODES:
            self.fail(
                f"{where}.mode",
                f"unknown mode {mode!r}{_suggest(str(mode), NOTIFICATION_MODES)}; "
                "expected " + ", ".join(NOTIFICATION_MODES),
            )
        if "insensitivity" in value and mode != "Changes":
            self.fail(f"{where}.insensitivity", f"only mode Changes uses insensitivity (mode is {mode})")
        if "frequency" in value and mode != "Time":
            self.fail(f"{where}.frequency", f"only mode Time uses frequency (mode is {mode})")
        insensitivity = value.get("insensitivity", 1)
        if isinstance(insensitivity, bool) or not isinstance(insensitivity, int | float) or insensitivity < 0:
            self.fail(f"{where}.insensitivity", f"expected a number ≥ 0, found {insensitivity!r}")
        frequency = 0
        if mode == "Time":
            if "frequency" not in value:
                self.fail(where, "mode Time needs a frequency in seconds (e.g. frequency: 30)")
            frequency = value["frequency"]
            if isinstance(frequency, bool) or not isinstance(frequency, int) or frequency <= 0:
                self.fail(
                    f"{where}.frequency", f"expected a positive whole number of seconds, found {frequency!r}"
                )
        return Notification(mode=mode, insensitivity=float(insensitivity), frequency_s=frequency)
