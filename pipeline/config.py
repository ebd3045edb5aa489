"""The configuration file (YAML, statistics.md): time profiles, time ranges, filters, stat types,
statistics, groups and capacity rules.

``load_config(None)`` gives the shipped starter configuration; a file replaces it entirely and the
sections it lacks take the built-in defaults (no statistics, default capacity). A bad file is
refused with :class:`ConfigError`, whose message names the entry and the problem, e.g.
``stats.yaml: stat_types.Handled.Category: unknown category 'TotalNumbr' (did you mean 'TotalNumber'?)``.
Validation is complete here so that the engine can trust every field it reads; the rules we had to
decide are listed in docs/statistics-config.md.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, NoReturn
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml

from pipeline.core.capacity import Block, CapacityConfig, CapacityRule
from pipeline.records.catalog import ACTION_KINDS, CATEGORIES, STATUSES
from pipeline.stats.filters import FilterSyntaxError, parse_filter
from pipeline.stats.model import (
    NOTIFICATION_MODES,
    OBJECT_TYPES,
    SUBJECTS,
    Filter,
    Groups,
    Mask,
    Notification,
    Statistic,
    StatType,
    TimeProfile,
    TimeRange,
)

__all__ = [
    "Config",
    "ConfigError",
    "DEFAULT_PROFILE",
    "INTIMERANGE_CATEGORIES",
    "RELATIVE_CATEGORIES",
    "load_config",
    "parse_config",
    "starter_text",
]


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
STAT_TYPE_KEYS = ("Objects", "Category", "Subject", "MainMask", "RelMask", "MediaType")
STATISTIC_KEYS = ("stat_type", "time_profile", "filter", "time_range", "notification", "name")
NOTIFICATION_KEYS = ("mode", "insensitivity", "frequency")

# Stat type names become Kafka topic names (`<prefix>.stat.<StatType>`), so they keep to its alphabet.
_STAT_TYPE_NAME = re.compile(r"^[A-Za-z0-9._-]+$")
_CLOCK = re.compile(r"^(\d{1,2}):(\d{2})$")
_RANGE = re.compile(r"^(\d+(?:\.\d+)?)\s*-\s*(\d+(?:\.\d+)?)$")


# ------------------------------------------------------------------------------------------ loading


class _UniqueKeyLoader(yaml.SafeLoader):
    """SafeLoader that refuses a repeated mapping key: YAML would silently keep the last one, which
    hides a second stat type or profile of the same name."""


def _construct_unique_mapping(loader: _UniqueKeyLoader, node: yaml.MappingNode, deep: bool = False) -> Any:
    seen: dict[Any, yaml.Node] = {}
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if isinstance(key, str | int) and key in seen:
            raise yaml.constructor.ConstructorError(
                "while constructing a mapping",
                node.start_mark,
                f"found duplicate key {key!r}",
                key_node.start_mark,
            )
        seen[key] = key_node
    return loader.construct_mapping(node, deep=deep)


_UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_unique_mapping)


def starter_text() -> str:
    """The shipped starter configuration, as YAML text (package data ``pipeline/stats/starter.yaml``)."""
    return resources.files("pipeline.stats").joinpath("starter.yaml").read_text(encoding="utf-8")


def load_config(path: str | Path | None) -> Config:
    """Load and validate a configuration file; ``None`` loads the shipped starter configuration."""
    if path is None:
        text, source = starter_text(), "starter.yaml"
    else:
        source = str(path)
        try:
            text = Path(path).read_text(encoding="utf-8")
        except OSError as exc:
            raise ConfigError(f"{source}: cannot read: {exc.strerror or exc}") from exc
        except UnicodeDecodeError as exc:
            raise ConfigError(f"{source}: not UTF-8 text: {exc.reason}") from exc
    try:
        data = yaml.load(text, Loader=_UniqueKeyLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as exc:
        raise ConfigError(f"{source}: not valid YAML: {_yaml_problem(exc)}") from exc
    if data is None:  # an empty file: every section takes its default
        data = {}
    if not isinstance(data, Mapping):
        raise ConfigError(f"{source}: the top level must be a mapping of sections, not {_kind(data)}")
    return parse_config(data, source)


def _yaml_problem(exc: yaml.YAMLError) -> str:
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None) or str(exc)
    return f"{problem} (line {mark.line + 1}, column {mark.column + 1})" if mark else problem


def parse_config(data: Mapping, source: str) -> Config:
    """Validate an already-parsed configuration mapping; ``source`` prefixes every error message."""
    return _Parser(source).parse(data)


# ------------------------------------------------------------------------------------------ helpers


def _kind(value: Any) -> str:
    if value is None:
        return "nothing"
    return {
        dict: "a mapping",
        list: "a list",
        str: "a string",
        bool: "a boolean",
        int: "a number",
        float: "a number",
    }.get(type(value), type(value).__name__)


def _suggest(word: str, choices: Iterable[str]) -> str:
    """`` (did you mean 'X'?)`` for the closest known name, or nothing."""
    choices = list(choices)
    lowered = {c.lower(): c for c in choices}
    match = lowered.get(word.lower())
    if match is None:
        close = difflib.get_close_matches(word, choices, n=1, cutoff=0.6)
        match = close[0] if close else None
    return f" (did you mean {match!r}?)" if match else ""


def _join(where: str, key: str) -> str:
    return f"{where}.{key}" if where else key


class _Parser:
    """One pass over the sections, in dependency order; every error goes through :meth:`fail`."""

    def __init__(self, source: str) -> None:
        self.source = source

    def fail(self, where: str, problem: str) -> NoReturn:
        raise ConfigError(f"{self.source}: {where}: {problem}" if where else f"{self.source}: {problem}")

    # -- generic shapes

    def mapping(self, value: Any, where: str) -> Mapping:
        if value is None:  # `section:` with nothing under it
            return {}
        if not isinstance(value, Mapping):
            self.fail(where, f"expected a mapping, found {_kind(value)}")
        return value

    def name(self, key: Any, where: str) -> str:
        """A mapping key used as a name or an id: YAML turns `1001:` into an int, so ints are accepted."""
        if isinstance(key, bool) or not isinstance(key, str | int) or str(key).strip() == "":
            self.fail(where, f"a name must be a non-empty string, found {key!r}")
        return str(key).strip()

    def known_keys(self, value: Mapping, allowed: Iterable[str], where: str) -> None:
        allowed = list(allowed)
        for key in value:
            if key not in allowed:
                self.fail(
                    _join(where, str(key)),
                    f"unknown key{_suggest(str(key), allowed)}; expected one of " + ", ".join(allowed),
                )

    def count(self, value: Any, where: str) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            self.fail(where, f"expected a non-negative whole number, found {value!r}")
        return value

    def string_list(self, value: Any, where: str) -> list[str]:
        """A YAML list of strings, or one comma-separated string (Stat Server's option style)."""
        if value is None:  # `RelMask:` with nothing after it
            items = []
        elif isinstance(value, str):
            items = [part.strip() for part in value.split(",")] if value.strip() else []
        elif isinstance(value, list):
            items = []
            for i, item in enumerate(value):
                if not isinstance(item, str) or not item.strip():
                    self.fail(f"{where}[{i}]", f"expected a non-empty string, found {item!r}")
                items.append(item.strip())
        else:
            self.fail(where, f"expected a list or a comma-separated string, found {_kind(value)}")
        for i, item in enumerate(items):
            if not item:
                self.fail(where, f"empty item at position {i + 1}")
        return items

    # -- top level

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

    def timezone(self, value: Any, where: str) -> str:
        if not isinstance(value, str) or not value.strip():
            self.fail(where, f"expected an IANA time zone name such as 'Europe/Paris', found {value!r}")
        value = value.strip()
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            self.fail(
                where, f"unknown time zone {value!r} (expected an IANA name such as 'America/New_York')"
            )
        return value

    # -- time profiles

    def time_profiles(self, section: Any, timezone: str) -> dict[str, TimeProfile]:
        profiles: dict[str, TimeProfile] = {}
        for key, value in self.mapping(section, "time_profiles").items():
            where = f"time_profiles.{key}"
            name = self.name(key, where)
            zone = timezone
            if isinstance(value, Mapping):
                self.known_keys(value, ("profile", "timezone"), where)
                if "profile" not in value:
                    self.fail(where, "missing 'profile' (e.g. profile: \"Growing,00:00\")")
                if "timezone" in value:
                    zone = self.timezone(value["timezone"], f"{where}.timezone")
                value = value["profile"]
                where = f"{where}.profile"
            profiles[name] = self.time_profile(name, value, zone, where)
        if DEFAULT_PROFILE not in profiles:
            profiles[DEFAULT_PROFILE] = self.time_profile(DEFAULT_PROFILE, DEFAULT_PROFILE_TEXT, timezone, "")
        return profiles

    def time_profile(self, name: str, value: Any, zone: str, where: str) -> TimeProfile:
        if not isinstance(value, str) or not value.strip():
            self.fail(
                where,
                f'expected a profile such as "Growing,00:00", "Sliding,3600,60", '
                f'"Selection,10" or "SinceLogin", found {value!r}',
            )
        text = value.strip()
        kind_text, *args = [part.strip() for part in text.split(",")]
        kinds = ("Growing", "Sliding", "Selection", "SinceLogin")
        kind = next((k for k in kinds if k.lower() == kind_text.lower()), None)
        if kind is None:
            self.fail(
                where,
                f"unknown profile type {kind_text!r}{_suggest(kind_text, kinds)}; expected "
                + ", ".join(kinds),
            )
        if kind == "Growing":
            resets = self.reset_minutes(args, where)
            return TimeProfile(name=name, kind=kind, reset_minutes=resets, timezone=zone, text=text)
        if kind == "Sliding":
            if len(args) != 2:
                self.fail(
                    where, f'Sliding takes a length and a step in seconds ("Sliding,3600,60"), found {text!r}'
                )
            length, step = (
                self.positive_int(a, where, label) for a, label in zip(args, ("length", "step"), strict=True)
            )
            if length % step:
                self.fail(where, f"Sliding length {length} s must be a multiple of the step {step} s")
            return TimeProfile(name=name, kind=kind, length_s=length, step_s=step, timezone=zone, text=text)
        if kind == "Selection":
            if len(args) != 1:
                self.fail(where, f'Selection takes one count ("Selection,10"), found {text!r}')
            count = self.positive_int(args[0], where, "count")
            return TimeProfile(name=name, kind=kind, count=count, timezone=zone, text=text)
        if args:
            self.fail(where, f"SinceLogin takes no arguments, found {text!r}")
        return TimeProfile(name=name, kind=kind, timezone=zone, text=text)

    def positive_int(self, text: str, where: str, label: str) -> int:
        if not text.isdigit() or int(text) <= 0:
            unit = "" if label == "count" else " of seconds"
            self.fail(where, f"the {label} must be a positive whole number{unit}, found {text!r}")
        return int(text)

    def clock(self, text: str, where: str, *, step: bool = False) -> int:
        """Minutes of ``H:MM`` (a time of day, or with ``step`` a duration between resets)."""
        m = _CLOCK.match(text)
        if not m or int(m[2]) > 59 or (not step and int(m[1]) > 23):
            what = "a step H:MM" if step else "a time of day HH:MM (00:00 to 23:59)"
            self.fail(where, f"expected {what}, found {text!r}")
        return int(m[1]) * 60 + int(m[2])

    def reset_minutes(self, args: list[str], where: str) -> tuple[int, ...]:
        """``08:00,16:00`` → those times; ``00:00+0:30`` → 00:00 and every 30 minutes until midnight."""
        if not args or args == [""]:
            self.fail(where, 'Growing needs at least one reset time ("Growing,00:00")')
        minutes: set[int] = set()
        for arg in args:
            start_text, plus, step_text = arg.partition("+")
            start = self.clock(start_text.strip(), where)
            if not plus:
                minutes.add(start)
                continue
            step = self.clock(step_text.strip(), where, step=True)
            if step <= 0:
                self.fail(where, f"the step after '+' must be longer than 0:00, found {arg!r}")
            minutes.update(range(start, 24 * 60, step))
        return tuple(sorted(minutes))

    # -- time ranges and filters

    def time_ranges(self, section: Any) -> dict[str, TimeRange]:
        ranges: dict[str, TimeRange] = {}
        for key, value in self.mapping(section, "time_ranges").items():
            where = f"time_ranges.{key}"
            name = self.name(key, where)
            m = _RANGE.match(value.strip()) if isinstance(value, str) else None
            if not m:
                self.fail(where, f'expected "LOW-HIGH" in seconds such as "0-30", found {value!r}')
            low, high = float(m[1]), float(m[2])
            if low > high:
                self.fail(where, f"the low bound {m[1]} is above the high bound {m[2]}")
            ranges[name] = TimeRange(name=name, low_s=low, high_s=high)
        return ranges

    def filters(self, section: Any) -> dict[str, Filter]:
        filters: dict[str, Filter] = {}
        for key, value in self.mapping(section, "filters").items():
            where = f"filters.{key}"
            name = self.name(key, where)
            if not isinstance(value, str):
                self.fail(
                    where,
                    f"expected a filter expression string such as 'KeyExists(\"VIP\")', found {_kind(value)}",
                )
            try:
                expr = parse_filter(value)
            except FilterSyntaxError as exc:
                self.fail(where, str(exc))
            filters[name] = Filter(name=name, text=value.strip(), expr=expr)
        return filters

    # -- stat types

    def stat_types(self, section: Any) -> dict[str, StatType]:
        types: dict[str, StatType] = {}
        for key, value in self.mapping(section, "stat_types").items():
            where = f"stat_types.{key}"
            name = self.name(key, where)
            if not _STAT_TYPE_NAME.match(name):
                self.fail(
                    where,
                    "a stat type name may use only letters, digits, '.', '_' and '-' "
                    "(it becomes part of a Kafka topic name)",
                )
            types[name] = self.stat_type(name, value, where)
        return types

    def stat_type(self, name: str, value: Any, where: str) -> StatType:
        if not isinstance(value, Mapping):
            self.fail(where, f"expected a mapping with Objects, Category, MainMask…, found {_kind(value)}")
        self.known_keys(value, STAT_TYPE_KEYS, where)
        for required in ("Objects", "Category"):
            if required not in value:
                self.fail(where, f"missing {required}")

        objects = self.objects(value["Objects"], f"{where}.Objects")
        category = value["Category"]
        if not isinstance(category, str) or category not in CATEGORIES:
            self.fail(
                f"{where}.Category", f"unknown category {category!r}{_suggest(str(category), CATEGORIES)}"
            )
        subject = value.get("Subject", "DNAction")
        if not isinstance(subject, str) or subject not in SUBJECTS:
            self.fail(
                f"{where}.Subject",
                f"unknown subject {subject!r}{_suggest(str(subject), SUBJECTS)}; "
                "expected " + ", ".join(SUBJECTS),
            )

        main = self.mask(value.get("MainMask", []), subject, f"{where}.MainMask")
        rel = self.mask(value.get("RelMask", []), subject, f"{where}.RelMask")
        if category not in STATE_CATEGORIES and main.empty:
            self.fail(
                f"{where}.MainMask",
                f"{category} needs a MainMask that selects something "
                "(a mask of exclusions only selects nothing: start it with '*')",
            )
        if category in RELATIVE_CATEGORIES and rel.empty:
            self.fail(
                f"{where}.RelMask",
                f"{category} divides by the RelMask, so it needs one that selects something",
            )
        if category in AGENT_PLACE_ONLY:
            others = [o for o in objects if o not in ("Agent", "Place")]
            if others:
                self.fail(
                    f"{where}.Objects",
                    f"{category} is defined for Agent and Place only, not " + ", ".join(others),
                )
        if category == "CurrentContinuousTime" and subject not in STATUS_SUBJECTS:
            self.fail(
                f"{where}.Subject",
                "CurrentContinuousTime measures a status, so it needs a status "
                "subject (DNStatus, AgentStatus or PlaceStatus)",
            )

        media: frozenset[str] | None = None
        if "MediaType" in value:
            items = self.string_list(value["MediaType"], f"{where}.MediaType")
            if not items:
                self.fail(f"{where}.MediaType", "empty list; leave MediaType out to count every media")
            media = frozenset(item.lower() for item in items)
        return StatType(
            name=name,
            objects=objects,
            category=category,
            subject=subject,
            main_mask=main,
            rel_mask=rel,
            media_types=media,
        )

    def objects(self, value: Any, where: str) -> tuple[str, ...]:
        items = self.string_list(value, where)
        if not items:
            self.fail(where, "needs at least one object type: " + ", ".join(OBJECT_TYPES))
        result: list[str] = []
        for item in items:
            if item not in OBJECT_TYPES:
                hint = (
                    " (Stat Server's StagingArea is 'Queue' here)"
                    if item.lower() == "stagingarea"
                    else _suggest(item, OBJECT_TYPES)
                )
                self.fail(where, f"unknown object type {item!r}{hint}; expected " + ", ".join(OBJECT_TYPES))
            if item not in result:
                result.append(item)
        return tuple(result)

    def mask(self, value: Any, subject: str, where: str) -> Mask:
        """``[*, ~Rejected]`` → Mask. DNAction masks name actions; status subjects name statuses."""
        known = ACTION_KINDS if subject == "DNAction" else STATUSES
        what = "action" if subject == "DNAction" else "status"
        include_all, include, exclude = False, set(), set()
        for item in self.string_list(value, where):
            if item == "*":
                include_all = True
                continue
            negate = item.startswith("~")
            entry = item[1:].strip() if negate else item
            if entry not in known:
                extra = "" if subject == "DNAction" else f" (subject {subject} masks list statuses)"
                self.fail(where, f"unknown {what} {entry!r}{_suggest(entry, known)}{extra}")
            (exclude if negate else include).add(entry)
        return Mask(include_all=include_all, include=frozenset(include), exclude=frozenset(exclude))

    # -- statistics

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

    def reference(self, value: Any, table: Mapping[str, Any], what: str, where: str) -> Any:
        if isinstance(value, bool) or not isinstance(value, str | int):
            self.fail(where, f"expected the name of a {what}, found {_kind(value)}")
        key = str(value)
        if key not in table:
            hint = _suggest(key, table)
            if what == "filter" and "(" in key:
                hint = " (declare the expression under 'filters' and refer to it by name)"
            if not table:
                self.fail(where, f"unknown {what} {key!r}: none is declared")
            if len(table) > 12:  # a long list would bury the message
                self.fail(where, f"unknown {what} {key!r}{hint}")
            self.fail(where, f"unknown {what} {key!r}{hint}; known: " + ", ".join(sorted(table)))
        return table[key]

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

    # -- groups and capacity

    def groups(self, section: Any) -> Groups:
        section = self.mapping(section, "groups")
        self.known_keys(section, ("GroupAgents", "GroupPlaces"), "groups")
        tables: dict[str, dict[str, frozenset[str]]] = {"GroupAgents": {}, "GroupPlaces": {}}
        for kind, table in tables.items():
            for key, members in self.mapping(section.get(kind), f"groups.{kind}").items():
                where = f"groups.{kind}.{key}"
                group = self.name(key, where)
                if members is None:
                    members = []
                if not isinstance(members, list):
                    self.fail(where, f"expected a list of ids, found {_kind(members)}")
                table[group] = frozenset(self.name(m, f"{where}[{i}]") for i, m in enumerate(members))
        return Groups(agents=tables["GroupAgents"], places=tables["GroupPlaces"])

    def capacity(self, section: Any) -> CapacityConfig:
        section = self.mapping(section, "capacity")
        self.known_keys(section, ("rules", "assign"), "capacity")
        rules: dict[str, CapacityRule] = {}
        for key, value in self.mapping(section.get("rules"), "capacity.rules").items():
            where = f"capacity.rules.{key}"
            name = self.name(key, where)
            rules[name] = self.capacity_rule(name, self.mapping(value, where), where)
        assign = self.mapping(section.get("assign"), "capacity.assign")
        self.known_keys(assign, ("agents", "places", "tenants"), "capacity.assign")
        tables: dict[str, dict[str, str]] = {}
        for kind in ("agents", "places", "tenants"):
            table: dict[str, str] = {}
            for key, rule in self.mapping(assign.get(kind), f"capacity.assign.{kind}").items():
                where = f"capacity.assign.{kind}.{key}"
                table[self.name(key, where)] = self.reference(rule, rules, "capacity rule", where).name
            tables[kind] = table
        return CapacityConfig(
            rules=rules, agents=tables["agents"], places=tables["places"], tenants=tables["tenants"]
        )

    def capacity_rule(self, name: str, value: Mapping, where: str) -> CapacityRule:
        self.known_keys(value, ("max", "max_total", "block"), where)
        limits = None
        if "max" in value:
            limits = {
                self.media(k, f"{where}.max.{k}"): self.count(n, f"{where}.max.{k}")
                for k, n in self.mapping(value["max"], f"{where}.max").items()
            }
        max_total = None
        if value.get("max_total") is not None:
            max_total = self.count(value["max_total"], f"{where}.max_total")
        blocks: list[Block] = []
        raw_blocks = value.get("block") or []
        if not isinstance(raw_blocks, list):
            self.fail(
                f"{where}.block",
                f"expected a list of {{media: m, when: {{k: n}}}}, found {_kind(raw_blocks)}",
            )
        for i, raw in enumerate(raw_blocks):
            bw = f"{where}.block[{i}]"
            raw = self.mapping(raw, bw)
            self.known_keys(raw, ("media", "when"), bw)
            if "media" not in raw or "when" not in raw:
                self.fail(bw, "a block needs 'media' and 'when' (e.g. {media: email, when: {chat: 1}})")
            when = {
                self.media(k, f"{bw}.when.{k}"): self.count(n, f"{bw}.when.{k}")
                for k, n in self.mapping(raw["when"], f"{bw}.when").items()
            }
            if not when:
                self.fail(
                    f"{bw}.when", "needs at least one media: count (an empty condition would always block)"
                )
            blocks.append(Block(media=self.media(raw["media"], f"{bw}.media"), when=when))
        return CapacityRule(name=name, max=limits, max_total=max_total, block=tuple(blocks))

    def media(self, value: Any, where: str) -> str:
        """Media type names are compared lower-case everywhere (stat types do the same)."""
        if not isinstance(value, str) or not value.strip():
            self.fail(where, f"expected a media type name such as 'email', found {value!r}")
        return value.strip().lower()
