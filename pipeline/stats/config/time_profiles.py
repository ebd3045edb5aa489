"""The ``timezone`` and ``time_profiles`` sections: Growing, Sliding, Selection and SinceLogin."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pipeline.stats.config.schema import DEFAULT_PROFILE, DEFAULT_PROFILE_TEXT
from pipeline.stats.config.shapes import Shapes, _suggest
from pipeline.stats.model import TimeProfile

_CLOCK = re.compile(r"^(\d{1,2}):(\d{2})$")


class TimeProfileSection(Shapes):
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
