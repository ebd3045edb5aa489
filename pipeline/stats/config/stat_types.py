"""The ``stat_types`` section: objects, category, subject, masks and media of each stat type."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from pipeline.records.catalog import ACTION_KINDS, CATEGORIES, STATUSES
from pipeline.stats.config.schema import (
    AGENT_PLACE_ONLY,
    RELATIVE_CATEGORIES,
    STATE_CATEGORIES,
    STATUS_SUBJECTS,
)
from pipeline.stats.config.shapes import Shapes, _kind, _suggest
from pipeline.stats.model import OBJECT_TYPES, SUBJECTS, Mask, StatType

STAT_TYPE_KEYS = ("Objects", "Category", "Subject", "MainMask", "RelMask", "MediaType")

# Stat type names become Kafka topic names (`<prefix>.stat.<StatType>`), so they keep to its alphabet.
_STAT_TYPE_NAME = re.compile(r"^[A-Za-z0-9._-]+$")


class StatTypeSection(Shapes):
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
